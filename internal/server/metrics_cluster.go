package server

import (
	"cmp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"kscope/internal/metrics"
	"kscope/internal/store"
	"kscope/internal/view"
)

// clusterCollector exports consumer lag as the cluster tells it (the
// inspector's snapshots in the store) and the partitions' offsets at the
// latest poll. The view is computed in the background, like the traffic
// lag's: a scrape answers from the last result.
type clusterCollector struct {
	store  *store.Store
	window time.Duration

	// mu guards the cache below.
	mu         sync.Mutex
	lag        view.LagView
	computed   time.Time
	refreshing bool
}

func newClusterCollector(st *store.Store, window time.Duration) *clusterCollector {
	return &clusterCollector{store: st, window: window}
}

func (c *clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	metrics.Describe(ch, metrics.GroupOffsetLag, metrics.GroupAppendLag, metrics.GroupCommitLag, metrics.GroupTimeLag, metrics.GroupTimeToLoss,
		metrics.GroupStatus, metrics.PartitionHWM, metrics.PartitionStart, metrics.GroupLagDropped)
}

func (c *clusterCollector) refresh() {
	now := time.Now()
	v := view.Lag(view.FromStore(c.store, view.Window{From: now.Add(-c.window), To: now}, view.LagNeeds), view.LagFilter{})
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lag, c.computed, c.refreshing = v, now, false
}

func (c *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	if c.store.Stats().Snapshots == 0 {
		return // no inspector: nothing to say
	}
	c.mu.Lock()
	first := c.computed.IsZero()
	if !first && !c.refreshing && time.Since(c.computed) > lagMetricsMaxAge {
		c.refreshing = true
		go c.refresh()
	}
	c.mu.Unlock()
	if first {
		c.refresh()
	}
	c.mu.Lock()
	v := c.lag
	c.mu.Unlock()
	type row struct {
		group  string
		status int
		p      *view.PartitionLag
	}
	var rows []row
	for gi := range v.Groups {
		g := &v.Groups[gi]
		for _, s := range view.LagStatuses {
			on := 0.0
			if g.Status == s {
				on = 1
			}
			ch <- metrics.GroupStatus.Value(on, g.Group, s)
		}
		for pi := range g.Partitions {
			p := &g.Partitions[pi]
			rows = append(rows, row{g.Group, slices.Index(view.LagStatuses, p.Status), p})
		}
	}
	// Past the cap, the worst partitions stay: by status, then Append
	// Lag, then offset lag.
	dropped := 0
	if len(rows) > metrics.MaxLabelSets {
		orZero := func(f *float64) float64 {
			if f == nil {
				return 0
			}
			return *f
		}
		slices.SortFunc(rows, func(a, b row) int {
			return cmp.Or(cmp.Compare(b.status, a.status), cmp.Compare(orZero(b.p.AppendLagSeconds), orZero(a.p.AppendLagSeconds)),
				cmp.Compare(lagOf(b.p), lagOf(a.p)))
		})
		dropped, rows = len(rows)-metrics.MaxLabelSets, rows[:metrics.MaxLabelSets]
	}
	ch <- metrics.GroupLagDropped.Value(float64(dropped))
	for _, r := range rows {
		p := r.p
		part := strconv.Itoa(int(p.Partition))
		if p.OffsetLag != nil {
			ch <- metrics.GroupOffsetLag.Value(float64(*p.OffsetLag), r.group, p.Topic, part)
		}
		for _, x := range []struct {
			m *metrics.Metric
			v *float64
		}{{metrics.GroupAppendLag, p.AppendLagSeconds}, {metrics.GroupCommitLag, p.CommitLagSeconds}, {metrics.GroupTimeLag, p.TimeLagSeconds}, {metrics.GroupTimeToLoss, p.TimeToLossSeconds}} {
			if x.v != nil {
				ch <- x.m.Value(*x.v, r.group, p.Topic, part)
			}
		}
	}
	snaps := c.store.Snapshots(time.Time{}, time.Time{})
	if len(snaps) == 0 {
		return
	}
	last := snaps[len(snaps)-1]
	for _, t := range last.Topics {
		for _, p := range t.Partitions {
			part := strconv.Itoa(int(p.Partition))
			if p.HighWatermark >= 0 {
				ch <- metrics.PartitionHWM.Value(float64(p.HighWatermark), t.Name, part)
			}
			if p.LogStartOffset >= 0 {
				ch <- metrics.PartitionStart.Value(float64(p.LogStartOffset), t.Name, part)
			}
		}
	}
}

func lagOf(p *view.PartitionLag) int64 {
	if p.OffsetLag == nil {
		return 0
	}
	return *p.OffsetLag
}
