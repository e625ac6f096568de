// Package metrics declares every metric kscope exports on /metrics: name,
// type, help and labels, in one place. Alert rules and dashboards depend
// on these names, so they are a contract: the README's table is checked
// against this file, and a golden list in testdata changes only on
// purpose.
//
// The rules the metrics follow: counters for everything that counts,
// since the agent started (rate() and increase() choose the window);
// histograms for durations, so that quantiles re-aggregate across brokers
// and agents; gauges only for states. Every label set is bounded: topics,
// brokers, APIs, Kafka error names and groups are a cluster's own; client
// ids, which clients may make up at each start, are opt-in
// (--metrics-client-ids), and each label set is capped (OverflowValue).
//
// The collectors live with what they read (server, agent); this package
// only declares.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Kind is how Prometheus reads a metric.
type Kind string

const (
	Counter   Kind = "counter"
	Gauge     Kind = "gauge"
	Histogram Kind = "histogram"
)

// Metric is one metric kscope exports.
type Metric struct {
	Name   string
	Kind   Kind
	Help   string
	Labels []string
	// Buckets are a histogram's upper bounds.
	Buckets []float64
	// OptIn names the agent flag that turns the metric on; empty when
	// it is always exported.
	OptIn string

	desc *prometheus.Desc
}

// Desc is the metric's descriptor.
func (m *Metric) Desc() *prometheus.Desc { return m.desc }

// Value is a sample of a counter or a gauge; labels in the order of
// Labels.
func (m *Metric) Value(v float64, labels ...string) prometheus.Metric {
	t := prometheus.GaugeValue
	if m.Kind == Counter {
		t = prometheus.CounterValue
	}
	return prometheus.MustNewConstMetric(m.desc, t, v, labels...)
}

// Observed is a sample of a histogram: count observations summing to sum,
// buckets[i] of them at most Buckets[i] (cumulative).
func (m *Metric) Observed(count uint64, sum float64, buckets []uint64, labels ...string) prometheus.Metric {
	bs := make(map[float64]uint64, len(m.Buckets))
	for i, b := range m.Buckets {
		bs[b] = buckets[i]
	}
	return prometheus.MustNewConstHistogram(m.desc, count, sum, bs, labels...)
}

// Describe sends the descriptors of ms.
func Describe(ch chan<- *prometheus.Desc, ms ...*Metric) {
	for _, m := range ms {
		ch <- m.desc
	}
}

// OverflowValue is the label value under which a metric counts what it had
// no label set left for: the traffic of the topics (groups, clients)
// beyond MaxLabelSets, so that sums stay right.
const OverflowValue = "(other)"

// MaxLabelSets caps the label sets of each metric of an agent.
const MaxLabelSets = 10000

// ClientIDsFlag is the agent flag that exports the client-id metrics.
const ClientIDsFlag = "--metrics-client-ids"

// Section is a group of metrics as the README lists them.
type Section struct {
	Title   string
	Metrics []*Metric
}

