package kafka

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/capture"
)

func FuzzRequestHeader(f *testing.F) {
	f.Add(reqFrame(metadataReq(), 12, 1, "app")[4:])
	f.Add(reqFrame(produceReq(1), 7, 3, "")[4:])
	f.Add([]byte{0, 18, 0, 3, 0, 0, 0, 1, 0xff, 0xff, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, id, n, err := splitRequestHeader(b)
		if err != nil {
			return
		}
		if n > len(b) || n < 8 {
			t.Fatalf("body offset %d outside frame of %d", n, len(b))
		}
		if len(id) > n-8 {
			t.Fatalf("client id of %d bytes in a header of %d", len(id), n)
		}
		plausibleRequest(b)
		if KnownVersion(h.Key, h.Version) {
			decodeRequest(h, b[n:])
			decodeResponse(h, b)
		}
	})
}

// FuzzDecoder feeds arbitrary bytes as the two directions of a connection,
// cut into arbitrary chunks with arbitrary holes: the decoder must never
// panic, hang or emit a pair without a request.
func FuzzDecoder(f *testing.F) {
	var id [16]byte
	f.Add(joinBytes(reqFrame(metadataReq(), 12, 1, "app"), reqFrame(produceReq(-1), 9, 2, "app")),
		joinBytes(respFrame(metadataResp(id), 12, 1), respFrame(produceResp(), 9, 2)), []byte{7, 3, 200, 1})
	f.Add(reqFrame(produceReq(0), 3, 1, "a"), []byte{}, []byte{1})
	// Record data in flexible versions, answered, nothing lost.
	fetchReq := kmsg.NewPtrFetchRequest()
	fetchReq.Topics = []kmsg.FetchRequestTopic{{Topic: "orders"}}
	fetch := kmsg.NewPtrFetchResponse()
	fetch.Topics = []kmsg.FetchResponseTopic{{Topic: "orders", Partitions: []kmsg.FetchResponseTopicPartition{
		{Partition: 0, RecordBatches: make([]byte, 90)}, {Partition: 1}, {Partition: 2, RecordBatches: []byte{}}}}}
	f.Add(joinBytes(reqFrame(produceReq(-1), 9, 1, "a"), reqFrame(fetchReq, 13, 2, "a")),
		joinBytes(respFrame(produceResp(), 9, 1), respFrame(fetch, 13, 2)), []byte{0x7e, 0x7f})
	f.Fuzz(func(t *testing.T, client, server, cuts []byte) {
		c := &capture.Conn{ID: 1, A: netip.MustParseAddrPort("10.0.0.1:1"), B: netip.MustParseAddrPort("10.0.0.2:2")}
		// A second decoder reuses the messages' memory and reserves
		// ahead as files do (GrowAhead): its callback must see every
		// pair as the first one's does.
		var seen [2][]string
		// floor is what offline.Stream takes for the earliest request
		// time still to come before each chunk: Oldest, or the last
		// chunk's time (later chunks come later here).
		var floor time.Time
		reusing := NewDecoder(Options{MaxFrame: 1 << 16, ReuseMessages: true, GrowAhead: true}, nil, func(p Pair) { seen[1] = append(seen[1], pairPrint(p)) })
		d := NewDecoder(Options{MaxFrame: 1 << 16}, nil, func(p Pair) {
			seen[0] = append(seen[0], pairPrint(p))
			if p.Req == nil {
				t.Fatal("pair without request")
			}
			if p.Req.Start.Before(floor) {
				t.Fatalf("a request of %v came after Oldest said nothing before %v was open", p.Req.Start, floor)
			}
			// A body kept with its records cut out decodes to the
			// body as decoded, records removed.
			if p.Req.Raw != nil && p.Req.Records != nil {
				sameBody(t, p.Req.Body, p.Req.Raw)
			}
			if p.Resp != nil && p.Resp.Raw != nil && p.Resp.Records != nil {
				sameBody(t, p.Resp.Body, p.Resp.Raw)
			}
		})
		now := time.Unix(0, 0)
		streams := [2][]byte{client, server}
		for i := 0; len(streams[0])+len(streams[1]) > 0; i++ {
			cut := byte(1)
			if len(cuts) > 0 {
				cut = cuts[i%len(cuts)]
			}
			dir := capture.Dir(cut & 1)
			if len(streams[dir]) == 0 {
				dir = dir.Reverse()
			}
			n := min(int(cut>>1)+1, len(streams[dir]))
			lost := int64(0)
			if cut&0x80 != 0 && i > 0 {
				lost = int64(binary.BigEndian.Uint16([]byte{cut, byte(i)}) & 0x3ff)
			}
			floor = now
			if old := d.Oldest(); !old.IsZero() && old.Before(floor) {
				floor = old
			}
			now = now.Add(time.Millisecond)
			for _, d := range []*Decoder{d, reusing} {
				d.Feed(capture.Chunk{Conn: c, Dir: dir, Time: now, Data: streams[dir][:n], Lost: lost})
			}
			streams[dir] = streams[dir][n:]
		}
		floor = now
		if old := d.Oldest(); !old.IsZero() && old.Before(floor) {
			floor = old
		}
		for _, d := range []*Decoder{d, reusing} {
			d.Expire(now.Add(time.Hour))
			d.Flush()
		}
		if !slices.Equal(seen[0], seen[1]) {
			t.Fatalf("pairs:\n%s\nreusing their memory:\n%s", strings.Join(seen[0], "\n"), strings.Join(seen[1], "\n"))
		}
	})
}

