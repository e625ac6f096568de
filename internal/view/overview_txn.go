package view

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/exchange"
)

// ovTxn is what a transactional producer (KIP-98) wrote over a span of
// time, split by how its transactions ended: the records of transactions
// ended in the span are committed or aborted; those written after its last
// EndTxn are pending, and the first EndTxn of the span also ends what an
// earlier span left pending. Two neighbouring spans merge in time order,
// whichever is added to which, so that the parts of the overview
// (seconds), merged oldest first as MergeParts and the store's rollup do,
// give the same split as the exchanges counted in one pass.
type ovTxn struct {
	// from is the time of the first exchange counted (Unix ns): it orders
	// spans.
	from int64
	// ended: an EndTxn was seen; firstCommit is what the first one did.
	ended       bool
	firstCommit bool
	committed   int64
	aborted     int64
	pending     int64
}

// ovTxnBytes is an ovTxn's memory.
const ovTxnBytes = 48

// produced counts records written in a transaction at t.
func (x *ovTxn) produced(n int64, t time.Time) {
	x.start(t)
	x.pending += n
}

// end counts an EndTxn at t: commit, or abort (also a failed EndTxn: the
// broker aborts the transaction).
func (x *ovTxn) end(commit bool, t time.Time) {
	x.start(t)
	if !x.ended {
		x.ended, x.firstCommit = true, commit
	}
	if commit {
		x.committed += x.pending
	} else {
		x.aborted += x.pending
	}
	x.pending = 0
}

func (x *ovTxn) start(t time.Time) {
	if ns := t.UnixNano(); x.from == 0 || ns < x.from {
		x.from = ns
	}
}

// merge adds o, a span before or after x.
func (x *ovTxn) merge(o *ovTxn) {
	if o == nil {
		return
	}
	first, next := *x, *o
	if o.from != 0 && (x.from == 0 || o.from < x.from) {
		first, next = *o, *x
	}
	m := ovTxn{from: first.from, ended: first.ended || next.ended, firstCommit: first.firstCommit,
		committed: first.committed + next.committed, aborted: first.aborted + next.aborted, pending: next.pending}
	if !first.ended {
		m.firstCommit = next.firstCommit
	}
	switch {
	case !next.ended:
		m.pending += first.pending
	case next.firstCommit:
		m.committed += first.pending
	default:
		m.aborted += first.pending
	}
	*x = m
}

// txnSpan is c's transactional span, made when first needed; it returns the
// bytes a grew by.
func (c *ovClient) txnSpan() (*ovTxn, int64) {
	if c.txn != nil {
		return c.txn, 0
	}
	c.txn = &ovTxn{}
	return c.txn, ovTxnBytes
}

// countTxn counts e for c's transactions: the records of a transactional
// Produce (those of its partitions answered without error), or an EndTxn.
// It returns the bytes the aggregate grew by.
func (c *ovClient) countTxn(e *exchange.Exchange, records int64) int64 {
	d := e.Detail
	if d == nil || d.TransactionalID == "" {
		return 0
	}
	switch {
	case e.Is(kmsg.Produce):
		x, grew := c.txnSpan()
		x.produced(records, e.Time)
		return grew
	case e.Is(kmsg.EndTxn) && d.Commit != nil:
		x, grew := c.txnSpan()
		x.end(*d.Commit && e.Error == "" && e.NoResponse == "", e.Time)
		return grew
	}
	return 0
}

// encode writes x: 0 for none, else 1 and its fields.
func (x *ovTxn) encode(e *ovEncoder) {
	if x == nil {
		e.uint(0)
		return
	}
	flags := uint64(1)
	if x.ended {
		flags |= 2
	}
	if x.firstCommit {
		flags |= 4
	}
	e.uint(flags)
	e.int(x.from)
	e.int(x.committed)
	e.int(x.aborted)
	e.int(x.pending)
}

// decodeTxn reads what encode wrote; nil for none.
func decodeTxn(r *ovReader) *ovTxn {
	flags := r.uint()
	if flags == 0 {
		return nil
	}
	return &ovTxn{ended: flags&2 != 0, firstCommit: flags&4 != 0, from: r.int(), committed: r.int(), aborted: r.int(), pending: r.int()}
}

// skipTxn reads past what encode wrote.
func skipTxn(r *ovReader) {
	if r.uint() != 0 {
		for range 4 {
			r.int()
		}
	}
}

// mergeTxn merges o into c's span.
func (c *ovClient) mergeTxn(o *ovTxn) {
	if o == nil {
		return
	}
	x, _ := c.txnSpan()
	x.merge(o)
}
