package server

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"kscope/internal/exchange"
	"kscope/internal/store"
	"kscope/internal/view"
)

func groupX(at time.Time, lat time.Duration, api string, key int16, member string, gen int32, d *exchange.Detail) exchange.Exchange {
	ns := int64(lat)
	return exchange.Exchange{
		Time: at, Latency: &lat, LatencyNS: &ns, API: api, APIKey: key, Group: "shipping", MemberID: member, Generation: &gen, Detail: d,
		Client: exchange.Endpoint{Addr: "127.0.0.1:5000"}, Server: exchange.Endpoint{Addr: "127.0.0.1:9092"},
	}
}

// GET /api/v1/rebalances and the kscope_group_* metrics render the view
// over the store; the rebalance counter does not fall when the store
// forgets.
func TestRebalancesAPIAndMetrics(t *testing.T) {
	st := store.New(store.Config{})
	t0 := time.Now().Add(-time.Minute)
	st.Add(groupX(t0, time.Millisecond, "JoinGroup", 11, "m1", 1, &exchange.Detail{ProtocolType: "consumer", Protocol: "range", Leader: "m1", Members: []exchange.Member{{MemberID: "m1"}}}))
	st.Add(groupX(t0.Add(2*time.Millisecond), 248*time.Millisecond, "SyncGroup", 14, "m1", 1, &exchange.Detail{}))
	st.Add(fake(3, "Produce", 0, "orders"))
	ts := newServer(t, Config{}, st)

	resp, body := get(t, ts.URL+"/api/v1/rebalances?since=1h", "")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var v view.Rebalances
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Groups) != 1 || v.Groups[0].Group != "shipping" || len(v.Groups[0].Members) != 1 || len(v.Rebalances) != 1 || v.Rebalances[0].DelaySeconds == nil {
		t.Fatalf("view = %s", body)
	}
	if d := *v.Rebalances[0].DelaySeconds; d < 0.2499 || d > 0.2501 {
		t.Errorf("delay %.4f, want 0.25", d)
	}
	_, body = get(t, ts.URL+"/api/v1/rebalances?group=other", "")
	if !strings.Contains(body, `"groups": []`) {
		t.Errorf("other group: %s", body)
	}
	if resp, body := get(t, ts.URL+"/api/v1/rebalances?since=soon", ""); resp.StatusCode != 400 {
		t.Errorf("bad since: %d %s", resp.StatusCode, body)
	}

	_, m := get(t, ts.URL+"/metrics", "")
	for _, want := range []string{
		`kscope_group_rebalances_total{group="shipping"} 1`,
		`kscope_group_rebalance_duration_seconds_bucket{group="shipping",le="0.1"} 0`,
		`kscope_group_rebalance_duration_seconds_bucket{group="shipping",le="0.25"} 1`,
		`kscope_group_rebalance_duration_seconds_sum{group="shipping"} 0.25`,
		`kscope_group_rebalance_duration_seconds_count{group="shipping"} 1`,
		`kscope_group_members{group="shipping"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// A second scrape counts nothing new.
	_, m = get(t, ts.URL+"/metrics", "")
	if !strings.Contains(m, `kscope_group_rebalances_total{group="shipping"} 1`) || !strings.Contains(m, `kscope_group_rebalance_duration_seconds_count{group="shipping"} 1`) {
		t.Errorf("second scrape recounted")
	}
}

// The counter and the histogram keep what they counted once the store has
// dropped it; an incomplete rebalance is counted, and observed once it
// completes.
func TestRebalanceCounterMonotonic(t *testing.T) {
	st := store.New(store.Config{})
	c := newRebalanceCollector(st)
	t0 := time.Now().Add(-time.Minute)
	st.Add(groupX(t0, time.Millisecond, "JoinGroup", 11, "m1", 7, &exchange.Detail{ProtocolType: "consumer", Protocol: "range", Leader: "m1", Members: []exchange.Member{{MemberID: "m1"}}}))
	c.Collect(make(chan prometheus.Metric, 100))
	if g := c.groups["shipping"]; g == nil || g.rebalances != 1 || g.observed != 0 {
		t.Fatalf("after a JoinGroup alone: %+v, want 1 rebalance, none observed", g)
	}
	st.Add(groupX(t0.Add(time.Millisecond), time.Millisecond, "SyncGroup", 14, "m1", 7, &exchange.Detail{}))
	c.Collect(make(chan prometheus.Metric, 100))
	st2 := store.New(store.Config{})
	c.store = st2 // as if everything was evicted
	c.Collect(make(chan prometheus.Metric, 100))
	if g := c.groups["shipping"]; g.rebalances != 1 || g.observed != 1 {
		t.Errorf("after the store forgot: %d rebalances, %d observed; want 1 and 1", g.rebalances, g.observed)
	}
}
