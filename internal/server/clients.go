package server

import (
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"kscope/internal/store"
	"kscope/internal/view"
)

// lagMetricsWindow is the span of traffic the lag metrics describe, and
// lagMetricsMaxAge how old the cached figures may get before a scrape
// starts computing new ones.
const (
	lagMetricsWindow = 5 * time.Minute
	lagMetricsMaxAge = 10 * time.Second
	// lagMetricsMaxSeries caps the series of each lag metric; the worst
	// are kept and kscope_lag_metrics_dropped_series counts the others.
	lagMetricsMaxSeries = 10000
)

// lagCollector exposes consumer lag and producer-consumer delay. The views
// are computed in the background and scrapes answer from the last result,
// so that a scrape never waits on a large store (a scrape that times out
// is worse than one 10 s old). Labels are bounded: topic, partition,
// client id, group; never offsets, pids or ports.
type lagCollector struct {
	store *store.Store

	offsetLag, timeLag, commitLag, delay, dropped *prometheus.Desc

	// mu guards the cache below.
	mu         sync.Mutex
	clients    view.ClientsView
	latency    view.LatencyView
	computed   time.Time
	refreshing bool
	ready      chan struct{}
}

func newLagCollector(st *store.Store) *lagCollector {
	cl := []string{"topic", "partition", "client", "group"}
	return &lagCollector{
		store:     st,
		offsetLag: prometheus.NewDesc("kscope_consumer_offset_lag", "Records in the partition the consumer had not yet received at its last fetch (high watermark - next fetch offset), from traffic.", cl, nil),
		timeLag:   prometheus.NewDesc("kscope_consumer_time_lag_seconds", "Age of the next record the consumer had not received at its last fetch; only when the agent saw that record produced.", cl, nil),
		commitLag: prometheus.NewDesc("kscope_consumer_commit_lag_seconds", "Time of the consumer's last OffsetCommit minus the append time of the last committed record; only when the agent saw it produced.", cl, nil),
		delay:     prometheus.NewDesc("kscope_producer_consumer_delay_seconds", "Delay of the latest record batch the consumer fetched: fetch response time minus the batch's max timestamp.", []string{"topic", "partition", "client"}, nil),
		dropped:   prometheus.NewDesc("kscope_lag_metrics_dropped_series", "Series of the consumer lag and delay metrics left out beyond the cap (the worst are kept).", nil, nil),
		ready:     make(chan struct{}),
	}
}

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.offsetLag, c.timeLag, c.commitLag, c.delay, c.dropped} {
		ch <- d
	}
}

// refresh recomputes the views; one at a time.
func (c *lagCollector) refresh() {
	now := time.Now()
	w := view.Window{From: now.Add(-lagMetricsWindow), To: now}
	cv := view.Clients(view.FromStore(c.store, w, view.ClientsNeeds), view.ClientsFilter{})
	lv := view.Latency(view.FromStore(c.store, w, view.LatencyNeeds), view.LatencyFilter{})
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.computed.IsZero() {
		close(c.ready)
	}
	c.clients, c.latency, c.computed, c.refreshing = cv, lv, now, false
}

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	if !c.refreshing && time.Since(c.computed) > lagMetricsMaxAge {
		c.refreshing = true
		go c.refresh()
	}
	first := c.computed.IsZero()
	c.mu.Unlock()
	if first {
		// The first scrape waits a little for figures, not forever.
		select {
		case <-c.ready:
		case <-time.After(5 * time.Second):
		}
	}
	c.mu.Lock()
	cv, lv := c.clients, c.latency
	c.mu.Unlock()

	// Several processes may share a client id: one series per label
	// set, the worst of them.
	type key struct{ topic, partition, client, group string }
	offset := map[key]float64{}
	timeLag := map[key]float64{}
	commit := map[key]float64{}
	worst := func(m map[key]float64, k key, v float64) {
		if old, ok := m[k]; !ok || v > old {
			m[k] = v
		}
	}
	for _, cl := range cv.Consumers {
		k := key{cl.Topic, strconv.Itoa(int(cl.Partition)), cl.ClientID, cl.Group}
		if cl.OffsetLag != nil {
			worst(offset, k, float64(*cl.OffsetLag))
		}
		if cl.TimeLagSeconds != nil {
			worst(timeLag, k, *cl.TimeLagSeconds)
		}
		if cl.CommitLagSeconds != nil {
			worst(commit, k, *cl.CommitLagSeconds)
		}
	}
	dropped := 0
	for _, m := range []struct {
		d *prometheus.Desc
		v map[key]float64
	}{{c.offsetLag, offset}, {c.timeLag, timeLag}, {c.commitLag, commit}} {
		for i, k := range worstFirst(m.v) {
			if i == lagMetricsMaxSeries {
				dropped += len(m.v) - i
				break
			}
			ch <- prometheus.MustNewConstMetric(m.d, prometheus.GaugeValue, m.v[k], k.topic, k.partition, k.client, k.group)
		}
	}
	type dkey struct{ topic, partition, client string }
	type latest struct {
		at    time.Time
		delay float64
	}
	delays := map[dkey]latest{}
	for _, s := range lv.Series {
		if len(s.Points) == 0 {
			continue
		}
		p := s.Points[len(s.Points)-1]
		k := dkey{s.Topic, strconv.Itoa(int(s.Partition)), s.ClientID}
		if old, ok := delays[k]; !ok || p.Time.After(old.at) {
			delays[k] = latest{p.Time, p.DelaySeconds}
		}
	}
	dv := make(map[dkey]float64, len(delays))
	for k, v := range delays {
		dv[k] = v.delay
	}
	for i, k := range worstFirst(dv) {
		if i == lagMetricsMaxSeries {
			dropped += len(dv) - i
			break
		}
		ch <- prometheus.MustNewConstMetric(c.delay, prometheus.GaugeValue, dv[k], k.topic, k.partition, k.client)
	}
	ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.GaugeValue, float64(dropped))
}

// worstFirst is the keys of m, highest value first.
func worstFirst[K comparable](m map[K]float64) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.SliceStable(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
	return keys
}
