package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"kscope/internal/broker"
)

// The demo's transactional producer: ledger settles payments in
// transactions (KIP-98), TxnRecords ledger entries each, one every
// TxnEvery, and rolls back every TxnAbortEvery-th, as a payment service
// aborts a settlement that failed halfway. kscope transactions shows them.
const (
	Ledger = "ledger"

	// LedgerTopic is where ledger writes; one partition, on every broker.
	LedgerTopic      = "ledger"
	LedgerPartitions = 1
	LedgerReplicas   = 3

	// LedgerTransactionalID is ledger's transactional id.
	LedgerTransactionalID = "ledger-service"

	TxnEvery      = 3 * time.Second
	TxnRecords    = 10
	TxnAbortEvery = 4

	// ledgerTxnTimeout is ledger's transaction.timeout.ms: a
	// transaction takes a few milliseconds, this is far above.
	ledgerTxnTimeout = 30 * time.Second
)

// createLedgerTopic creates LedgerTopic.
func createLedgerTopic(ctx context.Context, c *broker.Cluster) error {
	return c.CreateTopic(ctx, LedgerTopic, LedgerPartitions, LedgerReplicas)
}

// ledgerEntry is what ledger writes: one side of a settled payment.
type ledgerEntry struct {
	Settlement  string    `json:"settlement"`
	Account     string    `json:"account"`
	AmountCents int       `json:"amount_cents"`
	Currency    string    `json:"currency"`
	At          time.Time `json:"at"`
}

// produceLedger runs a transaction every TxnEvery until ctx ends.
func produceLedger(ctx context.Context, cfg ServiceConfig) error {
	newClient := func() (*kgo.Client, error) {
		return kgo.NewClient(
			kgo.SeedBrokers(cfg.Bootstrap...),
			kgo.ClientID(clientID(Ledger)),
			kgo.TransactionalID(LedgerTransactionalID),
			kgo.TransactionTimeout(ledgerTxnTimeout),
			kgo.DefaultProduceTopic(LedgerTopic),
			kgo.RecordDeliveryTimeout(orderDeliveryTimeout),
		)
	}
	cl, err := newClient()
	if err != nil {
		return err
	}
	defer func() { cl.Close() }()
	t := time.NewTicker(TxnEvery)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		commit := n%TxnAbortEvery != 0
		err := ledgerTxn(ctx, cl, n, commit)
		if err == nil || ctx.Err() != nil {
			continue
		}
		// A broker down, or the producer fenced: the transaction is
		// aborted, and a client that cannot go on is replaced.
		cfg.Log.Warn("ledger transaction failed", "settlement", n, "err", err)
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		cl.AbortBufferedRecords(actx)
		err = cl.EndTransaction(actx, kgo.TryAbort)
		cancel()
		if err != nil {
			cl.Close()
			if cl, err = newClient(); err != nil {
				return err
			}
		}
	}
}

// ledgerTxn writes settlement n's entries in one transaction, and commits
// or aborts it.
func ledgerTxn(ctx context.Context, cl *kgo.Client, n int, commit bool) error {
	if err := cl.BeginTransaction(); err != nil {
		return err
	}
	id := fmt.Sprintf("stl-%08d", n)
	for i := range TxnRecords {
		e := ledgerEntry{Settlement: id, Account: fmt.Sprintf("acct-%05d", rand.IntN(20000)),
			AmountCents: 100 + rand.IntN(50000), Currency: "EUR", At: time.Now().UTC()}
		if i%2 == 1 {
			e.AmountCents = -e.AmountCents
		}
		b, _ := json.Marshal(e)
		cl.Produce(ctx, &kgo.Record{Key: []byte(id), Value: b}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	return cl.EndTransaction(ctx, kgo.TransactionEndTry(commit))
}

// What the banner says of ledger, and the command it suggests.
var (
	ledgerBanner = fmt.Sprintf("writes %d ledger entries to %s in a transaction every %s, transactional id %s; aborts every %dth",
		TxnRecords, LedgerTopic, TxnEvery, LedgerTransactionalID, TxnAbortEvery)
	ledgerHint = "ledger's transactions: committed, aborted, how long each stayed open"
)
