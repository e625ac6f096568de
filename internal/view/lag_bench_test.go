package view

import (
	"fmt"
	"testing"
	"time"

	"kscope/internal/inspect"
	"kscope/internal/store"
)

// BenchmarkLag computes the lag view over the last 10 polls of 1,000
// groups each committed on 100 partitions (10 topics of 10), as
// /api/v1/lag and /metrics do on every request and scrape.
func BenchmarkLag(b *testing.B) {
	const groups, topics, partitions = 1000, 10, 10
	var snaps []inspect.Snapshot
	for i := range LagWindow {
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		s := inspect.Snapshot{Time: at, ClusterID: "c1", Controller: 1}
		hw := int64(1000 + 100*i)
		for ti := range topics {
			t := inspect.Topic{Name: fmt.Sprintf("t%02d", ti), Retention: inspect.Retention{Known: true, CleanupPolicy: "delete", Ms: 86400000, Bytes: -1}}
			for p := range int32(partitions) {
				pt := inspect.Partition{Partition: p, Leader: 1, Replicas: []int32{1}, ISR: []int32{1}, LogStartOffset: 0, HighWatermark: hw, LastStableOffset: hw}
				for o := int64(0); o < hw; o += 10 {
					pt.Batches = append(pt.Batches, inspect.Batch{BaseOffset: o, LastOffset: o + 9, MaxTimestamp: t0.Add(time.Duration(o) * 10 * time.Millisecond), TimestampType: "CreateTime"})
				}
				t.Partitions = append(t.Partitions, pt)
			}
			s.Topics = append(s.Topics, t)
		}
		for g := range groups {
			grp := inspect.Group{Group: fmt.Sprintf("group-%04d", g), State: "Stable", Protocol: "classic", Coordinator: 1,
				Members: []inspect.Member{{MemberID: "m", ClientID: "c", Host: "/10.0.0.1"}}}
			for ti := range topics {
				for p := range int32(partitions) {
					grp.Offsets = append(grp.Offsets, inspect.Offset{Topic: fmt.Sprintf("t%02d", ti), Partition: p, Committed: hw - int64((g+int(p))%200), LeaderEpoch: -1})
				}
			}
			s.Groups = append(s.Groups, grp)
		}
		snaps = append(snaps, s)
	}
	b.Logf("a snapshot holds about %.1f MB", float64(store.SnapshotSize(&snaps[0]))/1e6)
	in := Input{Window: Window{From: snaps[0].Time, To: snaps[len(snaps)-1].Time}, Cluster: snaps}
	b.ReportAllocs()
	for b.Loop() {
		v := Lag(in, LagFilter{})
		if len(v.Groups) != groups || len(v.Groups[0].Partitions) != topics*partitions {
			b.Fatalf("%d groups", len(v.Groups))
		}
	}
}