var (
	// Traffic: every exchange counted once (an exchange traced from the
	// client's and the broker's side is one), by the rules of the
	// overview.
	TopicRecordsIn       = def(Counter, "kscope_topic_records_in_total", "Records produced to the topic: the record batches of Produce partitions the broker accepted, or that wanted no answer (acks=0).", "topic")
	TopicBytesIn         = def(Counter, "kscope_topic_bytes_in_total", "Record batch bytes produced to the topic (the batches of kscope_topic_records_in_total).", "topic")
	TopicRecordsOut      = def(Counter, "kscope_topic_records_out_total", "Records consumers fetched from the topic; follower brokers' replica fetches are not consumers.", "topic")
	TopicBytesOut        = def(Counter, "kscope_topic_bytes_out_total", "Record batch bytes consumers fetched from the topic.", "topic")
	TopicReplicationIn   = def(Counter, "kscope_topic_replication_bytes_total", "Record batch bytes follower brokers fetched from the topic's leaders (replication).", "topic")
	GroupConsumedRecords = def(Counter, "kscope_group_consumed_records_total", "Records the consumers of a group fetched from the topic; group is empty for consumers outside any group.", "group", "topic")
	GroupConsumedBytes   = def(Counter, "kscope_group_consumed_bytes_total", "Record batch bytes the consumers of a group fetched from the topic.", "group", "topic")
	Requests             = def(Counter, "kscope_requests_total", "Requests sent to the broker, by API; a Fetch is \"Fetch\", \"Fetch (empty long-poll)\" (no records after most of its max wait) or \"Fetch (replication)\" (a follower broker).", "api", "broker")
	RequestErrors        = def(Counter, "kscope_request_errors_total", "Requests answered with an error, top-level or in a partition, by Kafka error name (a request with two errors counts under both).", "api", "broker", "error")
	RequestDuration      = histogram("kscope_request_duration_seconds", "Time from the first byte of a request to the last byte of its response, as the traced process saw it; requests without a response (acks=0) are not observed.",
		[]float64{.000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}, "api", "broker")

	ClientProducedRecords = optIn(def(Counter, "kscope_client_produced_records_total", "Records a client id produced to the topic (as kscope_topic_records_in_total counts them).", "client", "topic"))
	ClientProducedBytes   = optIn(def(Counter, "kscope_client_produced_bytes_total", "Record batch bytes a client id produced to the topic.", "client", "topic"))
	ClientConsumedRecords = optIn(def(Counter, "kscope_client_consumed_records_total", "Records a client id fetched from the topic, in its group.", "client", "group", "topic"))
	ClientConsumedBytes   = optIn(def(Counter, "kscope_client_consumed_bytes_total", "Record batch bytes a client id fetched from the topic, in its group.", "client", "group", "topic"))
	TrafficOverflow       = def(Counter, "kscope_metrics_overflow_total", "Exchanges counted, wholly or in part, under the label value \"(other)\" because the metric had reached its cap of label sets.", "metric")

	// Consumer lag and delay: states, from the traffic of the last five
	// minutes.
	ConsumerOffsetLag     = def(Gauge, "kscope_consumer_offset_lag", "Records in the partition the group's consumer had not yet received at its last fetch (high watermark - next fetch offset), from traffic; the worst when several processes share the labels.", "group", "topic", "partition")
	ConsumerTimeLag       = def(Gauge, "kscope_consumer_time_lag_seconds", "Age of the next record the group's consumer had not received at its last fetch; only when the agent saw that record produced.", "group", "topic", "partition")
	ConsumerCommitLag     = def(Gauge, "kscope_consumer_commit_lag_seconds", "Time of the group's last OffsetCommit minus the append time of the last committed record; only when the agent saw it produced.", "group", "topic", "partition")
	ProducerConsumerDelay = def(Gauge, "kscope_producer_consumer_delay_seconds", "Delay of the latest record batch the group's consumer fetched: fetch response time minus the batch's max timestamp.", "group", "topic", "partition")
	LagDroppedSeries      = def(Gauge, "kscope_lag_metrics_dropped_series", "Series of the consumer lag and delay metrics left out beyond the cap (the worst are kept).")

	// Consumer groups, from their rebalancing requests.
	GroupRebalances        = def(Counter, "kscope_group_rebalances_total", "Rebalances of the group seen (generations, or KIP-848 member epochs).", "group")
	GroupRebalanceDuration = histogram("kscope_group_rebalance_duration_seconds", "Stop-the-world time of the group's complete rebalances: first JoinGroup request to last SyncGroup response of the generation (KIP-848: the heartbeat that started the member epoch to the last member owning its target).",
		[]float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}, "group")
	GroupMembers        = def(Gauge, "kscope_group_members", "Members of the group's last generation that have not left.", "group")
	GroupMetricsDropped = def(Gauge, "kscope_group_metrics_dropped_groups", "Groups seen but left out of the group metrics to bound their labels.")

	// Transactions, from the transactional producers' requests.
	Transactions        = def(Counter, "kscope_transactions_total", "Transactions ended, by result: committed, aborted, or failed (EndTxn answered with an error, as when the broker aborted the transaction at its timeout).", "result")
	TransactionDuration = histogram("kscope_transaction_duration_seconds", "How long ended transactions stayed open: first AddPartitionsToTxn or Produce request of the transaction to the end of its EndTxn response.",
		[]float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900}, "result")

	// Consumer groups and partitions, from the cluster inspector's polls.
	GroupOffsetLag  = def(Gauge, "kscope_group_offset_lag", "Records of the partition the group has not committed: high watermark - committed offset, at the latest poll; 0 when only transaction markers are left.", "group", "topic", "partition")
	GroupAppendLag  = def(Gauge, "kscope_group_append_lag_seconds", "Append time of the partition's last record - append time of the group's last committed record (seed 004's Append Lag): it keeps growing when nobody commits.", "group", "topic", "partition")
	GroupCommitLag  = def(Gauge, "kscope_group_commit_lag_seconds", "When the group's last commit was made - append time of the last committed record.", "group", "topic", "partition")
	GroupTimeLag    = def(Gauge, "kscope_group_time_lag_seconds", "Age of the first record the group has not consumed; 0 when caught up.", "group", "topic", "partition")
	GroupTimeToLoss = def(Gauge, "kscope_group_time_to_loss_seconds", "Time until retention (by time or by size) deletes the first record the group has not consumed; 0 when records were lost already.", "group", "topic", "partition")
	GroupStatus     = def(Gauge, "kscope_group_status", "1 for the group's current lag status (OK, WARN, REWIND, STALL, STOP, ERR, LOST), 0 for the others.", "group", "status")
	PartitionHWM    = def(Gauge, "kscope_partition_high_watermark", "The partition's high watermark at the latest poll.", "topic", "partition")
	PartitionStart  = def(Gauge, "kscope_partition_log_start_offset", "The partition's log start offset at the latest poll.", "topic", "partition")
	GroupLagDropped = def(Gauge, "kscope_group_lag_metrics_dropped_series", "Group partitions left out of the kscope_group_*_lag and time to loss metrics beyond the cap (the worst, by status then Append Lag then offset lag, are kept).")

	// Cluster health, from the cluster inspector's polls.
	PartitionTier      = def(Gauge, "kscope_partition_replication_tier", "1 for each replication tier the partition is in (under-replicated, at-min-isr, under-min-isr, offline; a partition at min ISR is under-replicated too), at the latest poll; partitions that are ok have no series.", "topic", "partition", "tier")
	ReplicaOutOfSync   = def(Gauge, "kscope_replica_out_of_sync", "1 for each assigned replica out of its partition's ISR (a replica being added by a reassignment is not counted), at the latest poll, naming the broker that holds it: one copy missing; in-sync replicas have no series.", "topic", "partition", "broker")
	PartitionsByTier   = def(Gauge, "kscope_partitions", "Partitions in each replication tier at the latest poll, counted as the brokers count UnderReplicatedPartitions, AtMinIsrPartitionCount, UnderMinIsrPartitionCount and OfflinePartitionsCount; ok counts those in none.", "tier")
	ISRShrinks         = def(Counter, "kscope_isr_shrinks_total", "Times the broker left a partition's ISR, seen between polls since the inspector started.", "broker")
	ISRExpands         = def(Counter, "kscope_isr_expands_total", "Times the broker joined a partition's ISR, seen between polls since the inspector started.", "broker")
	UncleanSuspected   = def(Counter, "kscope_unclean_leader_elections_suspected_total", "New leaders that were not in the partition's last ISR seen: records may be lost.")
	LeaderElections    = def(Counter, "kscope_leader_elections_total", "Leader elections (leader epoch increases) seen between polls, by the broker elected.", "broker")
	BrokerUp           = def(Gauge, "kscope_broker_up", "1 when the cluster lists the broker, 0 when it is fenced or missing (named by a replica list or an earlier poll).", "broker", "rack")
	BrokerLeaders      = def(Gauge, "kscope_broker_leaders", "Partitions the broker leads.", "broker")
	BrokerBytes        = def(Gauge, "kscope_broker_bytes", "Size on disk of the broker's replicas (DescribeLogDirs).", "broker")
	BrokerLogDirsOff   = def(Gauge, "kscope_broker_log_dirs_offline", "The broker's log directories it cannot use (like OfflineLogDirectoryCount).", "broker")
	NotPreferredLeader = def(Gauge, "kscope_partitions_not_preferred_leader", "Partitions not led by their preferred (first) replica.")
	RackConflicts      = def(Gauge, "kscope_partitions_rack_conflict", "Partitions with two or more replicas in one rack: one rack failure costs two copies.")
	TopicRetentionSecs = def(Gauge, "kscope_topic_retention_seconds", "The topic's retention.ms in seconds; -1 for no limit by time.", "topic")
	TopicRetentionByte = def(Gauge, "kscope_topic_retention_bytes", "The topic's retention.bytes (per partition); -1 for no limit by size.", "topic")
	PartitionSize      = def(Gauge, "kscope_partition_size_bytes", "The partition's size on its leader (DescribeLogDirs).", "topic", "partition")
	TopicCovered       = def(Gauge, "kscope_topic_retention_covered_seconds", "The least time any of the topic's partitions covers: now - the timestamp of its oldest record batch.", "topic")
	HealthDropped      = def(Gauge, "kscope_health_metrics_dropped_series", "Partitions left out of kscope_partition_replication_tier, kscope_replica_out_of_sync and kscope_partition_size_bytes beyond the cap (the worst tiers and the fullest partitions are kept).")

	InspectorPolls   = def(Counter, "kscope_inspector_polls_total", "Polls of the cluster.")
	InspectorErrors  = def(Counter, "kscope_inspector_poll_errors_total", "Requests of a poll a broker did not answer as asked, by broker (-1: the cluster as a whole).", "broker")
	InspectorLast    = def(Gauge, "kscope_inspector_last_poll_timestamp_seconds", "When the last poll started (Unix time): alert when it falls behind.")
	InspectorSeconds = def(Gauge, "kscope_inspector_poll_duration_seconds", "How long the last poll took.")
	InspectorDefer   = def(Counter, "kscope_inspector_lookups_deferred_total", "Record batch lookups (for append times) left for a later poll, past the per-poll limit.")

	// The agent: capture and decoder.
	CaptureEvents        = def(Counter, "kscope_capture_events_total", "Events read from the kernel ring buffer.")
	CaptureBytes         = def(Counter, "kscope_capture_bytes_total", "Payload bytes captured from traced sockets.")
	CaptureLostBytes     = def(Counter, "kscope_capture_lost_bytes_total", "Bytes known to be missed (per-syscall limit, full ring, sendfile).")
	CaptureLostEvents    = def(Counter, "kscope_capture_lost_events_total", "Chunks that came after missed bytes.")
	CaptureSkippedBytes  = def(Counter, "kscope_capture_skipped_record_bytes_total", "Record bytes the kernel did not copy on purpose (the records of Produce and Fetch after each batch header): counted, not lost.")
	CaptureRingBytes     = def(Counter, "kscope_capture_ring_bytes_total", "Bytes the kernel ring buffer carried, event headers included.")
	CaptureRingDrops     = def(Counter, "kscope_capture_ring_drops_total", "Events dropped because the ring buffer was full, per CPU.", "cpu")
	CaptureConnections   = def(Gauge, "kscope_capture_connections", "Traced TCP connections open now.")
	DecoderFrames        = def(Counter, "kscope_decoder_frames_total", "Kafka frames decoded, by kind (request, response, sasl_token).", "kind")
	DecoderResyncs       = def(Counter, "kscope_decoder_resyncs_total", "Times a stream lost its frame boundaries and searched for them.")
	DecoderSkippedBytes  = def(Counter, "kscope_decoder_skipped_bytes_total", "Bytes skipped while resynchronising.")
	DecoderErrors        = def(Counter, "kscope_decoder_errors_total", "Frames the decoder could not use, by reason (decode, unmatched_response, oversized, header_lost).", "reason")
	DecoderKafkaConns    = def(Counter, "kscope_decoder_kafka_connections_total", "Connections recognised as Kafka.")
	DecoderUndecided     = def(Counter, "kscope_decoder_undecided_connections_total", "Connections joined mid-stream whose client side could not be told within 8 MiB: given up, their bytes ignored.")
	DecoderNoResponse    = def(Counter, "kscope_decoder_requests_without_response_total", "Requests reported without a response (acks=0, lost, timeout, closed).")
	AgentHeap            = def(Gauge, "kscope_agent_heap_bytes", "Heap in use by the agent.")
	AgentOwn             = def(Counter, "kscope_agent_own_exchanges_total", "Exchanges of kscope's own cluster inspector, traced but left out of the views: kscope polling is not the traffic it watches.")
	StoreAdded           = def(Counter, "kscope_store_exchanges_added_total", "Exchanges added to the store, by API: both copies of an exchange traced from the client's and the broker's side.", "api")
	StoreExchanges       = def(Gauge, "kscope_store_exchanges", "Exchanges held in the store.")
	StoreBytes           = def(Gauge, "kscope_store_bytes", "Estimated memory of the store's tables, counting what a view reading all its exchanges takes.")
	StoreBudget          = def(Gauge, "kscope_store_budget_bytes", "Memory budget of the store.")
	StoreEvicted         = def(Counter, "kscope_store_evicted_exchanges_total", "Exchanges dropped from the store to stay in budget.")
	StoreEvictedBytes    = def(Counter, "kscope_store_evicted_bytes_total", "Estimated memory of the exchanges dropped from the store.")
	StoreSeconds         = def(Gauge, "kscope_store_aggregate_seconds", "Seconds of traffic the aggregates hold, at any resolution (1 s, 10 s and 1 min parts: see aggregate_resolutions in /api/v1/stats).")
	StoreSecondsEvicted  = def(Counter, "kscope_store_aggregate_seconds_evicted_total", "Seconds of aggregates dropped to stay in budget.")
	StoreAggregateLate   = def(Counter, "kscope_store_aggregate_late_total", "Exchanges older than every second of aggregates held, left out of the aggregates and of the overview's per-second parts.")
	StoreAggregateOther  = def(Counter, "kscope_store_aggregate_overflow_total", "Exchanges whose topic a second of aggregates counted under (other), that second having no budget left for another topic.")
	StorePartialOverflow = def(Counter, "kscope_store_partial_overflow_total", "Exchanges left out of a second of the overview's parts because that second alone reached the aggregates' budget.")
	StoreTwinsDropped    = def(Counter, "kscope_store_twins_dropped_total", "Broker-side copies of exchanges also traced from the client's side, counted once (not a loss).")
	StoreTwinsEarly      = def(Counter, "kscope_store_twins_early_total", "Copies of exchanges let go before the twin hold ended, the twins' share of the budget being full: a broker-side copy counted early, or a client-side one forgotten early (its twin, if it comes later still, counts twice).")
	StoreSnapshots       = def(Gauge, "kscope_store_snapshots", "Cluster snapshots held (kscope agent --cluster): the lag statuses are judged over the last 10.")
	StoreSnapshotBytes   = def(Gauge, "kscope_store_snapshot_bytes", "Estimated memory of the cluster snapshots held.")
	StoreSnapshotsEvict  = def(Counter, "kscope_store_snapshots_evicted_total", "Cluster snapshots dropped, oldest first, to stay in their part of the budget.")
	CaptureRingDropBytes = def(Counter, "kscope_capture_ring_dropped_bytes_total", "Payload bytes of the events dropped because the ring buffer was full.")
	CaptureRingWakeups   = def(Counter, "kscope_capture_ring_wakeups_total", "Times the kernel woke the agent because its ring buffer was filling: each interrupts the traced process (the agent otherwise reads the ring every 10 ms).")
	DecoderTruncated     = def(Counter, "kscope_decoder_truncated_frames_total", "Frames some of whose bytes were not captured; what was complete was decoded.")
)

