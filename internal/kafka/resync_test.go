package kafka

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/capture"
)

// frameEnds returns where each size-prefixed frame of b ends.
func frameEnds(b []byte) []int {
	var ends []int
	for off := 0; off+4 <= len(b); {
		off += 4 + int(binary.BigEndian.Uint32(b[off:]))
		ends = append(ends, off)
	}
	return ends
}

// midStream feeds the client and server streams of a conversation joined
// mid-stream (the first join bytes of each side missed), in reads of at
// most size bytes, a response never before the end of its request.
func midStream(d *Decoder, c *capture.Conn, client, server []byte, join, size int) {
	now := time.Unix(1700000000, 0)
	reqEnds, respEnds := frameEnds(client), frameEnds(server)
	pos := [2]int{join, join}
	data := [2][]byte{client, server}
	lost := [2]int64{-1, -1}
	feed := func(dir capture.Dir, limit int) {
		n := min(size, limit-pos[dir])
		if n <= 0 {
			return
		}
		d.Feed(capture.Chunk{Conn: c, Dir: dir, Time: now, Data: data[dir][pos[dir] : pos[dir]+n], Lost: lost[dir]})
		lost[dir] = 0
		pos[dir] += n
	}
	for pos[0] < len(client) || pos[1] < len(server) {
		feed(capture.AtoB, len(client))
		limit := 0
		for k, end := range reqEnds {
			if end <= pos[0] {
				limit = respEnds[k]
			}
		}
		feed(capture.BtoA, limit)
	}
	d.Flush()
}

// A capture joined mid-stream decodes the same exchanges however its bytes
// were cut into chunks: the search for frame boundaries resumes where it
// stopped rather than starting over, and must not lose what it had seen.
func TestMidStreamChunking(t *testing.T) {
	client, server := benchStream(40)
	var ref []int32
	for _, size := range []int{64 << 10, 1 << 10, 1500, 97, 4 << 20} {
		c := &capture.Conn{ID: 1, A: netip.MustParseAddrPort("10.0.0.1:40000"), B: netip.MustParseAddrPort("10.0.0.2:9092")}
		var got []int32
		d := NewDecoder(Options{}, nil, func(p Pair) {
			if p.Resp != nil {
				got = append(got, p.Req.Header.CorrelationID)
			}
		})
		midStream(d, c, client, server, 1000, size)
		if len(got) < 36 {
			t.Errorf("reads of %d bytes: %d exchanges decoded with their response, want at least 36 of 40", size, len(got))
		}
		if ref == nil {
			ref = got
		} else if !slices.Equal(got, ref) {
			t.Errorf("reads of %d bytes decoded %v, reads of 64 KiB %v", size, got, ref)
		}
	}
}

// A connection whose two sides look alike (each holds a request now and
// then, and neither answers the other) cannot be told apart: past the
// window it is given up, counted and ignored, rather than searched for
// ever.
func TestUndecidedGivenUp(t *testing.T) {
	var verdicts []bool
	opts := Options{OnVerdict: func(_ *capture.Conn, kafka bool) { verdicts = append(verdicts, kafka) }}
	f := newFeeder(t, opts)
	// A request, the start of a frame too large to arrive, junk.
	chunk := func(r []byte) []byte {
		b := joinBytes(r, []byte{5, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 2})
		return append(b, bytes.Repeat([]byte{0xff}, 64<<10-len(b))...)
	}
	a := chunk(reqFrame(produceReq(-1), 9, 1, "app"))
	b := chunk(reqFrame(metadataReq(), 12, 1<<20, "app"))
	lost := int64(-1)
	for sent := 0; sent <= undecidedWindow; sent += len(a) + len(b) {
		f.send(capture.AtoB, a, 0, lost)
		f.send(capture.BtoA, b, 0, lost)
		lost = 0
	}
	st := f.d.Stats()
	if st.Undecided != 1 || st.KafkaConnections != 0 || st.NotKafka != 0 || len(f.pairs) != 0 {
		t.Fatalf("undecided %d, Kafka %d, not Kafka %d, %d pairs; want 1 undecided, nothing decoded",
			st.Undecided, st.KafkaConnections, st.NotKafka, len(f.pairs))
	}
	if !slices.Equal(verdicts, []bool{false}) {
		t.Errorf("verdicts %v, want the source told once to stop copying", verdicts)
	}
	f.send(capture.AtoB, a, 0, 0)
	if got := f.d.Stats().BytesIgnored; got < undecidedWindow {
		t.Errorf("%d bytes ignored, want the whole connection's", got)
	}
}

