package store

import (
	"cmp"
	"encoding/binary"
	"math"
	"slices"
	"time"
	"unsafe"

	"kscope/internal/inspect"
)

// The lag series is what a chart of consumer lag over time needs of each
// poll (inspect.Snapshot.Lags: per group and partition, the offset lag,
// Append Lag and time lag), kept beside the full snapshots in their part
// of the budget. A full snapshot of a large cluster is a megabyte or more;
// its lags are a few tens of kilobytes here: group and topic names are
// interned, the rows' keys are shared by the polls that have the same
// ones (most do), and the values are varints (an offset lag, and each
// time to the millisecond when it is one, exact in any case).
//
// As they age, polls are rolled up like the overview's parts: every poll
// is kept for lagFineKeep, and each minute once complete is also one
// point at the time of its last poll, each lag in it (a group's offset
// lag sum, its worst Append Lag and time lag; each partition's) the worst
// of the minute's polls, so that a peak between two points still shows.
// Minutes are kept for lagMinuteKeep. Under the budget the polls already
// rolled up go first (the finest), then the oldest minutes.
const (
	lagFineKeep   = 5 * time.Minute
	lagMinute     = 60 // seconds
	lagMinuteKeep = 24 * time.Hour
)

// LagPoll is a point of the lag series: one poll, or a minute's polls
// rolled up.
type LagPoll struct {
	Time time.Time
	// Polls is how many polls it stands for; Seconds is 0 for one poll,
	// 60 for a minute's rolled up (its lags the worst of the minute's,
	// at its last poll's time).
	Polls   int
	Seconds int
	// Groups are in no particular order; a group's Partitions are set
	// when asked for, in (topic, partition) order.
	Groups []inspect.GroupLag
}

// LagSeries returns the points of the lag series in [since, until) (zero
// bounds are open), oldest first: each poll where it is held, minutes
// before. Only the groups named are returned (every group for nil), with
// their partitions when partitions is set.
func (s *Store) LagSeries(since, until time.Time, groups []string, partitions bool) []LagPoll {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ls := &s.snaps.series
	var want map[uint32]bool
	if groups != nil {
		want = make(map[uint32]bool, len(groups))
		for _, g := range groups {
			if id, ok := ls.names.ids[g]; ok {
				want[id] = true
			}
		}
	}
	in := func(t time.Time) bool {
		return (since.IsZero() || !t.Before(since)) && (until.IsZero() || t.Before(until))
	}
	var out []LagPoll
	fineFrom := int64(math.MaxInt64)
	if len(ls.fine) > 0 {
		fineFrom = minuteOf(ls.fine[0].at)
	}
	for _, p := range ls.minutes {
		if minuteOf(p.at) < fineFrom && in(p.at) {
			out = append(out, ls.read(p, lagMinute, want, partitions))
		}
	}
	for _, p := range ls.fine {
		if in(p.at) {
			out = append(out, ls.read(p, 0, want, partitions))
		}
	}
	return out
}

// LagSeriesStats tells what the lag series holds: its polls, its
// minutes, its estimated memory (counted in Stats' SnapshotBytes) and the
// time of its oldest point.
func (s *Store) LagSeriesStats() (polls, minutes int, bytes int64, oldest time.Time) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ls := &s.snaps.series
	if len(ls.minutes) > 0 {
		oldest = ls.minutes[0].at
	}
	if len(ls.fine) > 0 && (oldest.IsZero() || ls.fine[0].at.Before(oldest)) {
		oldest = ls.fine[0].at
	}
	return len(ls.fine), len(ls.minutes), ls.bytes, oldest
}

// lagSeries is the table of the series; guarded by Store.mu.
type lagSeries struct {
	names intern
	// fine are the polls, minutes the minutes rolled up, oldest first.
	fine, minutes []*lagPoint
	// built is the start (Unix seconds) of the first minute not rolled
	// up yet.
	built int64
	bytes int64
}

// intern numbers the names of groups and topics.
type intern struct {
	ids   map[string]uint32
	names []string
}

func (n *intern) id(s string) (uint32, int64) {
	if id, ok := n.ids[s]; ok {
		return id, 0
	}
	if n.ids == nil {
		n.ids = make(map[string]uint32)
	}
	id := uint32(len(n.names))
	n.ids[s] = id
	n.names = append(n.names, s)
	return id, int64(len(s)) + 2*strBytes + snapMapEntry
}

// lagPoint is one point of the series: its rows' keys, shared with the
// points that have the same, and their values, encoded.
type lagPoint struct {
	at    time.Time
	polls int
	keys  *lagKeys
	// vals are, for each group of keys in turn, the group's values and
	// then each of its rows' (lagVals, encoded by appendVals).
	vals []byte
}

