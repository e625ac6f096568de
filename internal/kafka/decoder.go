package kafka

import (
	"context"
	"io"
	"time"

	"kscope/internal/capture"
)

// Options tune a Decoder.
type Options struct {
	// MaxFrame is the largest frame decoded; larger ones are skipped by
	// their size prefix and counted. Default 100 MiB.
	MaxFrame int
	// ResponseTimeout is how long past the time a broker may hold a
	// request (Fetch max wait, Produce timeout, JoinGroup rebalance
	// timeout) a request waits for its response before it is reported
	// unanswered. Default 30s.
	ResponseTimeout time.Duration
	// NotKafkaAfter is how many bytes a connection joined in mid-stream
	// may carry, in both directions, without a Kafka frame before it is
	// judged not Kafka and ignored; 64 times as many when one direction
	// is nearly silent (a consumer's large fetch responses). Default
	// 1 MiB.
	NotKafkaAfter int64
	// OnVerdict, when set, is told once per connection whether it is
	// Kafka, so that a live source can stop copying the others.
	OnVerdict func(c *capture.Conn, kafka bool)
	// OnBoundary, when set, is told after each chunk of a Kafka
	// connection where the next frame of its direction starts: ahead
	// bytes after the chunk's end (0: right after it), and whether
	// the direction carries requests. A live source that joined the
	// connection in mid-stream uses it to start following its frames.
	OnBoundary func(c *capture.Conn, dir capture.Dir, ahead int64, requests bool)
	// ReuseMessages lets the decoder reuse the memory of a Pair's
	// Request and Response, their bodies and record sets included, once
	// the callback returns: set it when the callback keeps nothing of
	// them (exchange.Build keeps nothing).
	ReuseMessages bool
	// GrowAhead lets a direction searched for its frames (joined in
	// mid-stream, or after a hole), once it holds 64 KiB, reserve 4 MiB
	// ahead at once rather than grow by 4 as bytes come: the bytes held
	// are not copied into new memory at each step. The reserve is
	// address space, not memory (pages never written are not resident),
	// but the Go collector counts it: set it when decoding files, not in
	// a process held to a memory limit, where it made the collector run
	// without end.
	GrowAhead bool
}

// DefaultMaxFrame is the default frame size cap.
const DefaultMaxFrame = 100 << 20

// Stats counts what the decoder did and what it had to skip.
type Stats struct {
	Connections      int64 `json:"connections"`
	KafkaConnections int64 `json:"kafka_connections"`
	Requests         int64 `json:"requests"`
	Responses        int64 `json:"responses"`
	Exchanges        int64 `json:"exchanges"`
	// NoResponse counts exchanges emitted without a response (acks=0,
	// timeouts, lost, end of capture).
	NoResponse int64 `json:"no_response"`
	// UnmatchedResponses are responses to no pending request.
	UnmatchedResponses int64 `json:"unmatched_responses"`
	BytesLost          int64 `json:"bytes_lost"`
	BytesSkipped       int64 `json:"bytes_skipped"`
	// BytesElided are record bytes the source did not copy on purpose
	// (capture.Chunk.Skipped), read as zeros: not lost.
	BytesElided  int64 `json:"bytes_elided"`
	Resyncs      int64 `json:"resyncs"`
	Oversized    int64 `json:"oversized_frames"`
	DecodeErrors int64 `json:"decode_errors"`
	Truncated    int64 `json:"truncated_frames"`
	// HeadersLost counts frames dropped because their header was not
	// captured.
	HeadersLost int64 `json:"headers_lost"`
	SASLTokens  int64 `json:"sasl_tokens"`
	// NotKafka counts connections judged not Kafka; Undecided those
	// whose roles (which side is the client) could not be told within
	// a window of bytes, joined mid-stream; BytesIgnored the bytes of
	// both.
	NotKafka     int64 `json:"not_kafka_connections"`
	Undecided    int64 `json:"undecided_connections"`
	BytesIgnored int64 `json:"bytes_ignored"`
}

