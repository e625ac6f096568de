package store

import (
	"hash/maphash"
	"math"
	"time"
	"unsafe"

	"kscope/internal/exchange"
)

// Partial is state a view keeps in the store so that it can answer for a
// long window by merging parts of it instead of reading every exchange
// (the overview: view.OverviewPart). The store keeps one per part of
// time (see Resolution), feeds the finest with each exchange once, makes
// the coarser ones by merging finer ones, bounds them with the other
// aggregates and evicts them with their part.
type Partial interface {
	// Add counts an exchange of the part.
	Add(e *exchange.Exchange)
	// Merge adds what p counted; p is only read.
	Merge(p Partial)
	// Bytes estimates the memory held.
	Bytes() int64
	// Compact makes the partial as small as it can be: called once its
	// part of time is settled. Add and Merge must still work after (an
	// exchange may still come late).
	Compact()
}

// twinHold is how long, in exchange time, a broker-side copy of an exchange
// is held before it counts in the partials, waiting for its client-side
// twin: when both ends are traced, the client's copy is the one kept (as
// view.Once does), and the twins arrive within milliseconds of each other.
// A twin later than this counts twice; a client-side copy is remembered
// as long, for a broker-side copy that comes after it. Exchange time here
// is when an exchange completed (its request's start plus its latency):
// a long-poll Fetch completes seconds after it started, and its twins
// arrive together then.
const twinHold = 2 * time.Second

// twinIdle is how long without broker-side copies before the client-side
// ones are no longer indexed.
const twinIdle = time.Minute

// twinKey names an exchange the same in both its copies: its
// connection's two endpoints, hashed, and its correlation id. Without a
// string in it, the queue of remembered copies is memory the collector
// does not scan. Two connections whose endpoints hash alike (1 in 2^64)
// and that use the same correlation id within twinHold would be taken for
// twins.
type twinKey struct {
	conn uint64
	corr int32
}

var twinSeed = maphash.MakeSeed()

func twinKeyOf(e *exchange.Exchange) twinKey {
	var h maphash.Hash
	h.SetSeed(twinSeed)
	h.WriteString(e.Client.Addr)
	h.WriteByte(0)
	h.WriteString(e.Server.Addr)
	return twinKey{h.Sum64(), e.CorrelationID}
}

type heldCopy struct {
	key     twinKey
	at      int64              // when it completed (see arrival)
	e       *exchange.Exchange // the ring's record without its bodies
	size    int64              // its estimated memory
	dropped bool
}

// Estimated memory of a remembered client-side copy: its queue slot, and
// its index entry (key, time and the map's own overhead) while indexed.
const (
	seenQBytes   = int64(unsafe.Sizeof(seenCopy{}))
	seenMapBytes = int64(unsafe.Sizeof(twinKey{})) + 8 + 48
	// heldSlotBytes is a dropped held copy: its struct and queue slot.
	heldSlotBytes = int64(unsafe.Sizeof(heldCopy{})) + 8 + allocOverhead
)

type seenCopy struct {
	key twinKey
	at  int64
}

// twins applies the one-copy rule before the partials; guarded by
// Store.mu.
type twins struct {
	newest int64 // newest exchange time seen, unix ns
	// seenQ holds the client-side copies of the last twinHold in order of
	// arrival. seen indexes them by key, only while broker-side copies
	// come (in the last twinIdle): an agent that traces clients only
	// pays for a queue, not a map.
	seenQ      fifo[seenCopy]
	seen       map[twinKey]int64
	lastServer int64
	// held are broker-side copies waiting for twinHold, oldest first.
	held    fifo[*heldCopy]
	heldKey map[twinKey]*heldCopy
	dropped uint64
	// counted are the keys of held copies counted before their time, for
	// twinHold: their client-side twin, if it comes, is the one dropped.
	// A key costs a tenth of a held copy.
	countedQ fifo[seenCopy]
	counted  map[twinKey]int64
	// bytes estimates what the held copies, the remembered client copies
	// and the counted keys cost; budget bounds it (0: unbounded). Past it
	// the oldest go before their time (early counts them): a held copy
	// counts now, a remembered copy or key is forgotten, and a twin that
	// then comes later counts twice.
	bytes, budget int64
	early         uint64
}

