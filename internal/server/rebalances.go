package server

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"kscope/internal/store"
	"kscope/internal/view"
)

// maxMetricGroups bounds the group label: beyond it, new groups are not
// exported (kscope_group_metrics_dropped_groups says how many).
const maxMetricGroups = 1000

// rebalanceCollector exports per-group rebalance metrics, computed from
// the store at each scrape. The rebalance counter must not go down when
// the store drops old exchanges, so it counts generations it has not
// counted before, per group.
type rebalanceCollector struct {
	store *store.Store

	rebalances, seconds, members, dropped *prometheus.Desc

	// mu guards counted and the totals; scrapes may overlap.
	mu      sync.Mutex
	counted map[string]map[int32]bool
	total   map[string]uint64
}

func newRebalanceCollector(st *store.Store) *rebalanceCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("kscope_"+name, help, labels, nil)
	}
	return &rebalanceCollector{
		store:      st,
		rebalances: d("group_rebalances_total", "Consumer group rebalances seen (generations, or KIP-848 member epochs), by group.", "group"),
		seconds:    d("group_rebalance_seconds", "Stop-the-world time of the group's last complete rebalance: first JoinGroup request to last SyncGroup response.", "group"),
		members:    d("group_members", "Members of the group's last generation that have not left.", "group"),
		dropped:    d("group_metrics_dropped_groups", "Groups seen but left out of the group metrics to bound their labels."),
		counted:    map[string]map[int32]bool{},
		total:      map[string]uint64{},
	}
}

func (c *rebalanceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.rebalances, c.seconds, c.members, c.dropped} {
		ch <- d
	}
}

func (c *rebalanceCollector) Collect(ch chan<- prometheus.Metric) {
	v := view.RebalancesOf(view.FromStore(c.store, view.Window{}, view.RebalancesNeeds), view.RebalanceFilter{})
	c.mu.Lock()
	defer c.mu.Unlock()
	dropped := map[string]bool{}
	oldest := map[string]int32{}
	for _, rb := range v.Rebalances {
		if o, ok := oldest[rb.Group]; !ok || rb.Generation < o {
			oldest[rb.Group] = rb.Generation
		}
		seen := c.counted[rb.Group]
		if seen == nil {
			if len(c.counted) >= maxMetricGroups {
				dropped[rb.Group] = true
				continue
			}
			seen = map[int32]bool{}
			c.counted[rb.Group] = seen
		}
		if !seen[rb.Generation] {
			seen[rb.Generation] = true
			c.total[rb.Group]++
		}
	}
	// Generations older than any the store holds cannot come back: forget
	// them, so that memory follows the store, not the uptime.
	for g, seen := range c.counted {
		if o, ok := oldest[g]; ok {
			for gen := range seen {
				if gen < o {
					delete(seen, gen)
				}
			}
		}
	}
	for g, n := range c.total {
		ch <- prometheus.MustNewConstMetric(c.rebalances, prometheus.CounterValue, float64(n), g)
	}
	for _, g := range v.Groups {
		if c.counted[g.Group] == nil && len(c.counted) >= maxMetricGroups {
			dropped[g.Group] = true
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.members, prometheus.GaugeValue, float64(len(g.Members)), g.Group)
		if g.LastRebalanceSeconds != nil {
			ch <- prometheus.MustNewConstMetric(c.seconds, prometheus.GaugeValue, *g.LastRebalanceSeconds, g.Group)
		}
	}
	ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.GaugeValue, float64(len(dropped)))
}
