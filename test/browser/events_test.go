package browser

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"kscope/internal/web/webtest"
)

// floodRate is the events per second the flooding agent streams.
const floodRate = 10000

// serveFlood serves the console's pages with an exchanges endpoint that
// follows at floodRate events a second: an agent on a busy cluster.
func serveFlood(t testing.TB) string {
	t.Helper()
	pages, err := webtest.Handler(webtest.Generate(5, 10, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	mux := http.NewServeMux()
	mux.Handle("/", pages)
	mux.HandleFunc("GET /api/v1/exchanges", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		rc := http.NewResponseController(w)
		const tick = 10 * time.Millisecond
		per := floodRate * int(tick) / int(time.Second)
		seq := 0
		var buf []byte
		for {
			buf = buf[:0]
			now := time.Now().UTC().Format(time.RFC3339Nano)
			for range per {
				seq++
				buf = fmt.Appendf(buf, `{"seq":%d,"time":%q,"latency_ns":%d,"client":{"addr":"10.0.0.7:%d","pid":4242,"process":"order"},`+
					`"server":{"addr":"10.0.0.2:9092"},"side":"client","api_key":0,"api":"Produce","api_version":9,"correlation_id":%d,`+
					`"client_id":"order-service","topics":[{"name":"orders","partitions":[{"partition":%d,"error":"","records":5,"bytes":900}]}],`+
					`"request_bytes":1100,"response_bytes":60,"truncated":false}`+"\n", seq, now, 400000+seq%9000, 40000+seq%16, seq, seq%12)
			}
			if _, err := w.Write(buf); err != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
			select {
			case <-r.Context().Done():
				return
			case <-ctx.Done():
				return
			case <-time.After(tick):
			}
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		cancel()
		srv.Close()
	})
	return srv.URL
}

// At 10,000 events a second the Events page keeps answering: it shows a
// sample and says so, keeps its table bounded, and pauses when asked.
func TestEventsFlood(t *testing.T) {
	b := newBrowser(t, serveFlood(t))
	b.open("/events")
	status := `document.querySelector('[data-testid=events-status]').textContent`
	sampled := waitFor(b, 30*time.Second, "the page saying it shows a sample",
		`(document.querySelector('[data-testid=events-sampled]') || {}).textContent || ''`,
		func(s string) bool { return s != "" })
	every, err := strconv.Atoi(strings.TrimPrefix(sampled, "showing 1 in "))
	if err != nil || every < 10 {
		t.Errorf("the page says %q, want it to show about 1 in %d events", sampled, floodRate/200)
	}
	t.Logf("status: %s", eval[string](b, status))

	// The tab answers: timers fire, the table moves on and stays bounded.
	seqs := `[...document.querySelectorAll('[data-testid=event-row]')].map((tr) => Number(tr.dataset.seq))`
	before := eval[[]float64](b, seqs)
	var worst float64
	for range 10 {
		lag := eval[float64](b, `new Promise((r) => { const t = performance.now(); setTimeout(() => r(performance.now() - t), 0); })`)
		worst = max(worst, lag)
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("a timer waited at most %.0f ms behind the stream", worst)
	after := waitFor(b, 10*time.Second, "new rows", seqs, func(v []float64) bool { return len(v) > 0 && len(before) > 0 && v[0] > before[0] })
	if len(after) > 500 {
		t.Errorf("%d rows: the table is not bounded", len(after))
	}

	// Paused, it holds still.
	b.click("Pause", `document.querySelector('[data-testid=events-pause]')`)
	time.Sleep(500 * time.Millisecond)
	held := eval[[]float64](b, seqs)
	time.Sleep(2 * time.Second)
	if now := eval[[]float64](b, seqs); len(now) == 0 || len(held) == 0 || now[0] != held[0] {
		t.Errorf("paused, the table moved on")
	}
	if s := eval[string](b, status); !strings.Contains(s, "paused") {
		t.Errorf("paused, the status says %q", s)
	}
	b.screenshot("events-flood")
	b.noErrors("events")
}
