package browser

import (
	"strings"
	"testing"
	"time"
)

// The rebalances page over kip848.pcap (three franz-go members of a
// KIP-848 group): an epoch's bar opens its members with the partitions
// each gave up and got, and every heartbeat event names its epoch.
func TestRebalancesKIP848Page(t *testing.T) {
	base := startAnalyze(t, "../../testdata/captures/kip848.pcap")
	b := newBrowser(t, base)
	b.open("/rebalances")
	bar := `document.querySelector('[data-testid=rebalance-bar][data-group=dispatch][data-generation="3"]')`
	label := waitFor(b, 30*time.Second, "epoch 3 of group dispatch", `(() => { const g = `+bar+`; return g ? g.getAttribute('aria-label') : ''; })()`,
		func(s string) bool { return s != "" })
	// 12.948590 (member 3 joins) to 13.949983 (it owns 3,4,8): 1.001393 s.
	if !strings.Contains(label, "3 members") || !strings.Contains(label, "stood still 1s") {
		t.Errorf("epoch 3's bar says %q, want 3 members and a pause of 1 s", label)
	}
	b.click("epoch 3's bar", bar+`.querySelector('rect')`)
	rows := waitFor(b, 10*time.Second, "its three members",
		`[...document.querySelectorAll('[data-testid=rebalance-members] tbody tr')].map((tr) => [...tr.cells].map((c) => c.textContent).join(' | '))`,
		func(v []string) bool { return len(v) == 3 })
	// Member 3 got 3,4,8; member 2 gave up 8 (in 4.730 ms) and member
	// 1 3,4 (8.857 ms).
	for _, want := range [][2]string{
		{"kip848-consumer-3", "| 1s | deliveries[3,4,8] | – | deliveries[3,4,8]"},
		{"kip848-consumer-2", "| 4.73ms | deliveries[5,6,7] | deliveries[8] | –"},
		{"kip848-consumer-1", "| 8.86ms | deliveries[0,1,2] | deliveries[3,4] | –"},
	} {
		found := false
		for _, r := range rows {
			found = found || strings.Contains(r, want[0]) && strings.HasSuffix(r, want[1])
		}
		if !found {
			t.Errorf("no row of %s ending %q: %q", want[0], want[1], rows)
		}
	}
	facts := b.text("#rbd-facts")
	if !strings.Contains(facts, "consumer (KIP-848)") || !strings.Contains(facts, "every member of the epoch reached its target") {
		t.Errorf("the epoch's facts: %q", facts)
	}
	gens := eval[[]string](b, `[...document.querySelectorAll('#rb-events tbody tr')].filter((tr) => tr.textContent.includes('ConsumerGroupHeartbeat')).map((tr) => tr.cells[5].textContent)`)
	if len(gens) == 0 {
		t.Errorf("no heartbeat event shown")
	}
	for _, g := range gens {
		if strings.TrimSpace(g) == "" || g == "–" || g == "-" {
			t.Errorf("a heartbeat event without its epoch: %q", gens)
			break
		}
	}
	b.screenshot("rebalances-kip848")
	b.noErrors("rebalances", noCluster...)
}