// Sections lists every metric, as the README's table does.
var Sections = []Section{
	{"Traffic, each exchange counted once since the agent started", []*Metric{
		TopicRecordsIn, TopicBytesIn, TopicRecordsOut, TopicBytesOut, TopicReplicationIn,
		GroupConsumedRecords, GroupConsumedBytes, Requests, RequestErrors, RequestDuration,
		ClientProducedRecords, ClientProducedBytes, ClientConsumedRecords, ClientConsumedBytes, TrafficOverflow,
	}},
	{"Consumer lag and delay, from the traffic of the last 5 minutes", []*Metric{
		ConsumerOffsetLag, ConsumerTimeLag, ConsumerCommitLag, ProducerConsumerDelay, LagDroppedSeries,
	}},
	{"Consumer groups, from their rebalancing requests", []*Metric{GroupRebalances, GroupRebalanceDuration, GroupMembers, GroupMetricsDropped}},
	{"Transactions, from the transactional producers' requests", []*Metric{Transactions, TransactionDuration}},
	{"Consumer lag from the cluster (kscope agent --cluster), at the latest poll", []*Metric{
		GroupOffsetLag, GroupAppendLag, GroupCommitLag, GroupTimeLag, GroupTimeToLoss, GroupStatus, PartitionHWM, PartitionStart, GroupLagDropped,
	}},
	{"Cluster health (kscope agent --cluster), at the latest poll", []*Metric{
		PartitionTier, ReplicaOutOfSync, PartitionsByTier, ISRShrinks, ISRExpands, UncleanSuspected, LeaderElections, BrokerUp, BrokerLeaders, BrokerBytes,
		BrokerLogDirsOff, NotPreferredLeader, RackConflicts, TopicRetentionSecs, TopicRetentionByte, PartitionSize, TopicCovered, HealthDropped,
	}},
	{"The cluster inspector itself", []*Metric{InspectorPolls, InspectorErrors, InspectorLast, InspectorSeconds, InspectorDefer}},
	{"The agent itself", []*Metric{
		CaptureEvents, CaptureBytes, CaptureLostBytes, CaptureLostEvents, CaptureSkippedBytes, CaptureRingBytes, CaptureRingDrops, CaptureRingDropBytes, CaptureRingWakeups, CaptureConnections,
		DecoderFrames, DecoderResyncs, DecoderSkippedBytes, DecoderErrors, DecoderTruncated, DecoderKafkaConns, DecoderUndecided, DecoderNoResponse, AgentHeap, AgentOwn,
		StoreAdded, StoreExchanges, StoreBytes, StoreBudget, StoreEvicted, StoreEvictedBytes, StoreSeconds, StoreSecondsEvicted,
		StoreAggregateLate, StoreAggregateOther, StorePartialOverflow, StoreTwinsDropped, StoreTwinsEarly, StoreSnapshots, StoreSnapshotBytes, StoreSnapshotsEvict,
	}},
}

// All is every metric, in the order of Sections.
func All() []*Metric {
	var all []*Metric
	for _, s := range Sections {
		all = append(all, s.Metrics...)
	}
	return all
}

func def(kind Kind, name, help string, labels ...string) *Metric {
	return &Metric{Name: name, Kind: kind, Help: help, Labels: labels, desc: prometheus.NewDesc(name, help, labels, nil)}
}

func histogram(name, help string, buckets []float64, labels ...string) *Metric {
	m := def(Histogram, name, help, labels...)
	m.Buckets = buckets
	return m
}

func optIn(m *Metric) *Metric {
	m.OptIn = ClientIDsFlag
	return m
}