// lagKeys are the groups of a point, in id order, and their rows, each
// group's in (topic, partition) order.
type lagKeys struct {
	groups []uint32
	ends   []uint32 // the rows of groups[i] end at ends[i]
	rows   []lagRow
	refs   int
}

type lagRow struct {
	topic     uint32
	partition int32
}

// lagVals is one lag: a group's (offset lags summed, worst times) or a
// partition's. Times are inspect.UnknownLag when not known.
type lagVals struct {
	offset          int64
	append, timeLag time.Duration
}

// lagGroup is a group's lag at a point, decoded.
type lagGroup struct {
	id   uint32
	v    lagVals
	rows []lagRowVals
}

type lagRowVals struct {
	lagRow
	v lagVals
}

// Estimated costs of the series.
const (
	lagPointBytes = int64(unsafe.Sizeof(lagPoint{})) + 2*allocOverhead + 16 // and its slot in a list, which grows by doubling
	lagKeysBytes  = int64(unsafe.Sizeof(lagKeys{})) + 4*allocOverhead
)

func (k *lagKeys) size() int64 {
	return lagKeysBytes + int64(cap(k.groups)+cap(k.ends))*4 + int64(cap(k.rows))*int64(unsafe.Sizeof(lagRow{}))
}

func (p *lagPoint) size() int64 { return lagPointBytes + int64(cap(p.vals)) }

func minuteOf(t time.Time) int64 { return floorTo(t.Unix(), lagMinute) }

// add keeps one poll's lags, rolls up the minutes it completes and drops
// what aged out.
func (ls *lagSeries) add(at time.Time, lags []inspect.GroupLag) {
	if len(ls.fine) == 0 && len(ls.minutes) == 0 {
		ls.built = minuteOf(at)
	}
	gs := ls.internLags(lags)
	p := ls.encode(at, 1, gs)
	i := len(ls.fine)
	for i > 0 && ls.fine[i-1].at.After(at) {
		i--
	}
	ls.fine = slices.Insert(ls.fine, i, p)
	ls.bytes += p.size()
	if m := minuteOf(at); m < ls.built {
		// A late poll of a minute already rolled up.
		ls.rollup(m, []*lagPoint{p})
	}
	newest := ls.fine[len(ls.fine)-1].at
	for cur := minuteOf(newest); ls.built < cur; ls.built += lagMinute {
		var polls []*lagPoint
		for _, f := range ls.fine {
			if minuteOf(f.at) == ls.built {
				polls = append(polls, f)
			}
		}
		if len(polls) > 0 {
			ls.rollup(ls.built, polls)
		}
	}
	// Age: rolled-up polls after lagFineKeep, a minute at a time, and
	// minutes after lagMinuteKeep.
	for len(ls.fine) > 0 {
		m := minuteOf(ls.fine[0].at)
		if m >= ls.built || newest.Sub(time.Unix(m+lagMinute, 0)) < lagFineKeep {
			break
		}
		ls.dropFineMinute()
	}
	for len(ls.minutes) > 0 && newest.Sub(ls.minutes[0].at) > lagMinuteKeep {
		ls.drop(&ls.minutes)
	}
}

// evict drops the finest detail held, for the budget: the polls of the
// oldest minute already rolled up, else the oldest minute. False when
// nothing but polls not rolled up is left.
func (ls *lagSeries) evict() bool {
	if len(ls.fine) > 0 && minuteOf(ls.fine[0].at) < ls.built {
		ls.dropFineMinute()
		return true
	}
	if len(ls.minutes) > 0 {
		ls.drop(&ls.minutes)
		return true
	}
	return false
}

func (ls *lagSeries) dropFineMinute() {
	m := minuteOf(ls.fine[0].at)
	for len(ls.fine) > 0 && minuteOf(ls.fine[0].at) == m {
		ls.drop(&ls.fine)
	}
}

// drop removes the first point of list.
func (ls *lagSeries) drop(list *[]*lagPoint) {
	p := (*list)[0]
	(*list)[0] = nil
	*list = (*list)[1:]
	ls.bytes -= p.size()
	ls.release(p.keys)
}

func (ls *lagSeries) release(k *lagKeys) {
	if k.refs--; k.refs == 0 {
		ls.bytes -= k.size()
	}
}

