package server

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"kscope/internal/store"
	"kscope/internal/view"
)

// Overview metrics cover the last metricsWindow and are recomputed every
// metricsRefresh in the background: a scrape reads the last result and
// never waits for a computation (after the first).
const (
	metricsWindow  = time.Minute
	metricsRefresh = 15 * time.Second
)

// overviewCollector exports topic rates, client rates and request latency
// from the overview of the last minute. Labels are bounded by what the
// store holds: topics, client ids, groups, brokers, APIs, error names.
type overviewCollector struct {
	store *store.Store

	topicIn, topicOut, topicRecIn, topicRecOut, topicRepl *prometheus.Desc
	producerBytes, consumerBytes                          *prometheus.Desc
	latency, requests, errors                             *prometheus.Desc

	// mu guards last.
	mu   sync.Mutex
	last *view.OverviewView
}

func newOverviewCollector(st *store.Store) *overviewCollector {
	view.KeepParts(st)
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("kscope_"+name, help, labels, nil)
	}
	return &overviewCollector{
		store:         st,
		topicIn:       d("topic_bytes_in_per_second", "Record bytes produced to the topic per second, over the last minute.", "topic"),
		topicOut:      d("topic_bytes_out_per_second", "Record bytes fetched from the topic by consumers per second, over the last minute.", "topic"),
		topicRecIn:    d("topic_records_in_per_second", "Records produced to the topic per second, over the last minute.", "topic"),
		topicRecOut:   d("topic_records_out_per_second", "Records fetched from the topic by consumers per second, over the last minute.", "topic"),
		topicRepl:     d("topic_replication_bytes_per_second", "Record bytes fetched from the topic by follower brokers per second, over the last minute.", "topic"),
		producerBytes: d("producer_bytes_per_second", "Record bytes a producer (client id) wrote to the topic per second, over the last minute.", "topic", "client"),
		consumerBytes: d("consumer_bytes_per_second", "Record bytes a consumer (client id, group) fetched from the topic per second, over the last minute.", "topic", "client", "group"),
		latency:       d("request_latency_seconds", "Request latency quantile over the last minute, by API and broker; empty Fetch long-polls and replica fetches have their own api value.", "api", "broker", "quantile"),
		requests:      d("requests_per_second", "Requests per second over the last minute, by API and broker.", "api", "broker"),
		errors:        d("request_errors_per_second", "Requests answered with an error per second over the last minute, by API, broker and Kafka error name.", "api", "broker", "code"),
	}
}

// run refreshes the metrics until ctx ends.
func (c *overviewCollector) run(ctx context.Context) {
	t := time.NewTicker(metricsRefresh)
	defer t.Stop()
	for {
		c.refresh()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *overviewCollector) refresh() *view.OverviewView {
	now := time.Now()
	o := view.Overview(view.FromStore(c.store, view.Window{From: now.Add(-metricsWindow), To: now}, view.OverviewFilter{}.Needs()), view.OverviewFilter{})
	c.mu.Lock()
	c.last = &o
	c.mu.Unlock()
	return &o
}

func (c *overviewCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.topicIn, c.topicOut, c.topicRecIn, c.topicRecOut, c.topicRepl, c.producerBytes, c.consumerBytes, c.latency, c.requests, c.errors} {
		ch <- d
	}
}

func (c *overviewCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	o := c.last
	c.mu.Unlock()
	if o == nil {
		// Not served by Run yet (a test's handler): compute once.
		o = c.refresh()
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, t := range o.Topics {
		gauge(c.topicIn, t.BytesInPerSec, t.Name)
		gauge(c.topicOut, t.BytesOutPerSec, t.Name)
		gauge(c.topicRecIn, t.RecordsInPerSec, t.Name)
		gauge(c.topicRecOut, t.RecordsOutPerSec, t.Name)
		gauge(c.topicRepl, t.ReplicationBytesPerSec, t.Name)
	}
	// Several processes may share a client id: their rates add up under
	// one label set (a label set may be exported once only).
	type key struct{ topic, client, group string }
	prod, cons := map[key]float64{}, map[key]float64{}
	clients := map[string]view.ClientRow{}
	for _, r := range o.Producers {
		clients[r.ID] = r
	}
	for _, r := range o.Consumers {
		clients[r.ID] = r
	}
	for _, e := range o.Edges {
		if topic, ok := cutTopic(e.From); ok {
			r := clients[e.To]
			cons[key{topic, r.ClientID, r.Group}] += e.BytesPerSec
		} else if topic, ok := cutTopic(e.To); ok {
			prod[key{topic, clients[e.From].ClientID, ""}] += e.BytesPerSec
		}
	}
	for k, v := range prod {
		gauge(c.producerBytes, v, k.topic, k.client)
	}
	for k, v := range cons {
		gauge(c.consumerBytes, v, k.topic, k.client, k.group)
	}
	for _, r := range o.Latency.ByBroker {
		gauge(c.requests, r.RequestsPerSec, r.API, r.Broker)
		if r.Answered > 0 {
			gauge(c.latency, r.P50, r.API, r.Broker, "0.5")
			gauge(c.latency, r.P90, r.API, r.Broker, "0.9")
			gauge(c.latency, r.P99, r.API, r.Broker, "0.99")
		}
		codes := make([]string, 0, len(r.ErrorsByCode))
		for code := range r.ErrorsByCode {
			codes = append(codes, code)
		}
		sort.Strings(codes)
		for _, code := range codes {
			gauge(c.errors, float64(r.ErrorsByCode[code])/o.Seconds, r.API, r.Broker, code)
		}
	}
}

func cutTopic(id string) (string, bool) {
	const p = view.KindTopic + ":"
	if len(id) > len(p) && id[:len(p)] == p {
		return id[len(p):], true
	}
	return "", false
}
