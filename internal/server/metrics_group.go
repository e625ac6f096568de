package server

import (
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"kscope/internal/metrics"
	"kscope/internal/store"
	"kscope/internal/view"
)

// maxMetricGroups bounds the group label: beyond it, new groups are not
// exported (kscope_group_metrics_dropped_groups says how many).
const maxMetricGroups = 1000

// rebalanceCollector exports per-group rebalance metrics, computed from
// the store at each scrape. The rebalance counter and the duration
// histogram must not go down when the store drops old exchanges, so they
// count each generation once, per group: the counter when the generation
// is first seen, the histogram when it is first seen complete.
type rebalanceCollector struct {
	store *store.Store

	// mu guards the state below; scrapes may overlap.
	mu     sync.Mutex
	groups map[string]*groupCounts
}

// groupCounts are one group's counts so far.
type groupCounts struct {
	// seen holds the generations the store still has, and whether each
	// was observed complete.
	seen       map[int32]bool
	rebalances uint64
	// The duration histogram: observations, their sum, and how many at
	// most each bucket (cumulative).
	observed uint64
	sum      float64
	buckets  []uint64
}

func newRebalanceCollector(st *store.Store) *rebalanceCollector {
	return &rebalanceCollector{store: st, groups: map[string]*groupCounts{}}
}

func (c *rebalanceCollector) Describe(ch chan<- *prometheus.Desc) {
	metrics.Describe(ch, metrics.GroupRebalances, metrics.GroupRebalanceDuration, metrics.GroupMembers, metrics.GroupMetricsDropped)
}

func (c *rebalanceCollector) Collect(ch chan<- prometheus.Metric) {
	v := view.RebalancesOf(view.FromStore(c.store, view.Window{}, view.RebalancesNeeds), view.RebalanceFilter{})
	c.mu.Lock()
	defer c.mu.Unlock()
	dropped := map[string]bool{}
	oldest := map[string]int32{}
	bounds := metrics.GroupRebalanceDuration.Buckets
	for _, rb := range v.Rebalances {
		if o, ok := oldest[rb.Group]; !ok || rb.Generation < o {
			oldest[rb.Group] = rb.Generation
		}
		g := c.groups[rb.Group]
		if g == nil {
			if len(c.groups) >= maxMetricGroups {
				dropped[rb.Group] = true
				continue
			}
			g = &groupCounts{seen: map[int32]bool{}, buckets: make([]uint64, len(bounds))}
			c.groups[rb.Group] = g
		}
		observed, seen := g.seen[rb.Generation]
		if !seen {
			g.rebalances++
		}
		if !observed && rb.Complete && rb.DelaySeconds != nil {
			observed = true
			d := *rb.DelaySeconds
			g.observed++
			g.sum += d
			for i := sort.SearchFloat64s(bounds, d); i < len(bounds); i++ {
				g.buckets[i]++
			}
		}
		g.seen[rb.Generation] = observed
	}
	// Generations older than any the store holds cannot come back: forget
	// them, so that memory follows the store, not the uptime.
	for name, g := range c.groups {
		if o, ok := oldest[name]; ok {
			for gen := range g.seen {
				if gen < o {
					delete(g.seen, gen)
				}
			}
		}
	}
	for name, g := range c.groups {
		ch <- metrics.GroupRebalances.Value(float64(g.rebalances), name)
		ch <- metrics.GroupRebalanceDuration.Observed(g.observed, g.sum, g.buckets, name)
	}
	for _, g := range v.Groups {
		if c.groups[g.Group] == nil && len(c.groups) >= maxMetricGroups {
			dropped[g.Group] = true
			continue
		}
		ch <- metrics.GroupMembers.Value(float64(len(g.Members)), g.Group)
	}
	ch <- metrics.GroupMetricsDropped.Value(float64(len(dropped)))
}