// add passes e through the rule and calls count for each exchange that
// counts now: e itself, or held copies whose time is up. A broker-side e is
// held as a copy without its bodies, sharing e's summary: e must not
// change (it is the ring's record).
func (t *twins) add(e *exchange.Exchange, count func(*exchange.Exchange)) {
	at := t.arrival(e)
	t.newest = at
	switch e.Side {
	case "client":
		k := twinKeyOf(e)
		if _, ok := t.counted[k]; ok {
			// Its broker-side copy counted already, early.
			delete(t.counted, k)
			t.bytes -= seenMapBytes
			t.dropped++
			break
		}
		if len(t.heldKey) > 0 {
			if h := t.heldKey[k]; h != nil {
				// Only its place in the queue is left.
				h.dropped, h.e = true, nil
				t.bytes -= h.size - heldSlotBytes
				h.size = heldSlotBytes
				delete(t.heldKey, k)
				t.dropped++
			}
		}
		if t.seen != nil {
			if _, ok := t.seen[k]; !ok {
				t.bytes += seenMapBytes
			}
			t.seen[k] = at
		}
		t.seenQ.push(seenCopy{k, at})
		t.bytes += seenQBytes
		count(e)
	case "server":
		t.lastServer = at
		if t.seen == nil {
			// Broker-side copies (again): index the client-side
			// copies still remembered.
			t.seen = make(map[twinKey]int64, t.seenQ.len())
			for i := range t.seenQ.len() {
				s := t.seenQ.at(i)
				t.seen[s.key] = s.at
			}
			t.bytes += int64(len(t.seen)) * seenMapBytes
		}
		k := twinKeyOf(e)
		if _, ok := t.seen[k]; ok {
			t.dropped++
			break
		}
		if t.heldKey == nil {
			t.heldKey = make(map[twinKey]*heldCopy)
		}
		// The held copy only counts: it keeps the summary, not the
		// bodies, so that a record the ring evicts does not stay
		// behind it, bodies and all.
		c := *e
		c.Request, c.Response = exchange.Body{}, exchange.Body{}
		h := &heldCopy{key: k, at: at, e: &c, size: structSize(&c) + seenMapBytes}
		t.heldKey[k] = h
		t.held.push(h)
		t.bytes += h.size
	default:
		count(e)
	}
	if t.seen != nil && t.newest-t.lastServer > int64(twinIdle) {
		t.bytes -= int64(len(t.seen)) * seenMapBytes
		t.seen = nil
	}
	// Past the budget, held copies go first (a key of theirs is a tenth
	// of their size), then remembered copies and keys.
	limit := t.newest - int64(twinHold)
	t.release(limit, count)
	t.expire(limit)
}

// expire forgets the client-side copies and the counted keys older than
// limit (unix ns), and the oldest ones past the budget.
func (t *twins) expire(limit int64) {
	for t.seenQ.len() > 0 && (t.seenQ.front().at < limit || t.over()) {
		if t.seenQ.front().at >= limit {
			t.early++
		}
		t.forgetSeen()
	}
	for t.countedQ.len() > 0 && (t.countedQ.front().at < limit || t.over()) {
		c := t.countedQ.pop()
		t.bytes -= seenQBytes
		if at, ok := t.counted[c.key]; ok && at == c.at {
			delete(t.counted, c.key)
			t.bytes -= seenMapBytes
		}
	}
}

// over says the twins' memory is past their budget.
func (t *twins) over() bool { return t.budget > 0 && t.bytes > t.budget }

// forgetSeen forgets the oldest remembered client-side copy.
func (t *twins) forgetSeen() {
	s := t.seenQ.pop()
	t.bytes -= seenQBytes
	if t.seen != nil && t.seen[s.key] == s.at {
		delete(t.seen, s.key)
		t.bytes -= seenMapBytes
	}
}

