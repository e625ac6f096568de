package view

import (
	"fmt"
	"testing"
	"time"

	"kscope/internal/inspect"
)

// BenchmarkHealth: the health view of a poll of 30 brokers in 3 racks
// and 1,000 topics of 100 partitions (RF 3), a tenth of them missing a
// replica: what /metrics computes once per poll.
func BenchmarkHealth(b *testing.B) {
	at := time.Now()
	s := inspect.Snapshot{Time: at}
	for id := range int32(30) {
		s.Brokers = append(s.Brokers, inspect.Broker{ID: id, Host: "10.0.0.1", Port: 9092 + id, Rack: fmt.Sprint("r", id%3), State: inspect.BrokerUp,
			LogDirs: []inspect.LogDir{{Dir: "/data", Bytes: 1 << 30}}})
	}
	for ti := range 1000 {
		t := inspect.Topic{Name: fmt.Sprintf("topic-%04d", ti), MinISR: 2,
			Retention: inspect.Retention{Known: true, CleanupPolicy: "delete", Ms: 86400000, Bytes: 1 << 30, MsSource: "topic", BytesSource: "topic"}}
		for p := range int32(100) {
			l := (int32(ti) + p) % 30
			replicas := []int32{l, (l + 1) % 30, (l + 2) % 30}
			isr := replicas
			if p%10 == 0 {
				isr = replicas[:2]
			}
			pt := inspect.Partition{Partition: p, Leader: l, LeaderEpoch: 3, Replicas: replicas, ISR: isr, SizeBytes: 1 << 20,
				LogStartOffset: 0, HighWatermark: 100, Batches: []inspect.Batch{{BaseOffset: 0, LastOffset: 9, MaxTimestamp: at.Add(-time.Hour)}}}
			pt.Tier = inspect.TierOf(&t, &pt)
			t.Partitions = append(t.Partitions, pt)
		}
		s.Topics = append(s.Topics, t)
	}
	in := Input{Window: Window{From: at, To: at.Add(time.Second)}, Cluster: []inspect.Snapshot{s}}
	b.ReportAllocs()
	for b.Loop() {
		v := Health(in, HealthFilter{All: true})
		if v.Summary.Partitions != 100000 || v.Summary.ByTier[inspect.TierAtMinISR] != 10000 {
			b.Fatalf("summary: %+v", v.Summary)
		}
	}
}
