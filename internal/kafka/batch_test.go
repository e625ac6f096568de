package kafka

import (
	"bytes"
	"hash/crc32"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fixtures are encoded with kmsg's own wire types, the way franz-go
// producers write them: a v2 batch with records, its length and CRC-32C
// filled in as a client does, and v1 messages with their CRC.

type rec struct{ key, value string }

// batchOpts describes one v2 batch to encode.
type batchOpts struct {
	baseOffset     int64
	attrs          int16
	firstTS, maxTS int64
	producerID     int64
	producerEpoch  int16
	baseSeq        int32
	records        []rec
	// numRecords overrides the record count written in the header.
	numRecords *int32
}

func encodeBatch(o batchOpts) []byte {
	var recs []byte
	for i, r := range o.records {
		kr := kmsg.Record{
			OffsetDelta:    int32(i),
			TimestampDelta: int32(i),
			Key:            []byte(r.key),
			Value:          []byte(r.value),
		}
		body := kr.AppendTo(nil)
		kr.Length = int32(len(body) - 1) // Length 0 is a 1-byte varint
		recs = kr.AppendTo(recs)
	}
	n := int32(len(o.records))
	if o.numRecords != nil {
		n = *o.numRecords
	}
	b := kmsg.RecordBatch{
		FirstOffset:          o.baseOffset,
		PartitionLeaderEpoch: 3,
		Magic:                2,
		Attributes:           o.attrs,
		LastOffsetDelta:      int32(max(len(o.records)-1, 0)),
		FirstTimestamp:       o.firstTS,
		MaxTimestamp:         o.maxTS,
		ProducerID:           o.producerID,
		ProducerEpoch:        o.producerEpoch,
		FirstSequence:        o.baseSeq,
		NumRecords:           n,
		Records:              recs,
	}
	raw := b.AppendTo(nil)
	b.Length = int32(len(raw) - logOverhead)
	b.CRC = int32(crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b.AppendTo(nil)
}

func encodeMessageV1(offset int64, attrs int8, ts int64, key, value string) []byte {
	m := kmsg.MessageV1{Offset: offset, Magic: 1, Attributes: attrs, Timestamp: ts, Key: []byte(key), Value: []byte(value)}
	raw := m.AppendTo(nil)
	m.MessageSize = int32(len(raw) - logOverhead)
	m.CRC = int32(crc32.ChecksumIEEE(raw[16:]))
	return m.AppendTo(nil)
}

func encodeMessageV0(offset int64, attrs int8, key, value string) []byte {
	m := kmsg.MessageV0{Offset: offset, Magic: 0, Attributes: attrs, Key: []byte(key), Value: []byte(value)}
	raw := m.AppendTo(nil)
	m.MessageSize = int32(len(raw) - logOverhead)
	m.CRC = int32(crc32.ChecksumIEEE(raw[16:]))
	return m.AppendTo(nil)
}

func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func ms(v int64) time.Time { return time.UnixMilli(v).UTC() }

const (
	t0 = int64(1_700_000_000_000)
	t1 = t0 + 250
)

var (
	plainBatch = encodeBatch(batchOpts{
		baseOffset: 100, firstTS: t0, maxTS: t1,
		producerID: 7000, producerEpoch: 2, baseSeq: 40,
		records: []rec{{"k1", "v1"}, {"k2", "v2"}, {"k3", "v3"}},
	})
	// gzip with attributes only: the parser never decompresses, so the
	// records need not really be compressed.
	gzipTxnBatch = encodeBatch(batchOpts{
		baseOffset: 103, attrs: 1 | attrTransactional, firstTS: t0, maxTS: t1,
		producerID: 7001, producerEpoch: 0, baseSeq: 0,
		records: []rec{{"", "a"}, {"", "b"}},
	})
	appendTimeBatch = encodeBatch(batchOpts{
		baseOffset: 105, attrs: 3 | attrLogAppendTime, firstTS: t0, maxTS: t1 + 1000,
		producerID: -1, producerEpoch: -1, baseSeq: -1,
		records: []rec{{"", "x"}},
	})
	controlBatch = encodeBatch(batchOpts{
		baseOffset: 106, attrs: attrTransactional | attrControl, firstTS: t1, maxTS: t1,
		producerID: 7001, records: []rec{{"\x00\x00\x00\x01", "\x00\x00\x00\x00\x00\x00"}},
	})
	noTSBatch = encodeBatch(batchOpts{
		baseOffset: 0, firstTS: -1, maxTS: -1, producerID: -1, producerEpoch: -1, baseSeq: -1,
		records: []rec{{"", "x"}},
	})
)

func TestParseBatches(t *testing.T) {
	neg := int32(-1)
	tests := []struct {
		name     string
		data     []byte
		want     []Batch
		complete bool
	}{
		{name: "empty", data: nil, want: nil, complete: true},
		{
			name: "one uncompressed batch",
			data: plainBatch,
			want: []Batch{{
				BaseOffset: 100, LastOffsetDelta: 2, Records: 3, Bytes: int32(len(plainBatch)),
				FirstTimestamp: ms(t0), MaxTimestamp: ms(t1), TimestampType: "CreateTime",
				Compression: "none", ProducerID: 7000, ProducerEpoch: 2, BaseSequence: 40, Magic: 2,
			}},
			complete: true,
		},
		{
			name: "gzip transactional, lz4 log append time, control",
			data: concat(gzipTxnBatch, appendTimeBatch, controlBatch),
			want: []Batch{
				{
					BaseOffset: 103, LastOffsetDelta: 1, Records: 2, Bytes: int32(len(gzipTxnBatch)),
					FirstTimestamp: ms(t0), MaxTimestamp: ms(t1), TimestampType: "CreateTime",
					Compression: "gzip", ProducerID: 7001, Transactional: true, Magic: 2,
				},
				{
					// LogAppendTime: every record carries the max timestamp.
					BaseOffset: 105, Records: 1, Bytes: int32(len(appendTimeBatch)),
					FirstTimestamp: ms(t1 + 1000), MaxTimestamp: ms(t1 + 1000), TimestampType: "LogAppendTime",
					Compression: "lz4", ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Magic: 2,
				},
				{
					BaseOffset: 106, Records: 1, Bytes: int32(len(controlBatch)),
					FirstTimestamp: ms(t1), MaxTimestamp: ms(t1), TimestampType: "CreateTime",
					Compression: "none", ProducerID: 7001, Transactional: true, Control: true, Magic: 2,
				},
			},
			complete: true,
		},
		{
			name: "no timestamp is the zero time",
			data: noTSBatch,
			want: []Batch{{
				Records: 1, Bytes: int32(len(noTSBatch)), TimestampType: "CreateTime", Compression: "none",
				ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Magic: 2,
			}},
			complete: true,
		},
		{
			name: "fetch cut inside the second batch",
			data: concat(plainBatch, gzipTxnBatch)[:len(plainBatch)+70],
			want: []Batch{{
				BaseOffset: 100, LastOffsetDelta: 2, Records: 3, Bytes: int32(len(plainBatch)),
				FirstTimestamp: ms(t0), MaxTimestamp: ms(t1), TimestampType: "CreateTime",
				Compression: "none", ProducerID: 7000, ProducerEpoch: 2, BaseSequence: 40, Magic: 2,
			}},
			complete: false,
		},
		{name: "cut inside the offset and length", data: plainBatch[:10], complete: false},
		{name: "cut before magic", data: plainBatch[:16], complete: false},
		{name: "cut inside the header", data: plainBatch[:40], complete: false},
		{
			name:     "magic 3 is invalid",
			data:     func() []byte { b := bytes.Clone(plainBatch); b[16] = 3; return b }(),
			complete: false,
		},
		{
			name:     "batch length shorter than a header",
			data:     func() []byte { b := bytes.Clone(plainBatch); b[8], b[9], b[10], b[11] = 0, 0, 0, 48; return b }(),
			complete: false,
		},
		{
			name:     "negative length",
			data:     func() []byte { b := bytes.Clone(plainBatch); b[8] = 0xff; return b }(),
			complete: false,
		},
		{
			name: "negative record count stops after the good batch",
			data: concat(appendTimeBatch, encodeBatch(batchOpts{numRecords: &neg, records: []rec{{"", "x"}}})),
			want: []Batch{{
				BaseOffset: 105, Records: 1, Bytes: int32(len(appendTimeBatch)),
				FirstTimestamp: ms(t1 + 1000), MaxTimestamp: ms(t1 + 1000), TimestampType: "LogAppendTime",
				Compression: "lz4", ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Magic: 2,
			}},
			complete: false,
		},
		{
			name: "magic 1 message set with a compressed wrapper",
			data: concat(
				encodeMessageV1(10, 0, t0, "key", "value"),
				encodeMessageV1(11, attrLogAppendTime, t1, "", "value2"),
				// snappy wrapper; its offset is its last inner message's
				encodeMessageV1(14, 2, t1, "", "compressed inner messages"),
			),
			want: []Batch{
				{
					BaseOffset: 10, Records: 1, Bytes: int32(len(encodeMessageV1(10, 0, t0, "key", "value"))),
					FirstTimestamp: ms(t0), MaxTimestamp: ms(t0), TimestampType: "CreateTime", Compression: "none",
					ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Magic: 1,
				},
				{
					BaseOffset: 11, Records: 1, Bytes: int32(len(encodeMessageV1(11, 0, t1, "", "value2"))),
					FirstTimestamp: ms(t1), MaxTimestamp: ms(t1), TimestampType: "LogAppendTime", Compression: "none",
					ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Magic: 1,
				},
				{
					BaseOffset: 14, Records: 0, Bytes: int32(len(encodeMessageV1(14, 2, t1, "", "compressed inner messages"))),
					FirstTimestamp: ms(t1), MaxTimestamp: ms(t1), TimestampType: "CreateTime", Compression: "snappy",
					ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Magic: 1,
				},
			},
			complete: true,
		},
		{
			name: "magic 0 has no timestamps",
			data: concat(encodeMessageV0(5, 0, "", "v"), encodeMessageV0(9, 1, "", "gz")),
			want: []Batch{
				{
					BaseOffset: 5, Records: 1, Bytes: int32(len(encodeMessageV0(5, 0, "", "v"))), Compression: "none",
					ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Magic: 0,
				},
				{
					BaseOffset: 9, Records: 0, Bytes: int32(len(encodeMessageV0(9, 1, "", "gz"))), Compression: "gzip",
					ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Magic: 0,
				},
			},
			complete: true,
		},
		{
			name: "legacy then v2, as a fetch spanning a format upgrade",
			data: concat(encodeMessageV0(5, 0, "", "v"), noTSBatch),
			want: []Batch{
				{
					BaseOffset: 5, Records: 1, Bytes: int32(len(encodeMessageV0(5, 0, "", "v"))), Compression: "none",
					ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Magic: 0,
				},
				{
					Records: 1, Bytes: int32(len(noTSBatch)), TimestampType: "CreateTime", Compression: "none",
					ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Magic: 2,
				},
			},
			complete: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, complete := ParseBatches(tt.data)
			if complete != tt.complete {
				t.Errorf("complete = %v, want %v", complete, tt.complete)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d batches, want %d: %+v", len(got), len(tt.want), got)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("batch %d:\n got %+v\nwant %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestExtractRecords(t *testing.T) {
	many := make([][]byte, 0, 40)
	for i := range 40 {
		many = append(many, encodeBatch(batchOpts{baseOffset: int64(i * 10), firstTS: t0, maxTS: t0, records: []rec{{"", "v"}}}))
	}
	manyData := concat(many...)
	cut := concat(plainBatch, gzipTxnBatch[:30])

	t.Run("produce", func(t *testing.T) {
		req := kmsg.NewPtrProduceRequest()
		req.Topics = []kmsg.ProduceRequestTopic{
			{Topic: "orders", Partitions: []kmsg.ProduceRequestTopicPartition{
				{Partition: 0, Records: bytes.Clone(plainBatch)},
				{Partition: 1}, // nothing to send
				{Partition: 2, Records: bytes.Clone(manyData)},
			}},
			{Topic: "audit", Partitions: []kmsg.ProduceRequestTopicPartition{
				{Partition: 5, Records: bytes.Clone(gzipTxnBatch)},
			}},
		}
		sets := ExtractRecords(req)
		want := []struct {
			topic, partition, bytes, batches int
			first                            int64
		}{
			{0, 0, len(plainBatch), 1, 100},
			{0, 2, len(manyData), 40, 0},
			{1, 0, len(gzipTxnBatch), 1, 103},
		}
		if len(sets) != len(want) {
			t.Fatalf("got %d record sets, want %d", len(sets), len(want))
		}
		for i, w := range want {
			s := sets[i]
			if s.Topic != w.topic || s.Partition != w.partition || s.Bytes != w.bytes || len(s.Batches) != w.batches || s.Incomplete {
				t.Errorf("set %d = {%d %d %d batches=%d incomplete=%v}, want %+v", i, s.Topic, s.Partition, s.Bytes, len(s.Batches), s.Incomplete, w)
				continue
			}
			if s.Batches[0].BaseOffset != w.first {
				t.Errorf("set %d first base offset %d, want %d", i, s.Batches[0].BaseOffset, w.first)
			}
		}
		for i, b := range sets[1].Batches {
			if b.BaseOffset != int64(i*10) {
				t.Fatalf("partition 2 batch %d has base offset %d: batches of partitions got mixed", i, b.BaseOffset)
			}
		}
		for _, tp := range req.Topics {
			for _, p := range tp.Partitions {
				if p.Records != nil {
					t.Errorf("%s/%d still holds %d record bytes", tp.Topic, p.Partition, len(p.Records))
				}
			}
		}
	})

	t.Run("fetch", func(t *testing.T) {
		resp := kmsg.NewPtrFetchResponse()
		resp.Topics = []kmsg.FetchResponseTopic{{TopicID: [16]byte{1}, Partitions: []kmsg.FetchResponseTopicPartition{
			{Partition: 3, RecordBatches: bytes.Clone(cut)},
			{Partition: 4, RecordBatches: bytes.Clone(manyData)},
		}}}
		sets := ExtractRecords(resp)
		if len(sets) != 2 || !sets[0].Incomplete || len(sets[0].Batches) != 1 || sets[0].Bytes != len(cut) {
			t.Fatalf("cut fetch: %+v", sets)
		}
		if sets[1].Incomplete || len(sets[1].Batches) != 40 || sets[1].Batches[39].BaseOffset != 390 {
			t.Fatalf("full fetch: incomplete=%v batches=%d", sets[1].Incomplete, len(sets[1].Batches))
		}
		for _, p := range resp.Topics[0].Partitions {
			if p.RecordBatches != nil {
				t.Errorf("partition %d still holds record bytes", p.Partition)
			}
		}
	})

	t.Run("share fetch", func(t *testing.T) {
		resp := kmsg.NewPtrShareFetchResponse()
		resp.Topics = []kmsg.ShareFetchResponseTopic{{Partitions: []kmsg.ShareFetchResponseTopicPartition{
			{Partition: 0}, {Partition: 1, Records: bytes.Clone(plainBatch)},
		}}}
		sets := ExtractRecords(resp)
		if len(sets) != 1 || sets[0].Partition != 1 || len(sets[0].Batches) != 1 || sets[0].Batches[0].Records != 3 {
			t.Fatalf("%+v", sets)
		}
		if resp.Topics[0].Partitions[1].Records != nil {
			t.Error("record bytes kept")
		}
	})

	t.Run("other bodies", func(t *testing.T) {
		if s := ExtractRecords(kmsg.NewPtrMetadataResponse()); s != nil {
			t.Errorf("metadata: %+v", s)
		}
		if s := ExtractRecords(nil); s != nil {
			t.Errorf("nil: %+v", s)
		}
		if s := ExtractRecords(kmsg.NewPtrFetchResponse()); s != nil {
			t.Errorf("empty fetch: %+v", s)
		}
	})
}

// benchData is 1 MiB of 16 KiB batches, the size producers batch by
// default (batch.size).
func benchData() []byte {
	val := string(bytes.Repeat([]byte("x"), 1000))
	recs := make([]rec, 16)
	for i := range recs {
		recs[i] = rec{"", val}
	}
	one := encodeBatch(batchOpts{firstTS: t0, maxTS: t1, records: recs})
	var data []byte
	for len(data) < 1<<20 {
		data = append(data, one...)
	}
	return data
}

func BenchmarkParseBatches(b *testing.B) {
	data := benchData()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := ParseBatches(data); !ok {
			b.Fatal("incomplete")
		}
	}
}

// BenchmarkAppendBatches reuses the result slice: the parse itself must
// not allocate.
func BenchmarkAppendBatches(b *testing.B) {
	data := benchData()
	var dst []Batch
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var ok bool
		if dst, ok = AppendBatches(dst[:0], data); !ok {
			b.Fatal("incomplete")
		}
	}
}

func FuzzParseBatches(f *testing.F) {
	f.Add([]byte{})
	f.Add(plainBatch)
	f.Add(concat(gzipTxnBatch, appendTimeBatch, controlBatch))
	f.Add(concat(plainBatch, gzipTxnBatch)[:len(plainBatch)+70])
	f.Add(concat(encodeMessageV1(10, 0, t0, "key", "value"), encodeMessageV1(14, 2, t1, "", "z")))
	f.Add(concat(encodeMessageV0(5, 0, "", "v"), noTSBatch))
	f.Fuzz(func(t *testing.T, data []byte) {
		batches, complete := ParseBatches(data)
		total := 0
		for i, b := range batches {
			if b.Magic < 0 || b.Magic > 2 {
				t.Fatalf("batch %d magic %d", i, b.Magic)
			}
			if b.Records < 0 {
				t.Fatalf("batch %d records %d", i, b.Records)
			}
			if b.Bytes < logOverhead+minMessageV0Size {
				t.Fatalf("batch %d of %d bytes", i, b.Bytes)
			}
			if b.Magic == 2 && b.Bytes < batchHeaderSize {
				t.Fatalf("v2 batch %d of %d bytes", i, b.Bytes)
			}
			if b.BaseOffset != int64(beUint64(data[total:])) {
				t.Fatalf("batch %d base offset %d not at byte %d", i, b.BaseOffset, total)
			}
			total += int(b.Bytes)
		}
		if total > len(data) {
			t.Fatalf("batches cover %d bytes of %d", total, len(data))
		}
		if complete != (total == len(data)) {
			t.Fatalf("complete=%v with %d of %d bytes", complete, total, len(data))
		}
		// The reported batches alone parse the same and completely.
		again, ok := ParseBatches(data[:total])
		if !ok || len(again) != len(batches) {
			t.Fatalf("prefix of %d bytes: ok=%v, %d batches, want %d", total, ok, len(again), len(batches))
		}
		for i := range again {
			if again[i] != batches[i] {
				t.Fatalf("prefix batch %d differs", i)
			}
		}
		// A whole v2 batch's header reads the same from its first 61
		// bytes as from all of it.
		if len(batches) > 0 && batches[0].Magic == 2 {
			h, ok := BatchHeader(data[:batchHeaderSize])
			want := batches[0]
			want.Bytes = 0
			if !ok || h != want {
				t.Fatalf("BatchHeader of the first 61 bytes: %+v %v, want %+v", h, ok, want)
			}
		}
		BatchHeader(data) // never panics
	})
}

// TestBatchHeaderCut: a batch whose bytes end early still shows its
// header; fewer than a header's bytes, or a legacy message, do not.
func TestBatchHeaderCut(t *testing.T) {
	full, _ := ParseBatches(appendTimeBatch)
	want := full[0]
	want.Bytes = 0
	if b, ok := BatchHeader(appendTimeBatch[:batchHeaderSize+3]); !ok || b != want {
		t.Errorf("cut batch: %+v %v, want %+v", b, ok, want)
	}
	if _, ok := BatchHeader(appendTimeBatch[:batchHeaderSize-1]); ok {
		t.Error("a header of 60 bytes read")
	}
	if _, ok := BatchHeader(encodeMessageV1(10, 0, t0, "key", "value")); ok {
		t.Error("a legacy message read as a batch header")
	}
}

func beUint64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}
