package view

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/exchange"
)

// TransactionsFilter narrows the transactions view. Empty fields match
// everything.
type TransactionsFilter struct {
	TransactionalID string
	// Client matches a process label, command name, pid or client id.
	Client string
	// All lists every transaction, beyond MaxTransactions (the metrics
	// count each).
	All bool
}

// TransactionsView is what transactional producers did (KIP-98): per
// transactional id and producer process, the transactions begun,
// committed, aborted and still open, and each transaction with how long
// it stayed open. Other tools read its JSON: fields are only ever added.
type TransactionsView struct {
	From      time.Time     `json:"from"`
	To        time.Time     `json:"to"`
	Producers []TxnProducer `json:"producers"`
	// Transactions are those begun or ended in the window, or open at its
	// end, oldest first (at most MaxTransactions, the newest).
	Transactions []Transaction `json:"transactions"`
	// Findings: transactions open past their transaction timeout.
	Findings []Finding `json:"findings"`
}

// MaxTransactions bounds the transactions a view lists.
const MaxTransactions = 1000

// Transaction results.
const (
	TxnCommitted = "committed"
	TxnAborted   = "aborted"
	// TxnFailed: EndTxn was answered with an error (the broker had
	// aborted the transaction at its timeout, the producer was fenced...):
	// what the producer asked for did not happen.
	TxnFailed = "failed"
	TxnOpen   = "open"
)

// TxnResults are the results of ended transactions, as metrics label them.
var TxnResults = []string{TxnCommitted, TxnAborted, TxnFailed}

// TxnProducer is one transactional id in one producer process.
type TxnProducer struct {
	TransactionalID string `json:"transactional_id"`
	// Process is "comm[pid]" for a traced process, else
	// "client-id@host".
	Process  string `json:"process"`
	ClientID string `json:"client_id"`
	// ProducerID and ProducerEpoch: the last InitProducerId answer or
	// EndTxn request seen.
	ProducerID    *int64 `json:"producer_id"`
	ProducerEpoch *int16 `json:"producer_epoch"`
	// TimeoutMS is the transaction.timeout.ms its InitProducerId asked
	// for; null when that was not seen.
	TimeoutMS *int32 `json:"timeout_ms"`
	// Begun counts the transactions begun in the window; Committed,
	// Aborted and Failed those ended in it; Open those not ended at its
	// end.
	Begun     int `json:"begun"`
	Committed int `json:"committed"`
	Aborted   int `json:"aborted"`
	Failed    int `json:"failed"`
	Open      int `json:"open"`
	// CommittedRecords and AbortedRecords are the records its Produce
	// requests wrote in the transactions ended in the window (failed
	// ones count as aborted: the broker aborted them).
	CommittedRecords int64 `json:"committed_records"`
	AbortedRecords   int64 `json:"aborted_records"`
	// MeanSeconds and MaxSeconds: how long its ended transactions stayed
	// open.
	MeanSeconds *float64 `json:"mean_seconds"`
	MaxSeconds  *float64 `json:"max_seconds"`

	sum float64
	n   int
}

// Transaction is one transaction: from its first AddPartitionsToTxn,
// AddOffsetsToTxn or transactional Produce request (KIP-890 producers add
// partitions with Produce itself) after InitProducerId or the previous
// EndTxn, to the end of its EndTxn response.
type Transaction struct {
	TransactionalID string     `json:"transactional_id"`
	Process         string     `json:"process"`
	ClientID        string     `json:"client_id"`
	ProducerID      *int64     `json:"producer_id"`
	Begin           time.Time  `json:"begin"`
	End             *time.Time `json:"end"`
	Result          string     `json:"result"`
	// Error is EndTxn's error, for a failed transaction.
	Error string `json:"error,omitempty"`
	// Seconds is End - Begin; for an open one, the window's end - Begin.
	Seconds float64 `json:"seconds"`
	// TimeoutMS is the producer's transaction.timeout.ms when known;
	// PastTimeout says the transaction stayed open longer.
	TimeoutMS   *int32 `json:"timeout_ms"`
	PastTimeout bool   `json:"past_timeout"`
	// Records are those its Produce requests wrote (partitions answered
	// without error); Topics the topics they wrote to.
	Records int64      `json:"records"`
	Topics  []TxnTopic `json:"topics"`

	// endTxn is when the EndTxn request started: a transaction ended in
	// a window when its EndTxn is in it, as exchanges count.
	endTxn time.Time
}

// TxnTopic is what one transaction wrote to one topic.
type TxnTopic struct {
	Topic   string `json:"topic"`
	Records int64  `json:"records"`
}