// BenchmarkDecoderMidStream is BenchmarkDecoder joined mid-stream: the
// roles and the frame boundaries must be found by searching.
func BenchmarkDecoderMidStream(b *testing.B) {
	client, server := benchStream(512)
	b.SetBytes(int64(len(client) + len(server)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c := &capture.Conn{ID: uint64(i), A: netip.MustParseAddrPort("10.0.0.1:40000"), B: netip.MustParseAddrPort("10.0.0.2:9092")}
		d := NewDecoder(Options{}, nil, func(Pair) {})
		midStream(d, c, client, server, 1000, 64<<10)
	}
}

// A consumer's connection joined in the middle of a large fetch response
// carries megabytes one way, no frame starting in them and no request the
// other way: it is Kafka all the same, and the exchanges after the
// response decode (it used to be judged not Kafka after 1 MiB).
// fetch is a Fetch of topic orders, partition 0, and its response with
// records bytes of record data.
func fetch(records int) (*kmsg.FetchRequest, *kmsg.FetchResponse) {
	req := kmsg.NewPtrFetchRequest()
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "orders"
	rt.Partitions = []kmsg.FetchRequestTopicPartition{{Partition: 0, FetchOffset: 10, PartitionMaxBytes: 1 << 20}}
	req.Topics = []kmsg.FetchRequestTopic{rt}
	resp := kmsg.NewPtrFetchResponse()
	st := kmsg.NewFetchResponseTopic()
	st.Topic = "orders"
	p := kmsg.NewFetchResponseTopicPartition()
	p.HighWatermark = 100
	if records > 0 {
		p.RecordBatches = bytes.Repeat([]byte{7}, records)
	}
	st.Partitions = []kmsg.FetchResponseTopicPartition{p}
	resp.Topics = []kmsg.FetchResponseTopic{st}
	return req, resp
}

func TestMidStreamLargeFetch(t *testing.T) {
	_, big := fetch(4 << 20)
	f := newFeeder(t, Options{})
	bigFrame := respFrame(big, 12, 1)
	f.send(capture.BtoA, bigFrame[len(bigFrame)/4:], 64<<10, -1)
	for corr := int32(2); corr <= 6; corr++ {
		req, resp := fetch(100)
		f.send(capture.AtoB, reqFrame(req, 12, corr, "consumer"), 0, 0)
		f.send(capture.BtoA, respFrame(resp, 12, corr), 0, 0)
	}
	f.d.Flush()
	st := f.d.Stats()
	if st.NotKafka != 0 || st.KafkaConnections != 1 {
		t.Fatalf("judged not Kafka: %+v", st)
	}
	var corrs []int32
	for _, p := range f.pairs {
		if p.Resp != nil {
			corrs = append(corrs, p.Req.Header.CorrelationID)
		}
	}
	if len(corrs) < 4 {
		t.Fatalf("exchanges answered after the large response: %v (stats %+v)", corrs, st)
	}
}

// TestNextRequestStart: the search that jumps from zero byte to zero byte
// stops where a byte-by-byte scan of requestMayStart does, from every
// position of buffers with few zeros, many zeros, and real requests among
// them.
func TestNextRequestStart(t *testing.T) {
	k := &conn{d: NewDecoder(Options{}, nil, func(Pair) {})}
	slow := func(buf []byte, i int) int {
		for ; len(buf)-i >= minRequest; i++ {
			if k.requestMayStart(buf, i) {
				break
			}
		}
		return i
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	req := (&kmsg.MetadataRequest{Version: 9}).AppendTo(nil)
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(req)+10))
	frame = append(frame, 0, 3, 0, 9, 0, 0, 0, 7, 0, 0)
	frame = append(frame, req...)
	stops := 0
	for n := range 400 {
		buf := make([]byte, n)
		for j := range buf {
			switch {
			case n%3 == 0:
				buf[j] = byte(rnd.IntN(256))
			case n%3 == 1:
				buf[j] = byte(rnd.IntN(4)) // mostly zeros and sizes in bounds
			default:
				buf[j] = byte(rnd.IntN(256)) &^ 0xf8
			}
		}
		if n > len(frame) && n%5 == 0 {
			copy(buf[rnd.IntN(n-len(frame)):], frame)
		}
		for i := 0; i <= n; i++ {
			want := slow(buf, i)
			if got := k.nextRequestStart(buf, i); got != want {
				t.Fatalf("%d bytes %x, from %d: %d, want %d", n, buf, i, got, want)
			}
			if len(buf)-want >= minRequest {
				stops++
			}
		}
	}
	if stops == 0 {
		t.Fatal("no position passed requestMayStart: the test compared only ends")
	}
}

