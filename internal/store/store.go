// Package store keeps what the agent saw in bounded in-memory tables: the
// recent exchanges, each with a sequence number, and aggregates per API
// and per topic by part of time: per second, rolled up into longer parts
// as they age (see Resolution). Memory is bounded by configuration, never
// by traffic: when a table reaches its share of the budget its oldest
// data goes first (for the aggregates, their finest detail first), and
// what went is counted.
//
// A view may also ask the store to keep partial state of its own per part
// of time (KeepPartials: the overview's sums and histograms), which the
// store feeds with each exchange once, rolls up, bounds and evicts with
// the other aggregates, so that a long window is answered by merging
// parts.
//
// The store never decodes and never computes views itself: views read
// from it, the decoder writes to it. Readers hold its read lock only while
// copying or merging (they unpack exchanges after letting it go); the
// writer waits for no one else.
package store

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"kscope/internal/exchange"
)

// DefaultMemoryBytes is the budget when Config.MemoryBytes is not set.
const DefaultMemoryBytes = 256 << 20

// aggregateShare is the part of the budget (1/aggregateShare) that the
// aggregates may use by default; the exchanges get the rest.
const aggregateShare = 8

// twinsShare: the broker-side copies held for their client-side twins,
// and the client-side copies remembered for theirs, take at most this
// fraction of the exchanges' budget (1/twinsShare), counted in it.
const twinsShare = 4

// Config sizes the store.
type Config struct {
	// MemoryBytes bounds the estimated memory of all tables
	// (DefaultMemoryBytes when zero or negative).
	MemoryBytes int64
	// AggregateBytes is the part of MemoryBytes for the aggregates and
	// partials (MemoryBytes/8 when zero or negative; at most
	// MemoryBytes/2). Busy agents that want long overviews at a fine
	// resolution give it more.
	AggregateBytes int64
	// Resolutions are the lengths of the aggregates' parts, finest
	// (1s) first, and how long each is kept (DefaultResolutions when
	// nil). New panics when they are not as Resolution says.
	Resolutions []Resolution
	// SnapshotBytes is the part of MemoryBytes for cluster snapshots
	// (MemoryBytes/8 when zero or negative; at most MemoryBytes/4),
	// taken from the exchanges' part when the first snapshot is added.
	SnapshotBytes int64
}

// Record is an exchange as the store holds it: with its sequence number,
// which increases by one with each exchange added. Its JSON is the
// exchange's JSON (the `kscope analyze -o jsonl` schema) plus "seq".
//
// The exchange's slices and bodies are shared with the store and with other
// readers: never modify them.
type Record struct {
	Seq uint64 `json:"seq"`
	exchange.Exchange
}

// MarshalJSON writes the exchange's fields with "seq" first. Embedding
// alone would do the same today; this keeps it so if Exchange ever gets a
// MarshalJSON of its own, which would otherwise be promoted and drop seq.
func (r Record) MarshalJSON() ([]byte, error) {
	body, err := json.Marshal(&r.Exchange)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(body)+32)
	out = append(out, `{"seq":`...)
	out = appendUint(out, r.Seq)
	if len(body) > 2 {
		out = append(out, ',')
	}
	return append(out, body[1:]...), nil
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (r *Record) UnmarshalJSON(b []byte) error {
	var seq struct {
		Seq uint64 `json:"seq"`
	}
	if err := json.Unmarshal(b, &seq); err != nil {
		return err
	}
	var e exchange.Exchange
	if err := json.Unmarshal(b, &e); err != nil {
		return err
	}
	if e.LatencyNS != nil {
		d := time.Duration(*e.LatencyNS)
		e.Latency = &d
	}
	r.Seq, r.Exchange = seq.Seq, e
	return nil
}

func appendUint(b []byte, v uint64) []byte {
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}

// Query selects records. Zero fields select everything.
type Query struct {
	Filter exchange.Filter
	// Since and Until bound the exchange time (Since inclusive, Until
	// exclusive).
	Since, Until time.Time
	// Limit caps the number of records returned. With AfterSeq zero the
	// newest Limit matches are kept; with AfterSeq set, the oldest Limit
	// matches after it, so that a reader can page forward without a gap.
	Limit int
	// AfterSeq keeps records whose sequence number is above it.
	AfterSeq uint64
}

