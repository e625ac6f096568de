package inspect

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// UnknownLag is an Append Lag or time lag a poll could not tell: it read
// no batch header for an offset it needed. Known lags are never negative.
const UnknownLag time.Duration = -1

// GroupLag is one group's lag at one poll: the sum of its partitions'
// offset lags, their worst Append Lag and time lag (UnknownLag when no
// partition's was known), and the partitions, in the order of its
// committed offsets.
type GroupLag struct {
	Group      string
	OffsetLag  int64
	AppendLag  time.Duration
	TimeLag    time.Duration
	Partitions []PartitionLag
}

// PartitionLag is a group's lag on one partition at one poll.
type PartitionLag struct {
	Topic     string
	Partition int32
	// OffsetLag is high watermark - committed (see Partition.OffsetLag).
	OffsetLag int64
	// AppendLag is how much later the newest record was appended than
	// the last one committed; TimeLag how long the first record not
	// consumed has waited at the poll. UnknownLag when not told.
	AppendLag time.Duration
	TimeLag   time.Duration
}

// Add counts p in g: its offset lag in the sum, its times in the worst.
func (g *GroupLag) Add(p PartitionLag) {
	g.OffsetLag += p.OffsetLag
	g.AppendLag = max(g.AppendLag, p.AppendLag)
	g.TimeLag = max(g.TimeLag, p.TimeLag)
}

// Lags is every group's lag at this poll, from the poll's own committed
// offsets, log ends and batch headers: what a chart of lag over time
// keeps of a poll. An offset on a partition the poll did not list, or
// whose log end it did not learn, is left out. The groups are in the
// poll's order.
func (s *Snapshot) Lags() []GroupLag {
	out := make([]GroupLag, len(s.Groups))
	for i := range s.Groups {
		g := &s.Groups[i]
		gl := GroupLag{Group: g.Group, AppendLag: UnknownLag, TimeLag: UnknownLag, Partitions: make([]PartitionLag, 0, len(g.Offsets))}
		for _, o := range g.Offsets {
			if p, ok := s.LagOf(o.Topic, o.Partition, o.Committed); ok {
				gl.Add(p)
				gl.Partitions = append(gl.Partitions, p)
			}
		}
		out[i] = gl
	}
	return out
}

// LagOf is the lag at this poll of a group that committed c on a
// partition; false when the poll did not list the partition or learn its
// log end.
func (s *Snapshot) LagOf(topic string, partition int32, c int64) (PartitionLag, bool) {
	pt := s.Partition(topic, partition)
	if pt == nil || pt.HighWatermark < 0 {
		return PartitionLag{}, false
	}
	l := pt.Lag(s.Time, c)
	l.Topic = topic
	return l, true
}

// Partition is the poll's partition p of topic, nil when not listed.
// Topics and their partitions are in order (the inspector sorts them).
func (s *Snapshot) Partition(topic string, p int32) *Partition {
	i, ok := slices.BinarySearchFunc(s.Topics, topic, func(t Topic, name string) int { return strings.Compare(t.Name, name) })
	if !ok {
		return nil
	}
	ps := s.Topics[i].Partitions
	j, ok := slices.BinarySearchFunc(ps, p, func(x Partition, n int32) int { return cmp.Compare(x.Partition, n) })
	if !ok {
		return nil
	}
	return &ps[j]
}

// Lag is a group's lag on p at a poll at time at, having committed c:
// from that poll's log end and the batch headers it read. Append Lag
// compares the newest record's batch with the last committed one's; time
// lag is how long the first record not consumed (offset c) has waited.
// Caught up, both are zero whatever was read. The Topic is left empty.
func (p *Partition) Lag(at time.Time, c int64) PartitionLag {
	l := PartitionLag{Partition: p.Partition, OffsetLag: p.OffsetLag(c), AppendLag: UnknownLag, TimeLag: UnknownLag}
	if l.OffsetLag == 0 {
		l.AppendLag, l.TimeLag = 0, 0
		return l
	}
	latest, ok1 := p.BatchAt(p.HighWatermark - 1)
	committed, ok2 := p.BatchAt(c - 1)
	if ok1 && ok2 && !latest.MaxTimestamp.IsZero() && !committed.MaxTimestamp.IsZero() {
		l.AppendLag = max(latest.MaxTimestamp.Sub(committed.MaxTimestamp), 0)
	}
	if next, ok := p.BatchAt(c); ok && !next.MaxTimestamp.IsZero() {
		l.TimeLag = max(at.Sub(next.MaxTimestamp), 0)
	}
	return l
}

// OffsetLag is high watermark - c, never negative (offsets and log ends
// are read apart, a commit can come in between); 0 when what is between
// is a transaction's markers only, which no consumer receives.
func (p *Partition) OffsetLag(c int64) int64 {
	lag := max(p.HighWatermark-c, 0)
	if lag > 0 {
		if b, ok := p.BatchAt(c); ok && b.Control && b.LastOffset >= p.HighWatermark-1 {
			return 0
		}
	}
	return lag
}