// TestNextResponseStart: the search that skips impossible sizes by their
// top byte stops where a byte-by-byte scan of responseMayStart does.
func TestNextResponseStart(t *testing.T) {
	k := &conn{d: NewDecoder(Options{MaxFrame: 5 << 20}, nil, func(Pair) {})}
	slow := func(buf []byte, i int) int {
		for ; len(buf)-i >= 8; i++ {
			if k.responseMayStart(buf, i) {
				break
			}
		}
		return i
	}
	rnd := rand.New(rand.NewPCG(3, 4))
	stops := 0
	for n := range 300 {
		buf := make([]byte, n)
		for j := range buf {
			switch n % 3 {
			case 0:
				buf[j] = byte(rnd.IntN(256))
			case 1:
				buf[j] = byte(rnd.IntN(8)) // top bytes in bounds and out
			default:
				buf[j] = byte(rnd.IntN(2)) * 0x50 // zeros: sizes below 4
			}
		}
		for i := 0; i <= n; i++ {
			want := slow(buf, i)
			if got := k.nextResponseStart(buf, i); got != want {
				t.Fatalf("%d bytes %x, from %d: %d, want %d", n, buf, i, got, want)
			}
			if len(buf)-want >= 8 {
				stops++
			}
		}
	}
	if stops == 0 {
		t.Fatal("no position passed responseMayStart: the test compared only ends")
	}
}

// TestSearchBufferGrowth: a direction held while it is searched (here
// the roles are not known yet) grows its buffer by 4, not 2: each growth
// copies every byte held into memory never touched before, which the
// kernel faults in page by page.
func TestSearchBufferGrowth(t *testing.T) {
	var st Stats
	s := newStream(DefaultMaxFrame, &st)
	chunk := bytes.Repeat([]byte{0xff}, 64<<10)
	now := time.Unix(1700000000, 0)
	var arrays []*byte
	lost := int64(-1) // joined mid-stream
	for held := 0; held+len(chunk) <= maxUndecided; held += len(chunk) {
		s.feed(chunk, now, lost, 0, nil, nil)
		lost = 0
		if p := unsafe.SliceData(s.buf); len(arrays) == 0 || arrays[len(arrays)-1] != p {
			arrays = append(arrays, p)
		}
	}
	if len(s.buf) != maxUndecided {
		t.Fatalf("%d bytes held, want %d", len(s.buf), maxUndecided)
	}
	// 64 KiB, 256 KiB, 1 MiB, 4 MiB.
	if len(arrays) > 4 {
		t.Errorf("the buffer moved %d times to hold %d bytes, want at most 4", len(arrays), maxUndecided)
	}
}

// TestSearchGrowsAhead: with Options.GrowAhead (files), a direction held
// while searched reserves ahead once it holds 64 KiB: 1.9 MB held take two
// buffers, not five, and the bytes held are copied once.
func TestSearchGrowsAhead(t *testing.T) {
	var st Stats
	s := newStream(DefaultMaxFrame, &st)
	s.growAhead = true
	chunk := bytes.Repeat([]byte{0xff}, 64<<10)
	now := time.Unix(1700000000, 0)
	var arrays []*byte
	lost := int64(-1) // joined mid-stream
	for held := 0; held+len(chunk) <= 1900<<10; held += len(chunk) {
		s.feed(chunk, now, lost, 0, nil, nil)
		lost = 0
		if p := unsafe.SliceData(s.buf); len(arrays) == 0 || arrays[len(arrays)-1] != p {
			arrays = append(arrays, p)
		}
	}
	if len(arrays) != 2 {
		t.Errorf("the buffer moved %d times to hold %d bytes, want 2", len(arrays), len(s.buf))
	}
}

