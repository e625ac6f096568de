package store

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// Resolution is one length of the aggregates' parts and how long parts of
// that length are kept.
//
// Every exchange is counted in a part of the finest resolution (a
// second). Once a part of the next resolution is complete and settled
// (settleSeconds behind the newest exchange), it is made by merging the
// finer parts it spans (sums, partition sets and latency histograms merge
// exactly), and the finer ones stay while their Keep and the budget allow:
// a window is answered at the finest resolution held for each time. Under
// the budget, detail goes before time: the finest parts already rolled up
// go first, then the next, and only then the coarsest, oldest first.
type Resolution struct {
	// Length is the time one part covers: whole seconds, the first one
	// second, each a multiple of the one before.
	Length time.Duration
	// Keep is how long, behind the newest exchange, its parts are kept;
	// parts not yet rolled up into the next resolution are kept anyway.
	Keep time.Duration
}

// DefaultResolutions keep 1 s parts for 5 minutes, 10 s parts for an
// hour and 1 min parts for a day, as the budget allows.
var DefaultResolutions = []Resolution{
	{Length: time.Second, Keep: 5 * time.Minute},
	{Length: 10 * time.Second, Keep: time.Hour},
	{Length: time.Minute, Keep: 24 * time.Hour},
}

// settleSeconds is how far behind the newest second a part is taken as
// complete: it is then compacted and rolled up. Exchanges still come for
// it after (a broker-side copy waits twinHold for its twin; a request is
// counted at its start once its response came); those are added to every
// part that covers them, also once rolled up.
const settleSeconds = twinHold/time.Second + 3

// level is the parts of one resolution.
type level struct {
	length, keep int64 // seconds
	slots        []*slot
	bytes        int64
	// from is where the level's sums are whole: before it, parts were
	// evicted. partFrom is the same for the partials, which are also
	// missing before KeepPartials.
	from, partFrom int64
	// built is, for all levels but the finest, where rolling up has
	// reached: the finer level's time before it is merged into this
	// one's parts.
	built int64
}

func checkResolutions(rs []Resolution) error {
	if len(rs) == 0 || rs[0].Length != time.Second {
		return fmt.Errorf("store: the finest resolution must be 1s")
	}
	for i, r := range rs {
		if r.Length%time.Second != 0 || r.Keep < r.Length {
			return fmt.Errorf("store: resolution %v kept %v: whole seconds, kept at least one part", r.Length, r.Keep)
		}
		if i > 0 && (r.Length <= rs[i-1].Length || r.Length%rs[i-1].Length != 0) {
			return fmt.Errorf("store: resolution %v is not a multiple of %v", r.Length, rs[i-1].Length)
		}
	}
	return nil
}

func newLevels(rs []Resolution) []level {
	ls := make([]level, len(rs))
	for i, r := range rs {
		ls[i] = level{length: int64(r.Length / time.Second), keep: int64(r.Keep / time.Second),
			from: math.MinInt64, partFrom: math.MinInt64, built: math.MinInt64}
	}
	return ls
}

// floorTo is t rounded down to a multiple of n; ceilTo rounded up.
func floorTo(t, n int64) int64 {
	r := t % n
	if r < 0 {
		r += n
	}
	return t - r
}

func ceilTo(t, n int64) int64 {
	if t == math.MinInt64 || t == math.MaxInt64 {
		return t
	}
	f := floorTo(t, n)
	if f < t {
		f += n
	}
	return f
}

// folded reports whether sl is rolled up into the next level.
func (a *aggregates) folded(sl *slot) bool {
	k := sl.level
	return k+1 < len(a.levels) && sl.unix+a.levels[k].length <= a.levels[k+1].built
}

// find is the index of level k's slot starting at unix, and whether it
// exists.
func (a *aggregates) find(k int, unix int64) (int, bool) {
	ss := a.levels[k].slots
	n := len(ss)
	if n > 0 && ss[n-1].unix == unix {
		return n - 1, true
	}
	i := sort.Search(n, func(i int) bool { return ss[i].unix >= unix })
	return i, i < n && ss[i].unix == unix
}