// TransactionAPIs are the APIs the transactions view reads.
var TransactionAPIs = apiNames([]kmsg.Key{kmsg.InitProducerID, kmsg.AddPartitionsToTxn, kmsg.AddOffsetsToTxn, kmsg.Produce, kmsg.EndTxn})

// TransactionsNeeds: a transaction begun before the window and ended in
// it needs the exchanges before it; of them, only those of transactional
// producers (the metrics read it at every scrape, and most Produce
// requests are not transactional).
var TransactionsNeeds = Needs{APIs: TransactionAPIs, History: true, Transactional: true}

// txnKey is a transactional id in a process.
type txnKey struct{ id, proc string }

// txnState is one transactional id's state while the exchanges are read.
type txnState struct {
	p    *TxnProducer
	open *Transaction
}

// transactions reads the transactions of xs, oldest first; to is the
// time an open transaction is measured to.
func transactions(xs []exchange.Exchange, to time.Time) ([]Transaction, map[txnKey]*txnState) {
	states := make(map[txnKey]*txnState)
	var out []Transaction
	for i := range xs {
		e := &xs[i]
		d := e.Detail
		if d == nil || d.TransactionalID == "" || !inWindow(Window{To: to}, e.Time) {
			continue
		}
		k := txnKey{d.TransactionalID, procKey(e)}
		s := states[k]
		if s == nil {
			s = &txnState{p: &TxnProducer{TransactionalID: k.id, Process: k.proc, ClientID: e.ClientID}}
			states[k] = s
		}
		switch {
		case e.Is(kmsg.InitProducerID):
			if d.TransactionTimeoutMS != nil {
				s.p.TimeoutMS = d.TransactionTimeoutMS
			}
			if d.ProducerID != nil && e.Error == "" {
				s.p.ProducerID, s.p.ProducerEpoch = d.ProducerID, d.ProducerEpoch
			}
		case e.Is(kmsg.AddPartitionsToTxn), e.Is(kmsg.AddOffsetsToTxn), e.Is(kmsg.Produce):
			if s.open == nil {
				s.open = &Transaction{TransactionalID: k.id, Process: k.proc, ClientID: e.ClientID,
					ProducerID: s.p.ProducerID, Begin: e.Time, TimeoutMS: s.p.TimeoutMS, Result: TxnOpen, Topics: []TxnTopic{}}
			}
			if e.Is(kmsg.Produce) {
				s.open.produced(e)
			}
		case e.Is(kmsg.EndTxn):
			s.p.ProducerID, s.p.ProducerEpoch = d.ProducerID, d.ProducerEpoch
			t := s.open
			if t == nil {
				// An EndTxn without a transaction seen: one begun
				// before what is held, or an empty one; its length is
				// unknown, so it is not listed.
				continue
			}
			s.open = nil
			end := e.Time
			if e.Latency != nil {
				end = end.Add(*e.Latency)
			}
			t.End, t.endTxn = &end, e.Time
			t.Seconds = end.Sub(t.Begin).Seconds()
			switch {
			case e.Error != "":
				t.Result, t.Error = TxnFailed, e.Error
			case e.NoResponse != "":
				t.Result, t.Error = TxnFailed, "no response: "+e.NoResponse
			case d.Commit != nil && *d.Commit:
				t.Result = TxnCommitted
			default:
				t.Result = TxnAborted
			}
			t.pastTimeout()
			out = append(out, *t)
		}
	}
	for _, s := range states {
		if t := s.open; t != nil {
			t.Seconds = to.Sub(t.Begin).Seconds()
			t.pastTimeout()
			out = append(out, *t)
		}
	}
	slices.SortStableFunc(out, func(a, b Transaction) int { return a.Begin.Compare(b.Begin) })
	return out, states
}

// produced adds what a Produce request of t wrote.
func (t *Transaction) produced(e *exchange.Exchange) {
	for ti := range e.Topics {
		tp := &e.Topics[ti]
		var n int64
		for pi := range tp.Partitions {
			if p := &tp.Partitions[pi]; p.Error == "" {
				n += p.Records
			}
		}
		t.Records += n
		j := slices.IndexFunc(t.Topics, func(x TxnTopic) bool { return x.Topic == tp.Name })
		if j < 0 {
			t.Topics = append(t.Topics, TxnTopic{Topic: tp.Name})
			j = len(t.Topics) - 1
		}
		t.Topics[j].Records += n
	}
}

func (t *Transaction) pastTimeout() {
	t.PastTimeout = t.TimeoutMS != nil && t.Seconds*1000 > float64(*t.TimeoutMS)
}

