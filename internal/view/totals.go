package view

import (
	"sort"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/exchange"
	"kscope/internal/store"
)

// Totals counts traffic since it was made, by what a Prometheus counter
// can be labelled with: per topic; per consumer group and topic; per
// request row (the API, Fetch split as in RequestLatency) and broker, with
// errors by Kafka error name and a latency histogram; and, when asked, per
// client id. Its rules are the overview's (records in are those of
// accepted Produce partitions, replica fetches are replication), so that
// the rate of a counter over a window is what the overview shows for it.
//
// Add is fed each exchange once (CountTotals: after the store's twin
// rule); Read copies the counts for a scrape. Counts never go down. Each
// kind of label set is capped at TotalsOptions.MaxLabelSets; beyond it
// the traffic counts under Overflow, so that sums stay right.
type Totals struct {
	opts TotalsOptions

	// mu guards the counts below: Add runs in the store's writer, Read in
	// scrapes.
	mu       sync.Mutex
	topics   map[string]*TopicTotals
	groups   map[GroupTopic]*Flow
	requests map[RequestKey]*RequestTotals
	produced map[ClientTopic]*Flow
	consumed map[ClientGroupTopic]*Flow
	overflow map[string]uint64
	// groupOf is each client's group, named by its last group request
	// (as the overview names it); bounded by maxGroupOf.
	groupOf, oldGroupOf map[totalsClient]string
	codes               []string
	// overflowed are the kinds of label set the exchange being added
	// overflowed: each counts once per exchange.
	overflowed map[string]bool
}

// TotalsOptions say what Totals counts.
type TotalsOptions struct {
	// ClientIDs counts per client id too.
	ClientIDs bool
	// MaxLabelSets caps each kind of label set (topics, groups, request
	// rows, clients); 0 is no cap.
	MaxLabelSets int
	// Overflow is the label value the traffic beyond the cap counts
	// under.
	Overflow string
	// LatencyBuckets are the upper bounds, in seconds, of the request
	// latency histogram.
	LatencyBuckets []float64
}

// maxGroupOf bounds the clients whose group Totals remembers in each of
// its two maps: when the newer fills, it becomes the older and the older
// is dropped, so that a client seen lately keeps its group.
const maxGroupOf = 100_000

// totalsClient is a client as the overview tells clients apart (its
// process, else its host; and its client id), in a key that costs no
// allocation per exchange.
type totalsClient struct {
	pid            uint32
	host, clientID string
}

// TopicTotals is a topic's traffic.
type TopicTotals struct {
	RecordsIn, BytesIn, RecordsOut, BytesOut, ReplicationBytes int64
}

// Flow is records and their bytes.
type Flow struct{ Records, Bytes int64 }

// GroupTopic is a consumer group on a topic; Group is empty for consumers
// outside any group.
type GroupTopic struct{ Group, Topic string }

// ClientTopic is a client id on a topic.
type ClientTopic struct{ Client, Topic string }

// ClientGroupTopic is a client id in a group on a topic.
type ClientGroupTopic struct{ Client, Group, Topic string }

// RequestKey is a request row (see RequestLatency) to a broker.
type RequestKey struct{ API, Broker string }

// RequestTotals counts requests: all, those with an error (and by error
// name), those answered, the sum of their latencies and how many took at
// most each of the latency buckets (cumulative).
type RequestTotals struct {
	Requests, Errors uint64
	ErrorsByCode     map[string]uint64
	Answered         uint64
	LatencySeconds   float64
	Buckets          []uint64
}

// TotalsView is a copy of the counts.
type TotalsView struct {
	Topics   map[string]TopicTotals
	Groups   map[GroupTopic]Flow
	Requests map[RequestKey]RequestTotals
	Produced map[ClientTopic]Flow
	Consumed map[ClientGroupTopic]Flow
	// Overflow counts exchanges counted under Overflow, by kind of
	// label set ("topic", "group", "request", "client").
	Overflow map[string]uint64
}

// NewTotals returns empty totals.
func NewTotals(opts TotalsOptions) *Totals {
	return &Totals{
		opts:     opts,
		topics:   make(map[string]*TopicTotals),
		groups:   make(map[GroupTopic]*Flow),
		requests: make(map[RequestKey]*RequestTotals),
		produced: make(map[ClientTopic]*Flow),
		consumed: make(map[ClientGroupTopic]*Flow),
		overflow: make(map[string]uint64),
		groupOf:  make(map[totalsClient]string),
		// overflowed is cleared, not remade, for each exchange.
		overflowed: make(map[string]bool, 4),
	}
}

// CountTotals makes the store feed t with each exchange added from now on,
// once (store.Count).
func CountTotals(st *store.Store, t *Totals) { st.Count(t) }

// capped returns m[k], made when new; past the cap, m[over] and the
// overflow counted under kind.
func capped[K comparable, V any](t *Totals, m map[K]*V, k, over K, kind string) *V {
	if v := m[k]; v != nil {
		return v
	}
	if t.opts.MaxLabelSets > 0 && len(m) >= t.opts.MaxLabelSets {
		t.overflowed[kind] = true
		k = over
		if v := m[k]; v != nil {
			return v
		}
	}
	v := new(V)
	m[k] = v
	return v
}

