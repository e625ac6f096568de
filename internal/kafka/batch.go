package kafka

import (
	"encoding/binary"
	"time"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Sizes of the fixed parts of record data, from the Kafka protocol's
// "Record Batch" and "Message Sets" sections.
const (
	// logOverhead is the offset (int64) and size (int32) that start both
	// a record batch and a legacy message.
	logOverhead = 12
	// batchHeaderSize is a v2 record batch header up to and including
	// recordCount; batchLength counts from partitionLeaderEpoch on.
	batchHeaderSize = 61
	minBatchLength  = batchHeaderSize - logOverhead
	// A legacy message after its size field: crc, magic, attributes,
	// (v1: timestamp), key length, value length.
	minMessageV0Size = 4 + 1 + 1 + 4 + 4
	minMessageV1Size = minMessageV0Size + 8
	// magicOffset is where magic sits in all three formats, which is
	// what lets a reader tell them apart before knowing the layout.
	magicOffset = 16
)

// Attribute bits. Compression occupies the same three bits in the v2 batch
// attributes (int16) and the v0/v1 message attributes (int8); the
// timestamp type bit was added to messages by v1 (KIP-32).
const (
	attrCompression   = 0x07
	attrLogAppendTime = 0x08
	attrTransactional = 0x10
	attrControl       = 0x20
)

var compressionNames = [8]string{"none", "gzip", "snappy", "lz4", "zstd", "unknown(5)", "unknown(6)", "unknown(7)"}

// Timestamp types, as Kafka's TimestampType names them.
const (
	CreateTime    = "CreateTime"
	LogAppendTime = "LogAppendTime"
)

// ParseBatches reads the batch headers of record data as a Produce request
// carries it (a partition's Records) or a Fetch response (RecordBatches):
// record batches (magic 2) and legacy message sets (magic 0 and 1), in any
// mix. It reads headers only: it never decompresses and never looks at keys
// or values.
//
// complete is false when the data ends inside a batch, which is normal at
// the end of a fetch response cut at its max bytes and also happens at a
// capture hole; the partial batch is not reported. It is also false when a
// batch header is invalid: parsing stops there, since nothing after a bad
// length can be trusted.
//
// Each uncompressed legacy message is reported as one Batch with Records 1.
// A compressed legacy message is a wrapper whose value holds the real
// messages compressed: it is reported as one Batch with Records 0, because
// counting them would need decompression. Its BaseOffset is the wrapper's
// offset, which Kafka sets to the offset of the last inner message.
func ParseBatches(data []byte) (batches []Batch, complete bool) {
	return AppendBatches(nil, data)
}

// AppendBatches is ParseBatches appending to dst, so that callers parsing
// many partitions can share one backing array.
func AppendBatches(dst []Batch, data []byte) (_ []Batch, complete bool) {
	for len(data) > 0 {
		if len(data) <= magicOffset {
			return dst, false
		}
		size := int32(binary.BigEndian.Uint32(data[8:]))
		var b Batch
		switch magic := int8(data[magicOffset]); magic {
		case 2:
			if size < minBatchLength {
				return dst, false
			}
			if int64(size) > int64(len(data)-logOverhead) {
				return dst, false
			}
			b = batchV2(data)
			if b.Records < 0 {
				return dst, false
			}
		case 0, 1:
			minSize := int32(minMessageV0Size)
			if magic == 1 {
				minSize = minMessageV1Size
			}
			if size < minSize {
				return dst, false
			}
			if int64(size) > int64(len(data)-logOverhead) {
				return dst, false
			}
			b = message(data, magic)
		default:
			return dst, false
		}
		n := logOverhead + int(size)
		b.Bytes = int32(n)
		dst = append(dst, b)
		data = data[n:]
	}
	return dst, true
}

// BatchHeader reads the header of the record batch (magic 2) that data
// starts with, also when data ends before the batch does: a Fetch cut at
// its max bytes ends in the middle of a batch whose header is whole. It
// does not read legacy message sets.
func BatchHeader(data []byte) (Batch, bool) {
	if len(data) < batchHeaderSize || int8(data[magicOffset]) != 2 {
		return Batch{}, false
	}
	if size := int32(binary.BigEndian.Uint32(data[8:])); size < minBatchLength {
		return Batch{}, false
	}
	b := batchV2(data)
	return b, b.Records >= 0
}

// batchV2 reads a record batch header; the caller checked its length.
func batchV2(d []byte) Batch {
	_ = d[batchHeaderSize-1]
	attr := int16(binary.BigEndian.Uint16(d[21:]))
	b := Batch{
		BaseOffset:      int64(binary.BigEndian.Uint64(d[0:])),
		LastOffsetDelta: int32(binary.BigEndian.Uint32(d[23:])),
		FirstTimestamp:  msTime(int64(binary.BigEndian.Uint64(d[27:]))),
		MaxTimestamp:    msTime(int64(binary.BigEndian.Uint64(d[35:]))),
		TimestampType:   CreateTime,
		Compression:     compressionNames[attr&attrCompression],
		ProducerID:      int64(binary.BigEndian.Uint64(d[43:])),
		ProducerEpoch:   int16(binary.BigEndian.Uint16(d[51:])),
		BaseSequence:    int32(binary.BigEndian.Uint32(d[53:])),
		Records:         int32(binary.BigEndian.Uint32(d[57:])),
		Transactional:   attr&attrTransactional != 0,
		Control:         attr&attrControl != 0,
		Magic:           2,
	}
	if attr&attrLogAppendTime != 0 {
		// With LogAppendTime every record's timestamp is the batch's
		// max timestamp, set by the broker; the base timestamp and the
		// record deltas still hold the producer's times, which is not
		// what a consumer sees (DefaultRecordBatch, KIP-32).
		b.TimestampType = LogAppendTime
		b.FirstTimestamp = b.MaxTimestamp
	}
	return b
}

// message reads a legacy message header; the caller checked its length.
func message(d []byte, magic int8) Batch {
	attr := d[17]
	b := Batch{
		BaseOffset:    int64(binary.BigEndian.Uint64(d[0:])),
		Records:       1,
		Compression:   compressionNames[attr&attrCompression],
		ProducerID:    -1,
		ProducerEpoch: -1,
		BaseSequence:  -1,
		Magic:         magic,
	}
	if attr&attrCompression != 0 {
		b.Records = 0
	}
	if magic == 1 {
		ts := msTime(int64(binary.BigEndian.Uint64(d[18:])))
		b.FirstTimestamp, b.MaxTimestamp = ts, ts
		b.TimestampType = CreateTime
		if attr&attrLogAppendTime != 0 {
			b.TimestampType = LogAppendTime
		}
	}
	return b
}

// msTime converts a Kafka timestamp; -1 (NO_TIMESTAMP) is the zero time.
func msTime(ms int64) time.Time {
	if ms == -1 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// ExtractRecords reduces the record data of a decoded body to batch headers:
// for a Produce request, a Fetch response or a ShareFetch response it parses
// the batches of every partition that carries record data and sets that
// partition's record field to nil, so that no record bytes outlive the
// frame. Partitions without record data get no RecordSet. Other bodies are
// left alone and yield nil.
func ExtractRecords(body any) []RecordSet {
	sets, _ := extractRecords(body, nil, nil, nil)
	return sets
}

// RawSpare is the room a Raw with its record data cut out has after its
// end for each RecordSet: enough for what a store appends beside it.
const RawSpare = 16

// extractRecords is ExtractRecords. Given src, the bytes body was decoded
// from (its record fields share them), it also returns src with each
// record field written as null: the bytes body encodes to once its record
// fields are cleared, without encoding it again. That is nil when a
// field is not in src where its length prefix says.
// The record sets and batches go into sets and batches when they have the
// room (their length is ignored).
func extractRecords(body any, src []byte, sets []RecordSet, batches []Batch) ([]RecordSet, []byte) {
	// The record fields, found first: a list on the stack for most
	// bodies, where visiting them through closures cost four
	// allocations per body.
	var buf [16]recordField
	fs := buf[:0]
	switch b := body.(type) {
	case *kmsg.ProduceRequest:
		for i := range b.Topics {
			for j := range b.Topics[i].Partitions {
				fs = append(fs, recordField{i, j, &b.Topics[i].Partitions[j].Records})
			}
		}
	case *kmsg.FetchResponse:
		for i := range b.Topics {
			for j := range b.Topics[i].Partitions {
				fs = append(fs, recordField{i, j, &b.Topics[i].Partitions[j].RecordBatches})
			}
		}
	case *kmsg.ShareFetchResponse:
		for i := range b.Topics {
			for j := range b.Topics[i].Partitions {
				fs = append(fs, recordField{i, j, &b.Topics[i].Partitions[j].Records})
			}
		}
	}
	var raw []byte
	if src != nil && len(fs) > 0 {
		if hasRecords(fs) {
			f, ok := body.(interface{ IsFlexible() bool })
			raw = withoutRecords(src, fs, ok && f.IsFlexible())
		} else {
			// extract leaves empty fields as they are.
			raw = append([]byte(nil), src...)
		}
	}
	return extract(fs, sets, batches), raw
}

// hasRecords says a field of fs holds record data: then extract clears
// them all.
func hasRecords(fs []recordField) bool {
	for _, f := range fs {
		if len(*f.records) > 0 {
			return true
		}
	}
	return false
}

// withoutRecords is src with the record field of each of fs, which src
// holds in order, written as null (a compact length of 0 in flexible
// versions, an int32 of -1 before), with RawSpare bytes of room after it
// per field that held records (a RecordSet); nil when a field is not
// within src, after the one before, right after its length, or cannot be
// placed.
func withoutRecords(src []byte, fs []recordField, flexible bool) []byte {
	base := uintptr(unsafe.Pointer(unsafe.SliceData(src)))
	kept, sets := len(src), 0
	for _, f := range fs {
		if r := *f.records; len(r) > 0 {
			kept -= len(r)
			sets++
		}
	}
	out := make([]byte, 0, max(kept, 0)+sets*RawSpare)
	pos := 0
	for _, f := range fs {
		r := *f.records
		if r == nil {
			continue // null in src too
		}
		off := int(uintptr(unsafe.Pointer(unsafe.SliceData(r))) - base)
		if len(r) == 0 && cap(src) == len(src) && off >= len(src)-4 {
			// An empty field's place is its slice's pointer, which
			// Go does not move past the end of src's capacity: an
			// empty field at the very end (the last of an older
			// version's body) points back at its own length, up to
			// 4 bytes before the end. Not told apart: encoded again.
			return nil
		}
		if off < pos || off > len(src)-len(r) {
			return nil
		}
		var prefix int
		if flexible {
			prefix = uvarintLen(uint64(len(r)) + 1)
			if off-prefix < pos {
				return nil
			}
			if v, n := binary.Uvarint(src[off-prefix : off]); n != prefix || v != uint64(len(r))+1 {
				return nil
			}
		} else {
			prefix = 4
			if off-prefix < pos || int32(binary.BigEndian.Uint32(src[off-prefix:])) != int32(len(r)) {
				return nil
			}
		}
		out = append(out, src[pos:off-prefix]...)
		if flexible {
			out = append(out, 0)
		} else {
			out = append(out, 0xff, 0xff, 0xff, 0xff)
		}
		pos = off + len(r)
	}
	return append(out, src[pos:]...)
}

// uvarintLen is the length of v encoded as an unsigned varint.
func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// recordField is a partition's record data in a body: its topic and
// partition indices, and the field.
type recordField struct {
	topic, partition int
	records          *[]byte
}

// extract reads the record data of fs in two passes, sizing the backing
// array first (sets and batches when they have the room), and clears each
// field.
func extract(fs []recordField, sets []RecordSet, batches []Batch) []RecordSet {
	var x extractor
	for _, f := range fs {
		x.count(*f.records)
	}
	if x.sets == 0 {
		return nil
	}
	x.init(sets, batches)
	for _, f := range fs {
		x.parse(f.topic, f.partition, *f.records)
		*f.records = nil
	}
	return x.done()
}

// extractor parses the partitions of one body into a single backing array
// of batches, so that a fetch of many partitions costs two allocations and
// not one per partition.
type extractor struct {
	sets, batches0 int
	out            []RecordSet
	batches        []Batch
}

// count adds a partition's record data: one set, and its batches, counted
// by hopping from one length to the next (AppendBatches reports at most
// one more: a batch cut short).
func (x *extractor) count(data []byte) {
	if len(data) == 0 {
		return
	}
	x.sets++
	for len(data) > magicOffset {
		size := int64(int32(binary.BigEndian.Uint32(data[8:])))
		if size < 0 || size > int64(len(data)-logOverhead) {
			break
		}
		x.batches0++
		data = data[logOverhead+size:]
	}
}

func (x *extractor) init(sets []RecordSet, batches []Batch) {
	if cap(sets) >= x.sets {
		x.out = sets[:0]
	} else {
		x.out = make([]RecordSet, 0, x.sets)
	}
	if cap(batches) >= x.batches0 {
		x.batches = batches[:0]
	} else {
		x.batches = make([]Batch, 0, x.batches0)
	}
}

func (x *extractor) parse(topic, partition int, data []byte) {
	if len(data) == 0 {
		return
	}
	start := len(x.batches)
	var complete bool
	x.batches, complete = AppendBatches(x.batches, data)
	// Batches is resliced in done, once the backing array has stopped
	// moving; here it records the range.
	x.out = append(x.out, RecordSet{
		Topic:      topic,
		Partition:  partition,
		Bytes:      len(data),
		Batches:    x.batches[start:len(x.batches):len(x.batches)],
		Incomplete: !complete,
	})
}

func (x *extractor) done() []RecordSet {
	i := 0
	for k := range x.out {
		n := len(x.out[k].Batches)
		if n == 0 {
			x.out[k].Batches = nil
			continue
		}
		x.out[k].Batches = x.batches[i : i+n : i+n]
		i += n
	}
	return x.out
}
