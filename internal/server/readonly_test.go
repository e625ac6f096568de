package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"kscope/internal/store"
	"kscope/internal/view"
)

// TestReadOnlyCapture: a server over capture files (kscope analyze --ui)
// answers over the capture's span, not the minutes before the clock's now
// that hold nothing, and refuses whatever would act.
func TestReadOnlyCapture(t *testing.T) {
	// Twenty minutes of traffic a while ago: orders in the first ten,
	// audit in the last ten.
	const every = 10 * time.Second
	var span view.Window
	var xs []func(*store.Store)
	for i := range 120 {
		topic := "orders"
		if i >= 60 {
			topic = "audit"
		}
		e := fake(i, "Produce", 0, topic)
		e.Time = t0.Add(time.Duration(i) * every)
		xs = append(xs, func(st *store.Store) { st.Add(e) })
		if i == 0 {
			span.From = e.Time
		}
		span.To = e.Time.Add(time.Nanosecond)
	}
	st := store.New(store.Config{})
	s, err := New(Config{ReadOnly: true, Span: span}, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	// As analyze does: the server first, so that the store keeps the
	// overview's parts of every exchange.
	for _, add := range xs {
		add(st)
	}
	s.Handle("GET /demo/status", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("up")) }))
	s.Handle("POST /demo/scale", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a read-only server ran a demo control")
	}))
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)

	topics := func(q string) (names []string, seconds float64) {
		t.Helper()
		resp, body := get(t, ts.URL+"/api/v1/overview"+q, "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("overview%s: status %d: %s", q, resp.StatusCode, body)
		}
		var o view.OverviewView
		if err := json.Unmarshal([]byte(body), &o); err != nil {
			t.Fatal(err)
		}
		for _, tr := range o.Topics {
			names = append(names, tr.Name)
		}
		return names, o.Seconds
	}
	if names, secs := topics(""); len(names) != 2 || secs < 19*60 || secs > 21*60 {
		t.Errorf("overview without since: topics %v over %.0fs, want orders and audit over the capture's 20 minutes", names, secs)
	}
	if names, _ := topics("?since=5m"); len(names) != 1 || names[0] != "audit" {
		t.Errorf("overview?since=5m: topics %v, want audit, the last 5 minutes of the capture", names)
	}
	// A chart of the last day has its points over the capture, not one
	// point for the capture after a day of nothing.
	resp, body := get(t, ts.URL+"/api/v1/history/requests?since=24h", "")
	var h view.RequestHistory
	if err := json.Unmarshal([]byte(body), &h); resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("history/requests?since=24h: %d %v %s", resp.StatusCode, err, body)
	}
	if !h.From.Equal(span.From) || h.StepSeconds > 60 {
		t.Errorf("history/requests?since=24h: from %v, a point per %vs; want from the capture's start %v, a point every minute or less", h.From, h.StepSeconds, span.From)
	}

	resp, body = get(t, ts.URL+"/api/v1/exchanges?since=1m", "")
	if n := len(records(t, body)); resp.StatusCode != http.StatusOK || n < 5 || n > 7 {
		t.Errorf("exchanges?since=1m: status %d, %d records; want the capture's last minute, 6 records", resp.StatusCode, n)
	}

	for _, u := range []string{"/api/v1/retention/bump", "/api/v1/retention/revert", "/demo/scale"} {
		code, body := post(t, ts.URL+u, "", `{"topic":"orders","to":"7d","reason":"test"}`)
		if code != http.StatusForbidden || !strings.Contains(body, "read-only") {
			t.Errorf("POST %s: %d %s, want 403 saying it is read-only", u, code, body)
		}
	}
	if resp, body := get(t, ts.URL+"/demo/status", ""); resp.StatusCode != http.StatusOK || body != "up" {
		t.Errorf("GET /demo/status: %d %q, want reading to work", resp.StatusCode, body)
	}
	for _, u := range []string{"/api/v1/lag", "/api/v1/health"} {
		resp, body := get(t, ts.URL+u, "")
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "capture files hold no cluster state") || !strings.Contains(body, "--cluster") {
			t.Errorf("GET %s: %d %s, want 503 saying a capture holds no cluster and which flag does", u, resp.StatusCode, body)
		}
	}
	if resp, body := get(t, ts.URL+"/api/v1/alerts", ""); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "capture files fire no alerts") || !strings.Contains(body, "--alertmanager") {
		t.Errorf("GET /api/v1/alerts: %d %s, want 503 saying captures fire no alerts and which flag shows them", resp.StatusCode, body)
	}
}
