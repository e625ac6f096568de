package view

import (
	"slices"
	"strings"
	"testing"
	"time"

	"kscope/internal/exchange"
	"kscope/internal/inspect"
)

// healthPoll is a poll of three brokers in two racks: topic orders (RF 3,
// min.insync.replicas 2) and topic clicks kept by size only.
func healthPoll(at time.Time, isr0 []int32, clicksSize int64, changes inspect.Changes, events ...inspect.Event) inspect.Snapshot {
	s := inspect.Snapshot{Time: at, ClusterID: "c1", Controller: 0, Changes: changes, Events: events}
	for id, rack := range []string{"a", "a", "b"} {
		s.Brokers = append(s.Brokers, inspect.Broker{ID: int32(id), Host: "10.0.0.1", Port: int32(9092 + id), Rack: rack, State: inspect.BrokerUp,
			LogDirs: []inspect.LogDir{{Dir: "/data", Bytes: 1000 * int64(id+1)}}})
	}
	orders := inspect.Topic{Name: "orders", MinISR: 2, MinISRSource: "topic",
		Retention: inspect.Retention{Known: true, CleanupPolicy: "delete", Ms: 7 * 86400 * 1000, Bytes: -1, MsSource: "default", BytesSource: "default"}}
	for p := range int32(3) {
		replicas := []int32{p, (p + 1) % 3, (p + 2) % 3}
		isr := replicas
		if p == 0 {
			isr = isr0
		}
		orders.Partitions = append(orders.Partitions, inspect.Partition{Partition: p, Leader: p, LeaderEpoch: 1, Replicas: replicas, ISR: isr, SizeBytes: 500})
	}
	orders.Partitions[0].Tier = inspect.TierOf(&orders, &orders.Partitions[0])
	clicks := inspect.Topic{Name: "clicks", MinISR: 1,
		Retention: inspect.Retention{Known: true, CleanupPolicy: "delete", Ms: -1, Bytes: 1 << 20, MsSource: "topic", BytesSource: "topic"}}
	clicks.Partitions = []inspect.Partition{{Partition: 0, Leader: 1, LeaderEpoch: 0, Replicas: []int32{1, 2}, ISR: []int32{1, 2},
		SizeBytes: clicksSize, LogStartOffset: 100, HighWatermark: 200,
		Batches: []inspect.Batch{{BaseOffset: 90, LastOffset: 120, MaxTimestamp: at.Add(-90 * time.Minute)}}}}
	s.Topics = []inspect.Topic{clicks, orders}
	return s
}

