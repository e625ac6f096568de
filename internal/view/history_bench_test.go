package view

import (
	"fmt"
	"testing"
	"time"

	"kscope/internal/inspect"
)

// BenchmarkLagOverTime: the Consumers page's answer with 5,000 groups,
// each committing on 4 of 20 topics' 10 partitions, over 60 polls: the
// statuses of all, the series of the worst 50.
func BenchmarkLagOverTime(b *testing.B) {
	const groups, topics, partitions, polls = 5000, 20, 10, 60
	var snaps []inspect.Snapshot
	for i := range polls {
		at := t0.Add(time.Duration(i) * 5 * time.Second)
		s := inspect.Snapshot{Time: at}
		for ti := range topics {
			t := inspect.Topic{Name: fmt.Sprintf("t%02d", ti), Retention: inspect.Retention{Known: true, CleanupPolicy: "delete", Ms: 86400000, Bytes: -1}}
			for p := range int32(partitions) {
				hw := int64(1000 + 10*i)
				t.Partitions = append(t.Partitions, inspect.Partition{Partition: p, Leader: 0, Replicas: []int32{0}, ISR: []int32{0},
					LogStartOffset: 0, HighWatermark: hw, LastStableOffset: hw, SizeBytes: hw * 100,
					Batches: []inspect.Batch{{BaseOffset: 0, LastOffset: hw - 1, MaxTimestamp: at}}})
			}
			s.Topics = append(s.Topics, t)
		}
		for g := range groups {
			grp := inspect.Group{Group: fmt.Sprintf("group-%04d", g), State: "Stable", Protocol: "classic"}
			for k := range 4 {
				grp.Offsets = append(grp.Offsets, inspect.Offset{Topic: fmt.Sprintf("t%02d", (g+k)%topics), Partition: int32(g % partitions),
					Committed: int64(1000 + 10*i - g%50), LeaderEpoch: -1, SeenSince: at})
			}
			s.Groups = append(s.Groups, grp)
		}
		snaps = append(snaps, s)
	}
	in := Input{Window: Window{From: snaps[0].Time, To: snaps[polls-1].Time}, Cluster: snaps}
	b.ReportAllocs()
	for b.Loop() {
		h := LagOverTime(in, LagHistoryFilter{})
		if h.Total != groups || len(h.Groups) != DefaultLagHistoryLimit || len(h.Groups[0].Points) != polls {
			b.Fatalf("%d groups, %d on the page", h.Total, len(h.Groups))
		}
	}
}
