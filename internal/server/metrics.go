package server

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"kscope/internal/metrics"
	"kscope/internal/store"
	"kscope/internal/view"
)

// storeCollector exposes the store's counters, read at each scrape.
type storeCollector struct{ store *store.Store }

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	metrics.Describe(ch, metrics.StoreAdded, metrics.StoreExchanges, metrics.StoreBytes, metrics.StoreBudget, metrics.StoreEvicted,
		metrics.StoreEvictedBytes, metrics.StoreSeconds, metrics.StoreSecondsEvicted, metrics.StoreAggregateLate, metrics.StoreAggregateOther,
		metrics.StorePartialOverflow, metrics.StoreTwinsDropped, metrics.StoreTwinsEarly, metrics.StoreSnapshots, metrics.StoreSnapshotBytes, metrics.StoreSnapshotsEvict)
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.store.Stats()
	for api, n := range st.AddedByAPI {
		ch <- metrics.StoreAdded.Value(float64(n), api)
	}
	ch <- metrics.StoreExchanges.Value(float64(st.Exchanges))
	ch <- metrics.StoreBytes.Value(float64(st.Bytes))
	ch <- metrics.StoreBudget.Value(float64(st.BudgetBytes))
	ch <- metrics.StoreEvicted.Value(float64(st.Evicted))
	ch <- metrics.StoreEvictedBytes.Value(float64(st.EvictedBytes))
	ch <- metrics.StoreSeconds.Value(float64(st.Seconds))
	ch <- metrics.StoreSecondsEvicted.Value(float64(st.SecondsEvicted))
	ch <- metrics.StoreAggregateLate.Value(float64(st.Late))
	ch <- metrics.StoreAggregateOther.Value(float64(st.Overflow))
	ch <- metrics.StorePartialOverflow.Value(float64(st.PartialOverflow))
	ch <- metrics.StoreTwinsDropped.Value(float64(st.TwinsDropped))
	ch <- metrics.StoreTwinsEarly.Value(float64(st.TwinsEarly))
	ch <- metrics.StoreSnapshots.Value(float64(st.Snapshots))
	ch <- metrics.StoreSnapshotBytes.Value(float64(st.SnapshotBytes))
	ch <- metrics.StoreSnapshotsEvict.Value(float64(st.SnapshotsEvicted))
}

// trafficCollector exports the traffic counters: view.Totals, fed by the
// store as exchanges come, copied at each scrape (which never waits for a
// computation).
type trafficCollector struct {
	totals    *view.Totals
	clientIDs bool
}

func newTrafficCollector(st *store.Store, clientIDs bool) *trafficCollector {
	t := view.NewTotals(view.TotalsOptions{
		ClientIDs:      clientIDs,
		MaxLabelSets:   metrics.MaxLabelSets,
		Overflow:       metrics.OverflowValue,
		LatencyBuckets: metrics.RequestDuration.Buckets,
	})
	view.CountTotals(st, t)
	return &trafficCollector{totals: t, clientIDs: clientIDs}
}

func (c *trafficCollector) metrics() []*metrics.Metric {
	ms := []*metrics.Metric{metrics.TopicRecordsIn, metrics.TopicBytesIn, metrics.TopicRecordsOut, metrics.TopicBytesOut, metrics.TopicReplicationIn,
		metrics.GroupConsumedRecords, metrics.GroupConsumedBytes, metrics.Requests, metrics.RequestErrors, metrics.RequestDuration, metrics.TrafficOverflow}
	if c.clientIDs {
		ms = append(ms, metrics.ClientProducedRecords, metrics.ClientProducedBytes, metrics.ClientConsumedRecords, metrics.ClientConsumedBytes)
	}
	return ms
}

func (c *trafficCollector) Describe(ch chan<- *prometheus.Desc) { metrics.Describe(ch, c.metrics()...) }

func (c *trafficCollector) Collect(ch chan<- prometheus.Metric) {
	v := c.totals.Read()
	for name, t := range v.Topics {
		ch <- metrics.TopicRecordsIn.Value(float64(t.RecordsIn), name)
		ch <- metrics.TopicBytesIn.Value(float64(t.BytesIn), name)
		ch <- metrics.TopicRecordsOut.Value(float64(t.RecordsOut), name)
		ch <- metrics.TopicBytesOut.Value(float64(t.BytesOut), name)
		ch <- metrics.TopicReplicationIn.Value(float64(t.ReplicationBytes), name)
	}
	for k, f := range v.Groups {
		ch <- metrics.GroupConsumedRecords.Value(float64(f.Records), k.Group, k.Topic)
		ch <- metrics.GroupConsumedBytes.Value(float64(f.Bytes), k.Group, k.Topic)
	}
	for k, r := range v.Requests {
		ch <- metrics.Requests.Value(float64(r.Requests), k.API, k.Broker)
		for code, n := range r.ErrorsByCode {
			ch <- metrics.RequestErrors.Value(float64(n), k.API, k.Broker, code)
		}
		ch <- metrics.RequestDuration.Observed(r.Answered, r.LatencySeconds, r.Buckets, k.API, k.Broker)
	}
	for _, kind := range []string{"topic", "group", "request"} {
		ch <- metrics.TrafficOverflow.Value(float64(v.Overflow[kind]), overflowMetric[kind])
	}
	if !c.clientIDs {
		return
	}
	ch <- metrics.TrafficOverflow.Value(float64(v.Overflow["client"]), overflowMetric["client"])
	for k, f := range v.Produced {
		ch <- metrics.ClientProducedRecords.Value(float64(f.Records), k.Client, k.Topic)
		ch <- metrics.ClientProducedBytes.Value(float64(f.Bytes), k.Client, k.Topic)
	}
	for k, f := range v.Consumed {
		ch <- metrics.ClientConsumedRecords.Value(float64(f.Records), k.Client, k.Group, k.Topic)
		ch <- metrics.ClientConsumedBytes.Value(float64(f.Bytes), k.Client, k.Group, k.Topic)
	}
}

// overflowMetric names, for kscope_metrics_overflow_total, the metrics
// whose label sets each kind of Totals' overflow concerns.
var overflowMetric = map[string]string{
	"topic":   "kscope_topic_*",
	"group":   metrics.GroupConsumedRecords.Name,
	"request": metrics.Requests.Name,
	"client":  "kscope_client_*",
}

func partitionLabel(p int32) string { return strconv.Itoa(int(p)) }
