package browser

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// noCluster are the console messages a capture's pages may log: the
// endpoints of the cluster inspector answer 503 (capture files hold no
// cluster state), which the pages say in words.
var noCluster = []string{"/api/v1/lag", "/api/v1/health", "/api/v1/history/lag"}

// The console's pages over a capture file (kscope analyze --ui): each
// shows the capture, read-only, and says what a capture cannot show.
func TestAnalyzeConsole(t *testing.T) {
	base := startAnalyze(t, "../../testdata/captures/franz-go.pcap")
	br := newBrowser(t, base)

	t.Run("overview", func(t *testing.T) {
		b := br.on(t)
		b.open("/overview")
		g := waitFor(b, 30*time.Second, "the flow graph of franz-go.pcap", readGraphJS, func(g flowGraph) bool {
			return len(g.nodes("topic", "")) >= 3
		})
		var topics []string
		for _, n := range g.nodes("topic", "") {
			topics = append(topics, n.Name)
		}
		slices.Sort(topics)
		if !slices.Equal(topics, []string{"audit", "orders", "payments"}) {
			t.Errorf("topic boxes %v, want the capture's audit, orders, payments", topics)
		}
		orders, _ := g.node("topic", "orders")
		zstd, ok := g.node("producer", "127.0.0.1 (franz-producer-zstd)")
		if !ok || !g.arrow(zstd.ID, orders.ID) {
			t.Errorf("no arrow from producer franz-producer-zstd to topic orders: %+v", g.Edges)
		}
		for _, c := range []string{"127.0.0.1 (franz-consumer-1)", "127.0.0.1 (franz-consumer-2)"} {
			n, ok := g.node("consumer", c)
			if !ok || !g.arrow(orders.ID, n.ID) {
				t.Errorf("no arrow from topic orders to consumer %s", c)
			}
			if grp, ok := g.group("group:shipping"); !ok || !slices.Contains(grp.Members, n.ID) {
				t.Errorf("consumer %s is not drawn inside group shipping's frame: %+v", c, g.Groups)
			}
		}
		if w := g.wrongArrows(); len(w) > 0 {
			t.Errorf("arrows that do not go producer -> topic -> consumer: %v", w)
		}
		if src := b.text("p.source"); !strings.Contains(src, "capture files, read-only") {
			t.Errorf("the page does not say it shows capture files read-only: %q", src)
		}
		if sum := b.text("#summary"); !strings.Contains(sum, "144 exchanges") {
			t.Errorf("summary %q, want the capture's 144 exchanges", sum)
		}
		b.screenshot("analyze-overview")
		b.noErrors("overview", noCluster...)
	})

	t.Run("latency", func(t *testing.T) {
		b := br.on(t)
		b.open("/latency")
		lines := waitFor(b, 30*time.Second, "delay lines in the legend",
			`[...document.querySelectorAll('[data-testid=latency-chart] .legend-item')].map((x) => x.textContent)`,
			func(v []string) bool { return len(v) > 0 })
		t.Logf("delay lines: %v", lines)
		if !slices.ContainsFunc(lines, func(s string) bool { return strings.Contains(s, "franz-consumer-1") }) {
			t.Errorf("no delay line of franz-consumer-1: %v", lines)
		}
		waitFor(b, 30*time.Second, "request latency lines", `document.querySelectorAll('[data-testid=request-chart] .legend-item').length`,
			func(n int) bool { return n > 0 })
		// The chart draws its legend first and labels its plot once uPlot
		// has loaded and drawn it, which on a loaded machine comes later.
		plot := waitFor(b, 30*time.Second, "the request latency plot drawn",
			`(document.querySelector('[data-testid=request-chart] .plot') || {getAttribute: () => ''}).getAttribute('aria-label') || ''`,
			func(s string) bool { return strings.Contains(s, " points") })
		t.Log(plot)
		// Over the capture's 7 seconds, not one point for all of it.
		if !regexp.MustCompile(`, ([5-9]|\d\d+) points`).MatchString(plot) {
			t.Errorf("request latency chart: %q, want points over the capture", plot)
		}
		b.screenshot("analyze-latency")
		b.noErrors("latency", noCluster...)
	})

	t.Run("consumers", func(t *testing.T) {
		b := br.on(t)
		b.open("/consumers")
		note := waitFor(b, 30*time.Second, "the note that a capture has no group lag",
			`(document.querySelector('[data-testid=consumer-groups-unavailable]') || {}).textContent || ''`,
			func(s string) bool { return s != "" })
		if !strings.Contains(note, "--cluster") {
			t.Errorf("the groups' note does not say which flag gives group lag: %q", note)
		}
		rows := waitFor(b, 30*time.Second, "consumer process rows",
			`[...document.querySelectorAll('[data-testid=consumer-process-row]')].map((tr) => tr.textContent)`,
			func(v []string) bool { return len(v) > 0 })
		if !slices.ContainsFunc(rows, func(s string) bool { return strings.Contains(s, "franz-consumer-1") && strings.Contains(s, "shipping") }) {
			t.Errorf("no row of franz-consumer-1 in group shipping: %v", rows)
		}
		b.screenshot("analyze-consumers")
		b.noErrors("consumers", noCluster...)
	})

	t.Run("rebalances", func(t *testing.T) {
		b := br.on(t)
		b.open("/rebalances")
		bars := waitFor(b, 30*time.Second, "group shipping's generations",
			`[...document.querySelectorAll('[data-testid=rebalance-bar][data-group=shipping]')].map((g) => g.getAttribute('aria-label'))`,
			func(v []string) bool { return len(v) > 0 })
		t.Logf("bars: %v", bars)
		b.click("the last bar", `[...document.querySelectorAll('[data-testid=rebalance-bar][data-group=shipping]')].pop().querySelector('rect')`)
		members := waitFor(b, 10*time.Second, "the generation's members",
			`(() => { const d = document.querySelector('[data-testid=rebalance-detail]'); return d && !d.hidden ? d.textContent : ''; })()`,
			func(s string) bool { return strings.Contains(s, "franz-consumer") })
		if !strings.Contains(members, "orders") {
			t.Errorf("the generation's members show no partitions of orders: %q", members)
		}
		b.screenshot("analyze-rebalances")
		b.noErrors("rebalances", noCluster...)
	})

	t.Run("events", func(t *testing.T) {
		b := br.on(t)
		b.open("/events")
		n := waitFor(b, 30*time.Second, "the capture's exchanges", `document.querySelectorAll('[data-testid=event-row]').length`,
			func(n int) bool { return n > 0 })
		if n > 144 {
			t.Errorf("%d rows from a capture of 144 exchanges", n)
		}
		// By its API cell: "InitProducerID v4" holds "Produce" too.
		b.click("a Produce row", `[...document.querySelectorAll('[data-testid=event-row]')].find((tr) => tr.cells[1].textContent.startsWith('Produce '))`)
		req := waitFor(b, 10*time.Second, "the decoded request", `document.querySelector('[data-testid=event-request]').textContent`,
			func(s string) bool { return s != "" && s != "loading" })
		if !strings.Contains(req, `"acks"`) {
			t.Errorf("a Produce's decoded request has no acks: %.300s", req)
		}
		b.screenshot("analyze-events")
		b.noErrors("events", noCluster...)
	})

	// The pages of what capture files cannot hold say why, and which flag
	// shows it.
	for _, c := range []struct{ page, why, flag, shot string }{
		{"cluster", "capture files hold no cluster state", "--cluster", "analyze-cluster"},
		{"alerts", "capture files fire no alerts", "--alertmanager", ""},
	} {
		t.Run(c.page, func(t *testing.T) {
			b := br.on(t)
			b.open("/" + c.page)
			msg := waitFor(b, 30*time.Second, "the page saying why it is empty",
				`(() => { const u = document.getElementById('unavailable'); return u && !u.hidden ? u.textContent : ''; })()`,
				func(s string) bool { return s != "" })
			if !strings.Contains(msg, c.why) || !strings.Contains(msg, c.flag) {
				t.Errorf("the %s page says %q, want %q and the flag %s", c.page, msg, c.why, c.flag)
			}
			if c.shot != "" {
				b.screenshot(c.shot)
			}
			b.noErrors(c.page, append(noCluster, "/api/v1/alerts")...)
		})
	}
}
