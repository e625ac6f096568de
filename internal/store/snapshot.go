package store

import (
	"slices"
	"time"
	"unsafe"

	"kscope/internal/inspect"
)

// snapshotShare is the part of the budget (1/snapshotShare) that cluster
// snapshots may use by default. It is taken from the exchanges' share
// when the first snapshot comes: an agent without an inspector keeps it
// all for exchanges.
const snapshotShare = 8

// snapshots is the table of cluster snapshots, oldest first, and the lag
// series of every poll (lagseries.go), which share one part of the
// budget; guarded by Store.mu.
type snapshots struct {
	budget int64 // 0 until the first snapshot
	// bytes is the estimate of the snapshots and the series together,
	// full the snapshots' alone.
	bytes, full int64
	list        []heldSnapshot
	evicted     uint64
	series      lagSeries
}

type heldSnapshot struct {
	s    inspect.Snapshot
	size int64
}

// keepSnapshots is how many full snapshots are kept before the lag
// series gives up any of its history: the lag view judges statuses over
// the last 10 polls (view.LagWindow), and older polls' lags are in the
// series anyway.
const keepSnapshots = 12

// AddSnapshot keeps what one poll of a cluster learned, and its lags in
// the lag series. To stay in budget it drops, in this order: the oldest
// snapshots beyond the newest keepSnapshots or while they take more than
// half the budget (a cluster so large that its polls are megabytes keeps
// fewer of them rather than less history), the series' finest detail
// (see lagSeries.evict), then the oldest snapshots but the newest one
// (dropped snapshots are counted). Its slices are the store's from now
// on: the caller must not change them.
func (s *Store) AddSnapshot(snap inspect.Snapshot) {
	size := SnapshotSize(&snap)
	lags := snap.Lags()
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &s.snaps
	if t.budget == 0 {
		t.budget = s.snapshotBudget
		s.exchangeBudget -= t.budget
		s.agg.twins.budget = s.exchangeBudget / twinsShare
		s.trimExchanges()
	}
	t.series.add(snap.Time, lags)
	// Polls come in time order; one that does not goes where it
	// belongs.
	i := len(t.list)
	for i > 0 && t.list[i-1].s.Time.After(snap.Time) {
		i--
	}
	t.list = slices.Insert(t.list, i, heldSnapshot{s: snap, size: size})
	t.full += size
	// The newest is kept even alone over budget: it is the cluster's
	// state now, which no view can do without.
	for t.full+t.series.bytes > t.budget {
		switch {
		case len(t.list) > keepSnapshots:
		case len(t.list) > 1 && t.full > t.budget/2:
		case t.series.evict():
			continue
		case len(t.list) > 1:
		default:
			t.bytes = t.full + t.series.bytes
			return
		}
		t.full -= t.list[0].size
		t.list[0] = heldSnapshot{}
		t.list = t.list[1:]
		t.evicted++
	}
	t.bytes = t.full + t.series.bytes
}

// Snapshots returns the snapshots held taken in [since, until) (zero
// bounds are open), oldest first. They share their slices with the
// store: never modify them.
func (s *Store) Snapshots(since, until time.Time) []inspect.Snapshot {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []inspect.Snapshot
	for i := range s.snaps.list {
		t := s.snaps.list[i].s.Time
		if (!since.IsZero() && t.Before(since)) || (!until.IsZero() && !t.Before(until)) {
			continue
		}
		out = append(out, s.snaps.list[i].s)
	}
	return out
}

