package exchange

import (
	"reflect"
	"testing"
	"time"
	"unsafe"
)

// fill sets every field of v, exported or not, recursively, to a value
// that is not zero and differs from the others: n counts the values given.
// A slice gets two elements, a pointer a value of its own.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Unix(int64(1_700_000_000+*n), int64(*n)).UTC()))
			return
		}
		for i := range v.NumField() {
			f := v.Field(i)
			if !f.CanSet() {
				f = reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
			}
			fill(f, n)
		}
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), n)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		fill(s.Index(0), n)
		fill(s.Index(1), n)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, n)
		fill(e, n)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.String:
		v.SetString("s" + string(rune('a'+*n%26)) + string(rune('a'+*n/26%26)))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n % 100))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*n % 100))
	default:
		panic("fill: " + v.Kind().String())
	}
}

func roundTrip(t *testing.T, pk *Packer, e *Exchange, u *Unpacking) Exchange {
	t.Helper()
	p, _ := pk.Pack(e)
	var got Exchange
	if err := pk.Unpack(p, &got, u); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestPackEveryField: an exchange with every field set, in every nested
// struct, comes back equal. A field added to Exchange and not to the
// encoding fails here.
func TestPackEveryField(t *testing.T) {
	var e Exchange
	n := 0
	fill(reflect.ValueOf(&e).Elem(), &n)
	var pk Packer
	if p, _ := pk.Pack(&e); true {
		if key, at, ok := pk.Peek(p); !ok || key != e.APIKey || !at.Equal(e.Time) {
			t.Errorf("peek: %d %v %v", key, at, ok)
		}
	}
	for _, u := range []*Unpacking{nil, {}} {
		if got := roundTrip(t, &pk, &e, u); !reflect.DeepEqual(got, e) {
			t.Errorf("shared %v:\n got %+v\nwant %+v", u != nil, got, e)
		}
	}
	// Timestamps that point into the batches, as Build sets them, come
	// back pointing into the unpacked batches.
	p := &e.Topics[1].Partitions[0]
	p.FirstTimestamp, p.MaxTimestamp = &p.Batches[1].FirstTimestamp, &p.Batches[0].MaxTimestamp
	got := roundTrip(t, &pk, &e, nil)
	gp := &got.Topics[1].Partitions[0]
	if !reflect.DeepEqual(got, e) || gp.FirstTimestamp != &gp.Batches[1].FirstTimestamp || gp.MaxTimestamp != &gp.Batches[0].MaxTimestamp {
		t.Errorf("batch timestamps: got %v %v", gp.FirstTimestamp, gp.MaxTimestamp)
	}
}

// TestPackNilAndEmpty: nil and empty slices, unset pointers and times in
// every location come back as they were.
func TestPackNilAndEmpty(t *testing.T) {
	zone := time.FixedZone("X", 5400)
	cases := []Exchange{
		{},
		{Topics: []Topic{}},
		{Topics: []Topic{{Name: "a", Partitions: []Partition{}}}},
		{Topics: []Topic{{Name: "a", Partitions: []Partition{{Batches: []Batch{}}, {Partition: -1, Records: -5}}}}},
		{Time: time.Unix(0, 0).In(time.Local)},
		{Time: time.Unix(-5, 999_999_999).In(zone)},
		{Time: time.Date(9999, 1, 1, 0, 0, 0, 1, time.UTC), CorrelationID: -1 << 31, APIKey: -1, Client: Endpoint{PID: 1<<32 - 1}},
	}
	var pk Packer
	for i := range cases {
		got := roundTrip(t, &pk, &cases[i], nil)
		if !reflect.DeepEqual(got, cases[i]) {
			t.Errorf("case %d:\n got %#v\nwant %#v", i, got, cases[i])
		}
	}
}

// TestPackShares: an exchange is not an allocation of its own; the
// process names of one process are held once, and so are the references
// shared by the exchanges of an epoch.
func TestPackShares(t *testing.T) {
	var pk Packer
	e := Exchange{API: "Produce", Client: Endpoint{Addr: "127.0.0.1:1", PID: 7, Process: "java", Cmdline: "java -jar app.jar"}}
	a, na := pk.Pack(&e)
	b, nb := pk.Pack(&e)
	if tab := pk.epochs[0].table; len(tab) != 1 || a.ref != 1 || b.ref != 1 {
		t.Errorf("one process's exchanges: %d references", len(tab))
	}
	if na != int64(a.n)+refBytes+procBytes+int64(len("java")+len("java -jar app.jar")) || nb != int64(b.n) {
		t.Errorf("counted %d then %d bytes for %d-byte encodings", na, nb, a.n)
	}
	if a.chunk != b.chunk || b.off != a.off+a.n {
		t.Error("two exchanges are not packed one after the other in a chunk")
	}
	e.Client.Cmdline = "java -jar other.jar"
	if c, _ := pk.Pack(&e); c.ref != 2 || pk.epochs[0].table[0].client == pk.epochs[0].table[1].client {
		t.Error("names changed, still shared")
	}
}

// TestPackRelease: chunks and epochs go once no exchange held uses them,
// and a released exchange no longer unpacks.
func TestPackRelease(t *testing.T) {
	var pk Packer
	shared := &Detail{ThrottleMS: 1}
	var ps []Packed
	n := 2*epochLen + 10
	for i := range n {
		e := Exchange{CorrelationID: int32(i), Request: JSONBody(make([]byte, 100)), Detail: shared}
		if i%1000 == 0 {
			e.Detail = &Detail{ThrottleMS: int32(i)}
		}
		p, _ := pk.Pack(&e)
		ps = append(ps, p)
	}
	// The second epoch: the shared Detail, and one for each of its
	// exchanges numbered a multiple of 1000.
	distinct := 1 + (2*epochLen-1)/1000 - (epochLen-1)/1000
	if len(pk.epochs) != 3 || len(pk.epochs[1].table) != distinct || pk.epochs[0].index != nil {
		t.Fatalf("%d epochs, the second's table %d long", len(pk.epochs), len(pk.epochs[1].table))
	}
	keep := epochLen + 5
	pk.Release(ps[keep], false)
	var e Exchange
	if err := pk.Unpack(ps[0], &e, nil); err == nil {
		t.Error("a released exchange unpacks")
	}
	for _, i := range []int{keep, n - 1, 2 * epochLen} {
		throttle := int32(1)
		if i%1000 == 0 {
			throttle = int32(i)
		}
		if err := pk.Unpack(ps[i], &e, nil); err != nil || e.CorrelationID != int32(i) || e.Detail.ThrottleMS != throttle || len(e.Request.data) != 100 {
			t.Errorf("exchange %d after releasing those before %d: %v %+v", i, keep, err, e)
		}
	}
	if len(pk.epochs) != 2 || pk.chunkBase != ps[keep].chunk {
		t.Errorf("%d epochs, first chunk %d after releasing %d", len(pk.epochs), pk.chunkBase, keep)
	}
	big, _ := pk.Pack(&Exchange{Request: JSONBody(make([]byte, chunkBytes)), Detail: &Detail{ThrottleMS: -1}})
	chunks, refs := len(pk.chunks), len(pk.epochs[1].table)
	pk.Discard(big)
	if len(pk.chunks) != chunks-1 || len(pk.epochs[1].table) != refs-1 {
		t.Errorf("discarding a large exchange: %d chunks of %d, %d references of %d", len(pk.chunks), chunks, len(pk.epochs[1].table), refs)
	}
	pk.Release(Packed{}, true)
	if len(pk.chunks) != 1 || len(pk.epochs) != 1 || len(pk.epochs[0].table) != 0 {
		t.Errorf("%d chunks, %d epochs after releasing all", len(pk.chunks), len(pk.epochs))
	}
	if err := pk.Unpack(ps[n-1], &e, nil); err == nil {
		t.Error("the newest exchange unpacks after releasing all")
	}
	if p, _ := pk.Pack(&Exchange{Detail: shared}); p.epoch != uint32(pk.epochBase)+1 || p.ref != 1 {
		t.Errorf("after releasing all, packed in epoch %d ref %d", p.epoch, p.ref)
	}
}

// FuzzUnpack: any bytes unpack to an exchange or to an error, never a
// panic; an exchange unpacked packs and unpacks to itself.
func FuzzUnpack(f *testing.F) {
	var e Exchange
	n := 0
	fill(reflect.ValueOf(&e).Elem(), &n)
	f.Add(appendFields(nil, &e))
	f.Add(appendFields(nil, &Exchange{}))
	f.Fuzz(func(t *testing.T, data []byte) {
		pk := Packer{chunks: [][]byte{data}}
		var e Exchange
		if pk.Unpack(Packed{n: uint32(len(data))}, &e, &Unpacking{}) != nil {
			return
		}
		var again Packer
		if got := roundTrip(t, &again, &e, nil); !reflect.DeepEqual(got, e) {
			t.Fatalf("\n got %#v\nwant %#v", got, e)
		}
	})
}
