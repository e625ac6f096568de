package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"kscope/internal/store"
	"kscope/internal/view"
)

// The history endpoints: lag over the polls, a page of groups, one
// group's partitions; bad numbers refused; 503 without an inspector.
func TestLagHistoryEndpoint(t *testing.T) {
	ts := newServer(t, Config{}, store.New(store.Config{}))
	if resp, body := get(t, ts.URL+"/api/v1/history/lag", ""); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "--cluster") ||
		!strings.Contains(body, "kscope lag --brokers") {
		t.Errorf("without an inspector: %d %s", resp.StatusCode, body)
	}
	st := store.New(store.Config{})
	now := time.Now()
	for i := range 3 {
		st.AddSnapshot(lagSnapshot(now.Add(time.Duration(i-3)*10*time.Second), int64(100+50*i), 40))
	}
	ts = newServer(t, Config{Inspecting: true}, st)
	if resp, body := get(t, ts.URL+"/api/v1/history/lag?limit=x", ""); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("limit=x: %d %s", resp.StatusCode, body)
	}
	resp, body := get(t, ts.URL+"/api/v1/history/lag?group=billing", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var h view.LagHistory
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		t.Fatal(err)
	}
	if h.Total != 1 || len(h.Groups) != 1 || len(h.Groups[0].Points) != 3 || h.Groups[0].Points[2].OffsetLag != 160 || len(h.Groups[0].Partitions) == 0 {
		t.Fatalf("lag history %s", body)
	}
}

// The request history answers over the traffic's parts, one point per
// step, and refuses a step that is no duration.
func TestRequestHistoryEndpoint(t *testing.T) {
	st := store.New(store.Config{})
	ts := newServer(t, Config{}, st)
	if resp, body := get(t, ts.URL+"/api/v1/history/requests?step=fast", ""); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("step=fast: %d %s", resp.StatusCode, body)
	}
	for i := range 90 {
		st.Add(fake(i, "Produce", 0, "orders"))
	}
	q := "since=" + t0.Format(time.RFC3339) + "&until=" + t0.Add(time.Minute).Format(time.RFC3339) + "&step=30s"
	resp, body := get(t, ts.URL+"/api/v1/history/requests?"+q, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var h view.RequestHistory
	if err := json.Unmarshal([]byte(body), &h); err != nil || h.StepSeconds != 30 || len(h.Series) != 1 {
		t.Fatalf("request history: %v %s", err, body)
	}
	// Request i took i ms: the first 30 s hold 0-29 ms, the next 30-59.
	pts := h.Series[0].Points
	if s := h.Series[0]; s.API != "Produce" || s.Broker != "10.0.0.2:9092" || len(pts) != 2 || pts[0].Requests != 30 || pts[1].Requests != 30 ||
		pts[0].P99 > 0.030 || pts[1].P50 < 0.040 || pts[1].P50 > 0.050 {
		t.Errorf("Produce over two steps: %+v", s)
	}
}
