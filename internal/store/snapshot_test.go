package store

import (
	"fmt"
	"testing"
	"time"

	"kscope/internal/inspect"
)

// snapshot is a poll of a cluster of 3 brokers with topics topics of 10
// partitions each and one group committing on all of them.
func snapshot(at time.Time, topics int) inspect.Snapshot {
	s := inspect.Snapshot{Time: at, Bootstrap: []string{"10.0.0.1:9092"}, ClusterID: "c1", Controller: 1}
	for b := range 3 {
		s.Brokers = append(s.Brokers, inspect.Broker{ID: int32(b), Host: fmt.Sprintf("10.0.0.%d", b+1), Port: 9092, Rack: "r1"})
	}
	g := inspect.Group{Group: "billing", State: "Stable", Protocol: "classic", Coordinator: 0}
	for t := range topics {
		tp := inspect.Topic{Name: fmt.Sprintf("topic-%d", t)}
		for p := range 10 {
			tp.Partitions = append(tp.Partitions, inspect.Partition{Partition: int32(p), Leader: int32(p % 3),
				Replicas: []int32{0, 1, 2}, ISR: []int32{0, 1, 2}, HighWatermark: 100, LastStableOffset: 100})
			g.Offsets = append(g.Offsets, inspect.Offset{Topic: tp.Name, Partition: int32(p), Committed: 90, LeaderEpoch: -1})
		}
		s.Topics = append(s.Topics, tp)
	}
	s.Groups = []inspect.Group{g}
	return s
}

// Snapshots stay within their part of the budget, the oldest go first and
// are counted, and their part is taken from the exchanges' only when the
// first snapshot comes.
func TestSnapshotsWithinBudget(t *testing.T) {
	const budget = 1 << 20
	s := New(Config{MemoryBytes: budget})
	for i := range 2000 {
		s.Add(fake(i, "Produce", "orders", 200))
	}
	before := s.Stats()
	if before.SnapshotBudget != 0 || before.ExchangeBudget != budget-budget/8 {
		t.Fatalf("before any snapshot: %+v", before)
	}
	per := SnapshotSize(ptr(snapshot(t0, 20)))
	n := int(4 * (budget / 8) / per)
	for i := range n {
		s.AddSnapshot(snapshot(t0.Add(time.Duration(i)*10*time.Second), 20))
		st := s.Stats()
		if st.SnapshotBytes > st.SnapshotBudget || st.Bytes > budget {
			t.Fatalf("after %d snapshots: %d of %d snapshot bytes, %d of %d in all", i+1, st.SnapshotBytes, st.SnapshotBudget, st.Bytes, budget)
		}
	}
	st := s.Stats()
	if st.SnapshotBudget != budget/8 || st.ExchangeBudget != before.ExchangeBudget-budget/8 || st.ExchangeBytes > st.ExchangeBudget {
		t.Errorf("after snapshots: %+v", st)
	}
	if st.Evicted <= before.Evicted {
		t.Errorf("the exchanges gave no room to the snapshots: %d evicted before, %d after", before.Evicted, st.Evicted)
	}
	if st.SnapshotsEvicted == 0 || st.SnapshotsEvicted+uint64(st.Snapshots) != uint64(n) {
		t.Errorf("added %d snapshots: %d held, %d evicted", n, st.Snapshots, st.SnapshotsEvicted)
	}
	held := s.Snapshots(time.Time{}, time.Time{})
	if len(held) != st.Snapshots || !held[len(held)-1].Time.Equal(t0.Add(time.Duration(n-1)*10*time.Second)) {
		t.Fatalf("held %d snapshots, the newest at %v", len(held), held[len(held)-1].Time)
	}
	for i := 1; i < len(held); i++ {
		if held[i].Time.Sub(held[i-1].Time) != 10*time.Second {
			t.Fatalf("held snapshots are not the newest, in order: %v then %v", held[i-1].Time, held[i].Time)
		}
	}
}

// Snapshots returns those taken in [since, until), in time order even
// when a poll was added late.
func TestSnapshotsWindow(t *testing.T) {
	s := New(Config{})
	for _, sec := range []int{0, 10, 30, 20, 40} {
		s.AddSnapshot(snapshot(t0.Add(time.Duration(sec)*time.Second), 1))
	}
	got := s.Snapshots(t0.Add(10*time.Second), t0.Add(40*time.Second))
	var secs []int
	for _, sn := range got {
		secs = append(secs, int(sn.Time.Sub(t0)/time.Second))
	}
	if fmt.Sprint(secs) != "[10 20 30]" {
		t.Errorf("snapshots in [10s, 40s): %v, want [10 20 30]", secs)
	}
}
