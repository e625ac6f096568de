// Package kafka decodes the Kafka wire protocol out of TCP byte streams:
// framing by the 4-byte size, request and response headers, which side is
// the client, resynchronisation after holes or a mid-stream start, pairing
// of responses to requests by correlation id (needed to decode a response
// at all), bodies through franz-go's kmsg, and record batch headers.
//
// It never decompresses records and never keeps record keys or values: the
// record bytes of Produce requests and Fetch responses are reduced to batch
// headers and dropped as soon as a frame is decoded. Nor does it search
// the same bytes over and over for a frame boundary or for which side is
// the client: a search resumes where it stopped (resync.go), so that
// decoding stays linear in the bytes however a capture joined a connection.
package kafka

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/capture"
)

// RequestHeader is a request header v0, v1 or v2.
type RequestHeader struct {
	Key           int16
	Version       int16
	CorrelationID int32
	// ClientID is nil when the client sent a null string (or v0).
	ClientID *string
	// HeaderVersion is 0, 1 or 2 (2: flexible, with tagged fields).
	HeaderVersion int8
}

// Request is one decoded request frame.
type Request struct {
	Header RequestHeader
	// Start is when the first byte of the frame was seen, End the last.
	Start, End time.Time
	// Size is the frame size including the 4-byte size prefix.
	Size int
	// Body is nil when the body could not be decoded (Err says why).
	Body kmsg.Request
	// Records holds the record batch headers of a Produce request, in
	// the order of the body's topics and partitions; the record bytes
	// themselves are removed from Body.
	Records []RecordSet
	// Truncated: bytes inside the frame were not captured; they were
	// read as zeros and what was complete before them was decoded.
	Truncated bool
	Err       error
	// Raw is the body as it came, which Body was decoded from and whose
	// bytes its byte fields share: set when whole and holding no secret
	// (every API but those of secretAPI). For Produce, the body as it
	// came with its record data cut out (each record field null, as Body
	// is once its records are removed), with RawSpare bytes of room per
	// RecordSet after its end; nil when the record fields were not where
	// their lengths said. Never changed.
	Raw []byte
	// room is the fast reader's room the request lives in, for reuse
	// (Options.ReuseMessages); nil when kmsg read it.
	room any
}

// Response is one decoded response frame.
type Response struct {
	CorrelationID int32
	Start, End    time.Time
	Size          int
	Body          kmsg.Response
	// Records: the record batch headers of a Fetch (or ShareFetch)
	// response, record bytes removed from Body.
	Records   []RecordSet
	Truncated bool
	Err       error
	// Raw: as Request.Raw; Fetch as Produce; none for ShareFetch.
	Raw []byte
	// room: as Request.room.
	room any
}

// RecordSet is the record data of one partition of a request or response:
// indices into the body's topic and partition arrays, and the batch headers.
type RecordSet struct {
	Topic, Partition int
	// Bytes is the size of the record data as sent.
	Bytes   int
	Batches []Batch
	// Incomplete: the data ended inside a batch (a fetch response cut at
	// its max bytes ends this way, as does a capture hole).
	Incomplete bool
}

// Pair is a request with its response, the unit the kafka stage emits.
type Pair struct {
	Conn *capture.Conn
	// ClientDir is the direction in which the client sends requests.
	ClientDir capture.Dir
	Req       *Request
	// Resp is nil when there is none; NoResponse then says why.
	Resp       *Response
	NoResponse string
	// Cluster is the Kafka cluster id this connection's server belongs
	// to, when learned from a Metadata response; topic ids resolve
	// against it.
	Cluster string
	// SASLMechanism is the mechanism of the connection's SaslHandshake,
	// when one was seen.
	SASLMechanism string
}

// Reasons a request has no response.
const (
	NoResponseAcks0   = "acks=0"
	NoResponseTimeout = "timeout"
	NoResponseLost    = "lost"
	NoResponseEnd     = "end of capture"
	NoResponseClosed  = "connection closed"
)

// Batch is the header of one record batch (magic 2) or of one message of a
// message set (magic 0 or 1). Never the records.
type Batch struct {
	BaseOffset      int64     `json:"base_offset"`
	LastOffsetDelta int32     `json:"last_offset_delta"`
	Records         int32     `json:"records"`
	Bytes           int32     `json:"bytes"`
	FirstTimestamp  time.Time `json:"first_timestamp"`
	MaxTimestamp    time.Time `json:"max_timestamp"`
	// TimestampType is "CreateTime" or "LogAppendTime".
	TimestampType string `json:"timestamp_type"`
	// Compression is none, gzip, snappy, lz4 or zstd.
	Compression   string `json:"compression"`
	ProducerID    int64  `json:"producer_id"`
	ProducerEpoch int16  `json:"producer_epoch"`
	BaseSequence  int32  `json:"base_sequence"`
	Transactional bool   `json:"transactional,omitempty"`
	Control       bool   `json:"control,omitempty"`
	Magic         int8   `json:"magic"`
}