// Add counts e.
func (t *Totals) Add(e *exchange.Exchange) {
	t.mu.Lock()
	defer t.mu.Unlock()
	o := t.opts.Overflow
	ck := totalsClient{pid: e.Client.PID, clientID: e.ClientID}
	if ck.pid == 0 {
		ck.host = ovHost(e.Client.Addr)
	}
	if e.Group != "" && namesOwnGroup(e) {
		if _, ok := t.groupOf[ck]; !ok && len(t.groupOf) >= maxGroupOf {
			t.oldGroupOf, t.groupOf = t.groupOf, make(map[totalsClient]string)
		}
		t.groupOf[ck] = e.Group
	}
	defer func() {
		for kind := range t.overflowed {
			t.overflow[kind]++
		}
		clear(t.overflowed)
	}()
	var records int64
	switch {
	case e.Is(kmsg.Produce):
		for i := range e.Topics {
			tp := &e.Topics[i]
			tt := capped(t, t.topics, tp.Name, o, "topic")
			var pc *Flow
			if t.opts.ClientIDs {
				pc = capped(t, t.produced, ClientTopic{e.ClientID, tp.Name}, ClientTopic{o, o}, "client")
			}
			for j := range tp.Partitions {
				p := &tp.Partitions[j]
				// A partition answered with an error was not
				// appended: its retry will count.
				if p.Error != "" {
					continue
				}
				tt.RecordsIn += p.Records
				tt.BytesIn += p.Bytes
				records += p.Records
				if pc != nil {
					pc.Records += p.Records
					pc.Bytes += p.Bytes
				}
			}
		}
	case IsReplication(e):
		for i := range e.Topics {
			tp := &e.Topics[i]
			tt := capped(t, t.topics, tp.Name, o, "topic")
			for j := range tp.Partitions {
				tt.ReplicationBytes += tp.Partitions[j].Bytes
				records += tp.Partitions[j].Records
			}
		}
	case e.Is(kmsg.Fetch):
		group, ok := t.groupOf[ck]
		if !ok {
			group = t.oldGroupOf[ck]
		}
		for i := range e.Topics {
			tp := &e.Topics[i]
			tt := capped(t, t.topics, tp.Name, o, "topic")
			gt := capped(t, t.groups, GroupTopic{group, tp.Name}, GroupTopic{o, o}, "group")
			var cc *Flow
			if t.opts.ClientIDs {
				cc = capped(t, t.consumed, ClientGroupTopic{e.ClientID, group, tp.Name}, ClientGroupTopic{o, o, o}, "client")
			}
			for j := range tp.Partitions {
				p := &tp.Partitions[j]
				tt.RecordsOut += p.Records
				tt.BytesOut += p.Bytes
				gt.Records += p.Records
				gt.Bytes += p.Bytes
				records += p.Records
				if cc != nil {
					cc.Records += p.Records
					cc.Bytes += p.Bytes
				}
			}
		}
	}
	r := capped(t, t.requests, RequestKey{rlAPI(e, records), e.Server.Addr}, RequestKey{o, o}, "request")
	if r.Buckets == nil {
		r.Buckets = make([]uint64, len(t.opts.LatencyBuckets))
	}
	r.Requests++
	t.codes = rlErrorCodes(t.codes, e)
	if len(t.codes) > 0 {
		r.Errors++
		if r.ErrorsByCode == nil {
			r.ErrorsByCode = make(map[string]uint64)
		}
		for _, c := range t.codes {
			r.ErrorsByCode[c]++
		}
	}
	if d, ok := rlLatency(e); ok {
		s := max(d, 0).Seconds()
		r.Answered++
		r.LatencySeconds += s
		// Buckets are cumulative: the first that holds s, and all above.
		i := sort.SearchFloat64s(t.opts.LatencyBuckets, s)
		for ; i < len(r.Buckets); i++ {
			r.Buckets[i]++
		}
	}
}

// Read copies the counts.
func (t *Totals) Read() TotalsView {
	t.mu.Lock()
	defer t.mu.Unlock()
	v := TotalsView{
		Topics:   make(map[string]TopicTotals, len(t.topics)),
		Groups:   make(map[GroupTopic]Flow, len(t.groups)),
		Requests: make(map[RequestKey]RequestTotals, len(t.requests)),
		Produced: make(map[ClientTopic]Flow, len(t.produced)),
		Consumed: make(map[ClientGroupTopic]Flow, len(t.consumed)),
		Overflow: make(map[string]uint64, len(t.overflow)),
	}
	for k, x := range t.topics {
		v.Topics[k] = *x
	}
	for k, x := range t.groups {
		v.Groups[k] = *x
	}
	for k, x := range t.requests {
		c := *x
		c.Buckets = append([]uint64(nil), x.Buckets...)
		c.ErrorsByCode = make(map[string]uint64, len(x.ErrorsByCode))
		for code, n := range x.ErrorsByCode {
			c.ErrorsByCode[code] = n
		}
		v.Requests[k] = c
	}
	for k, x := range t.produced {
		v.Produced[k] = *x
	}
	for k, x := range t.consumed {
		v.Consumed[k] = *x
	}
	for k, n := range t.overflow {
		v.Overflow[k] = n
	}
	return v
}
