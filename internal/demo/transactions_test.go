package demo

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"kscope/internal/broker/brokertest"
)

// ledger's transactions reach the log as a reader sees them: a committed
// one's entries are read by read_committed consumers, an aborted one's
// only by read_uncommitted ones.
func TestLedgerTransactions(t *testing.T) {
	c := brokertest.Start(t, clusterConfig(0))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := CreateTopics(ctx, c); err != nil {
		t.Fatal(err)
	}
	p := brokertest.Client(t, c, kgo.ClientID(clientID(Ledger)), kgo.TransactionalID(LedgerTransactionalID),
		kgo.DefaultProduceTopic(LedgerTopic))
	if err := ledgerTxn(ctx, p, 1, true); err != nil {
		t.Fatalf("committed transaction: %v", err)
	}
	if err := ledgerTxn(ctx, p, 2, false); err != nil {
		t.Fatalf("aborted transaction: %v", err)
	}
	for _, r := range []struct {
		level kgo.IsolationLevel
		want  int
	}{{kgo.ReadCommitted(), TxnRecords}, {kgo.ReadUncommitted(), 2 * TxnRecords}} {
		cl := brokertest.Client(t, c, kgo.ConsumeTopics(LedgerTopic), kgo.FetchIsolationLevel(r.level),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		got := 0
		// Read until the log's end: both transactions' markers.
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		for pctx.Err() == nil && got < 2*TxnRecords {
			got += cl.PollFetches(pctx).NumRecords()
		}
		pcancel()
		if got != r.want {
			t.Errorf("%v consumer read %d entries, want %d", r.level, got, r.want)
		}
	}
}