// Transactions computes the transactions view over in.Window from
// in.Exchanges (and those before it).
func Transactions(in Input, f TransactionsFilter) TransactionsView {
	w := in.Window
	v := TransactionsView{From: w.From, To: w.To, Producers: []TxnProducer{}, Transactions: []Transaction{}, Findings: []Finding{}}
	txns, states := transactions(Once(in.Exchanges), w.To)
	match := func(id, proc, clientID string) bool {
		return (f.TransactionalID == "" || f.TransactionalID == id) &&
			(f.Client == "" || f.Client == proc || f.Client == clientID || matchesLabel(f.Client, proc))
	}
	inW := func(t time.Time) bool { return inWindow(w, t) }
	for i := range txns {
		t := &txns[i]
		if !match(t.TransactionalID, t.Process, t.ClientID) {
			continue
		}
		begun, ended := inW(t.Begin), t.End != nil && inW(t.endTxn)
		if !begun && !ended && !(t.End == nil && t.Begin.Before(w.To)) {
			continue
		}
		s := states[txnKey{t.TransactionalID, t.Process}]
		p := s.p
		if begun {
			p.Begun++
		}
		switch {
		case t.End == nil:
			p.Open++
		case ended:
			switch t.Result {
			case TxnCommitted:
				p.Committed++
				p.CommittedRecords += t.Records
			case TxnAborted:
				p.Aborted++
				p.AbortedRecords += t.Records
			case TxnFailed:
				p.Failed++
				p.AbortedRecords += t.Records
			}
			p.n++
			p.sum += t.Seconds
			if p.MaxSeconds == nil || t.Seconds > *p.MaxSeconds {
				p.MaxSeconds = lagPtr(t.Seconds)
			}
		}
		v.Transactions = append(v.Transactions, *t)
	}
	if n := len(v.Transactions); n > MaxTransactions && !f.All {
		v.Transactions = v.Transactions[n-MaxTransactions:]
	}
	for _, s := range states {
		p := s.p
		if !match(p.TransactionalID, p.Process, p.ClientID) || p.Begun+p.Committed+p.Aborted+p.Failed+p.Open == 0 {
			continue
		}
		if p.n > 0 {
			p.MeanSeconds = lagPtr(p.sum / float64(p.n))
		}
		v.Producers = append(v.Producers, *p)
	}
	slices.SortFunc(v.Producers, func(a, b TxnProducer) int {
		return cmp.Or(cmp.Compare(a.TransactionalID, b.TransactionalID), cmp.Compare(a.Process, b.Process))
	})
	v.Findings = txnFindings(v.Transactions)
	return v
}

// txnFindings reports the transactions that stayed open past their
// timeout: the broker aborts such a transaction, and until then a
// read_committed consumer of its partitions is held at its first offset
// (the last stable offset does not move).
func txnFindings(txns []Transaction) []Finding {
	type key struct{ id, proc string }
	var order []key
	byKey := map[key][]*Transaction{}
	for i := range txns {
		t := &txns[i]
		if !t.PastTimeout {
			continue
		}
		k := key{t.TransactionalID, t.Process}
		if byKey[k] == nil {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], t)
	}
	fs := []Finding{}
	for _, k := range order {
		ts := byKey[k]
		worst := ts[0]
		for _, t := range ts {
			if t.Seconds > worst.Seconds {
				worst = t
			}
		}
		state := "was open"
		if worst.End == nil {
			state = "is open"
		}
		what := fmt.Sprintf("transactional id %s (%s): a transaction %s %s, past its transaction.timeout.ms of %s (begun %s)",
			k.id, k.proc, state, Seconds(worst.Seconds), Seconds(float64(*worst.TimeoutMS)/1000), worst.Begin.UTC().Format("15:04:05.000"))
		if len(ts) > 1 {
			what += fmt.Sprintf("; %d transactions past it", len(ts))
		}
		fs = append(fs, Finding{Severity: "warning", Kind: "transaction-timeout", Count: len(ts), What: what,
			Do: "the broker aborts a transaction at its timeout and read_committed consumers wait on it until then: find what holds the producer between its first send and commit (slow processing, a stuck poll loop), or raise transaction.timeout.ms"})
	}
	return fs
}

// AddTransactionFindings appends the transactions' findings to a health
// view, in severity order.
func AddTransactionFindings(h *HealthView, t TransactionsView) {
	if len(t.Findings) == 0 {
		return
	}
	h.Findings = append(h.Findings, t.Findings...)
	slices.SortStableFunc(h.Findings, func(a, b Finding) int {
		return cmp.Compare(slices.Index(Severities, a.Severity), slices.Index(Severities, b.Severity))
	})
}
