package loadgen

import (
	"encoding/binary"
	"hash/crc32"
	"net/netip"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/capture"
	"kscope/internal/kafka"
)

// decodeAll feeds the frames of each exchange, one correlation id after the
// other, to kscope's own decoder, pipelined in chunks of the given size as
// a socket hands them over, and returns the pairs it emits.
func decodeAll(t *testing.T, exs [numKinds]Exchange, order []Kind, chunk int) ([]kafka.Pair, kafka.Stats) {
	t.Helper()
	c := &capture.Conn{ID: 1, A: netip.MustParseAddrPort("127.0.0.1:50000"), B: netip.MustParseAddrPort("127.0.0.1:9092")}
	var pairs []kafka.Pair
	d := kafka.NewDecoder(kafka.Options{}, nil, func(p kafka.Pair) { pairs = append(pairs, p) })
	var reqs, resps []byte
	for i, k := range order {
		e := exs[k]
		req := append([]byte(nil), e.Request.Bytes...)
		e.Request.SetCorrelation(req, int32(i+1))
		resp := append([]byte(nil), e.Response.Bytes...)
		e.Response.SetCorrelation(resp, int32(i+1))
		reqs = append(reqs, req...)
		resps = append(resps, resp...)
	}
	now := time.Unix(1700000000, 0)
	feed := func(dir capture.Dir, b []byte) {
		for len(b) > 0 {
			n := min(chunk, len(b))
			now = now.Add(time.Microsecond)
			d.Feed(capture.Chunk{Conn: c, Dir: dir, Time: now, Data: b[:n]})
			b = b[n:]
		}
	}
	feed(capture.AtoB, reqs)
	feed(capture.BtoA, resps)
	d.Flush()
	return pairs, d.Stats()
}

func TestExchangesDecode(t *testing.T) {
	order := []Kind{Metadata, Produce, Fetch, Heartbeat, Produce, Fetch, Produce}
	for _, tc := range []struct {
		shape   Shape
		records int // records per partition's batch
	}{
		{Shape{BatchBytes: 100, Partitions: 1}, 1},
		{Shape{BatchBytes: 1024, Partitions: 3}, 8},
		{Shape{BatchBytes: 16 << 10, Partitions: 2}, 148},
	} {
		exs, err := Exchanges(tc.shape)
		if err != nil {
			t.Fatal(err)
		}
		for _, chunk := range []int{1 << 20, 1000, 7} {
			pairs, st := decodeAll(t, exs, order, chunk)
			if len(pairs) != len(order) || st.Exchanges != int64(len(order)) || st.NoResponse != 0 || st.DecodeErrors != 0 || st.Resyncs != 0 {
				t.Fatalf("%+v in chunks of %d: %d pairs, stats %+v; want %d answered exchanges", tc.shape, chunk, len(pairs), st, len(order))
			}
			for i, p := range pairs {
				k := order[i]
				if p.Req.Header.Key != apiKeys[k] || p.Req.Header.Version != versions[k] || p.Req.Header.CorrelationID != int32(i+1) {
					t.Errorf("pair %d: key %d v%d corr %d; want %s v%d corr %d", i, p.Req.Header.Key, p.Req.Header.Version, p.Req.Header.CorrelationID, k, versions[k], i+1)
				}
				if p.Req.Header.ClientID == nil || *p.Req.Header.ClientID != ClientID || p.Req.Header.HeaderVersion != 2 {
					t.Errorf("pair %d: client id %v, header v%d; want %q, v2", i, p.Req.Header.ClientID, p.Req.Header.HeaderVersion, ClientID)
				}
				if p.Req.Err != nil || p.Resp == nil || p.Resp.Err != nil || p.Resp.Truncated || p.Req.Truncated {
					t.Fatalf("pair %d (%s): request err %v, response %+v", i, k, p.Req.Err, p.Resp)
				}
				if p.Req.Size != len(exs[k].Request.Bytes) || p.Resp.Size != len(exs[k].Response.Bytes) {
					t.Errorf("pair %d: sizes %d/%d, want %d/%d", i, p.Req.Size, p.Resp.Size, len(exs[k].Request.Bytes), len(exs[k].Response.Bytes))
				}
				switch k {
				case Produce:
					b := p.Req.Body.(*kmsg.ProduceRequest)
					checkTopic(t, i, b.Topics[0].Topic, len(b.Topics), len(b.Topics[0].Partitions), tc.shape.Partitions)
					checkRecords(t, i, p.Req.Records, tc.shape, tc.records)
				case Fetch:
					b := p.Req.Body.(*kmsg.FetchRequest)
					checkTopic(t, i, b.Topics[0].Topic, len(b.Topics), len(b.Topics[0].Partitions), tc.shape.Partitions)
					r := p.Resp.Body.(*kmsg.FetchResponse)
					checkTopic(t, i, r.Topics[0].Topic, len(r.Topics), len(r.Topics[0].Partitions), tc.shape.Partitions)
					checkRecords(t, i, p.Resp.Records, tc.shape, tc.records)
				case Metadata:
					r := p.Resp.Body.(*kmsg.MetadataResponse)
					if p.Cluster != Cluster || len(r.Topics) != 1 || *r.Topics[0].Topic != Topic {
						t.Errorf("pair %d: metadata cluster %q topics %d", i, p.Cluster, len(r.Topics))
					}
				case Heartbeat:
					if b := p.Req.Body.(*kmsg.HeartbeatRequest); b.Group != Group {
						t.Errorf("pair %d: heartbeat group %q", i, b.Group)
					}
				}
			}
		}
	}
}