// TestHealth: the tiers counted as the brokers count them, the worst
// partitions first with what they miss, racks, balance, retention by size
// (and when it cuts in, from the logs' growth between polls), elections
// and events over the window, and the findings with their severities.
func TestHealth(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	shrink := inspect.Event{Time: t0.Add(time.Minute), Kind: inspect.EventISRShrink, Topic: "orders", Partition: 0, Broker: 0, Brokers: []int32{2}}
	unclean := inspect.Event{Time: t0.Add(time.Minute), Kind: inspect.EventUnclean, Topic: "clicks", Partition: 0, Broker: 1, Detail: "clicks/0: broker 1 became leader"}
	polls := []inspect.Snapshot{
		healthPoll(t0, []int32{0, 1, 2}, 512<<10, inspect.Changes{LeaderElections: map[int32]uint64{1: 4}, UncleanSuspected: 1}),
		healthPoll(t0.Add(time.Minute), []int32{0, 1}, 768<<10, inspect.Changes{LeaderElections: map[int32]uint64{1: 6}, LeaderElectionsByTopic: map[string]uint64{"clicks": 2},
			ISRShrinks: map[int32]uint64{2: 1}, UncleanSuspected: 2}, shrink, unclean),
	}
	v := Health(Input{Window: Window{From: t0, To: t0.Add(2 * time.Minute)}, Cluster: polls}, HealthFilter{})

	s := v.Summary
	if s.Brokers != 3 || s.BrokersUp != 3 || s.Topics != 2 || s.Partitions != 4 || s.Worst != inspect.TierAtMinISR {
		t.Errorf("summary: %+v", s)
	}
	// orders/0 at min ISR counts as under-replicated too, as the
	// brokers count it.
	if s.ByTier[inspect.TierOK] != 3 || s.ByTier[inspect.TierUnderReplicated] != 1 || s.ByTier[inspect.TierAtMinISR] != 1 {
		t.Errorf("by tier: %v", s.ByTier)
	}
	if len(v.Partitions) != 1 {
		t.Fatalf("partitions not ok: %+v", v.Partitions)
	}
	p := v.Partitions[0]
	if p.Topic != "orders" || p.Partition != 0 || p.Tier != inspect.TierAtMinISR || !slices.Equal(p.Missing, []int32{2}) || p.MinISR != 2 ||
		!slices.Equal(p.InTiers, []string{inspect.TierUnderReplicated, inspect.TierAtMinISR}) {
		t.Errorf("orders/0: %+v", p)
	}
	// Brokers 0 and 1 share rack a: every RF 3 partition has two
	// replicas there, and clicks/0 (brokers 1, 2) does not.
	if v.Racks.ConflictsTotal != 3 || !slices.Equal(v.Racks.Racks["a"], []int32{0, 1}) {
		t.Errorf("racks: %+v", v.Racks)
	}
	if b := v.Brokers[1]; b.Leaders != 2 || b.Replicas != 4 || b.Bytes != 2000 || b.Elections != 2 || b.ProduceBytesPerSec != nil {
		t.Errorf("broker 1: %+v", b)
	}
	if v.Elections.Total != 2 || v.Elections.ByTopic["clicks"] != 2 || v.Elections.Unclean != 1 || v.Elections.ISRShrinks != 1 ||
		v.Elections.PerMinute == nil || *v.Elections.PerMinute != 2 {
		t.Errorf("elections: %+v", v.Elections)
	}
	if len(v.Events) != 2 || v.EventsTotal != 2 {
		t.Errorf("events: %+v", v.Events)
	}

	// clicks: 1 MiB per partition by size only; it grew 256 KiB in a
	// minute, so the limit holds 4 minutes and deletion starts in one.
	var clicks *TopicRetention
	for i := range v.Retention {
		if v.Retention[i].Topic == "clicks" {
			clicks = &v.Retention[i]
		}
	}
	if clicks == nil || clicks.Limits != "size-only" || clicks.RateSource != "log growth" || *clicks.ProduceBytesPerSec != float64(256<<10)/60 ||
		*clicks.MaxSizePct != 75 || *clicks.SizeLimitCoversSeconds != 240 || *clicks.SizeDeletionInSeconds != 60 || *clicks.CoveredSeconds != 5400 {
		t.Errorf("clicks retention: %+v", clicks)
	}

	kinds := map[string]string{}
	for _, f := range v.Findings {
		kinds[f.Kind] = f.Severity
	}
	for kind, sev := range map[string]string{
		"unclean-election": "page", inspect.TierAtMinISR: "warning", inspect.TierUnderReplicated: "warning", "rack-conflict": "warning",
		"retention-size-only": "warning", "retention-time-only": "info",
	} {
		if kinds[kind] != sev {
			t.Errorf("finding %s: severity %q, want %q (all: %v)", kind, kinds[kind], sev, kinds)
		}
	}
	if v.Findings[0].Severity != "page" {
		t.Errorf("the worst finding first: %+v", v.Findings[0])
	}
	for _, f := range v.Findings {
		if f.Kind == inspect.TierAtMinISR && (!strings.Contains(f.What, "orders/0") || !strings.Contains(f.What, "broker 2")) {
			t.Errorf("the at-min-isr finding names the partition and the broker missing: %s", f.What)
		}
	}

	// kscope health --watch keeps only the events and counts of older
	// polls: the elections and events stay, the growth rates go.
	stripped := []inspect.Snapshot{{Time: polls[0].Time, Events: polls[0].Events, Changes: polls[0].Changes}, polls[1]}
	if sv := Health(Input{Window: Window{From: t0, To: t0.Add(2 * time.Minute)}, Cluster: stripped}, HealthFilter{}); sv.Elections.Total != 2 ||
		len(sv.Events) != 2 || sv.Summary.Partitions != 4 || sv.Retention[0].ProduceBytesPerSec != nil {
		t.Errorf("with the first poll stripped: elections %+v, %d events, retention %+v", sv.Elections, len(sv.Events), sv.Retention[0])
	}

	// A tier filter keeps the partitions in it, an unknown topic none.
	if v := Health(Input{Window: Window{From: v.From, To: v.To}, Cluster: polls}, HealthFilter{Tier: inspect.TierUnderReplicated}); len(v.Partitions) != 1 {
		t.Errorf("under-replicated: %+v", v.Partitions)
	}
	if v := Health(Input{Window: Window{From: v.From, To: v.To}, Cluster: polls}, HealthFilter{All: true, Topic: "orders"}); len(v.Partitions) != 3 {
		t.Errorf("orders, all: %d partitions", len(v.Partitions))
	}
}

// TestHealthTraffic: with traffic, each broker's produce and fetch rates
// come from it, matched by the address it advertises, and each topic's
// produce rate sets when size-based deletion starts.
func TestHealthTraffic(t *testing.T) {
	xs := []exchange.Exchange{
		ovX(0, "Produce", "10.0.0.9:5000", "10.0.0.1:9093", "order", time.Millisecond, ovTT{"clicks", []ovPart{{p: 0, records: 10, bytes: 60 << 10}}}),
		ovX(30*time.Second, "Fetch", "10.0.0.9:5001", "10.0.0.1:9093", "reader", time.Millisecond, ovTT{"clicks", []ovPart{{p: 0, records: 10, bytes: 30 << 10}}}),
	}
	poll := healthPoll(ovT0, []int32{0, 1, 2}, 512<<10, inspect.Changes{})
	v := Health(Input{Window: Window{From: ovT0, To: ovT0.Add(time.Minute)}, Exchanges: xs, Cluster: []inspect.Snapshot{poll}}, HealthFilter{})
	if !v.Traffic {
		t.Fatal("the view says no traffic")
	}
	b1 := v.Brokers[1]
	if b1.ProduceBytesPerSec == nil || *b1.ProduceBytesPerSec != 1024 || *b1.FetchBytesPerSec != 512 {
		t.Errorf("broker 1's traffic: %+v", b1)
	}
	if b0 := v.Brokers[0]; b0.ProduceBytesPerSec != nil {
		t.Errorf("broker 0 served nothing seen: %v", *b0.ProduceBytesPerSec)
	}
	for _, r := range v.Retention {
		if r.Topic == "clicks" && (r.RateSource != "traffic" || *r.ProduceBytesPerSec != 1024 || *r.SizeDeletionInSeconds != 512) {
			t.Errorf("clicks at 1 KiB/s with 512 KiB to go: %+v", r)
		}
	}
}

// TestHealthNoPoll: no poll yet is an empty view, not a healthy one.
func TestHealthNoPoll(t *testing.T) {
	v := Health(Input{}, HealthFilter{})
	if !v.AsOf.IsZero() || v.Summary.Worst != "" || v.Summary.Partitions != 0 {
		t.Errorf("no poll: %+v", v)
	}
}
