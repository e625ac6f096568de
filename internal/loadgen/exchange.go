// Package loadgen replays Kafka exchanges between a client and a server of
// its own over TCP, at a set rate, so that the agent can be measured at
// rates that a real broker on this machine cannot serve.
//
// Every request and response is encoded once with franz-go's kmsg, framed
// as a client and a broker frame them (size, header, tagged fields of
// flexible versions, KIP-482); only the correlation id is patched per
// request. Both ends use the system calls real clients use: writev and
// read on the client, read and writev on the server. It must never reach
// beyond the addresses it is given: it is a load generator for loopback.
package loadgen

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kind is one kind of exchange the generator replays.
type Kind int

// The kinds, in the order they are reported.
const (
	Produce Kind = iota
	Fetch
	Metadata
	Heartbeat
	numKinds
)

var kindNames = [numKinds]string{"produce", "fetch", "metadata", "heartbeat"}

func (k Kind) String() string {
	if k < 0 || k >= numKinds {
		return fmt.Sprintf("kind(%d)", int(k))
	}
	return kindNames[k]
}

// Versions of each request, those a current client sends to Kafka 3.x:
// all flexible, so that request header v2 and response header v1 (tagged
// fields) are exercised. Fetch stays below v13 so that topics are named
// rather than referred to by id.
var versions = [numKinds]int16{Produce: 9, Fetch: 12, Metadata: 12, Heartbeat: 4}

var apiKeys = [numKinds]int16{Produce: 0, Fetch: 1, Metadata: 3, Heartbeat: 12}

// Names the exchanges carry.
const (
	ClientID = "kscope-bench-wire"
	Topic    = "bench-wire"
	Group    = "bench-wire-group"
	Cluster  = "bench-wire-cluster"
)

// Shape says what the exchanges carry.
type Shape struct {
	// BatchBytes is the size of the record batch in each partition of a
	// Produce request and a Fetch response.
	BatchBytes int
	// Partitions is the number of partitions per Produce request and
	// Fetch response.
	Partitions int
}

// Frame is a pre-encoded request or response, framed; its correlation id
// sits at CorrOffset.
type Frame struct {
	Bytes      []byte
	CorrOffset int
}

// Exchange is one kind's request and response.
type Exchange struct {
	Kind     Kind
	Key      int16
	Version  int16
	Request  Frame
	Response Frame
	// Records is the number of records in each partition's batch (0 for
	// kinds without records).
	Records int
}

// Exchanges encodes each kind once.
func Exchanges(s Shape) ([numKinds]Exchange, error) {
	var out [numKinds]Exchange
	if s.BatchBytes < minBatchBytes {
		return out, fmt.Errorf("batch of %d bytes: a record batch takes at least %d", s.BatchBytes, minBatchBytes)
	}
	if s.Partitions < 1 {
		return out, fmt.Errorf("%d partitions per request: at least 1", s.Partitions)
	}
	batch, records := recordBatch(s.BatchBytes, time.Now())
	reqs := [numKinds]kmsg.Request{
		Produce:   produceRequest(s.Partitions, batch),
		Fetch:     fetchRequest(s.Partitions),
		Metadata:  metadataRequest(),
		Heartbeat: heartbeatRequest(),
	}
	resps := [numKinds]kmsg.Response{
		Produce:   produceResponse(s.Partitions),
		Fetch:     fetchResponse(s.Partitions, batch),
		Metadata:  metadataResponse(s.Partitions),
		Heartbeat: kmsg.NewPtrHeartbeatResponse(),
	}
	for k := range numKinds {
		out[k] = Exchange{
			Kind: k, Key: apiKeys[k], Version: versions[k],
			Request:  requestFrame(reqs[k], versions[k]),
			Response: responseFrame(resps[k], versions[k]),
		}
		if k == Produce || k == Fetch {
			out[k].Records = records
		}
	}
	return out, nil
}

// requestFrame frames r: size, api key, version, correlation id, client id
// and, for flexible versions (request header v2), an empty tag section.
func requestFrame(r kmsg.Request, version int16) Frame {
	r.SetVersion(version)
	b := make([]byte, 4, 256)
	b = binary.BigEndian.AppendUint16(b, uint16(r.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(ClientID)))
	b = append(b, ClientID...)
	if r.IsFlexible() {
		b = append(b, 0)
	}
	b = r.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return Frame{Bytes: b, CorrOffset: 8}
}

// responseFrame frames r: size, correlation id and, for flexible versions
// but ApiVersions' (KIP-511), response header v1's empty tag section.
func responseFrame(r kmsg.Response, version int16) Frame {
	r.SetVersion(version)
	b := make([]byte, 4, 256)
	b = binary.BigEndian.AppendUint32(b, 0)
	if r.IsFlexible() && r.Key() != 18 {
		b = append(b, 0)
	}
	b = r.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return Frame{Bytes: b, CorrOffset: 4}
}

// SetCorrelation patches the correlation id of a frame in place.
func (f Frame) SetCorrelation(b []byte, corr int32) {
	binary.BigEndian.PutUint32(b[f.CorrOffset:], uint32(corr))
}

