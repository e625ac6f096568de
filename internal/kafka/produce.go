package kafka

import (
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Produce and Fetch requests and their responses are most of what a
// Kafka host sends. They are read here without kmsg's reader, into the
// same kmsg structs: a request of one topic and one partition, with its
// Request, its record set and its batch, takes one allocation where kmsg's
// reader and the decoder's took seven, and topic names are the
// connection's strings from the last frames that named them. A frame this
// reader does not take exactly as kmsg would (a tagged field, record
// errors, a varint longer than 4 bytes, anything short) gets nil, and kmsg
// decodes it: TestProduceDecoders, TestFetchDecoders and their fuzzers
// hold the two to the same result.

// reader reads the protocol's primitive types as kmsg's does (kbin), and
// sets bad for good at the first that does not fit, or that it does not
// read (see uvarint).
type reader struct {
	src []byte
	bad bool
}

func (r *reader) fail() {
	r.bad, r.src = true, nil
}

// span is the next n bytes, their capacity clipped as kbin's Span does.
func (r *reader) span(n int) []byte {
	if n < 0 || len(r.src) < n {
		r.fail()
		return nil
	}
	b := r.src[:n:n]
	r.src = r.src[n:]
	return b
}

func (r *reader) i16() int16 {
	if b := r.span(2); b != nil {
		return int16(binary.BigEndian.Uint16(b))
	}
	return 0
}

func (r *reader) i32() int32 {
	if b := r.span(4); b != nil {
		return int32(binary.BigEndian.Uint32(b))
	}
	return 0
}

func (r *reader) i64() int64 {
	if b := r.span(8); b != nil {
		return int64(binary.BigEndian.Uint64(b))
	}
	return 0
}

// uvarint reads varints of up to 4 bytes (up to 2^28-1): lengths and
// counts of real frames. A longer one is left to kmsg, whose 5-byte
// overflow rules are its own.
func (r *reader) uvarint() uint32 {
	var x uint32
	for i := 0; i < 4 && i < len(r.src); i++ {
		c := r.src[i]
		x |= uint32(c&0x7f) << (7 * i)
		if c < 0x80 {
			r.src = r.src[i+1:]
			return x
		}
	}
	r.fail()
	return 0
}

// length reads a string's or bytes' length: a compact (flexible) one, or
// an int16 (strings) or int32 (bytes) one; negative is null.
func (r *reader) length(flex, bytes bool) int {
	switch {
	case flex:
		return int(r.uvarint()) - 1
	case bytes:
		return int(r.i32())
	default:
		return int(r.i16())
	}
}

// arrayLen is kbin's ArrayLen or CompactArrayLen: a count longer than
// what is left is bad; zero and negative read as no elements.
func (r *reader) arrayLen(flex bool) int {
	var n int32
	if flex {
		n = int32(r.uvarint()) - 1
	} else {
		n = r.i32()
	}
	if r.bad || len(r.src) < int(n) {
		r.fail()
		return 0
	}
	return int(n)
}

// noTags reads a flexible structure's tagged fields, which must be none:
// kmsg keeps unknown ones, and reads a few known ones, which this reader
// leaves to it.
func (r *reader) noTags(flex bool) {
	if flex && r.uvarint() != 0 {
		r.fail()
	}
}

// room is n elements: first, the frame's own room for one, when n is 1
// and it is free; nil when n is not positive (kmsg's arrays of no
// element are nil).
func room[T any](n int, first *[1]T, free bool) []T {
	switch {
	case n <= 0:
		return nil
	case n == 1 && free:
		return first[:]
	}
	return make([]T, n)
}

// names are the strings a connection's last Produce and Fetch frames
// named (topics, transactional id, rack), so that the next ones share
// them.
type names struct {
	s    [4]string
	next int
	txn  *string // the last transactional id
	rack string  // the last Fetch request's rack
}

func (n *names) name(b []byte) string {
	for _, s := range n.s {
		if s == string(b) {
			return s
		}
	}
	s := string(b)
	n.s[n.next] = s
	n.next = (n.next + 1) % len(n.s)
	return s
}

func (n *names) rackID(b []byte) string {
	if n.rack != string(b) {
		n.rack = string(b)
	}
	return n.rack
}

func (n *names) txnID(b []byte) *string {
	if n.txn == nil || *n.txn != string(b) {
		s := string(b)
		n.txn = &s
	}
	return n.txn
}

// produceRequest is a Request with the room a Produce request of one
// topic and one partition takes, in one allocation.
type produceRequest struct {
	req   Request
	body  kmsg.ProduceRequest
	topic [1]kmsg.ProduceRequestTopic
	part  [1]kmsg.ProduceRequestTopicPartition
	set   [1]RecordSet
	batch [1]Batch
}

// readProduceRequest reads a Produce request's body as
// kmsg.ProduceRequest.ReadFrom does into p, zeroed, and returns it, or
// returns nil. So do the other readers, each into its own kind of room.
func readProduceRequest(version int16, body []byte, n *names, p *produceRequest) *produceRequest {
	if !KnownVersion(kmsg.Produce.Int16(), version) {
		return nil
	}
	flex := version >= 9
	r := reader{src: body}
	b := &p.body
	b.Default()
	b.Version = version
	if version >= 3 {
		if l := r.length(flex, false); l >= 0 {
			if s := r.span(l); !r.bad {
				b.TransactionID = n.txnID(s)
			}
		}
	}
	b.Acks = r.i16()
	b.TimeoutMillis = r.i32()
	b.Topics = room(r.arrayLen(flex), &p.topic, true)
	for i := range b.Topics {
		if r.bad {
			return nil
		}
		t := &b.Topics[i]
		r.topicName(version, 12, flex, n, &t.Topic, &t.TopicID)
		t.Partitions = room(r.arrayLen(flex), &p.part, i == 0)
		for j := range t.Partitions {
			pp := &t.Partitions[j]
			pp.Partition = r.i32()
			if l := r.length(flex, true); l >= 0 {
				pp.Records = r.span(l)
			}
			r.noTags(flex)
			if r.bad {
				return nil
			}
		}
		r.noTags(flex)
	}
	r.noTags(flex)
	if r.bad {
		return nil
	}
	return p
}

// produceResponse is a Response with the room a Produce response of one
// topic and one partition takes, in one allocation.
type produceResponse struct {
	resp  Response
	body  kmsg.ProduceResponse
	topic [1]kmsg.ProduceResponseTopic
	part  [1]kmsg.ProduceResponseTopicPartition
}

// readProduceResponse reads a Produce response's body (after its header)
// as kmsg.ProduceResponse.ReadFrom does, or returns nil.
func readProduceResponse(version int16, body []byte, n *names, p *produceResponse) *produceResponse {
	if !KnownVersion(kmsg.Produce.Int16(), version) {
		return nil
	}
	flex := version >= 9
	r := reader{src: body}
	b := &p.body
	b.Default()
	b.Version = version
	b.Topics = room(r.arrayLen(flex), &p.topic, true)
	for i := range b.Topics {
		if r.bad {
			return nil
		}
		t := &b.Topics[i]
		r.topicName(version, 12, flex, n, &t.Topic, &t.TopicID)
		t.Partitions = room(r.arrayLen(flex), &p.part, i == 0)
		for j := range t.Partitions {
			pp := &t.Partitions[j]
			pp.Default()
			pp.Partition = r.i32()
			pp.ErrorCode = r.i16()
			pp.BaseOffset = r.i64()
			if version >= 2 {
				pp.LogAppendTime = r.i64()
			}
			if version >= 5 {
				pp.LogStartOffset = r.i64()
			}
			if version >= 8 {
				if r.arrayLen(flex) > 0 {
					// Record errors (KIP-467): kmsg's.
					r.fail()
				}
				if l := r.length(flex, false); l >= 0 {
					if s := r.span(l); !r.bad {
						m := string(s)
						pp.ErrorMessage = &m
					}
				}
			}
			r.noTags(flex)
			if r.bad {
				return nil
			}
		}
		r.noTags(flex)
	}
	if version >= 1 {
		b.ThrottleMillis = r.i32()
	}
	r.noTags(flex)
	if r.bad {
		return nil
	}
	return p
}

// topicName reads a topic's name (up to lastNamed) or its id (after).
func (r *reader) topicName(version, lastNamed int16, flex bool, n *names, name *string, id *[16]byte) {
	if version <= lastNamed {
		*name = n.name(r.span(r.length(flex, false)))
	} else {
		copy(id[:], r.span(16))
	}
}