// Decoder turns chunks of many connections into request/response pairs.
// It is not safe for concurrent use: one goroutine feeds it.
type Decoder struct {
	opts    Options
	ids     *TopicIDs
	emit    func(Pair)
	conns   map[*capture.Conn]*conn
	brokers map[hostPort]string // broker address -> cluster id
	// brokersAdded counts changes to brokers: a connection whose
	// cluster is unknown looks again only after one.
	brokersAdded uint64
	stats        Stats
	rooms        rooms
}

// NewDecoder returns a decoder that calls emit for each pair, in the order
// they complete. ids learns topic ids from Metadata responses.
func NewDecoder(opts Options, ids *TopicIDs, emit func(Pair)) *Decoder {
	if opts.MaxFrame <= 0 {
		opts.MaxFrame = DefaultMaxFrame
	}
	if opts.NotKafkaAfter <= 0 {
		opts.NotKafkaAfter = 1 << 20
	}
	if opts.ResponseTimeout <= 0 {
		opts.ResponseTimeout = 30 * time.Second
	}
	if ids == nil {
		ids = &TopicIDs{}
	}
	return &Decoder{
		opts: opts, ids: ids, emit: emit,
		conns:   make(map[*capture.Conn]*conn),
		brokers: make(map[hostPort]string),
	}
}

// Feed decodes one chunk.
func (d *Decoder) Feed(ch capture.Chunk) {
	k := d.conns[ch.Conn]
	if k == nil {
		k = newConn(d, ch.Conn)
		d.conns[ch.Conn] = k
		d.stats.Connections++
	}
	if len(ch.Data) > 0 || ch.Lost != 0 || ch.Skipped != 0 {
		k.feed(ch)
	}
	if ch.Closed {
		k.closed[ch.Dir] = true
		if k.closed[0] && k.closed[1] {
			k.flush(NoResponseClosed)
			delete(d.conns, ch.Conn)
		}
	}
}

// Expire reports the requests that waited past their deadline at now.
func (d *Decoder) Expire(now time.Time) {
	for _, k := range d.conns {
		k.expire(now)
	}
}

// Flush ends the input: requests still waiting are reported without a
// response.
func (d *Decoder) Flush() {
	for c, k := range d.conns {
		k.flush(NoResponseEnd)
		delete(d.conns, c)
	}
}

// Oldest is the earliest request time a pair still to come can have, as
// far as the bytes fed so far tell: the start of the oldest request
// waiting for its response, of a frame partly read (or bytes held while a
// direction is searched), or of a response held for its request. It is
// zero when nothing is open. It walks every connection (Open). A
// consumer that orders pairs by request time can let go of those before
// it (offline.Stream), unless later chunks carry earlier times than those
// fed before them.
func (d *Decoder) Oldest() time.Time {
	var t time.Time
	see := func(x time.Time) {
		if !x.IsZero() && (t.IsZero() || x.Before(t)) {
			t = x
		}
	}
	for _, k := range d.conns {
		for _, r := range k.pending {
			see(r.Start)
		}
		for _, s := range k.st {
			if len(s.buf) > 0 && len(s.marks) > 0 {
				see(s.marks[0].t)
			}
		}
		for _, e := range k.early {
			see(e.start)
		}
	}
	return t
}

// Open is the number of connections the decoder follows: what Oldest
// walks.
func (d *Decoder) Open() int { return len(d.conns) }

// Stats returns the counters so far.
func (d *Decoder) Stats() Stats { return d.stats }

// hostPort is a broker's address as a Metadata response names it: a
// key made without formatting, for a response that names the same
// brokers as the last.
type hostPort struct {
	host string
	port int32
}

// Run feeds every chunk of src to the decoder until src ends (io.EOF, which
// is not returned) or ctx is done, expiring unanswered requests as the
// source's clock moves. It does not flush: more sources may follow.
func (d *Decoder) Run(ctx context.Context, src capture.Source) error {
	var lastExpire time.Time
	for i := 0; ; i++ {
		if i&1023 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		ch, err := src.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if ch.Conn != nil {
			d.Feed(ch)
		}
		if ch.Time.Sub(lastExpire) >= time.Second {
			d.Expire(ch.Time)
			lastExpire = ch.Time
		}
	}
}
