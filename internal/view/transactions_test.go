package view_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/view"
)

// TestTransactionsCapture: transactions.pcap (testdata/captures/README.md):
// ledger-writer's 5 transactions of 40 records, the 3rd aborted, read by a
// read_committed consumer (160 records) and a read_uncommitted one (200);
// ledger-slow-writer's transaction open past its 1 s timeout. Every time
// is a frame's: a transaction runs from its Produce request's first byte
// to its EndTxn response's last.
func TestTransactionsCapture(t *testing.T) {
	xs := exchangesOf(t, captures+"transactions.pcap")
	in := view.Of(xs, view.Window{})

	// EndTxn says commit or abort.
	var ends []bool
	for i := range xs {
		if e := &xs[i]; e.Is(kmsg.EndTxn) {
			if e.Detail == nil || e.Detail.Commit == nil {
				t.Fatalf("EndTxn at %s without detail.commit", e.Time.Format(time.StampMicro))
			}
			ends = append(ends, *e.Detail.Commit)
		}
	}
	if want := []bool{true, true, false, true, true, true, false, true}; !equalBools(ends, want) {
		t.Errorf("EndTxn commit flags %v, want %v", ends, want)
	}

	v := view.Transactions(in, view.TransactionsFilter{})
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, "2026-11-30T"+s+"Z")
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	type txn struct {
		id, result  string
		begin, end  string
		records     int64
		past        bool
		errorWanted string
	}
	want := []txn{
		{"ledger-writer", view.TxnCommitted, "22:05:48.055720", "22:05:48.107349", 40, false, ""},
		{"ledger-writer", view.TxnCommitted, "22:05:48.208318", "22:05:48.309433", 40, false, ""},
		{"ledger-writer", view.TxnAborted, "22:05:48.410157", "22:05:48.561853", 40, false, ""},
		{"ledger-writer", view.TxnCommitted, "22:05:48.662724", "22:05:48.864236", 40, false, ""},
		{"ledger-writer", view.TxnCommitted, "22:05:48.966508", "22:05:49.218700", 40, false, ""},
		// Kafka 3.9's versions: from AddPartitionsToTxn.
		{"ledger-classic-writer", view.TxnCommitted, "22:05:49.330758", "22:05:49.331630", 10, false, ""},
		{"ledger-classic-writer", view.TxnAborted, "22:05:49.331781", "22:05:49.332308", 10, false, ""},
		{"ledger-slow-writer", view.TxnFailed, "22:05:49.334328", "22:05:50.835828", 5, true, "INVALID_TXN_STATE"},
	}
	if len(v.Transactions) != len(want) {
		t.Fatalf("%d transactions, want %d: %+v", len(v.Transactions), len(want), v.Transactions)
	}
	for i, w := range want {
		g := v.Transactions[i]
		begin, end := at(w.begin), at(w.end)
		if g.TransactionalID != w.id || g.Result != w.result || !g.Begin.Equal(begin) || g.End == nil || !g.End.Equal(end) ||
			g.Records != w.records || g.PastTimeout != w.past || g.Error != w.errorWanted {
			t.Errorf("transaction %d: %s %s %s-%v %d records past timeout %v %q, want %+v", i+1,
				g.TransactionalID, g.Result, g.Begin.Format(time.StampMicro), g.End, g.Records, g.PastTimeout, g.Error, w)
		}
		if d := end.Sub(begin).Seconds(); g.Seconds != d {
			t.Errorf("transaction %d open %v s, want %v s", i+1, g.Seconds, d)
		}
	}

	if len(v.Producers) != 3 {
		t.Fatalf("%d producers, want 3: %+v", len(v.Producers), v.Producers)
	}
	classic, slow, lw := v.Producers[0], v.Producers[1], v.Producers[2]
	if lw.TransactionalID != "ledger-writer" || lw.Process != "franz-txn-producer@127.0.0.1" ||
		lw.Begun != 5 || lw.Committed != 4 || lw.Aborted != 1 || lw.Failed != 0 || lw.Open != 0 ||
		lw.CommittedRecords != 160 || lw.AbortedRecords != 40 || lw.TimeoutMS == nil || *lw.TimeoutMS != 40000 {
		t.Errorf("ledger-writer: %+v", lw)
	}
	// The longest: the 5th, 252.192 ms; the mean of the five.
	if lw.MaxSeconds == nil || *lw.MaxSeconds != 0.252192 {
		t.Errorf("ledger-writer's longest transaction %v s, want 0.252192", lw.MaxSeconds)
	}
	if mean := (0.051629 + 0.101115 + 0.151696 + 0.201512 + 0.252192) / 5; lw.MeanSeconds == nil || !near(*lw.MeanSeconds, mean) {
		t.Errorf("ledger-writer's mean transaction %v s, want %v", lw.MeanSeconds, mean)
	}
	if classic.TransactionalID != "ledger-classic-writer" || classic.Begun != 2 || classic.Committed != 1 || classic.Aborted != 1 ||
		classic.CommittedRecords != 10 || classic.AbortedRecords != 10 || classic.MaxSeconds == nil || *classic.MaxSeconds != 0.000872 {
		t.Errorf("ledger-classic-writer: %+v", classic)
	}
	if slow.TransactionalID != "ledger-slow-writer" || slow.Begun != 1 || slow.Failed != 1 || slow.AbortedRecords != 5 ||
		slow.TimeoutMS == nil || *slow.TimeoutMS != 1000 {
		t.Errorf("ledger-slow-writer: %+v", slow)
	}
	if len(v.Findings) != 1 || v.Findings[0].Kind != "transaction-timeout" || v.Findings[0].Count != 1 {
		t.Errorf("findings %+v, want one transaction-timeout", v.Findings)
	}

	// Cut before the 5th EndTxn: that transaction is open then, 0.2 s
	// in, and no transaction of ledger-writer is past its timeout.
	cut := view.Of(xs, view.Window{From: in.Window.From, To: at("22:05:49.166508")})
	cv := view.Transactions(cut, view.TransactionsFilter{TransactionalID: "ledger-writer"})
	if p := cv.Producers; len(p) != 1 || p[0].Begun != 5 || p[0].Committed != 3 || p[0].Aborted != 1 || p[0].Open != 1 {
		t.Errorf("before the 5th EndTxn: %+v, want 5 begun, 3 committed, 1 aborted, 1 open", p)
	}
	if n := len(cv.Transactions); n != 5 || cv.Transactions[4].Result != view.TxnOpen || !near(cv.Transactions[4].Seconds, 0.2) {
		t.Errorf("before the 5th EndTxn: transactions %+v", cv.Transactions)
	}
}

