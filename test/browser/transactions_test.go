package browser

import (
	"strings"
	"testing"
	"time"
)

// The Transactions page over transactions.pcap (kscope analyze --ui): the
// three transactional producers with their counts, the 8 transactions with
// their results, and the transaction open past its timeout.
func TestTransactionsPage(t *testing.T) {
	base := startAnalyze(t, "../../testdata/captures/transactions.pcap")
	b := newBrowser(t, base).on(t)
	b.open("/transactions")
	prods := waitFor(b, 30*time.Second, "the transactional producers",
		`[...document.querySelectorAll('[data-testid=transaction-producers] tbody tr')].map((r) => [...r.cells].map((c) => c.textContent.trim()))`,
		func(v [][]string) bool { return len(v) == 3 })
	// Transactional id, process, timeout, begun, committed, aborted,
	// failed, open, records committed, records aborted.
	want := map[string][]string{
		"ledger-writer":         {"5", "4", "1", "0", "0", "160", "40"},
		"ledger-classic-writer": {"2", "1", "1", "0", "0", "10", "10"},
		"ledger-slow-writer":    {"1", "0", "0", "1", "0", "0", "5"},
	}
	for _, r := range prods {
		w, ok := want[r[0]]
		if !ok || len(r) < 10 || strings.Join(r[3:10], " ") != strings.Join(w, " ") {
			t.Errorf("producer row %q, want %s with %v", r, r[0], w)
		}
	}
	results := waitFor(b, 30*time.Second, "the transactions",
		`[...document.querySelectorAll('[data-testid=transaction-list] tbody tr')].map((r) => r.cells[3].textContent.trim())`,
		func(v []string) bool { return len(v) == 8 })
	// Newest first.
	if got := strings.Join(results, " "); got != "failed aborted committed committed committed aborted committed committed" {
		t.Errorf("results %q, newest first", got)
	}
	if f := b.text("[data-testid=transaction-findings]"); !strings.Contains(f, "ledger-slow-writer") || !strings.Contains(f, "past its transaction.timeout.ms") {
		t.Errorf("findings %q, want ledger-slow-writer's transaction past its timeout", f)
	}
	b.screenshot("analyze-transactions")
	b.noErrors("transactions", noCluster...)

	// The events page names each EndTxn's transaction and what it asked.
	b.open("/events?api=EndTxn")
	rows := waitFor(b, 30*time.Second, "the EndTxn rows",
		`[...document.querySelectorAll('[data-testid=event-row] td.topics')].map((td) => td.textContent)`,
		func(v []string) bool { return len(v) == 8 })
	got := strings.Join(rows, "; ")
	for _, want := range []string{"txn ledger-writer commit", "txn ledger-writer abort", "txn ledger-classic-writer abort", "txn ledger-slow-writer commit"} {
		if !strings.Contains(got, want) {
			t.Errorf("EndTxn rows %q lack %q", got, want)
		}
	}
	b.noErrors("events", noCluster...)

	// The overview's producers: each transactional one's records
	// committed / aborted.
	b.open("/overview")
	cells := waitFor(b, 30*time.Second, "the producers' committed / aborted records",
		`(() => { const t = document.querySelector('#producers table'); if (!t) return [];
		  const i = [...t.querySelectorAll('thead th')].findIndex((th) => th.textContent === 'Committed / aborted');
		  return i < 0 ? [] : [...t.querySelectorAll('tbody tr')].map((tr) => tr.cells[2].textContent + ': ' + tr.cells[i].textContent); })()`,
		func(v []string) bool { return len(v) == 3 })
	got = strings.Join(cells, "; ")
	for _, want := range []string{"ledger: 160 / 40", "ledger-classic: 10 / 10", "ledger-slow: 0 / 5"} {
		if !strings.Contains(got, want) {
			t.Errorf("overview producers %q lack %q", got, want)
		}
	}
	b.noErrors("overview", noCluster...)
}
