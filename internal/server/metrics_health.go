package server

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"kscope/internal/inspect"
	"kscope/internal/metrics"
	"kscope/internal/store"
	"kscope/internal/view"
)

// healthCollector exports the cluster's replication, brokers and
// retention at the latest poll. The view is computed once per poll, not
// per scrape.
type healthCollector struct {
	store *store.Store

	// mu guards the cache: the view of the poll taken at polled.
	mu     sync.Mutex
	v      view.HealthView
	last   inspect.Snapshot
	polled time.Time
}

func (c *healthCollector) Describe(ch chan<- *prometheus.Desc) {
	metrics.Describe(ch, metrics.PartitionTier, metrics.ReplicaOutOfSync, metrics.PartitionsByTier, metrics.ISRShrinks, metrics.ISRExpands, metrics.UncleanSuspected,
		metrics.LeaderElections, metrics.BrokerUp, metrics.BrokerLeaders, metrics.BrokerBytes, metrics.BrokerLogDirsOff,
		metrics.NotPreferredLeader, metrics.RackConflicts, metrics.TopicRetentionSecs, metrics.TopicRetentionByte,
		metrics.PartitionSize, metrics.TopicCovered, metrics.HealthDropped)
}

// latest is the view of the latest poll, and that poll.
func (c *healthCollector) latest() (view.HealthView, inspect.Snapshot, bool) {
	snaps := c.store.Snapshots(time.Time{}, time.Time{})
	if len(snaps) == 0 {
		return view.HealthView{}, inspect.Snapshot{}, false
	}
	last := snaps[len(snaps)-1]
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.polled.Equal(last.Time) {
		c.v = view.Health(view.Input{Window: view.Window{From: last.Time, To: last.Time.Add(time.Nanosecond)}, Cluster: []inspect.Snapshot{last}}, view.HealthFilter{All: true})
		c.last, c.polled = last, last.Time
	}
	return c.v, c.last, true
}

func (c *healthCollector) Collect(ch chan<- prometheus.Metric) {
	v, s, ok := c.latest()
	if !ok {
		return // no inspector
	}
	for _, tier := range inspect.Tiers {
		ch <- metrics.PartitionsByTier.Value(float64(v.Summary.ByTier[tier]), tier)
	}
	ch <- metrics.NotPreferredLeader.Value(float64(v.Summary.NotPreferredLeader))
	ch <- metrics.RackConflicts.Value(float64(v.Summary.RackConflicts))
	ch <- metrics.UncleanSuspected.Value(float64(s.Changes.UncleanSuspected))
	for _, b := range v.Brokers {
		id := strconv.Itoa(int(b.ID))
		up := 0.0
		if b.State == inspect.BrokerUp {
			up = 1
		}
		ch <- metrics.BrokerUp.Value(up, id, b.Rack)
		ch <- metrics.BrokerLeaders.Value(float64(b.Leaders), id)
		if b.Bytes >= 0 {
			ch <- metrics.BrokerBytes.Value(float64(b.Bytes), id)
		}
		if len(b.LogDirs) > 0 {
			ch <- metrics.BrokerLogDirsOff.Value(float64(b.OfflineLogDirs), id)
		}
	}
	// Every broker known has its counters from the start, at 0 until it
	// counts: increase() sees a counter's first step only once the
	// series exists.
	for _, x := range []struct {
		m *metrics.Metric
		n map[int32]uint64
	}{{metrics.ISRShrinks, s.Changes.ISRShrinks}, {metrics.ISRExpands, s.Changes.ISRExpands}, {metrics.LeaderElections, s.Changes.LeaderElections}} {
		ids := maps.Clone(x.n)
		if ids == nil {
			ids = map[int32]uint64{}
		}
		for _, b := range v.Brokers {
			ids[b.ID] += 0
		}
		for id, n := range ids {
			ch <- x.m.Value(float64(n), strconv.Itoa(int(id)))
		}
	}
	for _, r := range v.Retention {
		if r.Limits == "" {
			continue // configs not learned
		}
		secs := -1.0
		if r.RetentionMs >= 0 {
			secs = float64(r.RetentionMs) / 1000
		}
		ch <- metrics.TopicRetentionSecs.Value(secs, r.Topic)
		ch <- metrics.TopicRetentionByte.Value(float64(r.RetentionBytes), r.Topic)
		if r.CoveredSeconds != nil {
			ch <- metrics.TopicCovered.Value(*r.CoveredSeconds, r.Topic)
		}
	}
	// One series per tier a partition is in and per replica out of its
	// ISR, then each partition's size: past the cap, the worst tiers and
	// the fullest partitions stay.
	type series struct {
		m     *metrics.Metric
		rank  int
		value float64
		lbl   []string
	}
	var all []series
	for _, p := range v.Partitions {
		part := strconv.Itoa(int(p.Partition))
		for _, tier := range p.InTiers {
			if tier != inspect.TierOK {
				all = append(all, series{metrics.PartitionTier, slices.Index(inspect.Tiers, tier), 1, []string{p.Topic, part, tier}})
			}
		}
		for _, b := range p.Missing {
			all = append(all, series{metrics.ReplicaOutOfSync, slices.Index(inspect.Tiers, p.Tier), 1, []string{p.Topic, part, strconv.Itoa(int(b))}})
		}
	}
	for _, r := range v.Retention {
		for _, p := range r.PartitionRows {
			if p.SizeBytes >= 0 {
				all = append(all, series{metrics.PartitionSize, 0, float64(p.SizeBytes), []string{r.Topic, strconv.Itoa(int(p.Partition))}})
			}
		}
	}
	dropped := 0
	if len(all) > metrics.MaxLabelSets {
		slices.SortStableFunc(all, func(a, b series) int {
			return cmp.Or(cmp.Compare(b.rank, a.rank), cmp.Compare(b.value, a.value))
		})
		dropped, all = len(all)-metrics.MaxLabelSets, all[:metrics.MaxLabelSets]
	}
	ch <- metrics.HealthDropped.Value(float64(dropped))
	for _, x := range all {
		ch <- x.m.Value(x.value, x.lbl...)
	}
}
