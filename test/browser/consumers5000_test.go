package browser

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"kscope/internal/web/webtest"
)

// The Consumers page of a cluster with 5,000 groups: the agent answers a
// page of 50, worst first, and the page draws those 50 with their
// sparklines and says how many there are in all. How long it takes is
// logged, not asserted.
func TestConsumers5000Groups(t *testing.T) {
	d := webtest.Generate(50, 150, time.Now())
	d.Polls = webtest.Polls(5000, 60, time.Now())
	h, err := webtest.Handler(d)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	b := newBrowser(t, srv.URL)

	// The first load fetches and compiles the scripts; the next finds
	// them cached, as a person's next visit does.
	var rows float64
	for _, visit := range []string{"first", "next"} {
		start := time.Now()
		b.open("/consumers")
		rows = waitFor(b, 30*time.Second, "a page of groups drawn", `document.querySelectorAll('[data-testid="consumer-group-row"]').length`,
			func(n float64) bool { return n > 0 })
		t.Logf("5,000 groups, %s visit: the first page of %v drawn %d ms after the navigation started", visit, rows, time.Since(start).Milliseconds())
	}
	if rows != 50 {
		t.Errorf("%v group rows on the page, want 50", rows)
	}
	if s := b.text("#groups-status"); !strings.Contains(s, "5000 groups") {
		t.Errorf("the page does not say how many groups there are: %q", s)
	}
	// Worst first: the groups falling further behind at every poll
	// (each 10th) lead, with their status in words.
	first := b.text(`[data-testid="consumer-group-row"]`)
	if !strings.Contains(first, "group-") || strings.Contains(first, " OK ") {
		t.Errorf("the first row is not one of the worst: %q", first)
	}
	if n := eval[float64](b, `document.querySelectorAll('[data-testid="consumer-group-row"] svg').length`); n < 50 {
		t.Errorf("%v sparklines for 50 groups", n)
	}
	// webtest serves no traffic: the processes table says so.
	b.noErrors("consumers", "/api/v1/clients")
}