// batchHeaderBytes is a v2 record batch's header (61 bytes) and
// minBatchBytes the smallest batch of one record with an empty value.
const (
	batchHeaderBytes = 61
	recordValueBytes = 100
	minBatchBytes    = batchHeaderBytes + 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// recordBatch encodes a v2 record batch of about size bytes as a producer
// without idempotence sends it: records of 100-byte values (the last one
// takes what is left), no key, no headers, no compression, CRC-32C over
// everything from the attributes on.
func recordBatch(size int, now time.Time) ([]byte, int) {
	var records []byte
	n := 0
	for left := size - batchHeaderBytes; left > 0; n++ {
		v := recordValueBytes
		last := left < 2*(recordValueBytes+10)
		if last {
			v = left
		}
		enc := encodeRecord(n, v)
		for last && len(enc) > left && v > 0 {
			v -= len(enc) - left
			enc = encodeRecord(n, max(v, 0))
		}
		records = append(records, enc...)
		left -= len(enc)
		if last {
			n++
			break
		}
	}
	ms := now.UnixMilli()
	b := kmsg.RecordBatch{
		FirstOffset:          0,
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      int32(n - 1),
		FirstTimestamp:       ms,
		MaxTimestamp:         ms + int64(n-1),
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(n),
		Records:              records,
	}
	enc := b.AppendTo(nil)
	// Length counts from the partition leader epoch (offset 12) on; the
	// CRC covers from the attributes (offset 21) on.
	binary.BigEndian.PutUint32(enc[8:], uint32(len(enc)-12))
	binary.BigEndian.PutUint32(enc[17:], crc32.Checksum(enc[21:], castagnoli))
	return enc, n
}

func produceRequest(partitions int, batch []byte) *kmsg.ProduceRequest {
	r := kmsg.NewPtrProduceRequest()
	r.Acks = -1
	r.TimeoutMillis = 30000
	t := kmsg.NewProduceRequestTopic()
	t.Topic = Topic
	for p := range partitions {
		tp := kmsg.NewProduceRequestTopicPartition()
		tp.Partition = int32(p)
		tp.Records = batch
		t.Partitions = append(t.Partitions, tp)
	}
	r.Topics = append(r.Topics, t)
	return r
}

func produceResponse(partitions int) *kmsg.ProduceResponse {
	r := kmsg.NewPtrProduceResponse()
	t := kmsg.NewProduceResponseTopic()
	t.Topic = Topic
	for p := range partitions {
		tp := kmsg.NewProduceResponseTopicPartition()
		tp.Partition = int32(p)
		tp.BaseOffset = 1000
		t.Partitions = append(t.Partitions, tp)
	}
	r.Topics = append(r.Topics, t)
	return r
}

func fetchRequest(partitions int) *kmsg.FetchRequest {
	r := kmsg.NewPtrFetchRequest()
	r.ReplicaID = -1
	r.MaxWaitMillis = 500
	r.MinBytes = 1
	r.MaxBytes = 50 << 20
	r.SessionEpoch = -1
	t := kmsg.NewFetchRequestTopic()
	t.Topic = Topic
	for p := range partitions {
		tp := kmsg.NewFetchRequestTopicPartition()
		tp.Partition = int32(p)
		tp.FetchOffset = 1000
		tp.PartitionMaxBytes = 1 << 20
		t.Partitions = append(t.Partitions, tp)
	}
	r.Topics = append(r.Topics, t)
	return r
}

func fetchResponse(partitions int, batch []byte) *kmsg.FetchResponse {
	r := kmsg.NewPtrFetchResponse()
	t := kmsg.NewFetchResponseTopic()
	t.Topic = Topic
	for p := range partitions {
		tp := kmsg.NewFetchResponseTopicPartition()
		tp.Partition = int32(p)
		tp.HighWatermark = 2000
		tp.LastStableOffset = 2000
		tp.RecordBatches = batch
		t.Partitions = append(t.Partitions, tp)
	}
	r.Topics = append(r.Topics, t)
	return r
}

func metadataRequest() *kmsg.MetadataRequest {
	r := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(Topic)
	r.Topics = append(r.Topics, t)
	return r
}

// topicID is the bench topic's id, fixed so that captures compare.
var topicID = [16]byte{'k', 's', 'c', 'o', 'p', 'e', '-', 'b', 'e', 'n', 'c', 'h', 'w', 'i', 'r', 'e'}

func metadataResponse(partitions int) *kmsg.MetadataResponse {
	r := kmsg.NewPtrMetadataResponse()
	r.ClusterID = kmsg.StringPtr(Cluster)
	b := kmsg.NewMetadataResponseBroker()
	b.Host, b.Port = "127.0.0.1", 9092
	r.Brokers = append(r.Brokers, b)
	t := kmsg.NewMetadataResponseTopic()
	t.Topic = kmsg.StringPtr(Topic)
	t.TopicID = topicID
	for p := range partitions {
		tp := kmsg.NewMetadataResponseTopicPartition()
		tp.Partition = int32(p)
		tp.Replicas = []int32{0}
		tp.ISR = []int32{0}
		t.Partitions = append(t.Partitions, tp)
	}
	r.Topics = append(r.Topics, t)
	return r
}

func heartbeatRequest() *kmsg.HeartbeatRequest {
	r := kmsg.NewPtrHeartbeatRequest()
	r.Group = Group
	r.Generation = 1
	r.MemberID = "kscope-bench-wire-member"
	return r
}

// encodeRecord encodes record i of a batch with a value of v bytes.
func encodeRecord(i, v int) []byte {
	r := kmsg.Record{TimestampDelta64: int64(i), OffsetDelta: int32(i), Value: make([]byte, v)}
	for j := range r.Value {
		r.Value[j] = 'a' + byte(j%26)
	}
	r.Length = int32(len(r.AppendTo(nil)) - 1) // Length 0 takes one byte
	return r.AppendTo(nil)
}