// Stats tells what the store holds and what it dropped.
type Stats struct {
	BudgetBytes int64 `json:"budget_bytes"`
	// Bytes is the estimated memory of all tables, the exchanges counted
	// with what reading them takes (readSize); it stays under
	// BudgetBytes.
	Bytes int64 `json:"bytes"`

	Exchanges      int    `json:"exchanges"`
	ExchangeBytes  int64  `json:"exchange_bytes"`
	ExchangeBudget int64  `json:"exchange_budget_bytes"`
	Added          uint64 `json:"added"`
	// Evicted counts exchanges dropped to stay in budget, oldest first
	// (or at once, for one exchange larger than the whole table).
	Evicted      uint64    `json:"evicted"`
	EvictedBytes int64     `json:"evicted_bytes"`
	FirstSeq     uint64    `json:"first_seq,omitempty"`
	LastSeq      uint64    `json:"last_seq,omitempty"`
	Oldest       time.Time `json:"oldest,omitzero"`
	// Unreadable counts records a reader found it could not unpack, left
	// out of the answer. Zero unless kscope has a bug.
	Unreadable uint64 `json:"unreadable,omitempty"`
	// FirstSeen is the time of the oldest exchange ever added (evicted
	// or not): the store knows nothing of the time before it.
	FirstSeen time.Time `json:"first_seen,omitzero"`
	// AddedByAPI counts exchanges added per API name, since start.
	AddedByAPI map[string]uint64 `json:"added_by_api,omitempty"`

	// Seconds is the time the aggregates cover, at any resolution
	// (seconds without traffic do not count).
	Seconds         int   `json:"aggregate_seconds"`
	AggregateBytes  int64 `json:"aggregate_bytes"`
	AggregateBudget int64 `json:"aggregate_budget_bytes"`
	// Resolutions tell what each resolution holds, finest first.
	Resolutions []ResolutionStats `json:"aggregate_resolutions"`
	// SecondsEvicted counts seconds of aggregates dropped at every
	// resolution to stay in budget (parts dropped while a coarser one
	// holds their time do not count); SecondsExpired those the coarsest
	// resolution dropped for age. Late counts exchanges older than
	// every part held, not aggregated; Overflow counts topics
	// aggregated under OtherTopic because one part held too many.
	SecondsEvicted uint64 `json:"aggregate_seconds_evicted"`
	SecondsExpired uint64 `json:"aggregate_seconds_expired"`
	Late           uint64 `json:"aggregate_late"`
	Overflow       uint64 `json:"aggregate_overflow"`
	// PartialOverflow counts exchanges left out of a part's partial
	// (the overview's state) because that part alone reached the
	// aggregates' budget; TwinsDropped counts broker-side copies of
	// exchanges also seen from the client, counted once.
	PartialOverflow uint64 `json:"partial_overflow"`
	TwinsDropped    uint64 `json:"twins_dropped"`
	// TwinsEarly counts copies let go before their hold ended, the twins'
	// share of the budget being full: a held broker-side copy counted
	// early, a client-side one forgotten early. Their twin, if it comes
	// later, counts twice. TwinsBytes is what the twins hold now.
	TwinsEarly uint64 `json:"twins_early"`
	TwinsBytes int64  `json:"twins_bytes"`

	// Snapshots counts the cluster snapshots held, SnapshotBytes their
	// estimated memory, SnapshotBudget their part of the budget (0 until
	// the first), SnapshotsEvicted those dropped to stay in it.
	Snapshots        int    `json:"snapshots"`
	SnapshotBytes    int64  `json:"snapshot_bytes"`
	SnapshotBudget   int64  `json:"snapshot_budget_bytes"`
	SnapshotsEvicted uint64 `json:"snapshots_evicted"`
}

// ResolutionStats is what the aggregates hold at one resolution.
type ResolutionStats struct {
	Seconds int   `json:"seconds"` // the length of a part
	Parts   int   `json:"parts"`
	Bytes   int64 `json:"bytes"`
	// From is the start of the oldest part held.
	From time.Time `json:"from,omitzero"`
}

