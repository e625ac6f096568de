package main

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"kscope/internal/demo"
	"kscope/internal/view"
)

// demoTransactions: the demo's ledger service, a transactional producer,
// as kscope transactions, the events table and /metrics show it: a
// transaction every demo.TxnEvery, every demo.TxnAbortEvery-th aborted,
// demo.TxnRecords records each, none past its timeout.
func demoTransactions(t *testing.T, d *demoRun, ledgerPID int, started time.Time) {
	t.Helper()
	if !strings.Contains(d.stdout.String(), "kscope transactions") {
		t.Errorf("the demo's banner lacks kscope transactions:\n%s", d.stdout.String())
	}
	var v view.TransactionsView
	if err := d.get("/api/v1/transactions", url.Values{"transactional_id": {demo.LedgerTransactionalID}}, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Producers) != 1 {
		t.Fatalf("transactional producers %+v, want ledger's", v.Producers)
	}
	p := v.Producers[0]
	if p.MeanSeconds == nil || p.MaxSeconds == nil {
		t.Fatalf("ledger: no transaction ended: %+v", p)
	}
	t.Logf("ledger after %s: %d begun, %d committed, %d aborted, %d failed, %d open; open %.1f ms on average, %.1f ms at most",
		time.Since(started).Round(time.Second), p.Begun, p.Committed, p.Aborted, p.Failed, p.Open, *p.MeanSeconds*1000, *p.MaxSeconds*1000)
	// One every 3 s for more than 30 s: 10 or so, every 4th aborted.
	if p.Process != fmt.Sprintf("ledger[%d]", ledgerPID) || p.Committed < 6 || p.Aborted < 1 || p.Committed < 2*p.Aborted || p.Failed != 0 {
		t.Errorf("ledger's transactions: %+v", p)
	}
	if p.CommittedRecords != int64(p.Committed*demo.TxnRecords) || p.AbortedRecords != int64(p.Aborted*demo.TxnRecords) {
		t.Errorf("ledger's records: %d committed, %d aborted, want %d each transaction", p.CommittedRecords, p.AbortedRecords, demo.TxnRecords)
	}
	for _, tx := range v.Transactions {
		if tx.End != nil && (tx.Seconds <= 0 || tx.Seconds > 2 || tx.PastTimeout || tx.Records != demo.TxnRecords) {
			t.Errorf("transaction %+v: open %v s with %d records", tx, tx.Seconds, tx.Records)
		}
	}
	if len(v.Findings) != 0 {
		t.Errorf("findings %+v, want none", v.Findings)
	}

	out, err := d.kscope(t, "transactions")
	for _, want := range []string{demo.LedgerTransactionalID, fmt.Sprintf("ledger[%d]", ledgerPID), "committed", "aborted"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("kscope transactions lacks %q: %v\n%s", want, err, out)
		}
	}
	out, err = d.kscope(t, "events", "--api", "EndTxn")
	for _, want := range []string{"txn " + demo.LedgerTransactionalID + " commit", "txn " + demo.LedgerTransactionalID + " abort"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("kscope events --api EndTxn lacks %q: %v\n%s", want, err, out)
		}
	}
	m := scrape(t, d.api+"/metrics")
	if c, a := m[`kscope_transactions_total{result="committed"}`], m[`kscope_transactions_total{result="aborted"}`]; c < float64(p.Committed) || a < float64(p.Aborted) ||
		m[`kscope_transaction_duration_seconds_count{result="committed"}`] != c {
		t.Errorf("/metrics: %v transactions committed, %v aborted, %v durations of committed ones; the view saw %d and %d",
			c, a, m[`kscope_transaction_duration_seconds_count{result="committed"}`], p.Committed, p.Aborted)
	}
}
