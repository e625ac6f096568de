package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"kscope/internal/store"
)

// storeCollector exposes the store's counters, read at each scrape.
type storeCollector struct {
	store *store.Store

	exchanges, held, bytes, budget, evicted, evictedBytes, seconds, secondsEvicted *prometheus.Desc
}

func newStoreCollector(st *store.Store) *storeCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("kscope_"+name, help, labels, nil)
	}
	return &storeCollector{
		store:          st,
		exchanges:      d("exchanges_total", "Exchanges (a request and its response) decoded, by API.", "api"),
		held:           d("store_exchanges", "Exchanges held in the store."),
		bytes:          d("store_bytes", "Estimated memory of the store's tables."),
		budget:         d("store_budget_bytes", "Memory budget of the store."),
		evicted:        d("store_evicted_exchanges_total", "Exchanges dropped from the store to stay in budget."),
		evictedBytes:   d("store_evicted_bytes_total", "Estimated memory of the exchanges dropped from the store."),
		seconds:        d("store_aggregate_seconds", "Seconds of per-API and per-topic aggregates held."),
		secondsEvicted: d("store_aggregate_seconds_evicted_total", "Seconds of aggregates dropped to stay in budget."),
	}
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.exchanges, c.held, c.bytes, c.budget, c.evicted, c.evictedBytes, c.seconds, c.secondsEvicted} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.store.Stats()
	for api, n := range st.AddedByAPI {
		ch <- prometheus.MustNewConstMetric(c.exchanges, prometheus.CounterValue, float64(n), api)
	}
	ch <- prometheus.MustNewConstMetric(c.held, prometheus.GaugeValue, float64(st.Exchanges))
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(st.Bytes))
	ch <- prometheus.MustNewConstMetric(c.budget, prometheus.GaugeValue, float64(st.BudgetBytes))
	ch <- prometheus.MustNewConstMetric(c.evicted, prometheus.CounterValue, float64(st.Evicted))
	ch <- prometheus.MustNewConstMetric(c.evictedBytes, prometheus.CounterValue, float64(st.EvictedBytes))
	ch <- prometheus.MustNewConstMetric(c.seconds, prometheus.GaugeValue, float64(st.Seconds))
	ch <- prometheus.MustNewConstMetric(c.secondsEvicted, prometheus.CounterValue, float64(st.SecondsEvicted))
}