// Store holds the tables. Its methods may be called from any goroutine.
type Store struct {
	aggregateBudget int64
	snapshotBudget  int64

	// mu guards everything below.
	mu sync.RWMutex
	// exchangeBudget is what is left for the exchanges: it shrinks by
	// the snapshots' part when the first snapshot comes.
	exchangeBudget int64
	// ring holds the records oldest first; seqs increase along it.
	ring        ring
	ringBytes   int64
	seq         uint64
	added       uint64
	evicted     uint64
	evictedSize int64
	byAPI       map[string]uint64
	// firstSeen is the time of the oldest exchange ever added, also
	// once evicted: before it nothing was watched.
	firstSeen time.Time
	// lastSeen is the time of the newest exchange ever added: a read
	// until after it, and since firstSeen or before, takes every
	// exchange's time as it is, without reading it.
	lastSeen time.Time
	// untimed: an exchange without a time was added (firstSeen does
	// not count it).
	untimed bool
	// notify is closed, and cleared, when a record is added; created
	// only when someone waits.
	notify chan struct{}
	agg    aggregates
	snaps  snapshots
	packer exchange.Packer
	// adding is the exchange Add is adding.
	adding exchange.Exchange
	// unreadable counts records that did not unpack (none ever should);
	// readers add to it under the read lock.
	unreadable atomic.Uint64
}

// New returns an empty store.
func New(cfg Config) *Store {
	budget := cfg.MemoryBytes
	if budget <= 0 {
		budget = DefaultMemoryBytes
	}
	s := &Store{
		aggregateBudget: budget / aggregateShare,
		byAPI:           make(map[string]uint64),
	}
	if cfg.AggregateBytes > 0 {
		s.aggregateBudget = min(cfg.AggregateBytes, budget/2)
	}
	s.snapshotBudget = budget / snapshotShare
	if cfg.SnapshotBytes > 0 {
		s.snapshotBudget = min(cfg.SnapshotBytes, budget/4)
	}
	s.exchangeBudget = budget - s.aggregateBudget
	rs := cfg.Resolutions
	if rs == nil {
		rs = DefaultResolutions
	}
	if err := checkResolutions(rs); err != nil {
		panic(err)
	}
	s.agg = aggregates{budget: s.aggregateBudget, levels: newLevels(rs), newest: math.MinInt64, partialSince: math.MinInt64}
	s.agg.twins.budget = s.exchangeBudget / twinsShare
	return s
}

// Add keeps e, evicting the oldest exchanges when the budget requires, and
// counts it in the aggregates. It returns e's sequence number.
//
// The store keeps e packed (exchange.Packed): its summary in bytes the
// collector does not scan, its Detail and bodies by reference.
func (s *Store) Add(e exchange.Exchange) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	s.added++
	s.byAPI[e.API]++
	// An exchange without a time bounds nothing (and would read as no
	// first time at all).
	if !e.Time.IsZero() && (s.firstSeen.IsZero() || e.Time.Before(s.firstSeen)) {
		s.firstSeen = e.Time
	}
	if e.Time.After(s.lastSeen) {
		s.lastSeen = e.Time
	}
	s.untimed = s.untimed || e.Time.IsZero()
	// The aggregates and partials see e in the store's own place for it:
	// behind their interfaces e would escape, an allocation for each.
	// None keeps the pointer.
	s.adding = e
	defer func() { s.adding = exchange.Exchange{} }()
	x := &s.adding
	s.agg.add(x)
	if s.agg.newPartial != nil || len(s.agg.counters) > 0 {
		s.agg.addPartial(x)
	}
	p, packed := s.packer.Pack(x)
	size := packedSize(x, packed)
	if size > s.exchangeBudget || size > math.MaxUint32 {
		// Keeping it would mean dropping everything else and still
		// being over budget.
		s.evicted++
		s.evictedSize += size
		s.packer.Discard(p)
	} else {
		// The new one alone fits: trimming stops before it.
		s.ring.pushBack(entry{seq: s.seq, size: uint32(size), key: x.APIKey, txn: exchange.IsTransactional(x), p: p})
		s.ringBytes += size
		s.trimExchanges()
	}
	if s.notify != nil {
		close(s.notify)
		s.notify = nil
	}
	return s.seq
}

