package main

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"kscope/internal/server"
	"kscope/internal/store"
	"kscope/internal/view"
)

// kscope transactions --pcap over transactions.pcap (testdata/captures/
// README.md): each transactional producer's counts and how long its
// transactions stayed open, each transaction, and the one past its
// timeout, to the frame.
func TestTransactionsCommand(t *testing.T) {
	pcap := captures + "transactions.pcap"
	out := mustRun(t, transactionsCmd(), "--pcap", pcap)
	for _, want := range []string{
		// begun, committed, aborted, failed, open, records committed and
		// aborted, mean and max open.
		"ledger-writer          franz-txn-producer@127.0.0.1  6258491364125531802  40s      5      4          1        0       0     160                40               151.6ms    252.2ms",
		"ledger-classic-writer  franz-txn-classic@127.0.0.1   5361335747860676067  40s      2      1          1        0       0     10                 10               700µs      872µs",
		"22:05:48.410157  ledger-writer          franz-txn-producer@127.0.0.1  aborted    151.7ms                40       ledger          -",
		"22:05:49.334328  ledger-slow-writer     franz-txn-slow@127.0.0.1      failed     1.502s (past timeout)  5        ledger-slow     INVALID_TXN_STATE",
		"warning: transactional id ledger-slow-writer (franz-txn-slow@127.0.0.1): a transaction was open 1.5s, past its transaction.timeout.ms of 1s",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}

	out = mustRun(t, transactionsCmd(), "--pcap", pcap, "-o", "json", "--transactional-id", "ledger-writer")
	var v view.TransactionsView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Producers) != 1 || len(v.Transactions) != 5 || v.Transactions[2].Result != "aborted" || v.Transactions[2].Seconds != 0.151696 {
		t.Errorf("-o json --transactional-id ledger-writer: %+v", v)
	}

	// The events table says what each EndTxn asked.
	out = mustRun(t, analyzeCmd(), pcap, "--api", "EndTxn")
	if n, m := strings.Count(out, "txn ledger-writer commit"), strings.Count(out, "txn ledger-writer abort"); n != 4 || m != 1 {
		t.Errorf("analyze --api EndTxn: %d commits and %d aborts of ledger-writer, want 4 and 1:\n%s", n, m, out)
	}
}

// The agent's API serves the same view, /metrics counts each ended
// transaction once per result with its duration, and the health view
// has the transaction past its timeout among its findings.
func TestTransactionsFromServer(t *testing.T) {
	xs := captureExchanges(t, captures+"transactions.pcap")
	st := store.New(store.Config{})
	for _, e := range xs {
		st.Add(e)
	}
	srv, err := server.New(server.Config{Span: view.WindowOf(xs), Inspecting: true}, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	out := mustRun(t, transactionsCmd(), "--server", ts.URL)
	if !strings.Contains(out, "ledger-writer          franz-txn-producer@127.0.0.1  6258491364125531802  40s      5      4          1        0       0     160                40") {
		t.Errorf("table from the server:\n%s", out)
	}
	for range 2 { // a second scrape counts nothing again
		m := scrape(t, ts.URL+"/metrics")
		for series, want := range map[string]float64{
			`kscope_transactions_total{result="committed"}`:                           5,
			`kscope_transactions_total{result="aborted"}`:                             2,
			`kscope_transactions_total{result="failed"}`:                              1,
			`kscope_transaction_duration_seconds_count{result="committed"}`:           5,
			`kscope_transaction_duration_seconds_bucket{result="committed",le="0.1"}`: 2, // 51.6 ms, 872 µs
			`kscope_transaction_duration_seconds_bucket{result="failed",le="1"}`:      0,
			`kscope_transaction_duration_seconds_bucket{result="failed",le="2.5"}`:    1,
		} {
			if m[series] != want {
				t.Errorf("/metrics %s = %v, want %v", series, m[series], want)
			}
		}
	}
	var h view.HealthView
	out = mustRun(t, healthCmd(), "--server", ts.URL, "-o", "json")
	if err := json.Unmarshal([]byte(out), &h); err != nil {
		t.Fatal(err)
	}
	if len(h.Findings) != 1 || h.Findings[0].Kind != "transaction-timeout" {
		t.Errorf("health findings %+v, want the transaction past its timeout", h.Findings)
	}
}