// rollup merges polls into minute m's point (made if new): each lag the
// worst, at the latest time.
func (ls *lagSeries) rollup(m int64, polls []*lagPoint) {
	i, ok := slices.BinarySearchFunc(ls.minutes, m, func(p *lagPoint, m int64) int { return cmp.Compare(minuteOf(p.at), m) })
	var acc []lagGroup
	var at time.Time
	n := 0
	if ok {
		old := ls.minutes[i]
		acc, at, n = ls.decode(old), old.at, old.polls
		ls.bytes -= old.size()
		ls.release(old.keys)
	}
	for _, p := range polls {
		acc = mergeLags(acc, ls.decode(p))
		if p.at.After(at) {
			at = p.at
		}
		n += p.polls
	}
	p := ls.encode(at, n, acc)
	ls.bytes += p.size()
	if ok {
		ls.minutes[i] = p
	} else {
		ls.minutes = slices.Insert(ls.minutes, i, p)
	}
}

// internLags numbers the names of lags and sorts them as keys are.
func (ls *lagSeries) internLags(lags []inspect.GroupLag) []lagGroup {
	gs := make([]lagGroup, 0, len(lags))
	for _, g := range lags {
		id, n := ls.names.id(g.Group)
		ls.bytes += n
		lg := lagGroup{id: id, v: lagVals{g.OffsetLag, g.AppendLag, g.TimeLag}, rows: make([]lagRowVals, len(g.Partitions))}
		for j, p := range g.Partitions {
			tid, n := ls.names.id(p.Topic)
			ls.bytes += n
			lg.rows[j] = lagRowVals{lagRow{tid, p.Partition}, lagVals{p.OffsetLag, p.AppendLag, p.TimeLag}}
		}
		slices.SortFunc(lg.rows, func(a, b lagRowVals) int { return compareRows(a.lagRow, b.lagRow) })
		gs = append(gs, lg)
	}
	slices.SortFunc(gs, func(a, b lagGroup) int { return cmp.Compare(a.id, b.id) })
	// A group listed twice (never by the inspector) counts once.
	return slices.CompactFunc(gs, func(a, b lagGroup) bool { return a.id == b.id })
}

func compareRows(a, b lagRow) int {
	return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
}

// mergeLags is the worst of a and b, group by group and row by row.
func mergeLags(a, b []lagGroup) []lagGroup {
	out := make([]lagGroup, 0, max(len(a), len(b)))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].id < b[j].id):
			out = append(out, a[i])
			i++
		case i == len(a) || b[j].id < a[i].id:
			out = append(out, b[j])
			j++
		default:
			g := lagGroup{id: a[i].id, v: worst(a[i].v, b[j].v), rows: make([]lagRowVals, 0, max(len(a[i].rows), len(b[j].rows)))}
			ra, rb := a[i].rows, b[j].rows
			x, y := 0, 0
			for x < len(ra) || y < len(rb) {
				c := 0
				switch {
				case y == len(rb):
					c = -1
				case x == len(ra):
					c = 1
				default:
					c = compareRows(ra[x].lagRow, rb[y].lagRow)
				}
				switch {
				case c < 0:
					g.rows = append(g.rows, ra[x])
					x++
				case c > 0:
					g.rows = append(g.rows, rb[y])
					y++
				default:
					g.rows = append(g.rows, lagRowVals{ra[x].lagRow, worst(ra[x].v, rb[y].v)})
					x++
					y++
				}
			}
			out = append(out, g)
			i++
			j++
		}
	}
	return out
}

// worst takes each lag's largest: a known time beats an unknown one
// (UnknownLag is below every time).
func worst(a, b lagVals) lagVals {
	return lagVals{max(a.offset, b.offset), max(a.append, b.append), max(a.timeLag, b.timeLag)}
}

// encode makes a point of gs, sharing the keys of the newest point
// held when they are the same.
func (ls *lagSeries) encode(at time.Time, polls int, gs []lagGroup) *lagPoint {
	k := &lagKeys{groups: make([]uint32, len(gs)), ends: make([]uint32, len(gs))}
	rows := 0
	for _, g := range gs {
		rows += len(g.rows)
	}
	k.rows = make([]lagRow, 0, rows)
	rem := time.Duration(at.UnixNano() % int64(time.Millisecond))
	vals := make([]byte, 0, 4*(len(gs)+rows))
	for i, g := range gs {
		k.groups[i] = g.id
		vals = appendVals(vals, g.v, rem)
		for _, r := range g.rows {
			k.rows = append(k.rows, r.lagRow)
			vals = appendVals(vals, r.v, rem)
		}
		k.ends[i] = uint32(len(k.rows))
	}
	for _, list := range [][]*lagPoint{ls.fine, ls.minutes} {
		if n := len(list); n > 0 && list[n-1].keys.equal(k) {
			k = list[n-1].keys
			break
		}
	}
	if k.refs++; k.refs == 1 {
		ls.bytes += k.size()
	}
	return &lagPoint{at: at, polls: polls, keys: k, vals: slices.Clip(vals)}
}

