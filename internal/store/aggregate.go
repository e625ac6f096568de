package store

import (
	"sort"
	"time"
	"unsafe"

	"kscope/internal/exchange"
)

// OtherTopic is the topic under which a second counts the topics it had no
// budget left for.
const OtherTopic = "(other)"

// Agg sums the exchanges of one second for one API or one topic.
type Agg struct {
	Requests uint64 `json:"requests"`
	// Errors counts exchanges with a top-level error or, for a topic, a
	// partition error.
	Errors        uint64 `json:"errors"`
	RequestBytes  int64  `json:"request_bytes"`
	ResponseBytes int64  `json:"response_bytes"`
	// Records and RecordBytes are the record data carried (Produce
	// requests, Fetch responses), from the batch headers.
	Records     int64 `json:"records"`
	RecordBytes int64 `json:"record_bytes"`
	// Responses counts the exchanges with a latency, which LatencySumNS
	// and LatencyMaxNS are over.
	Responses    uint64 `json:"responses"`
	LatencySumNS int64  `json:"latency_sum_ns"`
	LatencyMaxNS int64  `json:"latency_max_ns"`
}

// Second is the aggregates of one second of exchange time.
type Second struct {
	Time   time.Time      `json:"time"`
	APIs   map[string]Agg `json:"apis"`
	Topics map[string]Agg `json:"topics"`
}

// Aggregates returns copies of the seconds held in [since, until) (zero
// bounds are open), oldest first.
func (s *Store) Aggregates(since, until time.Time) []Second {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Second
	for _, sec := range s.agg.seconds {
		t := time.Unix(sec.unix, 0)
		if (!since.IsZero() && t.Add(time.Second).Before(since)) || (!until.IsZero() && !t.Before(until)) {
			continue
		}
		c := Second{Time: t, APIs: make(map[string]Agg, len(sec.apis)), Topics: make(map[string]Agg, len(sec.topics))}
		for k, v := range sec.apis {
			c.APIs[k] = *v
		}
		for k, v := range sec.topics {
			c.Topics[k] = *v
		}
		out = append(out, c)
	}
	return out
}

// Estimated costs: a map entry holds its key header, a pointer and a share
// of the map's buckets; each Agg is its own allocation.
const (
	aggEntryBytes = int64(unsafe.Sizeof(Agg{})) + allocOverhead + 64
	secondBytes   = int64(unsafe.Sizeof(second{})) + allocOverhead + 2*48 + 8
	aggReserve    = 4 * aggEntryBytes // room kept for OtherTopic entries
)

type second struct {
	unix   int64
	apis   map[string]*Agg
	topics map[string]*Agg
	bytes  int64
	// partial is the views' state of the second (see KeepPartials), of
	// partialBytes; partialFull when the budget stopped it growing.
	partial      Partial
	partialBytes int64
	partialFull  bool
}

// aggregates is guarded by Store.mu.
type aggregates struct {
	budget   int64
	bytes    int64
	seconds  []*second // by unix second, ascending
	evicted  uint64
	late     uint64
	overflow uint64

	// newPartial, when set, makes each second's partial.
	newPartial func() Partial
	// counters are fed each exchange once, with the partials.
	counters []Counter
	twins    twins
	// partialSince is the first second from which partials are whole:
	// after KeepPartials, and after the last evicted second.
	partialSince    int64
	partialOverflow uint64
}

func (a *aggregates) add(e *exchange.Exchange) {
	unix := e.Time.Unix()
	sec := a.second(unix)
	if sec == nil {
		a.late++
		return
	}
	var lat int64 = -1
	if e.LatencyNS != nil {
		lat = *e.LatencyNS
	}
	if g := a.entry(sec, sec.apis, e.API); g != nil {
		g.Requests++
		if e.Error != "" {
			g.Errors++
		}
		g.RequestBytes += int64(e.RequestBytes)
		g.ResponseBytes += int64(e.ResponseBytes)
		for i := range e.Topics {
			for j := range e.Topics[i].Partitions {
				p := &e.Topics[i].Partitions[j]
				g.Records += p.Records
				g.RecordBytes += p.Bytes
			}
		}
		addLatency(g, lat)
	}
	for i := range e.Topics {
		t := &e.Topics[i]
		g := a.entry(sec, sec.topics, t.Name)
		if g == nil {
			a.overflow++
			g = a.other(sec)
		}
		g.Requests++
		failed := e.Error != ""
		for j := range t.Partitions {
			p := &t.Partitions[j]
			g.Records += p.Records
			g.RecordBytes += p.Bytes
			failed = failed || p.Error != ""
		}
		if failed {
			g.Errors++
		}
		addLatency(g, lat)
	}
}

func addLatency(g *Agg, lat int64) {
	if lat < 0 {
		return
	}
	g.Responses++
	g.LatencySumNS += lat
	g.LatencyMaxNS = max(g.LatencyMaxNS, lat)
}

// second finds or makes the second unix; nil when it is older than every
// second held and there is no room for it.
func (a *aggregates) second(unix int64) *second {
	n := len(a.seconds)
	if n > 0 && a.seconds[n-1].unix == unix {
		return a.seconds[n-1]
	}
	i := sort.Search(n, func(i int) bool { return a.seconds[i].unix >= unix })
	if i < n && a.seconds[i].unix == unix {
		return a.seconds[i]
	}
	if i == 0 && n > 0 && a.bytes+secondBytes+aggReserve > a.budget {
		// Older than all we hold, and room would be made by dropping
		// newer data: not worth it.
		return nil
	}
	sec := &second{unix: unix, apis: make(map[string]*Agg), topics: make(map[string]*Agg), bytes: secondBytes}
	a.seconds = append(a.seconds, nil)
	copy(a.seconds[i+1:], a.seconds[i:])
	a.seconds[i] = sec
	a.bytes += secondBytes
	a.makeRoom(sec, 0)
	return sec
}

// entry finds or makes m[key] in sec; nil when the budget has no room for
// a new key even after dropping every older second.
func (a *aggregates) entry(sec *second, m map[string]*Agg, key string) *Agg {
	if g := m[key]; g != nil {
		return g
	}
	cost := aggEntryBytes + int64(len(key))
	if !a.makeRoom(sec, cost) {
		return nil
	}
	g := &Agg{}
	m[key] = g
	sec.bytes += cost
	a.bytes += cost
	return g
}

// other is sec's OtherTopic entry, made from the reserve when needed.
func (a *aggregates) other(sec *second) *Agg {
	if g := sec.topics[OtherTopic]; g != nil {
		return g
	}
	cost := aggEntryBytes + int64(len(OtherTopic))
	// When even this does not fit, sec is the oldest second held and
	// the entry comes out of the reserve.
	a.makeRoom(sec, cost)
	g := &Agg{}
	sec.topics[OtherTopic] = g
	sec.bytes += cost
	a.bytes += cost
	return g
}

// makeRoom drops the oldest seconds, never keep, until need more bytes fit
// with the reserve kept; it reports whether they do.
func (a *aggregates) makeRoom(keep *second, need int64) bool {
	for a.bytes+need+aggReserve > a.budget && len(a.seconds) > 0 && a.seconds[0] != keep {
		old := a.seconds[0]
		a.seconds[0] = nil
		a.seconds = a.seconds[1:]
		a.bytes -= old.bytes
		a.evicted++
		a.partialSince = max(a.partialSince, old.unix+1)
	}
	return a.bytes+need+aggReserve <= a.budget
}
