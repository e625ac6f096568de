package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"kscope/internal/inspect"
	"kscope/internal/store"
	"kscope/internal/view"
)

// healthSnapshot is a poll of a 3-broker cluster whose broker 2 is
// missing: topic orders (RF 3, min.insync.replicas 2) at min ISR.
func healthSnapshot(at time.Time) inspect.Snapshot {
	s := inspect.Snapshot{Time: at, ClusterID: "c1", Controller: 0}
	for id := range int32(3) {
		st := inspect.BrokerUp
		if id == 2 {
			st = inspect.BrokerMissing
		}
		s.Brokers = append(s.Brokers, inspect.Broker{ID: id, Host: "10.0.0.1", Port: 9092 + id, Rack: "r1", State: st, Since: at})
	}
	t := inspect.Topic{Name: "orders", MinISR: 2, Retention: inspect.Retention{Known: true, CleanupPolicy: "delete", Ms: 3600000, Bytes: -1}}
	for p := range int32(2) {
		t.Partitions = append(t.Partitions, inspect.Partition{Partition: p, Leader: p, Replicas: []int32{p, 2, (p + 1) % 2}, ISR: []int32{p, (p + 1) % 2},
			SizeBytes: 100, Tier: inspect.TierAtMinISR, TierSince: at})
	}
	s.Topics = []inspect.Topic{t}
	return s
}

// The health endpoint: 503 with how to start an inspector, 400 on a tier
// that does not exist, and the partitions with the keys other tools read.
func TestHealthEndpoint(t *testing.T) {
	ts := newServer(t, Config{}, store.New(store.Config{}))
	if resp, body := get(t, ts.URL+"/api/v1/health", ""); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "kscope health --brokers") {
		t.Errorf("without an inspector: %d %s", resp.StatusCode, body)
	}
	st := store.New(store.Config{})
	st.AddSnapshot(healthSnapshot(time.Now().Add(-time.Second)))
	ts = newServer(t, Config{Inspecting: true}, st)
	if resp, body := get(t, ts.URL+"/api/v1/health?tier=bad", ""); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "under-min-isr") {
		t.Errorf("bad tier: %d %s", resp.StatusCode, body)
	}
	resp, body := get(t, ts.URL+"/api/v1/health?tier=under-replicated", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var v view.HealthView
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Partitions) != 2 || v.Summary.BrokersUp != 2 || v.Summary.ByTier[inspect.TierAtMinISR] != 2 || v.Partitions[0].Missing[0] != 2 {
		t.Fatalf("health view %s", body)
	}
	for _, key := range []string{`"topic"`, `"partition"`, `"tier"`, `"leader"`, `"replicas"`, `"isr"`, `"missing"`, `"since"`, `"findings"`, `"severity"`, `"by_tier"`} {
		if !strings.Contains(body, key) {
			t.Errorf("the health JSON lacks %s", key)
		}
	}
	_, metrics := get(t, ts.URL+"/metrics", "")
	for _, line := range []string{
		`kscope_partition_replication_tier{partition="0",tier="at-min-isr",topic="orders"} 1`,
		`kscope_partition_replication_tier{partition="1",tier="under-replicated",topic="orders"} 1`,
		`kscope_partitions{tier="at-min-isr"} 2`, `kscope_partitions{tier="ok"} 0`,
		`kscope_broker_up{broker="2",rack="r1"} 0`, `kscope_broker_up{broker="0",rack="r1"} 1`,
		`kscope_topic_retention_seconds{topic="orders"} 3600`, `kscope_topic_retention_bytes{topic="orders"} -1`,
		`kscope_partitions_rack_conflict 2`,
		`kscope_replica_out_of_sync{broker="2",partition="0",topic="orders"} 1`,
		`kscope_replica_out_of_sync{broker="2",partition="1",topic="orders"} 1`,
		// Counters of every broker known, from the start.
		`kscope_isr_shrinks_total{broker="0"} 0`, `kscope_isr_expands_total{broker="2"} 0`, `kscope_leader_elections_total{broker="1"} 0`,
	} {
		if !strings.Contains(metrics, line+"\n") {
			t.Errorf("/metrics lacks %s", line)
		}
	}
	// Brokers 0 and 1 are in both ISRs: no series says they are not.
	if n := strings.Count(metrics, "kscope_replica_out_of_sync{"); n != 2 {
		t.Errorf("/metrics has %d kscope_replica_out_of_sync series, want the 2 of broker 2", n)
	}
}