// insert makes level k's slot at unix, index i, and accounts it.
func (a *aggregates) insert(k, i int, unix int64) *slot {
	sl := &slot{unix: unix, level: k, apis: make(map[string]*Agg), topics: make(map[string]*Agg)}
	lv := &a.levels[k]
	lv.slots = append(lv.slots, nil)
	copy(lv.slots[i+1:], lv.slots[i:])
	lv.slots[i] = sl
	a.grow(sl, aggSlotBytes)
	return sl
}

// forSlots calls fn with each part an exchange of second unix counts in:
// its second, and the coarser parts already rolled up over it; partial
// selects where the partials are whole rather than the sums. Parts are
// made as needed; it reports whether any counted it.
func (a *aggregates) forSlots(unix int64, partial bool, fn func(*slot)) bool {
	counted := false
	for k := range a.levels {
		lv := &a.levels[k]
		from := lv.from
		if partial {
			from = lv.partFrom
		}
		if unix < from || (k > 0 && unix >= lv.built) {
			continue
		}
		start := floorTo(unix, lv.length)
		i, ok := a.find(k, start)
		var sl *slot
		switch {
		case ok:
			sl = lv.slots[i]
		case k == 0:
			if sl = a.second(i, unix); sl == nil {
				continue
			}
		default:
			sl = a.insert(k, i, start)
			a.makeRoom(sl, 0)
		}
		fn(sl)
		counted = true
	}
	return counted
}

// second makes the finest level's slot at unix, index i; nil when it is
// older than every second held and there is no room for it. A newer
// second than any held settles, rolls up and ages the older ones.
func (a *aggregates) second(i int, unix int64) *slot {
	lv := &a.levels[0]
	if i == 0 && len(lv.slots) > 0 && a.bytes+aggSlotBytes+aggReserve > a.budget {
		// Older than all we hold, and room would be made by dropping
		// newer data: not worth it.
		return nil
	}
	sl := a.insert(0, i, unix)
	if a.newest == math.MinInt64 {
		// Rolling up starts at the part of each level holding the
		// first second.
		for k := 1; k < len(a.levels); k++ {
			a.levels[k].built = floorTo(unix, a.levels[k].length)
		}
	}
	if unix > a.newest {
		a.newest = unix
		a.tick(sl)
	} else {
		// Late traffic (a clock stepped back): the parts it changed
		// are compacted again a second later, not once the newest
		// moves on.
		a.settle(sl)
	}
	a.makeRoom(sl, 0)
	return sl
}

// settle compacts the changed parts that are settled, but keep.
func (a *aggregates) settle(keep *slot) {
	settled := a.newest + 1 - int64(settleSeconds)
	n := 0
	for _, sl := range a.dirty {
		switch {
		case sl.gone:
		case sl != keep && sl.unix+a.levels[sl.level].length <= settled:
			a.compact(sl)
		default:
			a.dirty[n] = sl
			n++
		}
	}
	clear(a.dirty[n:])
	a.dirty = a.dirty[:n]
}

// tick compacts and rolls up the parts settled by a new newest second,
// and drops those older than their Keep; keep is not dropped.
func (a *aggregates) tick(keep *slot) {
	a.settle(nil)
	settled := a.newest + 1 - int64(settleSeconds)
	for k := 1; k < len(a.levels); k++ {
		lv, fine := &a.levels[k], &a.levels[k-1]
		limit := settled
		if k > 1 {
			limit = fine.built
		}
		for lv.built+lv.length <= limit {
			// Skip the time without finer parts at once (an idle
			// agent, a clock jump).
			i, _ := a.find(k-1, lv.built)
			if i == len(fine.slots) || fine.slots[i].unix >= limit {
				lv.built = max(lv.built, floorTo(limit, lv.length))
				break
			}
			lv.built = max(lv.built, floorTo(fine.slots[i].unix, lv.length))
			if lv.built+lv.length > limit {
				break
			}
			a.fold(k, lv.built)
			lv.built += lv.length
		}
	}
	for k := range a.levels {
		lv := &a.levels[k]
		for len(lv.slots) > 0 {
			sl := lv.slots[0]
			last := k == len(a.levels)-1
			if sl == keep || sl.unix+lv.length > a.newest+1-lv.keep || (!last && !a.folded(sl)) {
				break
			}
			a.evict(k, last)
		}
	}
}

// compact compacts sl's partial.
func (a *aggregates) compact(sl *slot) {
	sl.dirty = false
	if sl.partial != nil {
		a.resize(sl, sl.partial.Compact)
	}
}

