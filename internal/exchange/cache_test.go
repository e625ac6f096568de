package exchange

import (
	"encoding/binary"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/capture"
	"kscope/internal/kafka"
)

// TestCacheDetailKey: a Detail is shared only with one equal to it. Each of
// Detail's fields, set alone, either keeps the Detail from being shared or
// is in its key: a field added later cannot be lost in a shared value.
func TestCacheDetailKey(t *testing.T) {
	zero, ok := keyOf(&Detail{})
	if !ok {
		t.Fatal("the empty Detail has no key")
	}
	rt := reflect.TypeFor[Detail]()
	for i := range rt.NumField() {
		var d Detail
		f := reflect.ValueOf(&d).Elem().Field(i)
		switch f.Kind() {
		case reflect.Pointer:
			f.Set(reflect.New(f.Type().Elem()))
		case reflect.String:
			f.SetString("x")
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 0, 1))
		case reflect.Map:
			f.Set(reflect.MakeMap(f.Type()))
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Int, reflect.Int16, reflect.Int32, reflect.Int64:
			f.SetInt(1)
		default:
			t.Fatalf("field %s: kind %s not covered by this test", rt.Field(i).Name, f.Kind())
		}
		if k, ok := keyOf(&d); ok && k == zero {
			t.Errorf("field %s set: same key as the empty Detail", rt.Field(i).Name)
		}
	}

	c := NewCache()
	share := func(d Detail) (*Detail, bool) {
		*c.newDetail() = d
		return c.detail(c.newDetail())
	}
	p := func(v int32) *int32 { return &v }
	fetch := Detail{MaxWaitMS: p(500), MinBytes: p(1), IsolationLevel: "read_committed", SessionID: p(7)}
	a, shared := share(fetch)
	if shared || *a.MaxWaitMS != 500 || a.IsolationLevel != "read_committed" || *a.SessionID != 7 {
		t.Fatalf("first detail %+v, shared %v", a, shared)
	}
	if b, shared := share(fetch); b != a || !shared {
		t.Error("equal details are not shared")
	}
	other := fetch
	other.SessionID = p(8)
	if o, shared := share(other); o == a || shared || *o.SessionID != 8 {
		t.Error("a detail with another session id is shared")
	}
	group := Detail{MaxWaitMS: p(500), Protocol: "range"}
	g1, _ := share(group)
	if g2, shared := share(group); g1 == g2 || shared || g1.Protocol != "range" {
		t.Error("a detail with fields outside the key is shared")
	}
	if c.scratch.MaxWaitMS != nil {
		t.Error("the scratch detail is not cleared")
	}
	if d := (&Detail{}); func() *Detail { x, _ := c.detail(d); return x }() != d {
		t.Error("a detail not built in the scratch is replaced")
	}
	ap := netip.MustParseAddrPort("10.0.0.1:9092")
	if s := c.addr(ap); s != "10.0.0.1:9092" || c.addr(netip.AddrPort{}) != "" {
		t.Errorf("addr %q", s)
	}
}

