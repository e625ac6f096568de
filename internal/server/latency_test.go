package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"kscope/internal/exchange"
	"kscope/internal/store"
	"kscope/internal/view"
)

// lagTraffic: a producer writes 10 records a second to orders/0 over the
// last 30 s; consumer "fast" reads each second what was just produced,
// "slow" reads 5 a second and falls behind.
func lagTraffic(st *store.Store) {
	now := time.Now().Add(-31 * time.Second)
	d := func(x time.Duration) *time.Duration { return &x }
	i64 := func(v int64) *int64 { return &v }
	for s := range 30 {
		at := now.Add(time.Duration(s) * time.Second)
		st.Add(exchange.Exchange{Time: at, Latency: d(time.Millisecond), APIKey: 0, API: "Produce", ClientID: "order",
			Client: exchange.Endpoint{Addr: "10.0.0.1:1"}, Server: exchange.Endpoint{Addr: "10.0.0.9:9092"},
			Topics: []exchange.Topic{{Name: "orders", Partitions: []exchange.Partition{{Partition: 0, Records: 10, Bytes: 1000, BaseOffset: i64(int64(s * 10))}}}}})
		for _, c := range []struct {
			id   string
			from int64
		}{{"fast", int64(s * 10)}, {"slow", int64(s * 5)}} {
			n := int64(10)
			if c.id == "slow" {
				n = 5
			}
			st.Add(exchange.Exchange{Time: at.Add(100 * time.Millisecond), Latency: d(time.Millisecond), APIKey: 1, API: "Fetch", ClientID: c.id,
				Client: exchange.Endpoint{Addr: "10.0.0.2:1"}, Server: exchange.Endpoint{Addr: "10.0.0.9:9092"},
				Topics: []exchange.Topic{{Name: "orders", Partitions: []exchange.Partition{{Partition: 0, Records: n, FetchOffset: i64(c.from), HighWatermark: i64(int64(s*10 + 10)),
					Batches: []exchange.Batch{{BaseOffset: c.from, LastOffsetDelta: int32(n - 1), Records: int32(n), MaxTimestamp: now.Add(time.Duration(c.from/10) * time.Second), TimestampType: "CreateTime"}}}}}}})
		}
	}
}

func TestLatencyAndClientsAPIAndMetrics(t *testing.T) {
	st := store.New(store.Config{})
	lagTraffic(st)
	// slow commits in group billing; fast is in no group.
	committed := int64(130)
	st.Add(exchange.Exchange{Time: time.Now().Add(-2 * time.Second), Latency: ptrDur(time.Millisecond), APIKey: 8, API: "OffsetCommit", ClientID: "slow", Group: "billing",
		Client: exchange.Endpoint{Addr: "10.0.0.2:1"}, Server: exchange.Endpoint{Addr: "10.0.0.9:9092"},
		Topics: []exchange.Topic{{Name: "orders", Partitions: []exchange.Partition{{Partition: 0, CommittedOffset: &committed}}}}})
	ts := newServer(t, Config{}, st)
	get := func(path string, v any) string {
		t.Helper()
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %s %s", path, resp.Status, b)
		}
		if v != nil {
			if err := json.Unmarshal(b, v); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
		return string(b)
	}
	var lv view.LatencyView
	get("/api/v1/latency?topic=orders&consumer=slow", &lv)
	if len(lv.Series) != 1 || len(lv.Series[0].Points) != 30 {
		t.Fatalf("latency for slow: %+v", lv.Series)
	}
	if p := lv.Series[0].Points; p[29].DelaySeconds < 10 || p[29].ExactDelaySeconds == nil {
		t.Errorf("slow consumer's last delay %.1fs (exact %v), want over 10s and exact", p[29].DelaySeconds, p[29].ExactDelaySeconds)
	}
	var cv view.ClientsView
	get("/api/v1/clients?topic=orders", &cv)
	lags, fetchLags := map[string]int64{}, map[string]int64{}
	for _, c := range cv.Consumers {
		lags[c.ClientID], fetchLags[c.ClientID] = *c.OffsetLag, *c.FetchLag
	}
	// slow had fetched up to 140 a second before it committed 130: it
	// works through a backlog, and is 170 behind, 150 of them not even
	// fetched.
	if lags["fast"] != 0 || lags["slow"] != 170 || fetchLags["slow"] != 150 {
		t.Errorf("offset lags %v, fetch lags %v, want fast 0 and slow 170 (150 not fetched)", lags, fetchLags)
	}
	if len(cv.Producers) != 1 || cv.Producers[0].Records != 300 {
		t.Errorf("producers %+v", cv.Producers)
	}
	metrics := get("/metrics", nil)
	for _, want := range []string{
		`kscope_consumer_offset_lag{group="billing",partition="0",topic="orders"} 170`,
		`kscope_consumer_offset_lag{group="",partition="0",topic="orders"} 0`,
		`kscope_consumer_time_lag_seconds{group="billing",partition="0",topic="orders"}`,
		`kscope_consumer_commit_lag_seconds{group="billing",partition="0",topic="orders"}`,
		`kscope_producer_consumer_delay_seconds{group="billing",partition="0",topic="orders"}`,
		`kscope_producer_consumer_delay_seconds{group="",partition="0",topic="orders"}`,
		`kscope_lag_metrics_dropped_series 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	resp, err := http.Get(ts.URL + "/api/v1/latency?since=yesterday")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad since: %s", resp.Status)
	}
}

func ptrDur(d time.Duration) *time.Duration { return &d }