// touch marks sl's partial changed, to be compacted once settled.
func (a *aggregates) touch(sl *slot) {
	if !sl.dirty {
		sl.dirty = true
		a.dirty = append(a.dirty, sl)
	}
}

// fold makes level k's part at start from the finer level's parts in it.
// Its memory is accounted, not made room for: the caller does that once
// rolling up is done, so that no part being merged is dropped meanwhile.
func (a *aggregates) fold(k int, start int64) {
	fine := &a.levels[k-1]
	end := start + a.levels[k].length
	lo, _ := a.find(k-1, start)
	hi := lo
	for hi < len(fine.slots) && fine.slots[hi].unix < end {
		hi++
	}
	if lo == hi {
		return
	}
	i, ok := a.find(k, start)
	if ok {
		return // cannot be: parts are only made once rolled up
	}
	sl := a.insert(k, i, start)
	for _, f := range fine.slots[lo:hi] {
		for _, side := range []struct{ dst, src map[string]*Agg }{{sl.apis, f.apis}, {sl.topics, f.topics}} {
			for key, g := range side.src {
				d := side.dst[key]
				if d == nil {
					d = &Agg{}
					side.dst[key] = d
					a.grow(sl, aggEntryBytes+int64(len(key)))
				}
				mergeAgg(d, g)
			}
		}
		sl.partialFull = sl.partialFull || f.partialFull
	}
	if a.newPartial == nil || start+a.levels[k].length <= a.levels[k].partFrom {
		return
	}
	p := a.newPartial()
	if c, ok := p.(coarsener); ok {
		c.Coarsen(time.Duration(a.levels[k].length) * time.Second)
	}
	for _, f := range fine.slots[lo:hi] {
		if f.partial != nil && f.unix >= fine.partFrom {
			p.Merge(f.partial)
		}
	}
	p.Compact()
	sl.partial = p
	a.resize(sl, nil)
}

// coarsener is a Partial that keeps less detail in longer parts (the
// delays' histograms of the overview's parts, say): Coarsen is called
// with the length of a part rolled up, before the finer parts are merged
// into it.
type coarsener interface {
	Coarsen(length time.Duration)
}

// makeRoom drops parts, never keep, until need more bytes fit with the
// reserve kept; it reports whether they do.
func (a *aggregates) makeRoom(keep *slot, need int64) bool {
	for a.bytes+need+aggReserve > a.budget {
		k, ok := a.victim(keep)
		if !ok {
			return false
		}
		a.evict(k, false)
	}
	return true
}

// victim is the level whose oldest part goes first: the finest whose
// oldest part is rolled up, else the one holding the oldest time, which
// is then lost.
func (a *aggregates) victim(keep *slot) (int, bool) {
	for k := 0; k < len(a.levels)-1; k++ {
		if ss := a.levels[k].slots; len(ss) > 0 && ss[0] != keep && a.folded(ss[0]) {
			return k, true
		}
	}
	best := -1
	for k := len(a.levels) - 1; k >= 0; k-- {
		ss := a.levels[k].slots
		if len(ss) > 0 && ss[0] != keep && (best < 0 || ss[0].unix < a.levels[best].slots[0].unix) {
			best = k
		}
	}
	return best, best >= 0
}

// evict drops level k's oldest part. When it was not rolled up, its time
// is lost: every coarser level is no longer whole up to its end either.
// expired says it went for its age, not for the budget.
func (a *aggregates) evict(k int, expired bool) {
	lv := &a.levels[k]
	sl := lv.slots[0]
	lv.slots[0] = nil
	lv.slots = lv.slots[1:]
	a.bytes -= sl.bytes
	lv.bytes -= sl.bytes
	sl.gone = true
	end := sl.unix + lv.length
	lv.from, lv.partFrom = max(lv.from, end), max(lv.partFrom, end)
	if a.folded(sl) {
		return
	}
	for j := k + 1; j < len(a.levels); j++ {
		up := &a.levels[j]
		e := ceilTo(end, up.length)
		up.from, up.partFrom = max(up.from, e), max(up.partFrom, e)
	}
	if expired {
		a.expired += uint64(lv.length)
	} else {
		a.evicted += uint64(lv.length)
	}
}

