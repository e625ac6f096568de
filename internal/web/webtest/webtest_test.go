package webtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"kscope/internal/inspect"
	"kscope/internal/view"
)

// TestGenerate: the generated views hang together as an agent's would, so
// that a page showing them shows what it would show of a real cluster.
func TestGenerate(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	d := Generate(50, 150, now)
	o := d.Overview
	kinds := map[string]int{}
	ids := map[string]view.Node{}
	for _, n := range o.Nodes {
		kinds[n.Kind]++
		if _, dup := ids[n.ID]; dup {
			t.Errorf("node %s twice", n.ID)
		}
		ids[n.ID] = n
	}
	if len(o.Nodes) != 200 || kinds[view.KindTopic] != 50 || kinds[view.KindProducer]+kinds[view.KindConsumer] != 150 {
		t.Errorf("nodes: %d, by kind %v", len(o.Nodes), kinds)
	}
	produced := map[string]bool{}
	for _, e := range o.Edges {
		from, to := ids[e.From], ids[e.To]
		ok := from.Kind == view.KindProducer && to.Kind == view.KindTopic || from.Kind == view.KindTopic && to.Kind == view.KindConsumer
		if !ok || e.BytesPerSec <= 0 {
			t.Errorf("edge %s -> %s (%s -> %s, %g B/s)", e.From, e.To, from.Kind, to.Kind, e.BytesPerSec)
		}
		if to.Kind == view.KindTopic {
			produced[e.To] = true
		}
	}
	if len(produced) != 50 {
		t.Errorf("%d of 50 topics have a producer", len(produced))
	}
	groups := map[string]bool{}
	for _, c := range o.Consumers {
		if c.Group == "" || len(c.Topics) == 0 {
			t.Errorf("consumer %s: group %q, topics %v", c.ID, c.Group, c.Topics)
		}
		groups[c.Group] = true
	}
	statuses := map[string]bool{}
	for _, g := range d.Lag.Groups {
		statuses[g.Status] = true
		if !groups[g.Group] {
			t.Errorf("lag group %s has no consumer in the overview", g.Group)
		}
	}
	if len(statuses) != len(view.LagStatuses) {
		t.Errorf("lag statuses %v, want each of %v", statuses, view.LagStatuses)
	}
	tiers := map[string]bool{}
	for _, p := range d.Health.Partitions {
		tiers[p.Tier] = true
	}
	if len(tiers) != len(inspect.Tiers)-1 || d.Health.Summary.Worst != inspect.TierOffline {
		t.Errorf("tiers %v, worst %s", tiers, d.Health.Summary.Worst)
	}
}

// TestHandler: the real pages are served beside the generated API, and a
// view left nil answers as an agent without a cluster inspector.
func TestHandler(t *testing.T) {
	d := Generate(50, 150, time.Now())
	d.Lag = nil
	h, err := Handler(d)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	defer ts.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/overview"); code != 200 || !strings.Contains(body, "/static/overview.js") {
		t.Errorf("/overview: %d", code)
	}
	code, body := get("/api/v1/overview?since=15m")
	var o view.OverviewView
	if err := json.Unmarshal([]byte(body), &o); code != 200 || err != nil || len(o.Nodes) != 200 {
		t.Errorf("overview: %d, %v, %d nodes", code, err, len(o.Nodes))
	}
	if code, body := get("/api/v1/lag"); code != 503 || !strings.Contains(body, "--cluster") {
		t.Errorf("lag without an inspector: %d %s", code, body)
	}
	if code, _ := get("/api/v1/health"); code != 200 {
		t.Errorf("health: %d", code)
	}
}
