package view

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"kscope/internal/inspect"
	"kscope/internal/store"
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

// The load of a large cluster's polls: 2,000 groups on 50 topics of 20
// partitions, each group committed on 4 partitions, polled every 5 s.
const (
	bigGroups, bigTopics, bigPartitions, bigPerGroup = 2000, 50, 20, 4
	bigPoll                                          = 5 * time.Second
)

// bigCluster makes the polls of a large cluster: each partition gets 100
// records a second in batches of 10 (CreateTime, whole milliseconds), each
// group commits some way behind the log end, its distance moving with
// every poll; a poll reads the batch headers the inspector reads (the
// newest record's, and each group's last committed and first unconsumed
// ones). The poll's time is not a whole millisecond, as time.Now is not.
type bigCluster struct {
	topics []string
	groups []string
}

// newBigCluster is a cluster of groups and topics (bigGroups and
// bigTopics for the large one).
func newBigCluster(groups, topics int) *bigCluster {
	c := &bigCluster{}
	for t := range topics {
		c.topics = append(c.topics, fmt.Sprintf("topic-%02d", t))
	}
	for g := range groups {
		c.groups = append(c.groups, fmt.Sprintf("consumer-group-%04d", g))
	}
	return c
}

// logStart is when offset 0 of every partition was appended.
var logStart = t0.Add(-24 * time.Hour)

// batchOf is the batch holding offset o: 10 records, 10 ms apart.
func batchOf(o int64) inspect.Batch {
	base := o / 10 * 10
	return inspect.Batch{BaseOffset: base, LastOffset: base + 9, MaxTimestamp: logStart.Add(time.Duration(base+9) * 10 * time.Millisecond), TimestampType: "CreateTime"}
}

// poll is the i-th poll.
func (c *bigCluster) poll(i int) inspect.Snapshot {
	at := t0.Add(time.Duration(i)*bigPoll + 123456789*time.Nanosecond + time.Duration(i%7)*1_000_317)
	hw := int64(at.Sub(logStart) / (10 * time.Millisecond))
	s := inspect.Snapshot{Time: at, Bootstrap: []string{"10.0.0.1:9092"}, ClusterID: "big", Controller: 1}
	for b := range 6 {
		s.Brokers = append(s.Brokers, inspect.Broker{ID: int32(b), Host: fmt.Sprintf("10.0.0.%d", b+1), Port: 9092, State: inspect.BrokerUp})
	}
	committed := func(g, k int) int64 { return hw - int64((g*37+k*11+i*(1+g%5))%3000) }
	batches := make([][]inspect.Batch, len(c.topics)*bigPartitions)
	for g := range c.groups {
		grp := inspect.Group{Group: c.groups[g], State: "Stable", Protocol: "classic", ProtocolType: "consumer", Assignor: "range"}
		m := inspect.Member{MemberID: c.groups[g] + "-1-5f1c9e2a", ClientID: c.groups[g] + "-1", Host: "/10.1.0.7"}
		for k := range bigPerGroup {
			ti, p := (g+k)%len(c.topics), int32((g/len(c.topics)+k)%bigPartitions)
			co := committed(g, k)
			grp.Offsets = append(grp.Offsets, inspect.Offset{Topic: c.topics[ti], Partition: p, Committed: co, LeaderEpoch: 7, SeenSince: at})
			m.Assigned = append(m.Assigned, inspect.TopicPartitions{Topic: c.topics[ti], Partitions: []int32{p}})
			for _, o := range []int64{co - 1, co} {
				if o < hw {
					batches[ti*bigPartitions+int(p)] = append(batches[ti*bigPartitions+int(p)], batchOf(o))
				}
			}
		}
		grp.Members = []inspect.Member{m}
		s.Groups = append(s.Groups, grp)
	}
	for ti, name := range c.topics {
		t := inspect.Topic{Name: name, Retention: inspect.Retention{Known: true, CleanupPolicy: "delete", Ms: 7 * 86400000, Bytes: -1}, MinISR: 2}
		for p := range int32(bigPartitions) {
			bs := append(batches[ti*bigPartitions+int(p)], batchOf(hw-1))
			slices.SortFunc(bs, func(a, b inspect.Batch) int { return int(a.BaseOffset - b.BaseOffset) })
			bs = slices.CompactFunc(bs, func(a, b inspect.Batch) bool { return a.BaseOffset == b.BaseOffset })
			t.Partitions = append(t.Partitions, inspect.Partition{Partition: p, Leader: p % 6, Replicas: []int32{p % 6, (p + 1) % 6, (p + 2) % 6},
				ISR: []int32{p % 6, (p + 1) % 6, (p + 2) % 6}, Tier: "healthy", LogStartOffset: hw - 50_000_000, HighWatermark: hw, LastStableOffset: hw,
				SizeBytes: 50_000_000 * 100, Batches: bs})
		}
		s.Topics = append(s.Topics, t)
	}
	return s
}

// BenchmarkLagOverStore: an hour of polls of the large cluster (720)
// in a store of the default budget, and the Consumers page's answer over
// that hour: the statuses of all groups, the series of the worst 50. It
// reports the memory of the lag series per hour, the snapshots held, how
// far back the answer's points go, and its resolution.
func BenchmarkLagOverStore(b *testing.B) {
	c := newBigCluster(bigGroups, bigTopics)
	st, last := c.hour()
	stats := st.Stats()
	fine, minutes, seriesBytes, oldest := st.LagSeriesStats()
	w := Window{From: t0, To: last.Add(time.Second)}
	var h LagHistory
	for b.Loop() {
		h = LagOverStore(st, w, LagHistoryFilter{})
	}
	if h.Total != bigGroups || len(h.Groups) != DefaultLagHistoryLimit {
		b.Fatalf("%d groups, %d on the page", h.Total, len(h.Groups))
	}
	pts := h.Groups[0].Points
	b.Logf("%d snapshots held (%.1f MB, %.0f kB each), lag series %d polls + %d minutes in %.1f MB from %v; %d points from %v, resolution %v s",
		stats.Snapshots, float64(stats.SnapshotBytes-seriesBytes)/1e6, float64(SnapshotSizeOf(c.poll(0)))/1e3, fine, minutes, float64(seriesBytes)/1e6,
		oldest.Sub(t0), len(pts), pts[0].Time.Sub(t0), h.ResolutionSeconds)
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/answer")
	b.ReportMetric(float64(seriesBytes)/1e6*float64(time.Hour)/float64(last.Sub(oldest)), "series-MB/hour")
	b.ReportMetric(float64(stats.SnapshotBytes)/1e6, "snapshot-share-MB")
	b.ReportMetric(last.Sub(pts[0].Time).Minutes(), "history-min")
}

// SnapshotSizeOf is store.SnapshotSize of s.
func SnapshotSizeOf(s inspect.Snapshot) int64 { return store.SnapshotSize(&s) }

// hour adds an hour of polls (720) to a store of the default budget, and
// returns it with the last poll's time.
func (c *bigCluster) hour() (*store.Store, time.Time) {
	st := store.New(store.Config{})
	var last time.Time
	for i := range int(time.Hour / bigPoll) {
		s := c.poll(i)
		last = s.Time
		st.AddSnapshot(s)
	}
	return st, last
}
