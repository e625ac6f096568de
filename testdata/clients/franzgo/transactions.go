package main

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
)

// transactions: a transactional producer (zstd) runs 5 transactions of
// -records records each on topic ledger, the 3rd aborted; a read_committed
// consumer reads the 4 committed ones, a read_uncommitted one all 5.
// Then a producer limited to Kafka 3.9's versions (AddPartitionsToTxn, no
// KIP-890) commits one transaction on ledger-classic and aborts another;
// and a third transactional producer leaves a transaction on ledger-slow
// open past its 1 s timeout: the broker aborts it, and the producer's late
// commit fails.
func transactions(ctx context.Context) error {
	const txns, aborted = 5, 3
	adm := kadm.NewClient(client("franz-admin"))
	defer adm.Close()
	if _, err := adm.CreateTopics(ctx, 1, -1, nil, "ledger", "ledger-classic", "ledger-slow"); err != nil {
		return fmt.Errorf("create topics: %w", err)
	}

	p := client("franz-txn-producer",
		kgo.TransactionalID("ledger-writer"),
		kgo.ProducerBatchCompression(kgo.ZstdCompression()),
		kgo.DefaultProduceTopic("ledger"))
	defer p.Close()
	for n := 1; n <= txns; n++ {
		if err := p.BeginTransaction(); err != nil {
			return fmt.Errorf("begin %d: %w", n, err)
		}
		for i := 0; i < *records; i++ {
			v := fmt.Sprintf(`{"txn":%d,"n":%d,"pad":"%s"}`, n, i, strings.Repeat("x", 40))
			p.Produce(ctx, &kgo.Record{Key: []byte(fmt.Sprintf("k%d", i%7)), Value: []byte(v)}, nil)
		}
		if err := p.Flush(ctx); err != nil {
			return fmt.Errorf("flush %d: %w", n, err)
		}
		// A pause inside the transaction gives each one a duration
		// of its own in the capture.
		time.Sleep(time.Duration(50*n) * time.Millisecond)
		if err := p.EndTransaction(ctx, kgo.TransactionEndTry(n != aborted)); err != nil {
			return fmt.Errorf("end %d: %w", n, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	committed := int64((txns - 1) * *records)
	for _, c := range []struct {
		name  string
		level kgo.IsolationLevel
		want  int64
	}{
		{"franz-read-committed", kgo.ReadCommitted(), committed},
		{"franz-read-uncommitted", kgo.ReadUncommitted(), int64(txns * *records)},
	} {
		cl := client(c.name, kgo.ConsumeTopics("ledger"), kgo.FetchIsolationLevel(c.level),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		var seen atomic.Int64
		for seen.Load() < c.want {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				cl.Close()
				return fmt.Errorf("%s consumed %d of %d: %w", c.name, seen.Load(), c.want, ctx.Err())
			}
			if err := fs.Err0(); err != nil {
				cl.Close()
				return fmt.Errorf("%s: %w", c.name, err)
			}
			seen.Add(int64(fs.NumRecords()))
		}
		cl.Close()
		if got := seen.Load(); got != c.want {
			return fmt.Errorf("%s consumed %d records, want %d", c.name, got, c.want)
		}
	}

	// A producer that speaks Kafka 3.9 (no KIP-890 part 2): it adds
	// each partition with AddPartitionsToTxn before producing to it.
	classic := client("franz-txn-classic",
		kgo.TransactionalID("ledger-classic-writer"),
		kgo.MaxVersions(kversion.V3_9_0()),
		kgo.DefaultProduceTopic("ledger-classic"))
	defer classic.Close()
	for n := 1; n <= 2; n++ {
		if err := classic.BeginTransaction(); err != nil {
			return fmt.Errorf("classic begin %d: %w", n, err)
		}
		for i := 0; i < 10; i++ {
			classic.Produce(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("classic-%d-%d", n, i))}, nil)
		}
		if err := classic.Flush(ctx); err != nil {
			return fmt.Errorf("classic flush %d: %w", n, err)
		}
		if err := classic.EndTransaction(ctx, kgo.TransactionEndTry(n == 1)); err != nil {
			return fmt.Errorf("classic end %d: %w", n, err)
		}
	}

	slow := client("franz-txn-slow",
		kgo.TransactionalID("ledger-slow-writer"),
		kgo.TransactionTimeout(time.Second),
		kgo.DefaultProduceTopic("ledger-slow"))
	defer slow.Close()
	if err := slow.BeginTransaction(); err != nil {
		return fmt.Errorf("slow begin: %w", err)
	}
	for i := 0; i < 5; i++ {
		slow.Produce(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("slow-%d", i))}, nil)
	}
	if err := slow.Flush(ctx); err != nil {
		return fmt.Errorf("slow flush: %w", err)
	}
	time.Sleep(1500 * time.Millisecond)
	if err := slow.EndTransaction(ctx, kgo.TryCommit); err == nil {
		return fmt.Errorf("slow commit after the timeout succeeded, want it refused")
	}
	return nil
}
