package browser

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"kscope/internal/web/webtest"
)

// serveGenerated serves the console's pages over generated views of 50
// topics and 150 clients: a flow graph of 200 nodes.
func serveGenerated(t testing.TB) (string, webtest.Data) {
	t.Helper()
	d := webtest.Generate(50, 150, time.Now())
	h, err := webtest.Handler(d)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL, d
}

// markDrawnJS runs in every page before its own scripts (DevTools adds it,
// outside the page's CSP) and notes when the flow graph has 200 boxes, in
// milliseconds from the start of the navigation.
const markDrawnJS = `new MutationObserver((_, o) => {
  if (document.querySelectorAll('#graph g.node').length >= 200) { window.kscopeDrawnMs = performance.now(); o.disconnect(); }
}).observe(document, {childList: true, subtree: true});`

// markDrawn makes every page the browser loads note when its flow graph
// is drawn (window.kscopeDrawnMs).
func (b *browser) markDrawn() {
	b.t.Helper()
	b.do("watch the graph", func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: markDrawnJS})
		return chromedp.Void{}, err
	})
}

// drawnMs loads the Overview and returns how long after the navigation's
// start its 200-node graph was drawn.
func drawnMs(b *browser) float64 {
	b.t.Helper()
	b.open("/overview")
	return waitFor(b, 30*time.Second, "the 200-node graph drawn", `window.kscopeDrawnMs || 0`, func(ms float64) bool { return ms > 0 })
}

// The Overview of a large cluster stays readable: every box drawn, none
// over another, each consumer inside its group's frame, statuses in
// words. How long it takes is logged (a figure, not an assertion: it
// depends on the machine).
func TestOverview200Nodes(t *testing.T) {
	base, d := serveGenerated(t)
	b := newBrowser(t, base)
	b.markDrawn()
	// The first load fetches and compiles the scripts; the next finds
	// them cached, as a person's next visit does.
	cold := drawnMs(b)
	warm := drawnMs(b)
	t.Logf("200-node overview drawn %.0f ms after the navigation started (%.0f ms the first time)", warm, cold)

	g := readGraph(b)
	if len(g.Nodes) != len(d.Overview.Nodes) || len(g.Edges) != len(d.Overview.Edges) {
		t.Errorf("drawn %d boxes and %d arrows, want %d and %d", len(g.Nodes), len(g.Edges), len(d.Overview.Nodes), len(d.Overview.Edges))
	}
	if g.Overlaps > 0 {
		t.Errorf("%d pairs of boxes overlap", g.Overlaps)
	}
	if w := g.wrongArrows(); len(w) > 0 {
		t.Errorf("%d arrows do not go producer -> topic -> consumer, e.g. %s", len(w), w[0])
	}
	inGroup := map[string]bool{}
	for _, grp := range g.Groups {
		for _, m := range grp.Members {
			inGroup[m] = true
		}
	}
	for _, n := range g.Nodes {
		switch n.Kind {
		case "consumer":
			if !inGroup[n.ID] {
				t.Errorf("consumer %s is inside no group frame", n.Name)
			}
			if !strings.Contains(n.Sub, "lag ") {
				t.Errorf("consumer %s says %q, not its lag status", n.Name, n.Sub)
			}
		case "topic":
			if !strings.Contains(n.Sub, "·") {
				t.Errorf("topic %s says %q, not its replication tier", n.Name, n.Sub)
			}
		}
	}
	b.screenshot("overview-200")
	b.noErrors("overview")
}

// BenchmarkOverview200Nodes: how long the Overview takes to draw a
// 200-node graph, from the navigation's start (ms-to-graph).
func BenchmarkOverview200Nodes(bb *testing.B) {
	base, _ := serveGenerated(bb)
	b := newBrowser(bb, base)
	b.markDrawn()
	var total float64
	for bb.Loop() {
		total += drawnMs(b)
	}
	bb.ReportMetric(total/float64(bb.N), "ms-to-graph")
}
