package server

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"kscope/internal/exchange"
	"kscope/internal/store"
	"kscope/internal/view"
)

// The delay history answers per step from the traffic's parts: a consumer
// whose batches arrive 100 ms late for 30 s, then 2 s late, has two
// points of 30 s that say so; topic and consumer filter; a step that is
// no duration is refused.
func TestDelayHistoryEndpoint(t *testing.T) {
	st := store.New(store.Config{})
	ts := newServer(t, Config{}, st)
	if resp, body := get(t, ts.URL+"/api/v1/history/delay?step=fast", ""); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("step=fast: %d %s", resp.StatusCode, body)
	}
	lat := time.Millisecond
	for i := range 60 {
		late := 100 * time.Millisecond
		if i >= 30 {
			late = 2 * time.Second
		}
		at := t0.Add(time.Duration(i) * time.Second)
		st.Add(exchange.Exchange{
			Time: at, Latency: &lat, API: "Fetch", APIKey: 1, CorrelationID: int32(i), ClientID: "billing-svc", Side: "client",
			Client: exchange.Endpoint{Addr: "10.0.0.1:5000", PID: 42, Process: "billing"},
			Server: exchange.Endpoint{Addr: "10.0.0.2:9092"},
			Topics: []exchange.Topic{{Name: "orders", Partitions: []exchange.Partition{{Partition: 3, Records: 5,
				Batches: []exchange.Batch{{BaseOffset: int64(5 * i), LastOffsetDelta: 4, Records: 5, MaxTimestamp: at.Add(lat - late)}}}}}},
		})
	}
	q := "since=" + t0.Format(time.RFC3339) + "&until=" + t0.Add(time.Minute).Format(time.RFC3339) + "&step=30s"
	var h view.DelayHistory
	for _, c := range []struct {
		filter string
		series int
	}{{"", 1}, {"&topic=orders&consumer=billing", 1}, {"&consumer=42", 1}, {"&topic=audit", 0}, {"&consumer=other", 0}} {
		resp, body := get(t, ts.URL+"/api/v1/history/delay?"+q+c.filter, "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", c.filter, resp.StatusCode, body)
		}
		h = view.DelayHistory{}
		if err := json.Unmarshal([]byte(body), &h); err != nil || h.StepSeconds != 30 || h.ResolutionSeconds < 1 || len(h.Series) != c.series {
			t.Fatalf("%s: %v %s", c.filter, err, body)
		}
	}
	resp, body := get(t, ts.URL+"/api/v1/history/delay?"+q, "")
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &h) != nil {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	s, pts := h.Series[0], h.Series[0].Points
	if s.Topic != "orders" || s.Partition != 3 || s.Consumer != "billing[42]" || s.ClientID != "billing-svc" || len(pts) != 2 ||
		!pts[0].Time.Equal(t0) || pts[0].Batches != 30 || pts[0].Max != 0.1 || pts[0].P99 < 0.097 || pts[0].P99 > 0.1 ||
		pts[1].Batches != 30 || pts[1].Max != 2 || pts[1].P50 < 1.94 || pts[1].P50 > 2 {
		t.Errorf("orders/3 over two steps: %s", body)
	}
}