// pairPrint is what a callback can read of p: its messages encoded again,
// their record sets and raw bodies.
func pairPrint(p Pair) string {
	h := p.Req.Header
	id := "null"
	if h.ClientID != nil {
		id = *h.ClientID
	}
	s := fmt.Sprintf("%d v%d %d %q %v %d %q %v", h.Key, h.Version, h.CorrelationID, id, p.Req.Err, p.Req.Size, p.Req.Raw, p.Req.Records)
	if body := p.Req.Body; body != nil && !reflect.ValueOf(body).IsNil() {
		s += fmt.Sprintf(" %x", body.AppendTo(nil))
	}
	if r := p.Resp; r != nil {
		s += fmt.Sprintf(" | %d %v %d %q %v", r.CorrelationID, r.Err, r.Size, r.Raw, r.Records)
		if body := r.Body; body != nil && !reflect.ValueOf(body).IsNil() {
			s += fmt.Sprintf(" %x", body.AppendTo(nil))
		}
	}
	return s + " " + p.NoResponse
}

// FuzzResync joins a real conversation mid-stream: each direction's capture
// starts at an arbitrary byte (Lost -1, as tcpdump started late) and comes
// in arbitrary chunks. Every pair decoded must be one that was sent, with
// its own response; a capture joined between two exchanges must lose none
// of those that follow. (Joined inside a response, or at responses to
// requests before the join, later exchanges may be lost: bytes there that
// read as the start of the oldest pending request's response hold the
// search until their size has arrived.)
func FuzzResync(f *testing.F) {
	const pairs = 12
	var client, server []byte
	var reqAt, respAt []int
	key := map[int32]int16{}
	sizes := map[int32][2]int{} // each exchange's request and response frame sizes
	add := func(i int32, k int16, req, resp []byte) {
		reqAt, respAt = append(reqAt, len(client)), append(respAt, len(server))
		client, server = append(client, req...), append(server, resp...)
		key[i], sizes[i] = k, [2]int{len(req), len(resp)}
	}
	// Record data whose batch headers hold small numbers where a
	// size and a correlation id could be read (base sequence, record
	// count): the search must not take them for a response.
	records := func(i int32) []byte {
		var recs []rec
		for range 8 {
			recs = append(recs, rec{value: strings.Repeat("0123456789abcdef", 4)})
		}
		return joinBytes(
			encodeBatch(batchOpts{baseOffset: int64(i) * 16, firstTS: 1764600000000, maxTS: 1764600000007, baseSeq: 500 + i, records: recs}),
			encodeBatch(batchOpts{baseOffset: int64(i)*16 + 8, firstTS: 1764600000008, maxTS: 1764600000015, baseSeq: 508 + i, records: recs}))
	}
	for i := int32(1); i <= pairs; i++ {
		switch i % 3 {
		case 0:
			req, resp := fetch(0)
			resp.Topics[0].Partitions[0].RecordBatches = records(i)
			add(i, 1, reqFrame(req, 12, i, "app"), respFrame(resp, 12, i))
		case 1:
			add(i, 0, reqFrame(produceReq(-1), 9, i, "app"), respFrame(produceResp(), 9, i))
		default:
			add(i, 3, reqFrame(metadataReq(), 12, i, "app"), respFrame(metadataResp([16]byte{1}), 12, i))
		}
	}
	f.Add(uint16(0), uint16(0), []byte{0xff})
	f.Add(uint16(reqAt[3]), uint16(respAt[3]), []byte{7, 3, 200, 1})
	f.Add(uint16(reqAt[2]+5), uint16(respAt[1]+9), []byte{31, 64, 9})
	f.Fuzz(func(t *testing.T, joinC, joinS uint16, cuts []byte) {
		jc, js := int(joinC)%len(client), int(joinS)%len(server)
		c := &capture.Conn{ID: 1, A: netip.MustParseAddrPort("10.0.0.1:1"), B: netip.MustParseAddrPort("10.0.0.2:9092")}
		got := map[int32]bool{}
		var floor time.Time // as in FuzzDecoder
		d := NewDecoder(Options{}, nil, func(p Pair) {
			if p.Req.Start.Before(floor) {
				t.Fatalf("a request of %v came after Oldest said nothing before %v was open", p.Req.Start, floor)
			}
			h := p.Req.Header
			if k, ok := key[h.CorrelationID]; !ok || k != h.Key {
				t.Fatalf("decoded a request never sent: key %d correlation id %d", h.Key, h.CorrelationID)
			}
			if p.Req.Size != sizes[h.CorrelationID][0] {
				t.Fatalf("request %d decoded from a frame of %d bytes, sent %d", h.CorrelationID, p.Req.Size, sizes[h.CorrelationID][0])
			}
			if p.Resp != nil {
				if p.Resp.CorrelationID != h.CorrelationID {
					t.Fatalf("request %d paired with response %d", h.CorrelationID, p.Resp.CorrelationID)
				}
				// A frame found inside another one can carry the
				// right correlation id; not the right size.
				if p.Resp.Size != sizes[h.CorrelationID][1] {
					t.Fatalf("request %d answered by a frame of %d bytes, sent %d", h.CorrelationID, p.Resp.Size, sizes[h.CorrelationID][1])
				}
				got[h.CorrelationID] = true
			}
		})
		now := time.Unix(0, 0)
		pos := [2]int{jc, js}
		ends := [2][]byte{client, server}
		started := [2]bool{}
		for i := 0; pos[0] < len(client) || pos[1] < len(server); i++ {
			cut := byte(0xff)
			if len(cuts) > 0 {
				cut = cuts[i%len(cuts)]
			}
			// A response is sent once its request has arrived: the
			// server may not run past the responses of the requests
			// the client has sent.
			limit := [2]int{len(client), len(server)}
			if pos[0] < len(client) {
				limit[1] = 0
				for k := 0; k < pairs && reqAt[k] < pos[0]; k++ {
					if k+1 < pairs && reqAt[k+1] <= pos[0] {
						limit[1] = respAt[k+1]
					}
				}
			}
			dir := capture.Dir(cut & 1)
			if pos[dir] >= limit[dir] {
				dir = dir.Reverse()
			}
			if pos[dir] >= limit[dir] {
				dir = capture.AtoB
			}
			n := min(int(cut>>1)*64+1, limit[dir]-pos[dir])
			ch := capture.Chunk{Conn: c, Dir: dir, Time: now, Data: ends[dir][pos[dir] : pos[dir]+n]}
			if !started[dir] {
				ch.Lost, started[dir] = -1, true
			}
			if i > 0 {
				floor = now.Add(-time.Millisecond) // the last chunk's time
				if old := d.Oldest(); !old.IsZero() && old.Before(floor) {
					floor = old
				}
			}
			now = now.Add(time.Millisecond)
			d.Feed(ch)
			pos[dir] += n
		}
		floor = now.Add(-time.Millisecond)
		if old := d.Oldest(); !old.IsZero() && old.Before(floor) {
			floor = old
		}
		d.Flush()
		// The first exchange whose request and response both follow the joins.
		first := pairs
		for i := pairs - 1; i >= 0 && reqAt[i] >= jc && respAt[i] >= js; i-- {
			first = i
		}
		if ic, is := slices.Index(reqAt, jc), slices.Index(respAt, js); ic >= 0 && is >= ic {
			for i := first; i < pairs; i++ {
				if !got[int32(i+1)] {
					t.Fatalf("joined at exchange boundaries (%d, %d): exchange %d lost", jc, js, i+1)
				}
			}
		}
	})
}

// sameBody fails unless raw decodes to body.
func sameBody(t *testing.T, body interface {
	Key() int16
	GetVersion() int16
}, raw []byte) {
	t.Helper()
	var again interface{ ReadFrom([]byte) error }
	switch body.(type) {
	case kmsg.Request:
		r := kmsg.RequestForKey(body.Key())
		r.SetVersion(body.GetVersion())
		again = r
	case kmsg.Response:
		r := kmsg.ResponseForKey(body.Key())
		r.SetVersion(body.GetVersion())
		again = r
	}
	if err := again.ReadFrom(raw); err != nil {
		t.Fatalf("%T v%d: raw does not decode: %v", body, body.GetVersion(), err)
	}
	if !reflect.DeepEqual(again, body) {
		t.Fatalf("%T v%d: raw decodes to\n%+v\nnot\n%+v", body, body.GetVersion(), again, body)
	}
}
