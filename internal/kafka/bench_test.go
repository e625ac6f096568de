package kafka

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/capture"
)

// benchStream is a realistic Produce/Fetch conversation: producers writing
// 16 KiB batches (16 records of 1 KiB) to three partitions per request,
// consumers fetching them back, as one client and one broker byte stream
// cut into 64 KiB reads the way a socket delivers them.
func benchStream(pairs int) (client, server []byte) {
	value := strings.Repeat("x", 1000)
	recs := make([]rec, 16)
	for i := range recs {
		recs[i] = rec{key: "order-key", value: value}
	}
	batch := encodeBatch(batchOpts{baseOffset: 0, firstTS: t0, maxTS: t1, producerID: 1, records: recs})
	corr := int32(0)
	for i := 0; i < pairs; i++ {
		corr++
		if i%2 == 0 {
			req := kmsg.NewPtrProduceRequest()
			req.Acks, req.TimeoutMillis = -1, 30000
			t := kmsg.NewProduceRequestTopic()
			t.Topic = "orders"
			resp := kmsg.NewPtrProduceResponse()
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic = "orders"
			for p := int32(0); p < 3; p++ {
				pp := kmsg.NewProduceRequestTopicPartition()
				pp.Partition, pp.Records = p, batch
				t.Partitions = append(t.Partitions, pp)
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition, rp.BaseOffset = p, int64(i*16)
				rt.Partitions = append(rt.Partitions, rp)
			}
			req.Topics = append(req.Topics, t)
			resp.Topics = append(resp.Topics, rt)
			client = append(client, reqFrame(req, 9, corr, "bench-producer")...)
			server = append(server, respFrame(resp, 9, corr)...)
			continue
		}
		req := kmsg.NewPtrFetchRequest()
		req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 500, 1, 50<<20
		t := kmsg.NewFetchRequestTopic()
		t.Topic = "orders"
		resp := kmsg.NewPtrFetchResponse()
		rt := kmsg.NewFetchResponseTopic()
		rt.Topic = "orders"
		for p := int32(0); p < 3; p++ {
			fp := kmsg.NewFetchRequestTopicPartition()
			fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes = p, int64(i*16), 1<<20
			t.Partitions = append(t.Partitions, fp)
			rp := kmsg.NewFetchResponseTopicPartition()
			rp.Partition, rp.HighWatermark, rp.RecordBatches = p, int64(i*16+16), batch
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, t)
		resp.Topics = append(resp.Topics, rt)
		client = append(client, reqFrame(req, 12, corr, "bench-consumer")...)
		server = append(server, respFrame(resp, 12, corr)...)
	}
	return client, server
}

// BenchmarkDecoder measures framing, header and body decoding, pairing and
// batch header extraction: bytes are both directions of the stream.
func BenchmarkDecoder(b *testing.B) {
	const pairs = 512
	client, server := benchStream(pairs)
	const read = 64 << 10
	b.SetBytes(int64(len(client) + len(server)))
	b.ReportAllocs()
	exchanges := 0
	for i := 0; i < b.N; i++ {
		c := &capture.Conn{ID: uint64(i), A: netip.MustParseAddrPort("10.0.0.1:40000"), B: netip.MustParseAddrPort("10.0.0.2:9092")}
		d := NewDecoder(Options{}, nil, func(Pair) { exchanges++ })
		now := time.Unix(1700000000, 0)
		// Alternate reads of each side so requests stay just ahead of
		// their responses, as on a real connection.
		for ci, si := 0, 0; ci < len(client) || si < len(server); {
			if ci < len(client) {
				n := min(read, len(client)-ci)
				d.Feed(capture.Chunk{Conn: c, Dir: capture.AtoB, Time: now, Data: client[ci : ci+n]})
				ci += n
			}
			if si < len(server) && si+read <= ci {
				n := min(read, len(server)-si)
				d.Feed(capture.Chunk{Conn: c, Dir: capture.BtoA, Time: now, Data: server[si : si+n]})
				si += n
			} else if ci >= len(client) {
				d.Feed(capture.Chunk{Conn: c, Dir: capture.BtoA, Time: now, Data: server[si:]})
				si = len(server)
			}
		}
		d.Flush()
	}
	b.ReportMetric(float64(exchanges)/b.Elapsed().Seconds(), "exchanges/s")
	if exchanges != pairs*b.N {
		b.Fatalf("decoded %d exchanges, want %d", exchanges, pairs*b.N)
	}
}
