package store

import (
	"math"
	"time"

	"kscope/internal/exchange"
)

// Partial is per-second state a view keeps in the store so that it can
// answer for a long window by merging seconds instead of reading every
// exchange (the overview: view.OverviewPart). The store feeds it each
// exchange once, bounds it with the other aggregates and evicts it with
// its second.
type Partial interface {
	// Add counts an exchange of the second.
	Add(e *exchange.Exchange)
	// Bytes estimates the memory held.
	Bytes() int64
	// Compact drops what only speeds up Add; called when a newer second
	// starts. Add must still work after.
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

type twinKey struct {
	client, server string
	corr           int32
}

type heldCopy struct {
	key     twinKey
	at      int64              // when it completed (see arrival)
	e       *exchange.Exchange // the ring's copy: never modified
	dropped bool
}

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
}

// add passes e through the rule and calls count for each exchange that
// counts now: e itself, or held copies whose time is up. A broker-side e is
// held by pointer: it must not change (it is the ring's record).
func (t *twins) add(e *exchange.Exchange, count func(*exchange.Exchange)) {
	at := t.arrival(e)
	t.newest = at
	switch e.Side {
	case "client":
		k := twinKey{e.Client.Addr, e.Server.Addr, e.CorrelationID}
		if len(t.heldKey) > 0 {
			if h := t.heldKey[k]; h != nil {
				h.dropped = true
				delete(t.heldKey, k)
				t.dropped++
			}
		}
		if t.seen != nil {
			t.seen[k] = at
		}
		t.seenQ.push(seenCopy{k, at})
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
		}
		k := twinKey{e.Client.Addr, e.Server.Addr, e.CorrelationID}
		if _, ok := t.seen[k]; ok {
			t.dropped++
			break
		}
		if t.heldKey == nil {
			t.heldKey = make(map[twinKey]*heldCopy)
		}
		h := &heldCopy{key: k, at: at, e: e}
		t.heldKey[k] = h
		t.held.push(h)
	default:
		count(e)
	}
	limit := t.newest - int64(twinHold)
	for t.seenQ.len() > 0 && t.seenQ.front().at < limit {
		s := t.seenQ.pop()
		if t.seen != nil && t.seen[s.key] == s.at {
			delete(t.seen, s.key)
		}
	}
	if t.seen != nil && t.newest-t.lastServer > int64(twinIdle) {
		t.seen = nil
	}
	t.release(limit, count)
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

// release counts the held copies that completed before limit (unix ns).
func (t *twins) release(limit int64, count func(*exchange.Exchange)) {
	for t.held.len() > 0 && t.held.front().at < limit {
		h := t.held.pop()
		if h.dropped {
			continue
		}
		delete(t.heldKey, h.key)
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
	s.agg.twins.release(now.UnixNano()-int64(twinHold), s.agg.countOnce)
}

// KeepPartials makes the store keep, from now on, a Partial per second
// made by newPartial, fed with every exchange added (each once: see
// twinHold). Seconds already held get none; calling it again does
// nothing.
func (s *Store) KeepPartials(newPartial func() Partial) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := &s.agg
	if a.newPartial != nil {
		return
	}
	a.newPartial = newPartial
	a.partialSince = math.MinInt64
	if n := len(a.seconds); n > 0 {
		a.partialSince = a.seconds[n-1].unix + 1
	}
}

// Partials calls fn, under the store's read lock, with the partials of the
// seconds held in [since, until) (by the second's start; zero bounds are
// open), oldest first, and one more made of the broker-side copies still
// held in that range (see twinHold). fn must only read them, not keep
// them, and return quickly: the writer waits meanwhile.
//
// It returns the start of the first second from which the partials are
// whole (since when they cover it all: nothing after since was evicted or
// came before KeepPartials), and false, without calling fn, when
// KeepPartials was not called.
func (s *Store) Partials(since, until time.Time, fn func([]Partial)) (time.Time, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a := &s.agg
	if a.newPartial == nil {
		return time.Time{}, false
	}
	from, to := since.Unix(), int64(0)
	if !until.IsZero() {
		to = until.Unix()
		if until.Before(time.Unix(to, 0)) {
			to-- // Unix rounds towards zero
		}
	}
	whole := since
	if a.partialSince > from || (since.IsZero() && a.partialSince != math.MinInt64) {
		whole = time.Unix(a.partialSince, 0)
	}
	var ps []Partial
	for _, sec := range a.seconds {
		if (!since.IsZero() && sec.unix < from) || (!until.IsZero() && sec.unix >= to) {
			continue
		}
		if sec.partial != nil && sec.unix >= a.partialSince {
			ps = append(ps, sec.partial)
		}
	}
	if n := a.twins.held.len(); n > 0 {
		p := a.newPartial()
		for i := range n {
			h := a.twins.held.at(i)
			u := h.e.Time.Unix()
			if h.dropped || (!since.IsZero() && u < from) || (!until.IsZero() && u >= to) {
				continue
			}
			p.Add(h.e)
		}
		ps = append(ps, p)
	}
	fn(ps)
	return whole, true
}

// addPartial counts e once (the twin rule) in the counters and in its
// second's partial, within the budget.
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
	unix := e.Time.Unix()
	sec := a.second(unix)
	if sec == nil {
		a.late++
		return
	}
	if sec.partial == nil {
		if n := len(a.seconds); n > 1 && a.seconds[n-1] == sec {
			// A newer second started: the previous one is mostly
			// done with.
			if prev := a.seconds[n-2]; prev.partial != nil {
				a.resize(prev, prev.partial.Compact)
			}
		}
		sec.partial = a.newPartial()
		a.resize(sec, nil)
	}
	if sec.partialFull {
		a.partialOverflow++
		return
	}
	sec.partial.Add(e)
	a.resize(sec, nil)
	if !a.makeRoom(sec, 0) {
		// This one second alone fills the budget: it stops counting
		// (what it missed is counted) rather than grow without bound.
		sec.partialFull = true
	}
}

// resize runs f and accounts the change in sec's partial's size.
func (a *aggregates) resize(sec *second, f func()) {
	before := sec.partialBytes
	if f != nil {
		f()
	}
	sec.partialBytes = sec.partial.Bytes()
	d := sec.partialBytes - before
	sec.bytes += d
	a.bytes += d
}