// TestSearchGrowthBounded: without Options.GrowAhead (the agent, held to
// --memory), a direction searched never holds a buffer over 4 times the
// bytes in it, whatever its candidates claim: bytes that read as a
// request of 16 MiB made every connection the agent joined in mid-stream
// reserve 4 MiB, and the collector ran without end under the memory
// limit.
func TestSearchGrowthBounded(t *testing.T) {
	var st Stats
	s := newStream(DefaultMaxFrame, &st)
	farAway := func(buf []byte, i int) (verdict, int) {
		if i == 0 {
			return vLater, 16 << 20
		}
		return vNone, len(buf)
	}
	chunk := bytes.Repeat([]byte{0xff}, 16<<10)
	now := time.Unix(1700000000, 0)
	for held := 0; held+len(chunk) <= 1<<20; held += len(chunk) {
		s.feed(chunk, now, 0, 0, farAway, nil)
		if cap(s.buf) > 4*len(s.buf) {
			t.Fatalf("%d bytes held in a buffer of %d", len(s.buf), cap(s.buf))
		}
	}
}

// TestHoleReadsZeros: bytes lost inside a frame read as zeros whether the
// buffer held other bytes there before (a frame read earlier) or was never
// written there, which is not cleared again.
func TestHoleReadsZeros(t *testing.T) {
	var st Stats
	s := newStream(DefaultMaxFrame, &st)
	s.synced = true
	now := time.Unix(1700000000, 0)
	frameOf := func(n int, b byte) []byte {
		f := binary.BigEndian.AppendUint32(nil, uint32(n))
		return append(f, bytes.Repeat([]byte{b}, n)...)
	}
	var got [][]byte
	emit := func(f frame) { got = append(got, bytes.Clone(f.data)) }
	hole := func(f []byte, from, n int) {
		s.feed(f[:from], now, 0, 0, nil, emit)
		s.feed(f[from+n:], now, int64(n), 0, nil, emit)
		want := slices.Concat(f[4:from], make([]byte, n), f[from+n:])
		if last := got[len(got)-1]; !bytes.Equal(last, want) {
			i := 0
			for i < len(want) && last[i] == want[i] {
				i++
			}
			t.Errorf("frame %d differs from its bytes with zeros for the hole at byte %d", len(got), i)
		}
	}
	// A frame with a hole, in a buffer made for it.
	hole(frameOf(400<<10, 0xaa), 1000, 100<<10)
	// Where it was, a smaller frame with a larger hole.
	hole(frameOf(300<<10, 0xbb), 500, 250<<10)
	if len(got) != 2 {
		t.Fatalf("%d frames, want 2", len(got))
	}
}

// TestFalseResponseInsideData: after a hole of unknown length in the
// responses, the search meets record data in which a size, a pending
// request's correlation id and a body that decodes happen to line up (a
// record batch's base sequence and record count can make the first two).
// kmsg ignores bytes after a body, so the decode alone cannot refuse it;
// the start of the next frame, here more record data, can. Taken, the
// data's next four bytes were read as a size above the frame cap, and
// every later response of the direction was skipped with it.
func TestFalseResponseInsideData(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 64)
	f := newFeeder(t, Options{})
	req, resp := fetch(0)
	f.send(capture.AtoB, reqFrame(req, 12, 1, "consumer"), 0, 0)
	f.send(capture.BtoA, respFrame(resp, 12, 1), 0, 0)
	// Request 2 is pending when the response direction loses bytes,
	// and what comes next holds a frame for it that is none: a body
	// that decodes, cut from a response, padded with record data.
	f.send(capture.AtoB, reqFrame(req, 12, 2, "consumer"), 0, 0)
	fake := respFrame(resp, 12, 2)
	fake = append(fake, data[:100]...)
	binary.BigEndian.PutUint32(fake, uint32(len(fake)-4))
	f.send(capture.BtoA, joinBytes(data[:300], fake, data, respFrame(resp, 12, 2)), 0, -1)
	for corr := int32(3); corr <= 5; corr++ {
		f.send(capture.AtoB, reqFrame(req, 12, corr, "consumer"), 0, 0)
		f.send(capture.BtoA, respFrame(resp, 12, corr), 0, 0)
	}
	f.d.Flush()
	var answered []int32
	for _, p := range f.pairs {
		if p.Resp != nil {
			answered = append(answered, p.Req.Header.CorrelationID)
		}
	}
	if st := f.d.Stats(); !slices.Equal(answered, []int32{1, 2, 3, 4, 5}) || st.Oversized != 0 {
		t.Fatalf("answered %v, want [1 2 3 4 5]; stats %+v", answered, st)
	}
	if size := f.pairs[1].Resp.Size; size != len(respFrame(resp, 12, 2)) {
		t.Errorf("request 2 answered by a frame of %d bytes, want the real one of %d", size, len(respFrame(resp, 12, 2)))
	}
}
