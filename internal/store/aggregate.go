package store

import (
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

// Second is the aggregates of one part of exchange time: a second, or
// more once rolled up (see Resolution).
type Second struct {
	Time time.Time `json:"time"`
	// Seconds is the length of the part.
	Seconds int            `json:"seconds"`
	APIs    map[string]Agg `json:"apis"`
	Topics  map[string]Agg `json:"topics"`
}

// Aggregates returns copies of the aggregates held over [since, until)
// (zero bounds are open), oldest first, at the finest resolution held for
// each time, cut to whole parts as Parts cuts a window.
func (s *Store) Aggregates(since, until time.Time) []Second {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Second
	a := &s.agg
	a.cover(since, until, time.Second, false, func(sl *slot) {
		c := Second{Time: time.Unix(sl.unix, 0), Seconds: int(a.levels[sl.level].length),
			APIs: make(map[string]Agg, len(sl.apis)), Topics: make(map[string]Agg, len(sl.topics))}
		for k, v := range sl.apis {
			c.APIs[k] = *v
		}
		for k, v := range sl.topics {
			c.Topics[k] = *v
		}
		out = append(out, c)
	})
	return out
}

// Estimated costs: a map entry holds its key header, a pointer and a share
// of the map's buckets; each Agg is its own allocation.
const (
	aggEntryBytes = int64(unsafe.Sizeof(Agg{})) + allocOverhead + 64
	aggSlotBytes  = int64(unsafe.Sizeof(slot{})) + allocOverhead + 2*48 + 8
	aggReserve    = 4 * aggEntryBytes // room kept for OtherTopic entries
)

// slot is the aggregates of one part of time, [unix, unix+length of its
// level).
type slot struct {
	unix   int64
	level  int
	apis   map[string]*Agg
	topics map[string]*Agg
	bytes  int64
	// partial is the views' state of the part (see KeepPartials), of
	// partialBytes; partialFull when the budget stopped it growing.
	partial      Partial
	partialBytes int64
	partialFull  bool
	// dirty: the partial changed since it was last compacted; gone:
	// the slot was evicted.
	dirty, gone bool
}

// aggregates is guarded by Store.mu.
type aggregates struct {
	budget int64
	bytes  int64
	// levels hold the parts by resolution, finest first (see rollup.go).
	levels []level
	// newest is the newest second held (math.MinInt64 before the first).
	newest int64
	// dirty are the slots whose partial waits to be compacted.
	dirty    []*slot
	evicted  uint64 // seconds no longer held at any resolution, for the budget
	expired  uint64 // seconds dropped for age by the coarsest resolution
	late     uint64
	overflow uint64

	// newPartial, when set, makes each part's partial.
	newPartial func() Partial
	// counters are fed each exchange once, with the partials.
	counters []Counter
	twins    twins
	// partialSince is the first second of whole partials: KeepPartials
	// was called then.
	partialSince    int64
	partialOverflow uint64
}

func (a *aggregates) add(e *exchange.Exchange) {
	var lat int64 = -1
	if e.LatencyNS != nil {
		lat = *e.LatencyNS
	}
	if !a.forSlots(e.Time.Unix(), false, func(sl *slot) { a.addAgg(sl, e, lat) }) {
		a.late++
	}
}

// addAgg counts e in sl's sums.
func (a *aggregates) addAgg(sl *slot, e *exchange.Exchange, lat int64) {
	if g := a.entry(sl, sl.apis, e.API); g != nil {
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
		g := a.entry(sl, sl.topics, t.Name)
		if g == nil {
			a.overflow++
			g = a.other(sl)
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

// mergeAgg adds b to a.
func mergeAgg(a *Agg, b *Agg) {
	a.Requests += b.Requests
	a.Errors += b.Errors
	a.RequestBytes += b.RequestBytes
	a.ResponseBytes += b.ResponseBytes
	a.Records += b.Records
	a.RecordBytes += b.RecordBytes
	a.Responses += b.Responses
	a.LatencySumNS += b.LatencySumNS
	a.LatencyMaxNS = max(a.LatencyMaxNS, b.LatencyMaxNS)
}

// entry finds or makes m[key] in sl; nil when the budget has no room for
// a new key even after dropping every other part it may drop.
func (a *aggregates) entry(sl *slot, m map[string]*Agg, key string) *Agg {
	if g := m[key]; g != nil {
		return g
	}
	cost := aggEntryBytes + int64(len(key))
	if !a.makeRoom(sl, cost) {
		return nil
	}
	g := &Agg{}
	m[key] = g
	a.grow(sl, cost)
	return g
}

// other is sl's OtherTopic entry, made from the reserve when needed.
func (a *aggregates) other(sl *slot) *Agg {
	if g := sl.topics[OtherTopic]; g != nil {
		return g
	}
	cost := aggEntryBytes + int64(len(OtherTopic))
	// When even this does not fit, sl is the only part left and the
	// entry comes out of the reserve.
	a.makeRoom(sl, cost)
	g := &Agg{}
	sl.topics[OtherTopic] = g
	a.grow(sl, cost)
	return g
}

// grow accounts n more bytes in sl.
func (a *aggregates) grow(sl *slot, n int64) {
	sl.bytes += n
	a.levels[sl.level].bytes += n
	a.bytes += n
}
