package view

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/exchange"
)

// MaxLatencyPoints caps the points of one latency series: the newest are
// kept and the others counted in DroppedPoints.
const MaxLatencyPoints = 5000

// LatencyFilter selects latency series. Empty fields match everything.
type LatencyFilter struct {
	Topic string
	// Consumer and Producer match a process label ("comm[pid]", or
	// "client-id@host" for a capture), its command name, pid or client
	// id.
	Consumer, Producer string
}

// LatencyView is the producer-consumer latency view: how late each record
// batch reached each consumer.
type LatencyView struct {
	From   time.Time       `json:"from"`
	To     time.Time       `json:"to"`
	Series []LatencySeries `json:"series"`
	// IndexedRanges is the number of produced offset ranges the offset
	// index held: without them no delay can be exact.
	IndexedRanges int `json:"indexed_ranges"`
}

// LatencySeries is the delay of one consumer on one partition, for the
// records of one producer when the offset index knows it ("" otherwise).
type LatencySeries struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Consumer  string `json:"consumer"`
	// ClientID is the consumer's client id.
	ClientID string `json:"client_id"`
	// Producer is who produced these batches, known only when this
	// agent saw their Produce; empty otherwise.
	Producer string         `json:"producer"`
	Points   []LatencyPoint `json:"points"`
	// DroppedPoints counts the oldest points left out beyond
	// MaxLatencyPoints.
	DroppedPoints int `json:"dropped_points,omitempty"`
}

// LatencyPoint is one fetched record batch.
type LatencyPoint struct {
	// Time is when the fetch response arrived at the consumer.
	Time time.Time `json:"time"`
	// DelaySeconds is Time minus the batch's max timestamp, of the type
	// TimestampType: CreateTime (the producer's clock) or LogAppendTime
	// (the broker's).
	DelaySeconds  float64 `json:"delay_seconds"`
	TimestampType string  `json:"timestamp_type"`
	// ExactDelaySeconds is Time minus the start of the Produce request
	// that carried the batch's last record, when this agent saw it;
	// null otherwise (never estimated).
	ExactDelaySeconds *float64 `json:"exact_delay_seconds"`
	BaseOffset        int64    `json:"base_offset"`
	Records           int32    `json:"records"`
}

// Latency computes the producer-consumer latency of the consumer fetches
// of in that started in its window. Produce exchanges before it too feed
// the offset index. Replica fetches are replication, not consumers, and
// are left out; each exchange counts once.
func Latency(in Input, f LatencyFilter) LatencyView {
	w := in.Window
	xs := Once(in.Exchanges)
	ix := BuildOffsetIndex(xs)
	out := LatencyView{From: w.From, To: w.To, Series: []LatencySeries{}, IndexedRanges: ix.Ranges()}
	type key struct {
		topic     string
		partition int32
		consumer  string
		producer  string
	}
	series := make(map[key]*LatencySeries)
	for i := range xs {
		e := &xs[i]
		arrived, ok := fetchArrival(e)
		if !ok || !inWindow(w, e.Time) {
			continue
		}
		consumer := procKey(e)
		if f.Consumer != "" && !matchesProc(f.Consumer, consumer, &e.Client, e.ClientID) {
			continue
		}
		for _, t := range e.Topics {
			if f.Topic != "" && t.Name != f.Topic {
				continue
			}
			for _, p := range t.Partitions {
				for _, b := range p.Batches {
					d, ok := batchDelay(arrived, &b)
					if !ok {
						continue
					}
					pt := LatencyPoint{
						Time:          arrived,
						DelaySeconds:  d.Seconds(),
						TimestampType: b.TimestampType,
						BaseOffset:    b.BaseOffset,
						Records:       b.Records,
					}
					producer := ""
					if at, ok := ix.Lookup(t.Name, p.Partition, b.BaseOffset+int64(b.LastOffsetDelta)); ok {
						d := arrived.Sub(at.Produced).Seconds()
						pt.ExactDelaySeconds = &d
						producer = at.Producer
					}
					if f.Producer != "" && !matchesLabel(f.Producer, producer) {
						continue
					}
					k := key{t.Name, p.Partition, consumer, producer}
					s := series[k]
					if s == nil {
						s = &LatencySeries{Topic: t.Name, Partition: p.Partition, Consumer: consumer, ClientID: e.ClientID, Producer: producer}
						series[k] = s
					}
					s.Points = append(s.Points, pt)
				}
			}
		}
	}
	for _, s := range series {
		sort.SliceStable(s.Points, func(i, j int) bool { return s.Points[i].Time.Before(s.Points[j].Time) })
		if n := len(s.Points) - MaxLatencyPoints; n > 0 {
			s.DroppedPoints = n
			s.Points = s.Points[n:]
		}
		out.Series = append(out.Series, *s)
	}
	sort.Slice(out.Series, func(i, j int) bool {
		a, b := &out.Series[i], &out.Series[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		if a.Partition != b.Partition {
			return a.Partition < b.Partition
		}
		if a.Consumer != b.Consumer {
			return a.Consumer < b.Consumer
		}
		return a.Producer < b.Producer
	})
	return out
}

// fetchArrival is when the response to e, a consumer's Fetch, arrived;
// false for a replica fetch (replication, not a consumer), any other API
// or a Fetch without response.
func fetchArrival(e *exchange.Exchange) (time.Time, bool) {
	if !e.Is(kmsg.Fetch) || e.Latency == nil || IsReplication(e) {
		return time.Time{}, false
	}
	return e.Time.Add(*e.Latency), true
}

// batchDelay is how late batch b reached its consumer, whose Fetch
// response arrived at arrived: arrived minus the batch's max timestamp
// (negative when the producer's clock is ahead). False for a batch that
// dates no record: a control batch (KIP-98 transaction markers), an
// empty one, or one without timestamp (-1, message format v0).
func batchDelay(arrived time.Time, b *exchange.Batch) (time.Duration, bool) {
	if b.Control || b.Records <= 0 || b.MaxTimestamp.UnixMilli() < 0 {
		return 0, false
	}
	return arrived.Sub(b.MaxTimestamp), true
}

// inWindow reports t in [From, To); a zero bound is open.
func inWindow(w Window, t time.Time) bool {
	return (w.From.IsZero() || !t.Before(w.From)) && (w.To.IsZero() || t.Before(w.To))
}

// matchesProc reports whether want names the client of an exchange: its
// label, command name, pid or client id.
func matchesProc(want, label string, ep *exchange.Endpoint, clientID string) bool {
	if want == label || want == clientID || matchesLabel(want, label) {
		return true
	}
	return ep.PID != 0 && (want == ep.Process || want == strconv.FormatUint(uint64(ep.PID), 10))
}

// matchesLabel matches a label "comm[pid]" or "client-id@host" by itself or
// by its first part (command name or client id).
func matchesLabel(want, label string) bool {
	if label == "" {
		return false
	}
	if want == label {
		return true
	}
	if i := strings.IndexAny(label, "[@"); i > 0 && want == label[:i] {
		return true
	}
	return false
}