// TestWireBodyOlderAnswer: a broker that does not know the ApiVersions
// version asked answers v0 (KIP-511); the body kept in wire form renders
// that v0 answer, as the body rendered at once does.
func TestWireBodyOlderAnswer(t *testing.T) {
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName, req.ClientSoftwareVersion = "kscope-test", "1.0"
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	resp.ErrorCode = 35 // UNSUPPORTED_VERSION
	resp.ApiKeys = []kmsg.ApiVersionsResponseApiKey{{ApiKey: 18, MinVersion: 0, MaxVersion: 2}}

	// Request header v2: key, version, correlation id, client id, no
	// tags.
	hdr := []byte{0, 18, 0, 3, 0, 0, 0, 7, 0, 3, 'c', 'l', 'i', 0}
	reqBody := req.AppendTo(hdr)
	reqFrame := append(binary.BigEndian.AppendUint32(nil, uint32(len(reqBody))), reqBody...)
	respBody := resp.AppendTo(binary.BigEndian.AppendUint32(nil, 7))
	respFrame := append(binary.BigEndian.AppendUint32(nil, uint32(len(respBody))), respBody...)

	var pairs []kafka.Pair
	d := kafka.NewDecoder(kafka.Options{}, nil, func(p kafka.Pair) { pairs = append(pairs, p) })
	c := &capture.Conn{ID: 1, A: netip.MustParseAddrPort("127.0.0.1:50000"), B: netip.MustParseAddrPort("127.0.0.1:9092")}
	now := time.Unix(1_700_000_000, 0)
	d.Feed(capture.Chunk{Conn: c, Dir: capture.AtoB, Time: now, Data: reqFrame})
	d.Feed(capture.Chunk{Conn: c, Dir: capture.BtoA, Time: now.Add(time.Millisecond), Data: respFrame})
	d.Flush()
	if len(pairs) != 1 || pairs[0].Resp == nil || pairs[0].Resp.Body == nil {
		t.Fatalf("pairs %+v", pairs)
	}
	now1 := Build(pairs[0], nil, Options{Bodies: true})
	wire := Build(pairs[0], nil, Options{Bodies: true, WireBodies: true, Cache: NewCache()})
	if !wire.Response.IsWire() {
		t.Fatal("response not kept in wire form")
	}
	a, b := string(now1.Response.JSON()), string(wire.Response.JSON())
	if a != b || !strings.Contains(b, `"error_code":35`) {
		t.Fatalf("wire form renders\n%s\nwant\n%s", b, a)
	}
}

// TestCacheMetadata: Metadata responses that answer the same share one
// Detail; one that differs in any field, or sets a field a Metadata
// response does not, gets its own.
func TestCacheMetadata(t *testing.T) {
	c := NewCache()
	share := func(d Detail) (*Detail, bool) {
		*c.newDetail() = d
		return c.detail(c.newDetail())
	}
	p := func(v int32) *int32 { return &v }
	meta := Detail{ClusterID: "c1", ControllerID: p(1), Brokers: []Broker{{NodeID: 1, Addr: "b1:9092", Rack: "r1"}}}
	a, shared := share(meta)
	if shared {
		t.Fatal("the first metadata detail is shared")
	}
	if b, shared := share(meta); b != a || !shared {
		t.Fatal("equal metadata details are not shared")
	}
	for _, d := range []Detail{
		{ClusterID: "c2", ControllerID: p(1), Brokers: meta.Brokers},
		{ClusterID: "c1", ControllerID: p(2), Brokers: meta.Brokers},
		{ClusterID: "c1", Brokers: meta.Brokers},
		{ClusterID: "c1", ControllerID: p(1), Brokers: []Broker{{NodeID: 1, Addr: "b1:9092"}}},
		{ClusterID: "c1", ControllerID: p(1), Brokers: []Broker{}},
		{ClusterID: "c1", ControllerID: p(1), Brokers: meta.Brokers, TopicErrors: map[string]string{}},
		{ClusterID: "c1", ControllerID: p(1), Brokers: meta.Brokers, TopicErrors: map[string]string{"t": "UNKNOWN_TOPIC_OR_PARTITION"}},
		{ClusterID: "c1", ControllerID: p(1), Brokers: meta.Brokers, ThrottleMS: 5},
		{ClusterID: "c1", ControllerID: p(1), Brokers: meta.Brokers, DecodeError: "response: cut short"},
	} {
		share(meta)
		if got, shared := share(d); shared || !reflect.DeepEqual(*got, d) {
			t.Errorf("%+v: shared %v, got %+v", d, shared, *got)
		}
	}
	// A field outside Metadata's, set alone, is never shared either.
	rt := reflect.TypeFor[Detail]()
	for i := range rt.NumField() {
		d := meta
		f := reflect.ValueOf(&d).Elem().Field(i)
		switch rt.Field(i).Name {
		case "ClusterID", "ControllerID", "Brokers", "TopicErrors", "ThrottleMS":
			continue
		}
		n := 0
		fill(f, &n)
		share(meta)
		if got, shared := share(d); shared || !reflect.DeepEqual(*got, d) {
			t.Errorf("field %s set: shared %v", rt.Field(i).Name, shared)
		}
	}
}