func (k *lagKeys) equal(o *lagKeys) bool {
	return slices.Equal(k.groups, o.groups) && slices.Equal(k.ends, o.ends) && slices.Equal(k.rows, o.rows)
}

// decode is p's groups and rows.
func (ls *lagSeries) decode(p *lagPoint) []lagGroup {
	k := p.keys
	gs := make([]lagGroup, len(k.groups))
	rem := time.Duration(p.at.UnixNano() % int64(time.Millisecond))
	b := p.vals
	start := uint32(0)
	for i, id := range k.groups {
		gs[i].id = id
		gs[i].v, b = readVals(b, rem)
		gs[i].rows = make([]lagRowVals, k.ends[i]-start)
		for j := range gs[i].rows {
			gs[i].rows[j].lagRow = k.rows[start+uint32(j)]
			gs[i].rows[j].v, b = readVals(b, rem)
		}
		start = k.ends[i]
	}
	return gs
}

// read is p as a LagPoll of the groups in want (all when nil), skipping
// the others' values undecoded.
func (ls *lagSeries) read(p *lagPoint, seconds int, want map[uint32]bool, partitions bool) LagPoll {
	out := LagPoll{Time: p.at, Polls: p.polls, Seconds: seconds}
	k := p.keys
	rem := time.Duration(p.at.UnixNano() % int64(time.Millisecond))
	b := p.vals
	start := uint32(0)
	for i, id := range k.groups {
		n := int(k.ends[i] - start)
		if want != nil && !want[id] {
			b = skipVarints(b, 3*(1+n))
			start = k.ends[i]
			continue
		}
		var v lagVals
		v, b = readVals(b, rem)
		g := inspect.GroupLag{Group: ls.names.names[id], OffsetLag: v.offset, AppendLag: v.append, TimeLag: v.timeLag}
		if partitions {
			g.Partitions = make([]inspect.PartitionLag, n)
			for j := range g.Partitions {
				r := k.rows[int(start)+j]
				v, b = readVals(b, rem)
				g.Partitions[j] = inspect.PartitionLag{Topic: ls.names.names[r.topic], Partition: r.partition,
					OffsetLag: v.offset, AppendLag: v.append, TimeLag: v.timeLag}
			}
		} else {
			b = skipVarints(b, 3*n)
		}
		out.Groups = append(out.Groups, g)
		start = k.ends[i]
	}
	return out
}

func appendVals(b []byte, v lagVals, rem time.Duration) []byte {
	b = binary.AppendUvarint(b, uint64(max(v.offset, 0)))
	b = appendLagTime(b, v.append, rem)
	return appendLagTime(b, v.timeLag, rem)
}

func readVals(b []byte, rem time.Duration) (lagVals, []byte) {
	off, n := binary.Uvarint(b)
	b = b[n:]
	var v lagVals
	v.offset = int64(off)
	v.append, b = readLagTime(b, rem)
	v.timeLag, b = readLagTime(b, rem)
	return v, b
}

// appendLagTime encodes a lag time exactly, in as few bytes as it can:
// tag 0 unknown; 1 whole milliseconds (an Append Lag: record timestamps
// are milliseconds); 2 whole milliseconds after rem, the point's time
// past its millisecond (a time lag: the poll's time less a record's);
// 3 nanoseconds.
func appendLagTime(b []byte, d, rem time.Duration) []byte {
	const ms = time.Millisecond
	switch {
	case d < 0:
		return append(b, 0)
	case d%ms == 0 || d >= 1<<61:
		return binary.AppendUvarint(b, uint64(d/ms)<<2|1)
	case d >= rem && (d-rem)%ms == 0:
		return binary.AppendUvarint(b, uint64((d-rem)/ms)<<2|2)
	}
	return binary.AppendUvarint(b, uint64(d)<<2|3)
}

func readLagTime(b []byte, rem time.Duration) (time.Duration, []byte) {
	x, n := binary.Uvarint(b)
	b = b[n:]
	v := time.Duration(x >> 2)
	switch x & 3 {
	case 0:
		return inspect.UnknownLag, b
	case 1:
		return v * time.Millisecond, b
	case 2:
		return v*time.Millisecond + rem, b
	}
	return v, b
}

// skipVarints is b after n varints.
func skipVarints(b []byte, n int) []byte {
	i := 0
	for ; n > 0 && i < len(b); i++ {
		if b[i] < 0x80 {
			n--
		}
	}
	return b[i:]
}
