package browser

import (
	"slices"
	"strings"
	"testing"
	"time"

	"kscope/internal/testenv"
)

// The console over a live kscope demo, page by page, as a person watching
// the Pixie tutorial's scenario would see it: order produces, shipping
// keeps up, invoicing falls behind; shipping scaled to 3 rebalances.
func TestDemoConsole(t *testing.T) {
	testenv.Root(t) // the demo traces its services
	d := startDemo(t)
	started := time.Now()
	br := newBrowser(t, d.url)

	t.Run("overview", func(t *testing.T) {
		b := br.on(t)
		b.open("/overview")
		// Once the cluster inspector has polled, each consumer says its
		// lag status.
		g := waitFor(b, time.Minute, "order, shipping and invoicing in the flow graph, with lag statuses", readGraphJS, func(g flowGraph) bool {
			topic, ok := g.node("topic", "order")
			if !ok {
				return false
			}
			for _, p := range [][2]string{{"producer", "order["}, {"consumer", "shipping["}, {"consumer", "invoicing["}} {
				n, ok := g.node(p[0], p[1])
				if !ok || p[0] == "producer" && !g.arrow(n.ID, topic.ID) || p[0] == "consumer" && (!g.arrow(topic.ID, n.ID) || !strings.Contains(n.Sub, "lag ")) {
					return false
				}
			}
			return true
		})
		if w := g.wrongArrows(); len(w) > 0 {
			t.Errorf("arrows that do not go producer -> topic -> consumer: %v", w)
		}
		for _, name := range []string{"shipping", "invoicing"} {
			c, _ := g.node("consumer", name+"[")
			grp, ok := g.group("group:" + name)
			if !ok || !slices.Contains(grp.Members, c.ID) {
				t.Errorf("consumer %s is not drawn inside its group's frame: %+v", c.Name, g.Groups)
			}
		}
		topic, _ := g.node("topic", "order")
		if !strings.Contains(topic.Sub, "ok") {
			t.Errorf("topic order says %q, want its replication tier (ok) in words", topic.Sub)
		}

		// Hovering the producer shows its rates and latency.
		order, _ := g.node("producer", "order[")
		b.hover("producer order", nodeEl(order.ID))
		tip := waitFor(b, 10*time.Second, "the producer's tooltip", `(() => { const t = document.getElementById('tip'); return t.hidden ? '' : t.textContent; })()`,
			func(s string) bool { return s != "" })
		for _, want := range []string{"records/s", "requests/s", "p99 Produce"} {
			if !strings.Contains(tip, want) {
				t.Errorf("the producer's tooltip %q has no %s", tip, want)
			}
		}

		// Clicking invoicing focuses its flow: the URL says so, and the
		// tables show its neighbourhood only.
		inv, _ := g.node("consumer", "invoicing[")
		b.click("consumer invoicing", nodeEl(inv.ID)+`.querySelector('rect')`)
		consumers := waitFor(b, 10*time.Second, "the consumers table focused on invoicing",
			`[...document.querySelectorAll('#consumers tbody tr')].map((tr) => tr.textContent)`,
			func(rows []string) bool { return len(rows) == 1 && strings.Contains(rows[0], "invoicing") })
		t.Logf("focused consumers table: %q", consumers)
		if u := eval[string](b, `location.search`); !strings.Contains(u, "focus=") {
			t.Errorf("the URL %q does not hold the focus, so it cannot be shared", u)
		}
		b.click("Show all", `document.getElementById('focus-clear')`)
		waitFor(b, 10*time.Second, "both consumers in the table again", `document.querySelectorAll('#consumers tbody tr').length`,
			func(n int) bool { return n >= 2 })
		b.noErrors("overview")
	})

	t.Run("events", func(t *testing.T) {
		b := br.on(t)
		b.open("/events")
		maxSeq := `Math.max(0, ...[...document.querySelectorAll('[data-testid=event-row]')].map((tr) => Number(tr.dataset.seq)))`
		first := waitFor(b, 30*time.Second, "events", maxSeq, func(n float64) bool { return n > 0 })
		waitFor(b, 30*time.Second, "new events arriving", maxSeq, func(n float64) bool { return n > first })

		// Paused, the table holds still (and a row stays where one
		// clicks); resumed, it moves on.
		b.click("Pause", `document.querySelector('[data-testid=events-pause]')`)
		time.Sleep(time.Second) // what was on its way
		held := eval[float64](b, maxSeq)
		time.Sleep(3 * time.Second)
		if now := eval[float64](b, maxSeq); now != held {
			t.Errorf("paused, the events went on from seq %v to %v", held, now)
		}
		// By its API cell: "OffsetFetch v9" holds "Fetch" too.
		b.click("a Fetch row", `[...document.querySelectorAll('[data-testid=event-row]')].find((tr) => tr.cells[1].textContent.startsWith('Fetch '))`)
		resp := waitFor(b, 10*time.Second, "the decoded response", `document.querySelector('[data-testid=event-response]').textContent`,
			func(s string) bool { return strings.Contains(s, "{") })
		if !strings.Contains(resp, "partitions") && !strings.Contains(resp, "topics") && !strings.Contains(resp, "responses") {
			t.Errorf("a Fetch's decoded response shows no topics or partitions: %.300s", resp)
		}
		b.screenshot("events")
		b.click("Close", `document.getElementById('evd-close')`)
		b.click("Resume", `document.querySelector('[data-testid=events-pause]')`)
		waitFor(b, 30*time.Second, "events after resuming", maxSeq, func(n float64) bool { return n > held })
		b.noErrors("events")
	})

	t.Run("latency", func(t *testing.T) {
		b := br.on(t)
		b.open("/latency?topic=order")
		lines := waitFor(b, time.Minute, "delay lines of shipping and invoicing",
			`[...document.querySelectorAll('[data-testid=latency-chart] .legend-item')].map((x) => x.textContent)`,
			func(v []string) bool {
				return slices.ContainsFunc(v, func(s string) bool { return strings.Contains(s, "shipping") }) &&
					slices.ContainsFunc(v, func(s string) bool { return strings.Contains(s, "invoicing") })
			})
		t.Logf("%d delay lines, e.g. %q", len(lines), lines[0])
		req := waitFor(b, 30*time.Second, "request latency lines per broker",
			`[...document.querySelectorAll('[data-testid=request-chart] .legend-item')].map((x) => x.textContent)`,
			func(v []string) bool { return len(v) > 0 })
		if !slices.ContainsFunc(req, func(s string) bool { return strings.Contains(s, "p99") }) {
			t.Errorf("request latency lines %v, want p99 per broker", req)
		}
		b.screenshot("latency")
		b.noErrors("latency")
	})

	t.Run("cluster", func(t *testing.T) {
		b := br.on(t)
		b.open("/cluster")
		brokers := waitFor(b, time.Minute, "three brokers",
			`[...document.querySelectorAll('#brokers tbody tr')].map((tr) => tr.textContent)`,
			func(v []string) bool { return len(v) == 3 && !strings.Contains(v[0], "no brokers") })
		racks := 0
		for _, r := range brokers {
			if !strings.Contains(r, "up") {
				t.Errorf("broker row %q does not say up", r)
			}
			if strings.Contains(r, "rack-a") || strings.Contains(r, "rack-b") {
				racks++
			}
		}
		if racks != 3 {
			t.Errorf("broker rows %q, want each in rack-a or rack-b", brokers)
		}
		if s := b.text("#summary"); !strings.Contains(s, "3 of 3") || !strings.Contains(s, "worst tier") {
			t.Errorf("summary %q, want 3 of 3 brokers up and the worst tier", s)
		}
		b.do("show every partition", setSelect("#tier", "all"))
		parts := waitFor(b, 30*time.Second, "the order topic's partitions by tier",
			`[...document.querySelectorAll('#partitions tbody tr')].map((tr) => tr.textContent)`,
			func(v []string) bool {
				return slices.ContainsFunc(v, func(s string) bool { return strings.HasPrefix(s, "order") })
			})
		for _, p := range parts {
			if !strings.Contains(p, "ok") && !strings.Contains(p, "under-replicated") && !strings.Contains(p, "min-isr") {
				t.Errorf("partition row %q says no tier", p)
			}
		}
		retention := eval[[]string](b, `[...document.querySelectorAll('#retention tbody tr')].map((tr) => tr.textContent)`)
		if !slices.ContainsFunc(retention, func(s string) bool { return strings.Contains(s, "order-audit") && strings.Contains(s, "size-only") }) {
			t.Errorf("retention coverage %q, want order-audit kept by size only", retention)
		}
		b.screenshot("cluster")
		b.noErrors("cluster")
	})

	// The demo's Prometheus and Alertmanager run kscope's rules: its
	// permanent rack conflict (rack-a holds two of order's three
	// replicas) fires as a warning, routed to the team.
	t.Run("alerts", func(t *testing.T) {
		b := br.on(t)
		b.open("/alerts")
		rows := waitFor(b, time.Minute, "the rack conflict alert",
			`[...document.querySelectorAll('#list tbody tr')].map((tr) => tr.textContent)`,
			func(v []string) bool {
				return slices.ContainsFunc(v, func(s string) bool { return strings.Contains(s, "KafkaRackConflict") })
			})
		for _, r := range rows {
			if strings.Contains(r, "KafkaRackConflict") && (!strings.Contains(r, "warning") || !strings.Contains(r, "kafka-team") || !strings.Contains(r, "README.md#kafkarackconflict")) {
				t.Errorf("the rack conflict's row %q lacks its severity, its receiver or its runbook", r)
			}
		}
		if s := b.text("#summary"); !strings.Contains(s, "firing") || !strings.Contains(s, "held back") {
			t.Errorf("summary %q, want what fires and what is held back", s)
		}
		b.click("Show the alerts held back", `document.getElementById('held')`)
		waitFor(b, 10*time.Second, "held=true in the URL", `location.search`, func(s string) bool { return strings.Contains(s, "held=true") })
		b.screenshot("alerts")
		b.noErrors("alerts")
	})

	t.Run("consumers", func(t *testing.T) {
		b := br.on(t)
		// Invoicing needs half a minute to fall clearly behind.
		time.Sleep(time.Until(started.Add(45 * time.Second)))
		b.open("/consumers")
		// The sparkline of invoicing's offset lag: y of its first and
		// last point (SVG y grows downwards).
		trend := waitFor(b, time.Minute, "invoicing's offset lag line rising", `(() => {
			const tr = [...document.querySelectorAll('[data-testid=consumer-group-row]')].find((tr) => tr.cells[0].textContent === 'invoicing');
			const p = tr && tr.querySelector('svg.spark:not(.append) path');
			if (!p) return [];
			const ys = [...p.getAttribute('d').matchAll(/[ML]([\d.]+) ([\d.]+)/g)].map((m) => Number(m[2]));
			return ys.length < 3 ? [] : [ys[0], ys[ys.length - 1]];
		})()`, func(v []float64) bool { return len(v) == 2 && v[1] < v[0]-6 })
		t.Logf("invoicing's sparkline from y=%.0f to y=%.0f", trend[0], trend[1])
		row := eval[[]string](b, `(() => { const tr = [...document.querySelectorAll('[data-testid=consumer-group-row]')].find((tr) => tr.cells[0].textContent === 'invoicing');
			const st = tr.querySelector('.st'); return [st ? st.textContent : '', tr.textContent]; })()`)
		t.Logf("invoicing: %s", row[1])
		if !slices.Contains([]string{"OK", "WARN", "REWIND", "STALL", "STOP", "ERR", "LOST"}, row[0]) || !strings.Contains(row[1], "Stable") {
			t.Errorf("invoicing's row %q does not say its status (%q) and state in words", row[1], row[0])
		}
		b.screenshot("consumers")

		// Its partitions: each owned by the invoicing process, with its
		// lag over time.
		b.click("group invoicing", `[...document.querySelectorAll('[data-testid=consumer-group-row]')].find((tr) => tr.cells[0].textContent === 'invoicing')`)
		parts := waitFor(b, 30*time.Second, "invoicing's five partitions",
			`[...document.querySelectorAll('[data-testid=group-partition-row]')].map((tr) => tr.textContent)`,
			func(v []string) bool { return len(v) == 5 })
		for _, p := range parts {
			if !strings.Contains(p, "invoicing[") {
				t.Errorf("partition row %q does not name its owner process", p)
			}
		}
		lines := waitFor(b, 30*time.Second, "a lag line per partition",
			`document.querySelectorAll('[data-testid=group-offset-chart] .legend-item').length`, func(n int) bool { return n == 5 })
		if q := eval[string](b, `location.search`); !strings.Contains(q, "group=invoicing") {
			t.Errorf("the URL %q does not hold the group, so it cannot be shared", q)
		}
		t.Logf("%d lag lines", lines)
		b.screenshot("consumers-group")
		b.noErrors("consumers")
	})

	t.Run("rebalances", func(t *testing.T) {
		b := br.on(t)
		scaled := time.Now()
		t.Log(strings.TrimSpace(d.kscope(t, "demo", "scale", "shipping", "3")))
		b.open("/rebalances?since=5m")
		bar := `[...document.querySelectorAll('[data-testid=rebalance-bar][data-group=shipping]')].find((g) => g.getAttribute('aria-label').includes('3 members'))`
		label := waitFor(b, time.Minute, "shipping's generation of 3 members", `(() => { const g = `+bar+`; return g ? g.getAttribute('aria-label') : ''; })()`,
			func(s string) bool { return s != "" })
		t.Logf("%s (scaled %s ago)", label, time.Since(scaled).Round(time.Second))
		if !strings.Contains(label, "stood still") {
			t.Errorf("the bar says %q, not how long the group stood still", label)
		}
		b.click("the generation's bar", bar+`.querySelector('rect')`)
		// The bar comes with the group's new epoch; under KIP-848 a new
		// member's partitions come with its later heartbeats, once
		// their owner has let them go, and the page's refresh shows
		// them: a member row without partitions is right until then.
		members := waitFor(b, 30*time.Second, "its three members, each with its partitions of order",
			`[...document.querySelectorAll('[data-testid=rebalance-members] tbody tr')].map((tr) => tr.textContent)`,
			func(v []string) bool {
				return len(v) == 3 && !slices.ContainsFunc(v, func(m string) bool {
					return !strings.Contains(m, "shipping[") || !strings.Contains(m, "order")
				})
			})
		t.Logf("members: %q", members)
		b.screenshot("rebalances")
		b.noErrors("rebalances")
	})

	// Last, for the README: three shipping processes under their group.
	t.Run("overview-scaled", func(t *testing.T) {
		b := br.on(t)
		b.open("/overview?since=5m")
		g := waitFor(b, time.Minute, "three shipping processes in group shipping's frame", readGraphJS, func(g flowGraph) bool {
			grp, ok := g.group("group:shipping")
			if !ok {
				return false
			}
			n := 0
			for _, c := range g.nodes("consumer", "shipping[") {
				if slices.Contains(grp.Members, c.ID) {
					n++
				}
			}
			return n == 3
		})
		if w := g.wrongArrows(); len(w) > 0 {
			t.Errorf("arrows that do not go producer -> topic -> consumer: %v", w)
		}
		b.screenshot("overview")
		b.noErrors("overview")
	})
}
