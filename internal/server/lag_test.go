package server

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"kscope/internal/broker"
	"kscope/internal/broker/brokertest"
	"kscope/internal/inspect"
	"kscope/internal/metrics"
	"kscope/internal/store"
	"kscope/internal/view"
)

func lagSnapshot(at time.Time, hw, committed int64) inspect.Snapshot {
	return inspect.Snapshot{Time: at, ClusterID: "c1", Controller: 0,
		Brokers: []inspect.Broker{{ID: 0, Host: "127.0.0.1", Port: 9092}},
		Topics: []inspect.Topic{{Name: "orders", Partitions: []inspect.Partition{{Partition: 0, Leader: 0, Replicas: []int32{0}, ISR: []int32{0},
			LogStartOffset: 0, HighWatermark: hw, LastStableOffset: hw, SizeBytes: -1}}}},
		Groups: []inspect.Group{{Group: "billing", State: "Empty", Protocol: "classic", Coordinator: 0,
			Offsets: []inspect.Offset{{Topic: "orders", Partition: 0, Committed: committed, LeaderEpoch: -1}}}},
	}
}

// GET /api/v1/lag and the kscope_group_* lag metrics render the lag view of
// the inspector's snapshots; without an inspector the endpoint says how to
// start one.
func TestLagEndpointAndMetrics(t *testing.T) {
	ts := newServer(t, Config{}, store.New(store.Config{}))
	if resp, body := get(t, ts.URL+"/api/v1/lag", ""); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "--cluster") {
		t.Errorf("without an inspector: %d %s", resp.StatusCode, body)
	}

	st := store.New(store.Config{})
	now := time.Now()
	for i := range 3 {
		st.AddSnapshot(lagSnapshot(now.Add(time.Duration(i-3)*10*time.Second), int64(100+50*i), 40))
	}
	ts = newServer(t, Config{Inspecting: true}, st)
	resp, body := get(t, ts.URL+"/api/v1/lag?group=billing", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var v view.LagView
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Groups) != 1 || v.Groups[0].Status != view.LagStop || v.Polls != 3 || *v.Groups[0].Partitions[0].OffsetLag != 160 {
		t.Fatalf("lag view %s", body)
	}
	for _, key := range []string{`"groups"`, `"group"`, `"state"`, `"protocol"`, `"members"`, `"status"`, `"reason"`, `"offset_lag"`,
		`"max_append_lag_seconds"`, `"max_time_lag_seconds"`, `"partitions"`, `"topic"`, `"partition"`, `"committed_offset"`, `"log_start_offset"`,
		`"high_watermark"`, `"append_lag_seconds"`, `"commit_lag_seconds"`, `"time_lag_seconds"`, `"time_to_loss_seconds"`, `"last_commit"`} {
		if !strings.Contains(body, key) {
			t.Errorf("lag JSON lacks %s", key)
		}
	}
	if resp, body := get(t, ts.URL+"/api/v1/lag?warn=soon", ""); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "warn") {
		t.Errorf("bad warn: %d %s", resp.StatusCode, body)
	}
	_, m := get(t, ts.URL+"/metrics", "")
	for _, want := range []string{
		`kscope_group_offset_lag{group="billing",partition="0",topic="orders"} 160`,
		`kscope_group_status{group="billing",status="STOP"} 1`,
		`kscope_group_status{group="billing",status="OK"} 0`,
		`kscope_partition_high_watermark{partition="0",topic="orders"} 200`,
		`kscope_partition_log_start_offset{partition="0",topic="orders"} 0`,
		`kscope_group_lag_metrics_dropped_series 0`,
		`kscope_store_snapshots 3`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestGroupLagMetricsCap: past the cap of label sets, the group lag
// metrics keep the worst partitions and count the others.
func TestGroupLagMetricsCap(t *testing.T) {
	const n = metrics.MaxLabelSets + 50
	s := lagSnapshot(time.Now(), 20000, 20000)
	pt := s.Topics[0].Partitions[0]
	s.Topics[0].Partitions, s.Groups[0].Offsets = nil, nil
	for p := range int32(n) {
		pt.Partition = p
		s.Topics[0].Partitions = append(s.Topics[0].Partitions, pt)
		// Partition p is p records behind: the first 50 are the least.
		s.Groups[0].Offsets = append(s.Groups[0].Offsets, inspect.Offset{Topic: "orders", Partition: p, Committed: 20000 - int64(p), LeaderEpoch: -1})
	}
	st := store.New(store.Config{})
	st.AddSnapshot(s)
	ts := newServer(t, Config{Inspecting: true}, st)
	_, m := get(t, ts.URL+"/metrics", "")
	if got := strings.Count(m, "\nkscope_group_offset_lag{"); got != metrics.MaxLabelSets {
		t.Errorf("%d offset lag series, want %d", got, metrics.MaxLabelSets)
	}
	for _, want := range []string{`kscope_group_lag_metrics_dropped_series 50`, `kscope_group_offset_lag{group="billing",partition="10049",topic="orders"} 10049`} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(m, `kscope_group_offset_lag{group="billing",partition="49",topic="orders"}`) {
		t.Error("a partition 49 records behind is kept, beyond the cap")
	}
}

// TestClusterMetricsDeclaredAndLinted: the lag gauges of a server fed by
// an inspector, and the inspector's own metrics, are declared and clean
// under promlint.
func TestClusterMetricsDeclaredAndLinted(t *testing.T) {
	c := brokertest.Start(t, broker.Config{Brokers: 1, Partitions: 1, Topics: []string{"orders"}})
	cl := brokertest.Client(t, c)
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "orders", Value: []byte("o")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := kadm.NewClient(cl).CommitAllOffsets(context.Background(), "billing", kadm.Offsets{"orders": {0: {Topic: "orders", Partition: 0, At: 0}}}); err != nil {
		t.Fatal(err)
	}
	in, err := inspect.New(inspect.Config{Brokers: c.Addrs()})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	st := store.New(store.Config{})
	s, err := New(Config{Inspecting: true, PollInterval: time.Second}, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		st.AddSnapshot(in.Poll(context.Background()))
	}
	if err := s.Register(in.Collector()); err != nil {
		t.Fatal(err)
	}
	fams, err := s.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kscope_group_offset_lag", "kscope_group_status", "kscope_partition_high_watermark", "kscope_inspector_polls_total", "kscope_store_snapshots",
		"kscope_partitions", "kscope_broker_up", "kscope_broker_leaders", "kscope_broker_bytes", "kscope_partition_size_bytes", "kscope_topic_retention_seconds",
		"kscope_topic_retention_bytes", "kscope_partitions_rack_conflict", "kscope_partitions_not_preferred_leader", "kscope_unclean_leader_elections_suspected_total"} {
		if !slices.ContainsFunc(fams, func(f *dto.MetricFamily) bool { return f.GetName() == name }) {
			t.Errorf("scrape lacks %s", name)
		}
	}
	checkScrape(t, s.registry, fams)
}