// Estimated costs of a snapshot's parts.
const (
	snapshotBytes  = int64(unsafe.Sizeof(inspect.Snapshot{})) + allocOverhead
	snapBrokerSize = int64(unsafe.Sizeof(inspect.Broker{}))
	snapTopicSize  = int64(unsafe.Sizeof(inspect.Topic{}))
	snapPartSize   = int64(unsafe.Sizeof(inspect.Partition{}))
	snapGroupSize  = int64(unsafe.Sizeof(inspect.Group{}))
	snapMemberSize = int64(unsafe.Sizeof(inspect.Member{}))
	snapOffsetSize = int64(unsafe.Sizeof(inspect.Offset{}))
	snapErrorSize  = int64(unsafe.Sizeof(inspect.Error{}))
	snapTPSize     = int64(unsafe.Sizeof(inspect.TopicPartitions{}))
	snapBatchSize  = int64(unsafe.Sizeof(inspect.Batch{}))
	snapLogDirSize = int64(unsafe.Sizeof(inspect.LogDir{}))
	snapEventSize  = int64(unsafe.Sizeof(inspect.Event{}))
	// snapMapEntry is a map entry's cost, its key and value with the
	// map's own overhead.
	snapMapEntry = 48
)

// SnapshotSize estimates the memory a snapshot holds, by the capacity of
// its slices, erring on the high side as Size does.
func SnapshotSize(sn *inspect.Snapshot) int64 {
	n := snapshotBytes + stringsSize(sn.Bootstrap) + int64(len(sn.ClusterID))
	n += int64(cap(sn.Brokers))*snapBrokerSize + allocOverhead
	for i := range sn.Brokers {
		b := &sn.Brokers[i]
		n += int64(len(b.Host)+len(b.Rack)) + int64(cap(b.LogDirs))*snapLogDirSize + allocOverhead
		for j := range b.LogDirs {
			n += int64(len(b.LogDirs[j].Dir) + len(b.LogDirs[j].Error))
		}
	}
	n += int64(cap(sn.Events))*snapEventSize + allocOverhead
	for i := range sn.Events {
		e := &sn.Events[i]
		n += int64(len(e.Topic)+len(e.From)+len(e.To)+len(e.Detail)) + int64(cap(e.Brokers))*4 + allocOverhead
	}
	c := &sn.Changes
	n += int64(len(c.ISRShrinks)+len(c.ISRExpands)+len(c.LeaderElections)+len(c.LeaderElectionsByTopic))*snapMapEntry + 4*allocOverhead
	for t := range c.LeaderElectionsByTopic {
		n += int64(len(t))
	}
	n += int64(cap(sn.Topics))*snapTopicSize + allocOverhead
	for i := range sn.Topics {
		t := &sn.Topics[i]
		n += int64(len(t.Name)+len(t.ID)+len(t.Retention.CleanupPolicy)) + int64(cap(t.Partitions))*snapPartSize + allocOverhead
		for j := range t.Partitions {
			p := &t.Partitions[j]
			// Replicas and ISR come from one Metadata answer each
			// poll; the tier names are constants.
			for _, ids := range [][]int32{p.Replicas, p.ISR, p.Offline, p.Adding, p.Removing} {
				if cap(ids) > 0 {
					n += int64(cap(ids))*4 + allocOverhead
				}
			}
			n += int64(cap(p.Batches))*snapBatchSize + allocOverhead
		}
	}
	n += int64(cap(sn.Groups))*snapGroupSize + allocOverhead
	for i := range sn.Groups {
		g := &sn.Groups[i]
		n += int64(len(g.Group) + len(g.State) + len(g.Protocol) + len(g.ProtocolType) + len(g.Assignor))
		n += int64(cap(g.Members))*snapMemberSize + int64(cap(g.Offsets))*snapOffsetSize + 2*allocOverhead
		for j := range g.Members {
			m := &g.Members[j]
			n += int64(len(m.MemberID)+len(m.InstanceID)+len(m.ClientID)+len(m.Host)) + int64(cap(m.Assigned))*snapTPSize + allocOverhead
			for k := range m.Assigned {
				n += int64(len(m.Assigned[k].Topic)) + int64(cap(m.Assigned[k].Partitions))*4 + allocOverhead
			}
		}
		for j := range g.Offsets {
			n += int64(len(g.Offsets[j].Topic))
		}
	}
	n += int64(cap(sn.Errors))*snapErrorSize + allocOverhead
	for i := range sn.Errors {
		n += int64(len(sn.Errors[i].Request) + len(sn.Errors[i].Error))
	}
	return n
}