func checkTopic(t *testing.T, i int, topic string, topics, partitions, want int) {
	t.Helper()
	if topic != Topic || topics != 1 || partitions != want {
		t.Errorf("pair %d: topic %q (%d topics), %d partitions; want %q, %d", i, topic, topics, partitions, Topic, want)
	}
}

func checkRecords(t *testing.T, i int, sets []kafka.RecordSet, s Shape, records int) {
	t.Helper()
	if len(sets) != s.Partitions {
		t.Fatalf("pair %d: %d record sets, want %d", i, len(sets), s.Partitions)
	}
	for j, rs := range sets {
		if rs.Partition != j || rs.Incomplete || len(rs.Batches) != 1 {
			t.Fatalf("pair %d partition %d: %+v", i, j, rs)
		}
		b := rs.Batches[0]
		if b.Records != int32(records) || b.LastOffsetDelta != int32(records-1) || b.Magic != 2 || b.Compression != "none" {
			t.Errorf("pair %d partition %d: batch %+v; want %d records, magic 2, uncompressed", i, j, b, records)
		}
		if rs.Bytes != s.BatchBytes || int(b.Bytes) != s.BatchBytes {
			t.Errorf("pair %d partition %d: %d bytes (batch %d); want %d", i, j, rs.Bytes, b.Bytes, s.BatchBytes)
		}
	}
}

func TestRecordBatchCRC(t *testing.T) {
	for _, size := range []int{69, 100, 1024, 16 << 10, 1 << 20} {
		b, n := recordBatch(size, time.Now())
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(b); err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		if len(b) != size || int(rb.NumRecords) != n || int(rb.Length) != size-12 {
			t.Errorf("batch of %d: %d bytes, %d records (header says %d), length %d", size, len(b), n, rb.NumRecords, rb.Length)
		}
		if got := crc32Of(b[21:]); uint32(rb.CRC) != got {
			t.Errorf("batch of %d: crc %08x, want %08x", size, uint32(rb.CRC), got)
		}
		// The records parse back, one by one, to the count the header says.
		rest := rb.Records
		for i := range n {
			var r kmsg.Record
			l, used := varint(rest)
			if used == 0 || int(l)+used > len(rest) {
				t.Fatalf("batch of %d: record %d cut short", size, i)
			}
			if err := r.ReadFrom(rest[:used+int(l)]); err != nil || r.OffsetDelta != int32(i) {
				t.Fatalf("batch of %d: record %d: %v (offset delta %d)", size, i, err, r.OffsetDelta)
			}
			rest = rest[used+int(l):]
		}
		if len(rest) != 0 {
			t.Errorf("batch of %d: %d bytes after the records", size, len(rest))
		}
	}
}

func crc32Of(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// varint reads a zig-zag varint as records frame their length.
func varint(b []byte) (int64, int) {
	u, n := binary.Uvarint(b)
	return int64(u>>1) ^ -int64(u&1), n
}