// TestTransactionsConsumed: a read_committed consumer is counted the 160
// records it got, not the 200 its Fetch response carried (40 of an aborted
// transaction); a read_uncommitted one the 200; control batches (the 5
// transaction markers) never; the producer's 200 split 160 committed, 40
// aborted, in the overview and the clients view.
func TestTransactionsConsumed(t *testing.T) {
	xs := exchangesOf(t, captures+"transactions.pcap")
	in := view.Of(xs, view.Window{})

	var fetched [][2]int64
	for i := range xs {
		e := &xs[i]
		if !e.Is(kmsg.Fetch) {
			continue
		}
		for _, tp := range e.Topics {
			for _, p := range tp.Partitions {
				if len(p.Batches) == 0 {
					continue
				}
				control := 0
				for _, b := range p.Batches {
					if b.Control {
						control++
					}
				}
				if len(p.Batches) != 10 || control != 5 {
					t.Errorf("%s: %d batches, %d control, want 10 and 5", e.ClientID, len(p.Batches), control)
				}
				fetched = append(fetched, [2]int64{p.Records, p.AbortedRecords})
			}
		}
	}
	if want := [][2]int64{{160, 40}, {200, 0}}; len(fetched) != 2 || fetched[0] != want[0] || fetched[1] != want[1] {
		t.Errorf("fetched (records, aborted records) %v, want %v", fetched, want)
	}

	o := view.Overview(in, view.OverviewFilter{})
	got := map[string]int64{}
	for _, r := range o.Consumers {
		got[r.ClientID] = r.Records
	}
	if got["franz-read-committed"] != 160 || got["franz-read-uncommitted"] != 200 {
		t.Errorf("overview consumers %v, want read_committed 160, read_uncommitted 200", got)
	}
	// Producers: what each wrote, and how its transactions ended (the
	// slow one's was aborted by the broker at its timeout).
	prods := map[string][3]int64{}
	for _, r := range o.Producers {
		prods[r.ClientID] = [3]int64{r.Records, r.CommittedRecords, r.AbortedRecords}
	}
	if want := map[string][3]int64{
		"franz-txn-producer": {200, 160, 40}, "franz-txn-classic": {20, 10, 10}, "franz-txn-slow": {5, 0, 5},
	}; len(prods) != len(want) || prods["franz-txn-producer"] != want["franz-txn-producer"] ||
		prods["franz-txn-classic"] != want["franz-txn-classic"] || prods["franz-txn-slow"] != want["franz-txn-slow"] {
		t.Errorf("overview producers (records, committed, aborted) %v, want %v", prods, want)
	}
	for _, r := range o.Topics {
		if r.Name == "ledger" && !near(r.RecordsOutPerSec*o.Seconds, 360) {
			t.Errorf("ledger out %v records, want 360", r.RecordsOutPerSec*o.Seconds)
		}
	}

	c := view.Clients(in, view.ClientsFilter{Topic: "ledger"})
	cons := map[string]int64{}
	for _, r := range c.Consumers {
		cons[r.ClientID] = r.Records
	}
	if cons["franz-read-committed"] != 160 || cons["franz-read-uncommitted"] != 200 {
		t.Errorf("clients consumers %v, want read_committed 160, read_uncommitted 200", cons)
	}
	if len(c.Producers) != 1 {
		t.Fatalf("clients producers %+v", c.Producers)
	}
	if p := c.Producers[0]; p.Records != 200 || p.CommittedRecords != 160 || p.AbortedRecords != 40 {
		t.Errorf("producer %s: %d records, %d committed, %d aborted, want 200, 160, 40", p.Process, p.Records, p.CommittedRecords, p.AbortedRecords)
	}
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func near(a, b float64) bool {
	d := a - b
	return d < 1e-9 && d > -1e-9
}
