package kafka

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/capture"
)

// wire encodes requests and responses the way a client and a broker frame
// them, so the decoder can be tested on exact bytes.
func reqFrame(r kmsg.Request, version int16, corr int32, clientID string) []byte {
	r.SetVersion(version)
	b := make([]byte, 4, 64)
	b = binary.BigEndian.AppendUint16(b, uint16(r.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	hv := requestHeaderVersion(r.Key(), version)
	if hv >= 1 {
		b = binary.BigEndian.AppendUint16(b, uint16(len(clientID)))
		b = append(b, clientID...)
	}
	if hv == 2 {
		b = append(b, 0)
	}
	b = r.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

func respFrame(r kmsg.Response, version int16, corr int32) []byte {
	r.SetVersion(version)
	b := make([]byte, 4, 64)
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	if responseHeaderVersion(r.Key(), version) == 1 {
		b = append(b, 0)
	}
	b = r.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

func metadataReq() *kmsg.MetadataRequest {
	r := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr("orders")
	r.Topics = append(r.Topics, t)
	return r
}

func metadataResp(id [16]byte) *kmsg.MetadataResponse {
	r := kmsg.NewPtrMetadataResponse()
	r.ClusterID = kmsg.StringPtr("c1")
	b := kmsg.NewMetadataResponseBroker()
	b.Host, b.Port = "127.0.0.1", 9092
	r.Brokers = append(r.Brokers, b)
	t := kmsg.NewMetadataResponseTopic()
	t.Topic = kmsg.StringPtr("orders")
	t.TopicID = id
	r.Topics = append(r.Topics, t)
	return r
}

func produceReq(acks int16) *kmsg.ProduceRequest {
	r := kmsg.NewPtrProduceRequest()
	r.Acks = acks
	r.TimeoutMillis = 1000
	t := kmsg.NewProduceRequestTopic()
	t.Topic = "orders"
	p := kmsg.NewProduceRequestTopicPartition()
	p.Records = make([]byte, 200) // opaque here: batch parsing is tested apart
	t.Partitions = append(t.Partitions, p)
	r.Topics = append(r.Topics, t)
	return r
}

func produceResp() *kmsg.ProduceResponse {
	r := kmsg.NewPtrProduceResponse()
	t := kmsg.NewProduceResponseTopic()
	t.Topic = "orders"
	t.Partitions = append(t.Partitions, kmsg.NewProduceResponseTopicPartition())
	r.Topics = append(r.Topics, t)
	return r
}

// feeder drives a Decoder with chunks of one connection.
type feeder struct {
	t     *testing.T
	d     *Decoder
	c     *capture.Conn
	now   time.Time
	pairs []Pair
}

func newFeeder(t *testing.T, opts Options) *feeder {
	f := &feeder{t: t, now: time.Unix(1700000000, 0)}
	f.c = &capture.Conn{ID: 1, A: netip.MustParseAddrPort("10.0.0.1:50000"), B: netip.MustParseAddrPort("127.0.0.1:9092")}
	f.d = NewDecoder(opts, nil, func(p Pair) { f.pairs = append(f.pairs, p) })
	return f
}

// send feeds b in pieces of at most n bytes (n <= 0: one chunk).
func (f *feeder) send(dir capture.Dir, b []byte, n int, lost int64) {
	if n <= 0 {
		n = len(b)
	}
	for first := true; len(b) > 0 || first; first = false {
		m := min(n, len(b))
		f.now = f.now.Add(time.Millisecond)
		ch := capture.Chunk{Conn: f.c, Dir: dir, Time: f.now, Data: b[:m]}
		if first {
			ch.Lost = lost
		}
		f.d.Feed(ch)
		b = b[m:]
	}
}

func joinBytes(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

type want struct {
	key  int16
	corr int32
	resp bool
	none string
}

func check(t *testing.T, got []Pair, w []want) {
	t.Helper()
	if len(got) != len(w) {
		for _, p := range got {
			t.Logf("pair %s corr %d resp %v none %q", kmsg.NameForKey(p.Req.Header.Key), p.Req.Header.CorrelationID, p.Resp != nil, p.NoResponse)
		}
		t.Fatalf("got %d pairs, want %d", len(got), len(w))
	}
	for i, p := range got {
		if p.Req.Header.Key != w[i].key || p.Req.Header.CorrelationID != w[i].corr || (p.Resp != nil) != w[i].resp || p.NoResponse != w[i].none {
			t.Errorf("pair %d: key %d corr %d resp %v none %q; want %+v", i, p.Req.Header.Key, p.Req.Header.CorrelationID, p.Resp != nil, p.NoResponse, w[i])
		}
		if p.Resp != nil && p.Resp.Err != nil {
			t.Errorf("pair %d: response decode: %v", i, p.Resp.Err)
		}
		if p.Req.Err != nil {
			t.Errorf("pair %d: request decode: %v", i, p.Req.Err)
		}
	}
}

func TestPipelinedAndSplit(t *testing.T) {
	var id [16]byte
	reqs := joinBytes(reqFrame(metadataReq(), 12, 1, "app"), reqFrame(produceReq(-1), 9, 2, "app"), reqFrame(produceReq(1), 7, 3, "app"))
	resps := joinBytes(respFrame(metadataResp(id), 12, 1), respFrame(produceResp(), 9, 2), respFrame(produceResp(), 7, 3))
	want := []want{{3, 1, true, ""}, {0, 2, true, ""}, {0, 3, true, ""}}
	for _, piece := range []int{0, 1, 3, 7, 100} {
		f := newFeeder(t, Options{})
		f.send(capture.AtoB, reqs, piece, 0)
		f.send(capture.BtoA, resps, piece, 0)
		t.Logf("pieces of %d bytes", piece)
		check(t, f.pairs, want)
		if f.pairs[0].Resp.End.Before(f.pairs[0].Req.Start) {
			t.Errorf("piece %d: response ends before request starts", piece)
		}
	}
}

func TestServerSpeaksFirstInCapture(t *testing.T) {
	// The capture may begin with the server's side (B sends first): roles
	// come from the bytes, not from who spoke first or from ports.
	var id [16]byte
	f := newFeeder(t, Options{})
	f.send(capture.BtoA, reqFrame(metadataReq(), 4, 9, "x"), 0, 0)
	f.send(capture.AtoB, respFrame(metadataResp(id), 4, 9), 0, 0)
	check(t, f.pairs, []want{{3, 9, true, ""}})
	if f.pairs[0].ClientDir != capture.BtoA {
		t.Errorf("client dir %v, want B->A", f.pairs[0].ClientDir)
	}
}

func TestAcks0(t *testing.T) {
	f := newFeeder(t, Options{})
	f.send(capture.AtoB, joinBytes(reqFrame(produceReq(0), 9, 1, "a"), reqFrame(produceReq(0), 9, 2, "a")), 0, 0)
	check(t, f.pairs, []want{{0, 1, false, NoResponseAcks0}, {0, 2, false, NoResponseAcks0}})
}

func TestMidStreamStart(t *testing.T) {
	var id [16]byte
	r1 := reqFrame(produceReq(-1), 9, 5, "app")
	r2 := reqFrame(metadataReq(), 12, 6, "app")
	p1 := respFrame(produceResp(), 9, 4) // answer to a request never seen
	p2 := respFrame(produceResp(), 9, 5)
	p3 := respFrame(metadataResp(id), 12, 6)
	f := newFeeder(t, Options{})
	// Start 37 bytes into the client's stream and inside a response.
	f.send(capture.AtoB, joinBytes(r1[37:], r1, r2), 0, 0)
	f.send(capture.BtoA, joinBytes(p1[11:], p2, p3), 0, 0)
	check(t, f.pairs, []want{{0, 5, true, ""}, {3, 6, true, ""}})
	if f.d.Stats().BytesSkipped == 0 {
		t.Error("skipped bytes not counted")
	}
}

func TestHoleInsideBodyKeepsSync(t *testing.T) {
	r1 := reqFrame(produceReq(-1), 9, 1, "app")
	r2 := reqFrame(produceReq(-1), 9, 2, "app")
	f := newFeeder(t, Options{})
	// 50 bytes of r1's record data are missing: r1 is truncated, r2 whole.
	cut := len(r1) - 60
	f.send(capture.AtoB, r1[:cut], 0, 0)
	f.send(capture.AtoB, joinBytes(r1[cut+50:], r2), 0, 50)
	f.send(capture.BtoA, joinBytes(respFrame(produceResp(), 9, 1), respFrame(produceResp(), 9, 2)), 0, 0)
	check(t, f.pairs, []want{{0, 1, true, ""}, {0, 2, true, ""}})
	if !f.pairs[0].Req.Truncated || f.pairs[1].Req.Truncated {
		t.Errorf("truncated flags %v %v, want true false", f.pairs[0].Req.Truncated, f.pairs[1].Req.Truncated)
	}
}

func TestHoleOverSizePrefixResyncs(t *testing.T) {
	r1 := reqFrame(produceReq(-1), 9, 1, "app")
	r2 := reqFrame(produceReq(-1), 9, 2, "app")
	r3 := reqFrame(produceReq(-1), 9, 3, "app")
	f := newFeeder(t, Options{})
	f.send(capture.AtoB, r1, 0, 0)
	// r2's first 20 bytes are lost: it is dropped, r3 is found again.
	f.send(capture.AtoB, joinBytes(r2[20:], r3), 0, 20)
	f.send(capture.BtoA, joinBytes(respFrame(produceResp(), 9, 1), respFrame(produceResp(), 9, 2), respFrame(produceResp(), 9, 3)), 0, 0)
	check(t, f.pairs, []want{{0, 1, true, ""}, {0, 3, true, ""}})
	st := f.d.Stats()
	if st.Resyncs == 0 || st.UnmatchedResponses != 1 {
		t.Errorf("resyncs %d unmatched %d, want >0 and 1", st.Resyncs, st.UnmatchedResponses)
	}
}

func TestLostResponse(t *testing.T) {
	f := newFeeder(t, Options{})
	f.send(capture.AtoB, joinBytes(reqFrame(produceReq(-1), 9, 1, "a"), reqFrame(produceReq(-1), 9, 2, "a")), 0, 0)
	p1 := respFrame(produceResp(), 9, 1)
	// The response to 1 falls in a hole: Kafka answers in order, so when
	// 2's answer arrives, 1's is known lost.
	f.send(capture.BtoA, respFrame(produceResp(), 9, 2), 0, int64(len(p1)))
	check(t, f.pairs, []want{{0, 1, false, NoResponseLost}, {0, 2, true, ""}})
}

func TestOversizedFrameSkipped(t *testing.T) {
	big := reqFrame(produceReq(-1), 9, 1, "a")
	big = append(big, make([]byte, 5000)...)
	binary.BigEndian.PutUint32(big, uint32(len(big)-4))
	small := reqFrame(produceReq(0), 9, 2, "a")
	f := newFeeder(t, Options{MaxFrame: 4096})
	f.send(capture.AtoB, reqFrame(produceReq(0), 9, 0, "a"), 0, 0)
	f.send(capture.AtoB, joinBytes(big, small), 1000, 0)
	check(t, f.pairs, []want{{0, 0, false, NoResponseAcks0}, {0, 2, false, NoResponseAcks0}})
	if f.d.Stats().Oversized != 1 {
		t.Errorf("oversized %d, want 1", f.d.Stats().Oversized)
	}
}

func TestTimeoutAndEnd(t *testing.T) {
	f := newFeeder(t, Options{ResponseTimeout: time.Second})
	f.send(capture.AtoB, reqFrame(produceReq(-1), 9, 1, "a"), 0, 0)
	f.d.Expire(f.now.Add(500 * time.Millisecond))
	if len(f.pairs) != 0 {
		t.Fatal("expired too early")
	}
	f.d.Expire(f.now.Add(3 * time.Second)) // produce timeout 1s + 1s
	f.send(capture.AtoB, reqFrame(produceReq(-1), 9, 2, "a"), 0, 0)
	f.d.Flush()
	check(t, f.pairs, []want{{0, 1, false, NoResponseTimeout}, {0, 2, false, NoResponseEnd}})
}

func TestTopicIDsLearned(t *testing.T) {
	id := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	f := newFeeder(t, Options{})
	f.send(capture.AtoB, reqFrame(metadataReq(), 12, 1, "a"), 0, 0)
	f.send(capture.BtoA, respFrame(metadataResp(id), 12, 1), 0, 0)
	if n, ok := f.d.ids.Name("c1", id); !ok || n != "orders" {
		t.Fatalf("id -> %q %v, want orders", n, ok)
	}
	if f.pairs[0].Cluster != "c1" {
		t.Errorf("cluster %q, want c1", f.pairs[0].Cluster)
	}
}

// TestClusterFromAnotherConnection: a connection without a Metadata of its
// own is named with the cluster another connection's Metadata gives its
// broker, also when it exchanged before that Metadata came.
func TestClusterFromAnotherConnection(t *testing.T) {
	f := newFeeder(t, Options{})
	meta := f.c
	other := &capture.Conn{ID: 2, A: netip.MustParseAddrPort("10.0.0.1:50001"), B: meta.B}
	f.c = other
	f.send(capture.AtoB, reqFrame(produceReq(-1), 9, 1, "a"), 0, 0)
	f.send(capture.BtoA, respFrame(produceResp(), 9, 1), 0, 0)
	f.c = meta
	f.send(capture.AtoB, reqFrame(metadataReq(), 12, 1, "a"), 0, 0)
	f.send(capture.BtoA, respFrame(metadataResp([16]byte{1}), 12, 1), 0, 0)
	f.c = other
	f.send(capture.AtoB, reqFrame(produceReq(-1), 9, 2, "a"), 0, 0)
	f.send(capture.BtoA, respFrame(produceResp(), 9, 2), 0, 0)
	var got []string
	for _, p := range f.pairs {
		got = append(got, p.Cluster)
	}
	if want := []string{"", "c1", "c1"}; !slices.Equal(got, want) {
		t.Errorf("clusters %q, want %q", got, want)
	}
}

func TestSASLv0RawTokensSkipped(t *testing.T) {
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Mechanism = "PLAIN"
	hr := kmsg.NewPtrSASLHandshakeResponse()
	hr.SupportedMechanisms = []string{"PLAIN"}
	token := []byte("\x00alice\x00kscope-secret-pw-7741")
	raw := binary.BigEndian.AppendUint32(nil, uint32(len(token)))
	raw = append(raw, token...)
	f := newFeeder(t, Options{})
	f.send(capture.AtoB, reqFrame(hs, 0, 1, "a"), 0, 0)
	f.send(capture.BtoA, respFrame(hr, 0, 1), 0, 0)
	f.send(capture.AtoB, raw, 0, 0)
	f.send(capture.BtoA, []byte{0, 0, 0, 0}, 0, 0) // the broker's empty token
	f.send(capture.AtoB, reqFrame(metadataReq(), 4, 2, "a"), 0, 0)
	var id [16]byte
	f.send(capture.BtoA, respFrame(metadataResp(id), 4, 2), 0, 0)
	check(t, f.pairs, []want{{17, 1, true, ""}, {3, 2, true, ""}})
	if st := f.d.Stats(); st.SASLTokens != 2 || st.DecodeErrors != 0 || st.UnmatchedResponses != 0 {
		t.Errorf("stats %+v, want 2 sasl tokens and no errors", st)
	}
}

func TestNotKafka(t *testing.T) {
	f := newFeeder(t, Options{})
	f.send(capture.AtoB, []byte("GET / HTTP/1.1\r\nHost: example\r\n\r\n"), 0, 0)
	f.send(capture.BtoA, []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"), 0, 0)
	f.d.Flush()
	if len(f.pairs) != 0 || f.d.Stats().KafkaConnections != 0 {
		t.Errorf("HTTP decoded as Kafka: %d pairs", len(f.pairs))
	}
}

func TestVerdicts(t *testing.T) {
	var verdicts []bool
	opts := Options{NotKafkaAfter: 4096, OnVerdict: func(_ *capture.Conn, kafka bool) { verdicts = append(verdicts, kafka) }}

	// A clean connection that starts with HTTP is judged at once.
	f := newFeeder(t, opts)
	f.send(capture.AtoB, []byte("GET / HTTP/1.1\r\nHost: example\r\n\r\n"), 0, 0)
	f.send(capture.AtoB, []byte("more bytes that are ignored"), 0, 0)
	if len(verdicts) != 1 || verdicts[0] || f.d.Stats().BytesIgnored == 0 {
		t.Fatalf("HTTP: verdicts %v, ignored %d", verdicts, f.d.Stats().BytesIgnored)
	}

	// Mid-stream garbage both ways is judged after NotKafkaAfter bytes.
	verdicts = nil
	f = newFeeder(t, opts)
	junk := make([]byte, 1000)
	for i := range junk {
		junk[i] = byte(i*7 + 3)
	}
	for i := 0; i < 3; i++ {
		f.send(capture.AtoB, junk, 0, -1)
		f.send(capture.BtoA, junk, 0, -1)
	}
	if len(verdicts) != 1 || verdicts[0] {
		t.Fatalf("junk: verdicts %v", verdicts)
	}

	// One way, it may be the middle of a large fetch response: judged
	// after 64 times as many.
	verdicts = nil
	f = newFeeder(t, opts)
	for i := 0; len(verdicts) == 0 && i < 1000; i++ {
		f.send(capture.BtoA, junk, 0, -1)
		if n := int64(i+1) * 1000; len(verdicts) > 0 && n <= oneWayNotKafka*opts.NotKafkaAfter {
			t.Fatalf("one way: judged after %d bytes", n)
		}
	}
	if len(verdicts) != 1 || verdicts[0] {
		t.Fatalf("one way junk: verdicts %v", verdicts)
	}

	// Kafka is told once.
	verdicts = nil
	f = newFeeder(t, opts)
	f.send(capture.AtoB, reqFrame(produceReq(0), 9, 1, "a"), 0, 0)
	f.send(capture.AtoB, reqFrame(produceReq(0), 9, 2, "a"), 0, 0)
	if len(verdicts) != 1 || !verdicts[0] {
		t.Fatalf("kafka: verdicts %v", verdicts)
	}
}

// TestResponseBeforeItsRequest: a traced client's read of a response can
// reach the ring before the write of its request (two CPUs, loopback):
// the response waits for its request and they pair. A response whose
// request never comes is counted unmatched once a later one is answered.
func TestResponseBeforeItsRequest(t *testing.T) {
	f := newFeeder(t, Options{})
	f.send(capture.AtoB, reqFrame(produceReq(-1), 9, 1, "app"), 0, 0)
	f.send(capture.BtoA, respFrame(produceResp(), 9, 1), 0, 0)
	// 2's response first, then its request; 3 in order.
	f.send(capture.BtoA, respFrame(produceResp(), 9, 2), 0, 0)
	f.send(capture.AtoB, reqFrame(produceReq(-1), 9, 2, "app"), 0, 0)
	f.send(capture.AtoB, reqFrame(produceReq(-1), 9, 3, "app"), 0, 0)
	f.send(capture.BtoA, respFrame(produceResp(), 9, 3), 0, 0)
	check(t, f.pairs, []want{{0, 1, true, ""}, {0, 2, true, ""}, {0, 3, true, ""}})
	if st := f.d.Stats(); st.UnmatchedResponses != 0 {
		t.Errorf("unmatched %d, want 0", st.UnmatchedResponses)
	}
	// 9's response, whose request never comes: 4, answered after it,
	// says it will not.
	f.send(capture.BtoA, respFrame(produceResp(), 9, 9), 0, 0)
	f.send(capture.AtoB, reqFrame(produceReq(-1), 9, 4, "app"), 0, 0)
	f.send(capture.BtoA, respFrame(produceResp(), 9, 4), 0, 0)
	check(t, f.pairs, []want{{0, 1, true, ""}, {0, 2, true, ""}, {0, 3, true, ""}, {0, 4, true, ""}})
	if st := f.d.Stats(); st.UnmatchedResponses != 1 {
		t.Errorf("unmatched %d, want 1", st.UnmatchedResponses)
	}
}

// TestResponsesBeforeTheirWritev: a client that writes many pipelined
// requests at once can have every response read before the one write is
// recorded: all of them wait, and all pair.
func TestResponsesBeforeTheirWritev(t *testing.T) {
	const n = 32
	f := newFeeder(t, Options{})
	f.send(capture.AtoB, reqFrame(produceReq(-1), 9, 0, "app"), 0, 0)
	f.send(capture.BtoA, respFrame(produceResp(), 9, 0), 0, 0)
	var writev []byte
	w := []want{{0, 0, true, ""}}
	for corr := int32(1); corr <= n; corr++ {
		f.send(capture.BtoA, respFrame(produceResp(), 9, corr), 0, 0)
		writev = append(writev, reqFrame(produceReq(-1), 9, corr, "app")...)
		w = append(w, want{0, corr, true, ""})
	}
	f.send(capture.AtoB, writev, 0, 0)
	check(t, f.pairs, w)
	if st := f.d.Stats(); st.UnmatchedResponses != 0 {
		t.Errorf("unmatched %d, want 0", st.UnmatchedResponses)
	}
}

// Raw bytes are offered for bodies without records or secrets: never for
// SASL, whose token holds the password.
func TestRawBodies(t *testing.T) {
	f := newFeeder(t, Options{})
	auth := kmsg.NewPtrSASLAuthenticateRequest()
	auth.SASLAuthBytes = []byte("\x00user\x00secret-password")
	f.send(capture.AtoB, reqFrame(metadataReq(), 12, 1, "a"), 0, 0)
	f.send(capture.BtoA, respFrame(metadataResp([16]byte{1}), 12, 1), 0, 0)
	f.send(capture.AtoB, reqFrame(auth, 2, 2, "a"), 0, 0)
	f.send(capture.BtoA, respFrame(kmsg.NewPtrSASLAuthenticateResponse(), 2, 2), 0, 0)
	f.d.Flush()
	if len(f.pairs) != 2 {
		t.Fatalf("%d pairs", len(f.pairs))
	}
	md, sasl := f.pairs[0], f.pairs[1]
	if md.Req.Raw == nil || md.Resp.Raw == nil {
		t.Error("Metadata: no raw body")
	}
	if sasl.Req.Raw != nil || sasl.Resp.Raw != nil {
		t.Error("SaslAuthenticate: raw body offered")
	}
}

// TestRawWithoutRecords: a Produce request's and a Fetch response's Raw is
// their body as it came with the record data cut out, the bytes the body
// encodes to once its records are removed (what kmsg would encode again),
// in versions before and after flexible encoding, with empty and null
// record fields among full ones; and nil when a record field is not in
// the bytes the body was decoded from.
func TestRawWithoutRecords(t *testing.T) {
	fetch := kmsg.NewPtrFetchResponse()
	ft := kmsg.NewFetchResponseTopic()
	ft.Topic = "orders"
	for i, records := range [][]byte{make([]byte, 300), nil, {}, make([]byte, 70)} {
		p := kmsg.NewFetchResponseTopicPartition()
		p.Partition, p.HighWatermark, p.RecordBatches = int32(i), 100, records
		ft.Partitions = append(ft.Partitions, p)
	}
	fetch.Topics = []kmsg.FetchResponseTopic{ft}
	for _, version := range []int16{4, 11, 12, 16} {
		for _, produceVersion := range []int16{3, 8, 9, 11} {
			f := newFeeder(t, Options{})
			req := kmsg.NewPtrFetchRequest()
			req.Topics = []kmsg.FetchRequestTopic{{Topic: "orders"}}
			f.send(capture.AtoB, reqFrame(req, version, 1, "c"), 0, 0)
			f.send(capture.BtoA, respFrame(fetch, version, 1), 0, 0)
			f.send(capture.AtoB, reqFrame(produceReq(-1), produceVersion, 2, "c"), 0, 0)
			f.d.Flush()
			if len(f.pairs) != 2 {
				t.Fatalf("v%d: %d pairs", version, len(f.pairs))
			}
			for _, c := range []struct {
				name string
				body interface{ AppendTo([]byte) []byte }
				raw  []byte
				sets int
			}{
				{fmt.Sprintf("Fetch v%d response", version), f.pairs[0].Resp.Body, f.pairs[0].Resp.Raw, len(f.pairs[0].Resp.Records)},
				{fmt.Sprintf("Produce v%d request", produceVersion), f.pairs[1].Req.Body, f.pairs[1].Req.Raw, len(f.pairs[1].Req.Records)},
			} {
				if c.sets == 0 {
					t.Fatalf("%s: no record set", c.name)
				}
				if want := c.body.AppendTo(nil); !bytes.Equal(c.raw, want) {
					t.Errorf("%s: raw\n%x\nwant\n%x", c.name, c.raw, want)
				}
				if cap(c.raw)-len(c.raw) < c.sets*RawSpare {
					t.Errorf("%s: %d bytes of room after raw for %d sets", c.name, cap(c.raw)-len(c.raw), c.sets)
				}
			}
		}
	}

	// An empty record field last in bytes with no capacity after them
	// (a frame at the very end of its buffer), after a field of zeros:
	// its slice points back at its own length. No raw, or the right one;
	// never a wrong one.
	produce := kmsg.NewPtrProduceRequest()
	produce.Topics = []kmsg.ProduceRequestTopic{{Topic: "orders", Partitions: []kmsg.ProduceRequestTopicPartition{
		{Partition: 3, Records: make([]byte, 100)}, {Partition: 0, Records: []byte{}}}}}
	emptyFetch := kmsg.NewPtrFetchResponse()
	emptyFetch.Topics = []kmsg.FetchResponseTopic{{Topic: "orders", Partitions: []kmsg.FetchResponseTopicPartition{
		{Partition: 1, RecordBatches: make([]byte, 100)}, {Partition: 2, AbortedTransactions: []kmsg.FetchResponseTopicPartitionAbortedTransaction{}, RecordBatches: []byte{}}}}}
	for _, c := range []struct {
		msg     interface{ AppendTo([]byte) []byte }
		decoded interface {
			ReadFrom([]byte) error
			AppendTo([]byte) []byte
		}
		versions []int16
	}{
		{produce, kmsg.NewPtrProduceRequest(), []int16{3, 8}},
		{emptyFetch, kmsg.NewPtrFetchResponse(), []int16{4, 10}},
	} {
		for _, v := range c.versions {
			for _, spare := range []int{0, 8} {
				c.msg.(interface{ SetVersion(int16) }).SetVersion(v)
				c.decoded.(interface{ SetVersion(int16) }).SetVersion(v)
				enc := c.msg.AppendTo(nil)
				src := append(make([]byte, 0, len(enc)+spare), enc...)
				if err := c.decoded.ReadFrom(src); err != nil {
					t.Fatal(err)
				}
				_, raw := extractRecords(c.decoded, src, nil, nil)
				if want := c.decoded.AppendTo(nil); raw != nil && !bytes.Equal(raw, want) {
					t.Errorf("%T v%d, %d bytes of capacity after: raw\n%x\nwant\n%x", c.msg, v, spare, raw, want)
				}
				if spare > 0 && raw == nil {
					t.Errorf("%T v%d, with capacity after: no raw", c.msg, v)
				}
			}
		}
	}

	// A record field that is not in the bytes decoded: no raw.
	src := produceReq(-1)
	src.SetVersion(9)
	b := src.AppendTo(nil)
	body := kmsg.NewPtrProduceRequest()
	body.SetVersion(9)
	if err := body.ReadFrom(b); err != nil {
		t.Fatal(err)
	}
	body.Topics[0].Partitions[0].Records = bytes.Clone(body.Topics[0].Partitions[0].Records)
	if sets, raw := extractRecords(body, b, nil, nil); raw != nil || len(sets) != 1 {
		t.Errorf("records copied elsewhere: %d sets, raw %x", len(sets), raw)
	}
}
