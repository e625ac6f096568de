package server

import (
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"kscope/internal/metrics"
	"kscope/internal/store"
	"kscope/internal/view"
)

// txnCollector exports the transaction counters, computed from the store
// at each scrape. They must not go down when the store drops old
// exchanges, so each ended transaction counts once, when first seen ended.
type txnCollector struct {
	store *store.Store

	// mu guards the state below; scrapes may overlap.
	mu sync.Mutex
	// counted holds the ended transactions the store still has.
	counted map[txnID]bool
	ended   map[string]uint64
	// The duration histogram per result: observations, their sum, and how
	// many at most each bucket (cumulative).
	observed map[string]uint64
	sum      map[string]float64
	buckets  map[string][]uint64
}

type txnID struct {
	id, process string
	begin       time.Time
}

func newTxnCollector(st *store.Store) *txnCollector {
	c := &txnCollector{store: st, counted: map[txnID]bool{}, ended: map[string]uint64{},
		observed: map[string]uint64{}, sum: map[string]float64{}, buckets: map[string][]uint64{}}
	for _, r := range view.TxnResults {
		c.buckets[r] = make([]uint64, len(metrics.TransactionDuration.Buckets))
	}
	return c
}

func (c *txnCollector) Describe(ch chan<- *prometheus.Desc) {
	metrics.Describe(ch, metrics.Transactions, metrics.TransactionDuration)
}

func (c *txnCollector) Collect(ch chan<- prometheus.Metric) {
	v := view.Transactions(view.FromStore(c.store, view.Window{}, view.TransactionsNeeds), view.TransactionsFilter{All: true})
	c.mu.Lock()
	defer c.mu.Unlock()
	bounds := metrics.TransactionDuration.Buckets
	var oldest time.Time
	for _, t := range v.Transactions {
		if oldest.IsZero() || t.Begin.Before(oldest) {
			oldest = t.Begin
		}
		k := txnID{t.TransactionalID, t.Process, t.Begin}
		if t.End == nil || c.counted[k] || c.buckets[t.Result] == nil {
			continue
		}
		c.counted[k] = true
		c.ended[t.Result]++
		c.observed[t.Result]++
		c.sum[t.Result] += t.Seconds
		for i := sort.SearchFloat64s(bounds, t.Seconds); i < len(bounds); i++ {
			c.buckets[t.Result][i]++
		}
	}
	// Transactions older than any the store holds cannot come back:
	// forget them, so that memory follows the store, not the uptime.
	for k := range c.counted {
		if k.begin.Before(oldest) || oldest.IsZero() {
			delete(c.counted, k)
		}
	}
	for _, r := range view.TxnResults {
		ch <- metrics.Transactions.Value(float64(c.ended[r]), r)
		ch <- metrics.TransactionDuration.Observed(c.observed[r], c.sum[r], c.buckets[r], r)
	}
}