// arrival is when e completed, in unix ns: its request's start plus its
// latency. Without a response (acks=0, a timeout, a closed connection) it
// is reported when the decoder gives up on it, at no time of its own: it
// arrives now, no earlier than anything before it.
func (t *twins) arrival(e *exchange.Exchange) int64 {
	at := e.Time.UnixNano()
	switch {
	case e.Latency != nil:
		at += int64(*e.Latency)
	case e.LatencyNS != nil:
		at += *e.LatencyNS
	}
	return max(at, t.newest)
}

// release counts the held copies that completed before limit (unix ns),
// and the oldest ones past the budget.
func (t *twins) release(limit int64, count func(*exchange.Exchange)) {
	for t.held.len() > 0 && (t.held.front().at < limit || t.over()) {
		h := t.held.pop()
		t.bytes -= h.size
		if h.dropped {
			continue
		}
		delete(t.heldKey, h.key)
		if h.at >= limit {
			// Counted before its time: its client-side twin, should
			// it come, is dropped instead.
			t.early++
			if t.counted == nil {
				t.counted = make(map[twinKey]int64)
			}
			t.counted[h.key] = h.at
			t.countedQ.push(seenCopy{h.key, h.at})
			t.bytes += seenQBytes + seenMapBytes
		}
		count(h.e)
	}
}

// fifo is a growable queue.
type fifo[T any] struct {
	buf  []T
	head int
	n    int
}

func (q *fifo[T]) len() int   { return q.n }
func (q *fifo[T]) front() T   { return q.buf[q.head] }
func (q *fifo[T]) at(i int) T { return q.buf[(q.head+i)%len(q.buf)] }

func (q *fifo[T]) push(v T) {
	if q.n == len(q.buf) {
		nb := make([]T, max(64, 2*len(q.buf)))
		for i := range q.n {
			nb[i] = q.at(i)
		}
		q.buf, q.head = nb, 0
	}
	q.buf[(q.head+q.n)%len(q.buf)] = v
	q.n++
}

func (q *fifo[T]) pop() T {
	var zero T
	v := q.buf[q.head]
	q.buf[q.head] = zero
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	return v
}

// Counter counts exchanges, each once, as the store adds them: traffic
// totals since start.
type Counter interface {
	Add(e *exchange.Exchange)
}

// Count makes the store feed c, from now on, with every exchange added,
// each once (see twinHold), under the store's lock: Add must return
// quickly and not call the store.
func (s *Store) Count(c Counter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.agg.counters = append(s.agg.counters, c)
}

// Flush counts the broker-side copies held longer than twinHold before
// now, whose client side never came: without it they would wait for newer
// traffic. The agent calls it every second.
func (s *Store) Flush(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	limit := now.UnixNano() - int64(twinHold)
	s.agg.twins.release(limit, s.agg.countOnce)
	s.agg.twins.expire(limit)
}

// KeepPartials makes the store keep, from now on, a Partial per part of
// time made by newPartial, fed with every exchange added (each once: see
// twinHold). Time already held gets none; calling it again does nothing.
func (s *Store) KeepPartials(newPartial func() Partial) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := &s.agg
	if a.newPartial != nil {
		return
	}
	a.newPartial = newPartial
	a.partialSince = math.MinInt64
	if a.newest != math.MinInt64 {
		a.partialSince = a.newest + 1
	}
	for k := range a.levels {
		lv := &a.levels[k]
		lv.partFrom = max(lv.from, ceilTo(a.partialSince, lv.length))
	}
}

// Part is a Partial the store holds: what was counted from Start for
// Length.
type Part struct {
	Start   time.Time
	Length  time.Duration
	Partial Partial
}

