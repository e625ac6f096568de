package view

import (
	"sort"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/exchange"
	"kscope/internal/inspect"
)

// ClientsFilter selects clients. Empty fields match everything.
type ClientsFilter struct {
	Topic string
	// Client matches a process label, command name, pid or client id.
	Client string
	Group  string
}

// ClientsView is lag and throughput per client process: where each
// consumer process is in each partition (its own fetches and commits),
// measured at the window's end against the freshest log end known, and
// what each producer process sent. A group's partition has one row: its
// latest fetcher's (a rebalance moves it to the new owner).
type ClientsView struct {
	From      time.Time      `json:"from"`
	To        time.Time      `json:"to"`
	Consumers []ConsumerLag  `json:"consumers"`
	Producers []ProducerRate `json:"producers"`
}

// ConsumerLag is one consumer process on one partition: where its last
// fetch (and last commit) in the window left it, against the partition's
// log end at the window's end. Values this agent cannot know are null,
// never estimated.
type ConsumerLag struct {
	// Process is "comm[pid]" for a traced process, else
	// "client-id@host" (a capture file names no process).
	Process  string `json:"process"`
	ClientID string `json:"client_id"`
	// Group is the consumer group this process committed for, or joined;
	// empty for a consumer without a group.
	Group     string `json:"group"`
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`

	// FetchOffset is the offset the last fetch asked from;
	// NextOffset is the offset the consumer asks for next: one past the
	// last complete batch that fetch returned, else FetchOffset.
	FetchOffset *int64 `json:"fetch_offset"`
	NextOffset  *int64 `json:"next_offset"`
	// HighWatermark is the freshest log end known for the partition:
	// from this consumer's own fetch, another process's fetch (a follower
	// broker's too), a Produce response, a ListOffsets answer or the
	// cluster inspector (HighWatermarkSource), at HighWatermarkAt. A
	// consumer that stops fetching (it has records buffered, or it hangs)
	// sees its lag grow with the others' traffic.
	HighWatermark       *int64     `json:"high_watermark"`
	HighWatermarkSource string     `json:"high_watermark_source,omitempty"`
	HighWatermarkAt     *time.Time `json:"high_watermark_at"`
	// Position is where the consumer is. A consumer holds what it
	// fetched in a buffer and works through it, fetching again when the
	// buffer runs low: when its last commit of a partition of the topic
	// was below what it had fetched of it a second before, it is working
	// through a backlog, and its position is its committed offset, the next record it will consume
	// (PositionSource "commit"); on a partition it has not committed yet,
	// where it first fetched from ("first fetch"). Otherwise it consumes
	// what it fetches as it comes (or commits nothing): its position is
	// NextOffset ("fetch"), and a commit interval does not count as lag.
	Position       *int64 `json:"position"`
	PositionSource string `json:"position_source,omitempty"`
	// OffsetLag is HighWatermark - Position (at least 0): records in the
	// log this consumer has not consumed. FetchLag is HighWatermark -
	// NextOffset: those it has not even received.
	OffsetLag *int64 `json:"offset_lag"`
	FetchLag  *int64 `json:"fetch_lag"`
	// TimeLagSeconds is the age, at the window's end, of the record at
	// Position (0 when the consumer has caught up); null when its append
	// time is not known (neither its Produce seen nor its batch read by
	// the inspector).
	TimeLagSeconds *float64 `json:"time_lag_seconds"`
	// CommittedOffset is the last offset committed (OffsetCommit) by
	// this process; CommitLagSeconds is the commit's time minus the
	// append time of the last committed record (CommittedOffset - 1),
	// null when unknown.
	CommittedOffset  *int64     `json:"committed_offset"`
	CommitLagSeconds *float64   `json:"commit_lag_seconds"`
	LastFetch        *time.Time `json:"last_fetch"`
	LastCommit       *time.Time `json:"last_commit"`
	// Fetches counts this process's fetch responses for the partition
	// in the window, Records the records they returned.
	Fetches       int     `json:"fetches"`
	Records       int64   `json:"records"`
	RecordsPerSec float64 `json:"records_per_sec"`

	// fetched are the latest fetches' next offsets, by arrival, at
	// least fetchPointGap apart, to tell what the consumer had fetched
	// when it committed; buffered says whether its last commit was below
	// it.
	fetched    []fetchPoint
	buffered   bool
	firstFetch int64
}

// fetchPoint is what a consumer had fetched up to (next) when.
type fetchPoint struct {
	at   time.Time
	next int64
}

// A consumer's fetch history: points fetchPointGap apart, at most
// maxFetchPoints of them; a commit is compared with what was fetched
// commitSettle before it, the time a consumer that keeps up takes to
// hand what it fetched to the application and commit it.
const (
	fetchPointGap  = 200 * time.Millisecond
	maxFetchPoints = 32
	commitSettle   = time.Second
)

// fetchedTo records that c had fetched up to next at t.
func (c *ConsumerLag) fetchedTo(t time.Time, from, next int64) {
	if c.Fetches == 1 {
		c.firstFetch = from
	}
	if n := len(c.fetched); n > 1 && t.Sub(c.fetched[n-2].at) < fetchPointGap {
		c.fetched[n-1] = fetchPoint{t, next}
		return
	}
	if len(c.fetched) == maxFetchPoints {
		c.fetched = append(c.fetched[:0], c.fetched[1:]...)
	}
	c.fetched = append(c.fetched, fetchPoint{t, next})
}

// committedAt records a commit of offset at t: buffered when the
// consumer had fetched past it commitSettle before, that is it works
// through records it fetched long before; when nothing was fetched that
// long before, it is taken as buffered (its commit is all that is known
// of where it is).
func (c *ConsumerLag) committedAt(t time.Time, offset int64) {
	c.buffered = true
	for i := len(c.fetched) - 1; i >= 0; i-- {
		if p := c.fetched[i]; !p.at.After(t.Add(-commitSettle)) {
			c.buffered = offset < p.next
			return
		}
	}
}

// ProducerRate is one producer process on one topic in the window.
type ProducerRate struct {
	Process       string  `json:"process"`
	ClientID      string  `json:"client_id"`
	Topic         string  `json:"topic"`
	Requests      int     `json:"requests"`
	Records       int64   `json:"records"`
	Bytes         int64   `json:"bytes"`
	RecordsPerSec float64 `json:"records_per_sec"`
	BytesPerSec   float64 `json:"bytes_per_sec"`
	// Acks is the acks setting of its Produce requests: "all" (-1), "1"
	// or "0"; several comma-separated when it changed.
	Acks string `json:"acks"`
	// CommittedRecords and AbortedRecords split the records of its
	// transactions ended in the window (KIP-98) by their EndTxn: aborted
	// ones are in the log but no read_committed consumer gets them.
	// Records not in a transaction, or in one still open, are in neither.
	CommittedRecords int64 `json:"committed_records"`
	AbortedRecords   int64 `json:"aborted_records"`
	// Errors counts partition errors by Kafka error name; NoResponse
	// the requests without a response (acks=0 expects none).
	Errors     map[string]int `json:"errors"`
	NoResponse int            `json:"no_response"`
}

// Clients computes consumer lag and producer rates from the exchanges of
// in that started in its window; Produce exchanges before it too feed the
// offset index. Replica fetches are left out; each exchange counts once.
func Clients(in Input, f ClientsFilter) ClientsView {
	w := in.Window
	xs := Once(in.Exchanges)
	ix := BuildOffsetIndex(xs)
	secs := w.Seconds()
	out := ClientsView{From: w.From, To: w.To, Consumers: []ConsumerLag{}, Producers: []ProducerRate{}}

	// A Fetch names no group: learn each process's group from its group
	// requests, per topic when it committed for it.
	type procTopic struct{ proc, topic string }
	groupOf := make(map[string]string)
	groupOfTopic := make(map[procTopic]string)
	for i := range xs {
		e := &xs[i]
		if e.Group == "" || !namesOwnGroup(e) {
			continue
		}
		p := procKey(e)
		groupOf[p] = e.Group
		if e.Is(kmsg.OffsetCommit) {
			for _, t := range e.Topics {
				groupOfTopic[procTopic{p, t.Name}] = e.Group
			}
		}
	}

	type key struct {
		proc, topic string
		partition   int32
	}
	cons := make(map[key]*ConsumerLag)
	get := func(e *exchange.Exchange, proc, topic string, partition int32) *ConsumerLag {
		k := key{proc, topic, partition}
		c := cons[k]
		if c == nil {
			g := groupOfTopic[procTopic{proc, topic}]
			if g == "" {
				g = groupOf[proc]
			}
			c = &ConsumerLag{Process: proc, ClientID: e.ClientID, Group: g, Topic: topic, Partition: partition}
			cons[k] = c
		}
		return c
	}
	// sent is the fetch offset each process last sent for a partition.
	sent := make(map[key]int64)
	prods := make(map[pkey]*ProducerRate)
	acks := make(map[pkey]map[string]bool)

	for i := range xs {
		e := &xs[i]
		if !inWindow(w, e.Time) {
			continue
		}
		proc := procKey(e)
		if f.Client != "" && !matchesProc(f.Client, proc, &e.Client, e.ClientID) {
			continue
		}
		switch {
		case e.Is(kmsg.Fetch) && e.Latency != nil && !IsReplication(e):
			arrived := e.Time.Add(*e.Latency)
			for _, t := range e.Topics {
				if f.Topic != "" && t.Name != f.Topic {
					continue
				}
				for _, p := range t.Partitions {
					// With fetch sessions (KIP-227) a request leaves out
					// a partition whose fetch offset did not change: the
					// broker fetches from the one sent last.
					sk := key{proc, t.Name, p.Partition}
					if p.FetchOffset != nil {
						sent[sk] = *p.FetchOffset
					}
					fetchOffset, known := sent[sk]
					// And a response leaves out a partition without
					// news: no state then.
					if p.Error != "" || p.HighWatermark == nil || !known {
						continue
					}
					c := get(e, proc, t.Name, p.Partition)
					if c.LastFetch != nil && c.LastFetch.After(arrived) {
						continue
					}
					c.Fetches++
					c.Records += p.Records
					next := fetchOffset
					for _, b := range p.Batches {
						next = max(next, b.BaseOffset+int64(b.LastOffsetDelta)+1)
					}
					c.FetchOffset, c.NextOffset = lagPtr(fetchOffset), lagPtr(next)
					c.LastFetch = lagPtr(arrived)
					c.fetchedTo(arrived, fetchOffset, next)
				}
			}
		case e.Is(kmsg.OffsetCommit):
			for _, t := range e.Topics {
				if f.Topic != "" && t.Name != f.Topic {
					continue
				}
				for _, p := range t.Partitions {
					if p.Error != "" || p.CommittedOffset == nil || *p.CommittedOffset < 0 {
						continue
					}
					c := get(e, proc, t.Name, p.Partition)
					if c.LastCommit != nil && c.LastCommit.After(e.Time) {
						continue
					}
					if c.Group == "" {
						c.Group = e.Group
					}
					c.CommittedOffset, c.LastCommit = lagPtr(*p.CommittedOffset), lagPtr(e.Time)
					c.committedAt(e.Time, *p.CommittedOffset)
					c.CommitLagSeconds = nil
					if at, ok := ix.Lookup(t.Name, p.Partition, *p.CommittedOffset-1); ok {
						c.CommitLagSeconds = lagPtr(max(e.Time.Sub(at.Appended).Seconds(), 0))
					}
				}
			}
		case e.Is(kmsg.Produce):
			for _, t := range e.Topics {
				if f.Topic != "" && t.Name != f.Topic {
					continue
				}
				k := pkey{proc, t.Name}
				pr := prods[k]
				if pr == nil {
					pr = &ProducerRate{Process: proc, ClientID: e.ClientID, Topic: t.Name, Errors: map[string]int{}}
					prods[k] = pr
					acks[k] = map[string]bool{}
				}
				pr.Requests++
				if e.Latency == nil {
					pr.NoResponse++
				}
				if e.Detail != nil && e.Detail.Acks != nil {
					acks[k][acksName(*e.Detail.Acks)] = true
				}
				for _, p := range t.Partitions {
					pr.Records += p.Records
					pr.Bytes += p.Bytes
					if p.Error != "" {
						pr.Errors[p.Error]++
					}
				}
			}
		}
	}
	// In a group each partition has one owner: once a rebalance moved
	// it, the former owner's last fetch no longer tells the group's lag.
	type gkey struct {
		group, topic string
		partition    int32
	}
	owner := make(map[gkey]*ConsumerLag)
	for _, c := range cons {
		if c.Group == "" {
			continue
		}
		k := gkey{c.Group, c.Topic, c.Partition}
		if o := owner[k]; o == nil || lastSeen(c).After(lastSeen(o)) {
			owner[k] = c
		}
	}
	// Working through a backlog is the consumer's way, not one
	// partition's: a consumer that drains one partition at a time has
	// just caught up with its buffer on one when it commits, and not on
	// the others.
	backlog := make(map[procTopic]bool)
	for _, c := range cons {
		if c.CommittedOffset != nil && c.buffered {
			backlog[procTopic{c.Process, c.Topic}] = true
		}
	}
	ends := logEndsOf(xs, in.Cluster, w.To)
	for _, c := range cons {
		if f.Group != "" && c.Group != f.Group {
			continue
		}
		if c.Group != "" && owner[gkey{c.Group, c.Topic, c.Partition}] != c {
			continue
		}
		c.RecordsPerSec = float64(c.Records) / secs
		measureLag(c, backlog[procTopic{c.Process, c.Topic}], ends, ix, in.Cluster, w.To)
		out.Consumers = append(out.Consumers, *c)
	}
	sort.Slice(out.Consumers, func(i, j int) bool {
		a, b := &out.Consumers[i], &out.Consumers[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		if a.Partition != b.Partition {
			return a.Partition < b.Partition
		}
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		return a.Process < b.Process
	})
	if f.Group == "" {
		txnRecords(xs, w, prods)
		for k, pr := range prods {
			pr.RecordsPerSec = float64(pr.Records) / secs
			pr.BytesPerSec = float64(pr.Bytes) / secs
			var as []string
			for a := range acks[k] {
				as = append(as, a)
			}
			sort.Strings(as)
			for i, a := range as {
				if i > 0 {
					pr.Acks += ","
				}
				pr.Acks += a
			}
			out.Producers = append(out.Producers, *pr)
		}
	}
	sort.Slice(out.Producers, func(i, j int) bool {
		a, b := &out.Producers[i], &out.Producers[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		return a.Process < b.Process
	})
	return out
}

// pkey is a producer process and a topic.
type pkey struct{ proc, topic string }

// txnRecords splits the producers' records by the end of the transactions
// ended in w.
func txnRecords(xs []exchange.Exchange, w Window, prods map[pkey]*ProducerRate) {
	txns, _ := transactions(xs, w.To)
	for i := range txns {
		t := &txns[i]
		if t.End == nil || !inWindow(w, t.endTxn) {
			continue
		}
		for _, tt := range t.Topics {
			pr := prods[pkey{t.Process, tt.Topic}]
			if pr == nil {
				continue
			}
			if t.Result == TxnCommitted {
				pr.CommittedRecords += tt.Records
			} else {
				pr.AbortedRecords += tt.Records
			}
		}
	}
}

// Where a consumer's position comes from (ConsumerLag.PositionSource).
const (
	PositionCommit = "commit"
	PositionFetch  = "fetch"
	// PositionFirstFetch: a consumer working through a backlog on the
	// topic's other partitions has committed nothing of this one: it
	// has consumed none of it since it first fetched it.
	PositionFirstFetch = "first fetch"
)

// measureLag sets c's lag at the window's end (now) against the freshest
// log end known.
func measureLag(c *ConsumerLag, backlog bool, ends logEnds, ix *OffsetIndex, snaps []inspect.Snapshot, now time.Time) {
	k := topicPartition{c.Topic, c.Partition}
	end, ok := ends[k]
	if c.NextOffset == nil || !ok {
		return
	}
	c.HighWatermark, c.HighWatermarkAt = lagPtr(end.offset), lagPtr(end.at)
	c.HighWatermarkSource = end.source
	if end.source == EndOwnFetch && end.by != c.Process {
		c.HighWatermarkSource = EndOtherFetch
	}
	// A commit past what was fetched is a seek: the next fetch starts
	// there, the buffer is dropped.
	pos, source := *c.NextOffset, PositionFetch
	switch {
	case c.CommittedOffset != nil && backlog && *c.CommittedOffset <= pos:
		pos, source = *c.CommittedOffset, PositionCommit
	case c.CommittedOffset == nil && backlog:
		pos, source = c.firstFetch, PositionFirstFetch
	}
	c.Position, c.PositionSource = lagPtr(pos), source
	c.FetchLag = lagPtr(max(end.offset-*c.NextOffset, 0))
	lag := max(end.offset-pos, 0)
	c.OffsetLag = lagPtr(lag)
	if lag == 0 {
		c.TimeLagSeconds = lagPtr(0.0)
	} else if at, ok := appendedAt(ix, snaps, k, pos); ok {
		c.TimeLagSeconds = lagPtr(max(now.Sub(at).Seconds(), 0))
	}
}

// lastSeen is when c last fetched, or committed if it never fetched.
func lastSeen(c *ConsumerLag) time.Time {
	switch {
	case c.LastFetch != nil:
		return *c.LastFetch
	case c.LastCommit != nil:
		return *c.LastCommit
	}
	return time.Time{}
}

func acksName(a int16) string {
	if a == -1 {
		return "all"
	}
	return strconv.Itoa(int(a))
}

func lagPtr[T any](v T) *T { return &v }
