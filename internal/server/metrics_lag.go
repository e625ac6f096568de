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

// lagMetricsWindow is the span of traffic the lag metrics describe, and
// lagMetricsMaxAge how old the cached figures may get before a scrape
// starts computing new ones.
const (
	lagMetricsWindow = 5 * time.Minute
	lagMetricsMaxAge = 10 * time.Second
	// lagMetricsMaxSeries caps the series of each lag metric; the worst
	// are kept and kscope_lag_metrics_dropped_series counts the others.
	lagMetricsMaxSeries = metrics.MaxLabelSets
)

// lagCollector exposes consumer lag and producer-consumer delay. The views
// are computed in the background and scrapes answer from the last result,
// so that a scrape never waits on a large store (a scrape that times out
// is worse than one 10 s old). Labels are bounded: group, topic,
// partition; never client ids, offsets, pids or ports.
type lagCollector struct {
	store *store.Store

	// mu guards the cache below.
	mu         sync.Mutex
	clients    view.ClientsView
	latency    view.LatencyView
	computed   time.Time
	refreshing bool
	ready      chan struct{}
}

func newLagCollector(st *store.Store) *lagCollector {
	return &lagCollector{store: st, ready: make(chan struct{})}
}

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) {
	metrics.Describe(ch, metrics.ConsumerOffsetLag, metrics.ConsumerTimeLag, metrics.ConsumerCommitLag, metrics.ProducerConsumerDelay, metrics.LagDroppedSeries)
}

// refresh recomputes the views; one at a time.
func (c *lagCollector) refresh() {
	now := time.Now()
	w := view.Window{From: now.Add(-lagMetricsWindow), To: now}
	// One read of the store for both views.
	in := view.FromStore(c.store, w, view.ClientsNeeds.And(view.LatencyNeeds))
	cv := view.Clients(in, view.ClientsFilter{})
	lv := view.Latency(in, view.LatencyFilter{})
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.computed.IsZero() {
		close(c.ready)
	}
	c.clients, c.latency, c.computed, c.refreshing = cv, lv, now, false
}

// lagKey is a lag metric's label set.
type lagKey struct {
	group, topic string
	partition    int32
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

	// Several processes may share a label set (consumers outside any
	// group): one series per label set, the worst of them.
	offset := map[lagKey]float64{}
	timeLag := map[lagKey]float64{}
	commit := map[lagKey]float64{}
	worst := func(m map[lagKey]float64, k lagKey, v float64) {
		if old, ok := m[k]; !ok || v > old {
			m[k] = v
		}
	}
	// groupOf names the group of a latency series' consumer process.
	type procPart struct {
		proc, topic string
		partition   int32
	}
	groupOf := map[procPart]string{}
	groupOfProc := map[string]string{}
	for _, cl := range cv.Consumers {
		k := lagKey{cl.Group, cl.Topic, cl.Partition}
		groupOf[procPart{cl.Process, cl.Topic, cl.Partition}] = cl.Group
		if cl.Group != "" {
			groupOfProc[cl.Process] = cl.Group
		}
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
		d *metrics.Metric
		v map[lagKey]float64
	}{{metrics.ConsumerOffsetLag, offset}, {metrics.ConsumerTimeLag, timeLag}, {metrics.ConsumerCommitLag, commit}} {
		for i, k := range worstFirst(m.v) {
			if i == lagMetricsMaxSeries {
				dropped += len(m.v) - i
				break
			}
			ch <- m.d.Value(m.v[k], k.group, k.topic, partitionLabel(k.partition))
		}
	}
	// The delay of a label set is its latest batch's.
	type latest struct {
		at    time.Time
		delay float64
	}
	delays := map[lagKey]latest{}
	for _, s := range lv.Series {
		if len(s.Points) == 0 {
			continue
		}
		group, ok := groupOf[procPart{s.Consumer, s.Topic, s.Partition}]
		if !ok {
			group = groupOfProc[s.Consumer]
		}
		p := s.Points[len(s.Points)-1]
		k := lagKey{group, s.Topic, s.Partition}
		if old, ok := delays[k]; !ok || p.Time.After(old.at) {
			delays[k] = latest{p.Time, p.DelaySeconds}
		}
	}
	dv := make(map[lagKey]float64, len(delays))
	for k, v := range delays {
		dv[k] = v.delay
	}
	for i, k := range worstFirst(dv) {
		if i == lagMetricsMaxSeries {
			dropped += len(dv) - i
			break
		}
		ch <- metrics.ProducerConsumerDelay.Value(dv[k], k.group, k.topic, partitionLabel(k.partition))
	}
	ch <- metrics.LagDroppedSeries.Value(float64(dropped))
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