// Cover is the parts that answer for a window.
type Cover struct {
	// From and To are the window the parts cover whole: the one asked
	// for, cut to whole parts (it starts with the part holding its
	// start, and ends with the last part that ends by its end, so that
	// the second still being filled is left out) and to the time held.
	From, To time.Time
	// Whole is where the parts start to be whole: before it they were
	// evicted, or not kept yet. A window that starts earlier starts
	// there.
	Whole time.Time
	// Resolution is the longest Length of the parts (zero without any).
	Resolution time.Duration
	// Parts are in time order and do not overlap, but for the
	// broker-side copies still held for their twins (see twinHold):
	// those come as parts of their own second, to be added to it.
	Parts []Part
}

// Parts calls fn, under the store's read lock, with the parts that cover
// [since, until) (zero bounds are open): at each time the coarsest part
// held no longer than step, or the finest held when all are longer; any
// length when step is zero (the fewest parts, for one answer over the
// window). A chart of points step apart asks for its step. fn must only
// read the parts, not keep them, and return quickly: the writer waits
// meanwhile.
//
// It returns false, without calling fn, when KeepPartials was not called.
func (s *Store) Parts(since, until time.Time, step time.Duration, fn func(Cover)) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a := &s.agg
	if a.newPartial == nil {
		return false
	}
	var c Cover
	from, to, whole := a.cover(since, until, step, true, func(sl *slot) {
		if sl.partial == nil {
			return
		}
		l := time.Duration(a.levels[sl.level].length) * time.Second
		c.Parts = append(c.Parts, Part{Start: time.Unix(sl.unix, 0), Length: l, Partial: sl.partial})
		c.Resolution = max(c.Resolution, l)
	})
	if to > from {
		c.From, c.To = time.Unix(0, from), time.Unix(0, to)
	}
	if whole != 0 {
		c.Whole = time.Unix(0, whole)
	}
	if n := a.twins.held.len(); n > 0 && to > from {
		held := map[int64]Partial{}
		for i := range n {
			h := a.twins.held.at(i)
			if h.dropped {
				continue
			}
			u := h.e.Time.Unix()
			if u*int64(time.Second) < from || u*int64(time.Second) >= to {
				continue
			}
			p := held[u]
			if p == nil {
				p = a.newPartial()
				held[u] = p
				c.Parts = append(c.Parts, Part{Start: time.Unix(u, 0), Length: time.Second, Partial: p})
				c.Resolution = max(c.Resolution, time.Second)
			}
			p.Add(h.e)
		}
	}
	fn(c)
	return true
}

// addPartial counts e once (the twin rule) in the counters and in the
// partials of its parts, within the budget.
func (a *aggregates) addPartial(e *exchange.Exchange) {
	a.twins.add(e, a.countOnce)
}

func (a *aggregates) countOnce(e *exchange.Exchange) {
	for _, c := range a.counters {
		c.Add(e)
	}
	if a.newPartial != nil {
		a.countPartial(e)
	}
}

func (a *aggregates) countPartial(e *exchange.Exchange) {
	if !a.forSlots(e.Time.Unix(), true, func(sl *slot) { a.partialAdd(sl, e) }) {
		a.late++
	}
}

// partialAdd counts e in sl's partial, made when needed.
func (a *aggregates) partialAdd(sl *slot, e *exchange.Exchange) {
	if sl.partial == nil {
		sl.partial = a.newPartial()
		a.resize(sl, nil)
	}
	if sl.partialFull {
		a.partialOverflow++
		return
	}
	sl.partial.Add(e)
	a.touch(sl)
	a.resize(sl, nil)
	if !a.makeRoom(sl, 0) {
		// This one part alone fills the budget: it stops counting
		// (what it missed is counted) rather than grow without bound.
		sl.partialFull = true
	}
}

// resize runs f and accounts the change in sl's partial's size.
func (a *aggregates) resize(sl *slot, f func()) {
	before := sl.partialBytes
	if f != nil {
		f()
	}
	sl.partialBytes = sl.partial.Bytes()
	a.grow(sl, sl.partialBytes-before)
}