// trimExchanges drops the oldest exchanges until the ring fits its
// budget; s.mu is held.
func (s *Store) trimExchanges() {
	trimmed := false
	for s.ringBytes+s.agg.twins.bytes > s.exchangeBudget && s.ring.len() > 0 {
		old := s.ring.popFront()
		s.ringBytes -= int64(old.size)
		s.evicted++
		s.evictedSize += int64(old.size)
		trimmed = true
	}
	if trimmed {
		s.release()
	}
}

// release lets the packer free what the exchanges evicted held; s.mu is
// held.
func (s *Store) release() {
	if s.ring.len() == 0 {
		s.packer.Release(exchange.Packed{}, true)
		return
	}
	s.packer.Release(s.ring.at(0).p, false)
}

// LastSeq is the sequence number of the newest exchange added (0 before
// the first).
func (s *Store) LastSeq() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.seq
}

// Wait blocks until an exchange newer than seq has been added, or ctx
// ends (then it returns ctx's error).
func (s *Store) Wait(ctx context.Context, seq uint64) error {
	s.mu.Lock()
	if s.seq > seq {
		s.mu.Unlock()
		return nil
	}
	if s.notify == nil {
		s.notify = make(chan struct{})
	}
	ch := s.notify
	s.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Query returns the held records that match q, oldest first, and the
// sequence number through which q was evaluated: pass it as the next
// AfterSeq to continue without missing or repeating a record.
func (s *Store) Query(q Query) ([]Record, uint64) {
	newest := q.AfterSeq == 0 && q.Limit > 0
	pk, held, seq := s.held(&q)
	u := &exchange.Unpacking{}
	var out []Record
	var r Record
	if newest {
		// The newest Limit matches: walk back from the newest, then
		// turn them oldest first.
		for i := len(held) - 1; i >= 0 && len(out) < q.Limit; i-- {
			if s.unpack(&pk, &held[i], &q, &r, u) {
				out = append(out, r)
			}
		}
		slices.Reverse(out)
		return out, seq
	}
	for i := range held {
		if !s.unpack(&pk, &held[i], &q, &r, u) {
			continue
		}
		out = append(out, r)
		if q.Limit > 0 && len(out) == q.Limit {
			return out, r.Seq
		}
	}
	return out, max(seq, q.AfterSeq)
}

// held is what a reader unpacks, taken under the read lock and unpacked
// after it, so that Add never waits for a reader to unpack: a copy of the
// packer, and the records after q.AfterSeq whose API and time q matches;
// and the newest sequence number.
func (s *Store) held(q *Query) (exchange.Packer, []entry, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := s.ring.len()
	start := sort.Search(n, func(i int) bool { return s.ring.at(i).seq > q.AfterSeq })
	var held []entry
	apis := q.Filter.APISet()
	// Each time held is between firstSeen and lastSeen: a bound beyond
	// them passes every exchange (the lag metrics read until now, from
	// the start).
	timed := !q.Since.IsZero() && (s.untimed || q.Since.After(s.firstSeen)) || !q.Until.IsZero() && !q.Until.After(s.lastSeen)
	for i := start; i < n; i++ {
		en := s.ring.at(i)
		if !apis.Has(en.key) || q.Filter.Transactional && !en.txn {
			continue
		}
		if timed {
			_, t, ok := s.packer.Peek(en.p)
			if ok && (!q.Since.IsZero() && t.Before(q.Since) || !q.Until.IsZero() && !t.Before(q.Until)) {
				continue
			}
		}
		held = append(held, *en)
	}
	return s.packer.Snapshot(), held, s.seq
}

// unpack sets *r to the record en and says whether q matches it (Limit and
// AfterSeq aside).
func (s *Store) unpack(pk *exchange.Packer, en *entry, q *Query, r *Record, u *exchange.Unpacking) bool {
	r.Seq = en.seq
	if err := pk.Unpack(en.p, &r.Exchange, u); err != nil {
		// Packed by this process, it always unpacks (TestPackEveryField,
		// FuzzUnpack); were it not so, it is counted, not shown wrong.
		s.unreadable.Add(1)
		return false
	}
	return q.Filter.Match(&r.Exchange)
}

// Exchanges is every exchange q matches (its Limit and AfterSeq are not
// used), oldest first: what the views read. They share their memory
// (exchange.Unpacking).
func (s *Store) Exchanges(q Query) []exchange.Exchange {
	q.AfterSeq, q.Limit = 0, 0
	pk, held, _ := s.held(&q)
	// held is what the API and time filters leave, the views' filters
	// (Filter.APIs): a slice of the right size, or, with other filters,
	// of what they can match at most. Grown by append instead, it was
	// copied over and over, and took 2.8 times the memory of the
	// exchanges read (BenchmarkQuery/exchanges-of-apis).
	out := make([]exchange.Exchange, 0, len(held))
	u := &exchange.Unpacking{}
	var r Record
	for i := range held {
		if s.unpack(&pk, &held[i], &q, &r, u) {
			out = append(out, r.Exchange)
		}
	}
	return out
}

// Stats returns what the store holds and what it dropped.
func (s *Store) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := Stats{
		BudgetBytes:     s.exchangeBudget + s.aggregateBudget + s.snaps.budget,
		Bytes:           s.ringBytes + s.agg.twins.bytes + s.agg.bytes + s.snaps.bytes,
		Exchanges:       s.ring.len(),
		ExchangeBytes:   s.ringBytes,
		ExchangeBudget:  s.exchangeBudget,
		Added:           s.added,
		Evicted:         s.evicted,
		EvictedBytes:    s.evictedSize,
		LastSeq:         s.seq,
		Unreadable:      s.unreadable.Load(),
		FirstSeen:       s.firstSeen,
		AddedByAPI:      make(map[string]uint64, len(s.byAPI)),
		Seconds:         s.agg.heldSeconds(),
		AggregateBytes:  s.agg.bytes,
		AggregateBudget: s.aggregateBudget,
		SecondsEvicted:  s.agg.evicted,
		SecondsExpired:  s.agg.expired,
		Late:            s.agg.late,
		Overflow:        s.agg.overflow,
		PartialOverflow: s.agg.partialOverflow,
		TwinsDropped:    s.agg.twins.dropped,
		TwinsEarly:      s.agg.twins.early,
		TwinsBytes:      s.agg.twins.bytes,

		Snapshots:        len(s.snaps.list),
		SnapshotBytes:    s.snaps.bytes,
		SnapshotBudget:   s.snaps.budget,
		SnapshotsEvicted: s.snaps.evicted,
	}
	for k, v := range s.byAPI {
		st.AddedByAPI[k] = v
	}
	for k := range s.agg.levels {
		lv := &s.agg.levels[k]
		r := ResolutionStats{Seconds: int(lv.length), Parts: len(lv.slots), Bytes: lv.bytes}
		if len(lv.slots) > 0 {
			r.From = time.Unix(lv.slots[0].unix, 0)
		}
		st.Resolutions = append(st.Resolutions, r)
	}
	if s.ring.len() > 0 {
		first := s.ring.at(0)
		_, t, _ := s.packer.Peek(first.p)
		st.FirstSeq, st.Oldest = first.seq, t
	}
	return st
}

// entry is a record as the ring holds it.
type entry struct {
	seq uint64
	// size is what the exchange counts in the budget (packedSize);
	// Add keeps no exchange larger than a uint32 holds.
	size uint32
	// key and txn let a reader pass over the exchanges of other APIs,
	// and those that name no transactional id, without unpacking them:
	// the transactions metrics read the whole store at every scrape,
	// and would otherwise unpack every Produce.
	key int16
	txn bool
	p   exchange.Packed
}

// ring is a growable FIFO of entries.
type ring struct {
	buf  []entry
	head int
	n    int
}

func (r *ring) len() int { return r.n }

func (r *ring) at(i int) *entry { return &r.buf[(r.head+i)%len(r.buf)] }

func (r *ring) pushBack(e entry) {
	if r.n == len(r.buf) {
		nb := make([]entry, max(64, 2*len(r.buf)))
		for i := range r.n {
			nb[i] = *r.at(i)
		}
		r.buf, r.head = nb, 0
	}
	r.buf[(r.head+r.n)%len(r.buf)] = e
	r.n++
}

func (r *ring) popFront() entry {
	e := r.buf[r.head]
	r.buf[r.head] = entry{}
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	return e
}