// heldSeconds is the time the parts cover, each second once at the
// finest resolution held (seconds without traffic have no part and do
// not count).
func (a *aggregates) heldSeconds() int {
	n := 0
	a.cover(time.Time{}, time.Time{}, time.Second, false, func(sl *slot) { n += int(a.levels[sl.level].length) })
	return n
}

// cover calls fn with the parts that cover [since, until) (zero bounds
// are open) once each, oldest first: at each time the coarsest part no
// longer than step, or the finest held when all are longer; partial
// selects where the partials are whole rather than the sums. The window
// is cut to whole parts: it starts with the part since is in, and ends
// with the last part that ends by until (the second still being filled
// does not count when until is now; without until, the window ends with
// the newest second). Seconds without a part had no traffic. It returns
// the window the parts cover and where they start to be whole (unix ns);
// an empty window when none is whole in it.
func (a *aggregates) cover(since, until time.Time, step time.Duration, partial bool, fn func(*slot)) (from, to, whole int64) {
	if a.newest == math.MinInt64 {
		return 0, 0, 0
	}
	const ns = int64(time.Second)
	lvFrom := func(k int) int64 {
		if partial {
			return a.levels[k].partFrom
		}
		return a.levels[k].from
	}
	// covers reports whether level k holds [t, t+its length) whole.
	// The finest level holds every second from its start: those after
	// the newest had no traffic yet.
	covers := func(k int, t int64) bool {
		return t >= lvFrom(k) && (k == 0 || t+a.levels[k].length <= a.levels[k].built)
	}
	// What is held whole starts at the earliest start of a level that
	// holds anything.
	start := int64(math.MaxInt64)
	for k := range a.levels {
		f := max(lvFrom(k), a.oldest(k))
		if f < start && (k == 0 || f < a.levels[k].built) {
			start = f
		}
	}
	if start == math.MaxInt64 {
		start = a.newest + 1 // nothing whole: it would start after the newest second
	}
	whole = start * ns
	if !since.IsZero() && since.UnixNano() > start*ns {
		// The window starts with the part holding since, of the
		// finest level that has it.
		t := since.UnixNano()
		for k := range a.levels {
			p := floorTo(t, a.levels[k].length*ns) / ns
			if covers(k, p) || k == len(a.levels)-1 {
				start = max(start, p)
				break
			}
		}
	}
	stop := a.newest + 1
	if !until.IsZero() {
		// The finest level holding the time just before until: the
		// window ends with its last part that ends by until.
		t := until.UnixNano()
		for k := range a.levels {
			l := a.levels[k].length
			if covers(k, floorTo(t-1, l*ns)/ns) || k == len(a.levels)-1 {
				stop = floorTo(t, l*ns) / ns
				break
			}
		}
	}
	if start >= stop {
		return 0, 0, whole
	}
	maxLen := int64(step / time.Second)
	if step <= 0 {
		maxLen = math.MaxInt64
	}
	// Past the newest second there is nothing to read.
	for pos := start; pos < stop && pos <= a.newest; {
		// The coarsest part no longer than maxLen, else the finest.
		best := -1
		for k := range a.levels {
			l := a.levels[k].length
			if pos%l != 0 || pos+l > stop || !covers(k, pos) {
				continue
			}
			if best < 0 || l <= maxLen {
				best = k
			}
		}
		if best < 0 {
			// A coarse part reaches past the window's end, and no
			// finer one is held there: the window ends here.
			stop = pos
			break
		}
		l := a.levels[best].length
		if i, ok := a.find(best, pos); ok {
			fn(a.levels[best].slots[i])
			pos += l
			continue
		}
		// No traffic there: on to the next part held at any level
		// (none between), at this level's step.
		next := int64(math.MaxInt64)
		for k := range a.levels {
			if i, _ := a.find(k, pos); i < len(a.levels[k].slots) {
				next = min(next, a.levels[k].slots[i].unix)
			}
		}
		if next == math.MaxInt64 {
			break
		}
		pos = max(pos+l, floorTo(next, l))
	}
	return start * ns, stop * ns, whole
}

// oldest is the start of level k's oldest part (MaxInt64 when none).
func (a *aggregates) oldest(k int) int64 {
	if ss := a.levels[k].slots; len(ss) > 0 {
		return ss[0].unix
	}
	return math.MaxInt64
}
