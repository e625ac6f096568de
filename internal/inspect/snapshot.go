// Package inspect holds what kscope learns by asking a Kafka cluster
// through its admin protocol: what traffic cannot show, such as which
// brokers and partitions exist, who leads each partition and who is in
// sync, where each log starts and ends, what each consumer group has
// committed. What one poll learned is a Snapshot; the store keeps recent
// snapshots and the views read them beside the traffic (view.Input).
package inspect

import (
	"sort"
	"strings"
	"time"
)

// Snapshot is what one poll of a cluster learned. Fields the poll could
// not learn are empty or -1, and Errors says why; a view never fills them
// in.
type Snapshot struct {
	// Time is when the poll started; Seconds how long it took.
	Time    time.Time `json:"time"`
	Seconds float64   `json:"seconds"`
	// Bootstrap is the addresses the poll started from; ClusterID the id
	// the cluster gave (Metadata v2+).
	Bootstrap []string `json:"bootstrap"`
	ClusterID string   `json:"cluster_id,omitempty"`
	// Controller is the broker Metadata names as the controller, -1 when
	// none. Through the broker API a KRaft cluster names a random live
	// broker here, not its active controller.
	Controller int32 `json:"controller"`
	// KRaft says the cluster runs without ZooKeeper (its brokers
	// finalize the metadata.version feature): its controller is then
	// not one of the brokers listed.
	KRaft bool `json:"kraft,omitempty"`
	// Brokers are the brokers Metadata lists (State "up"), those
	// DescribeCluster lists as fenced, and those missing: named by a
	// replica list, or listed by an earlier poll, but by neither now.
	Brokers []Broker `json:"brokers"`
	Topics  []Topic  `json:"topics"`
	Groups  []Group  `json:"groups"`
	// Events are the changes this poll found since the last one (see
	// Event); Changes counts them since the inspector started.
	Events  []Event `json:"events,omitempty"`
	Changes Changes `json:"changes"`
	Errors  []Error `json:"errors,omitempty"`
}

// Broker is one broker as Metadata lists it.
type Broker struct {
	ID   int32  `json:"id"`
	Host string `json:"host"`
	Port int32  `json:"port"`
	Rack string `json:"rack,omitempty"`
	// State is BrokerUp, BrokerFenced or BrokerMissing; Since is the
	// first poll that saw it so.
	State string    `json:"state"`
	Since time.Time `json:"since"`
	// LogDirs are its log directories as DescribeLogDirs told them;
	// none when it did not answer.
	LogDirs []LogDir `json:"log_dirs,omitempty"`
}

// Broker states.
const (
	BrokerUp = "up"
	// BrokerFenced is a broker the controller fenced (DescribeCluster
	// v2): registered, but it leads nothing and clients are not sent
	// to it.
	BrokerFenced = "fenced"
	// BrokerMissing is a broker a replica list names, or an earlier
	// poll listed, that the cluster no longer lists: down, or removed.
	BrokerMissing = "missing"
)

// Up reports whether Metadata lists b: it answers clients.
func (b *Broker) Up() bool { return b.State == BrokerUp }

// LogDir is one log directory of a broker.
type LogDir struct {
	Dir string `json:"dir"`
	// Error is why the broker cannot use it (KAFKA_STORAGE_ERROR: the
	// disk failed); an offline directory's replicas are offline.
	Error string `json:"error,omitempty"`
	// Bytes sums the sizes of the replicas in it; TotalBytes and
	// UsableBytes are the volume's (DescribeLogDirs v4+), -1 when not
	// told.
	Bytes       int64 `json:"bytes"`
	Replicas    int   `json:"replicas"`
	TotalBytes  int64 `json:"total_bytes"`
	UsableBytes int64 `json:"usable_bytes"`
}

// Topic is one topic and its partitions.
type Topic struct {
	Name string `json:"name"`
	// ID is the topic id (KIP-516), as Kafka's tools print it (URL-safe
	// base64).
	ID        string    `json:"id,omitempty"`
	Internal  bool      `json:"internal,omitempty"`
	Retention Retention `json:"retention"`
	// MinISR is min.insync.replicas as configured (0 when not
	// learned), MinISRSource where it is set.
	MinISR       int         `json:"min_insync_replicas"`
	MinISRSource string      `json:"min_insync_replicas_source,omitempty"`
	Partitions   []Partition `json:"partitions"`
}

// EffectiveMinISR is the ISR size below which producers with acks=all
// are refused: min.insync.replicas, but never more than the replicas
// (KIP-966); 0 when not learned.
func (t *Topic) EffectiveMinISR(p *Partition) int {
	if t.MinISR <= 0 {
		return 0
	}
	return min(t.MinISR, len(p.Replicas))
}

// Retention is how a topic's log is cut: the effective values of its
// configs (DescribeConfigs), and where each came from.
type Retention struct {
	// CleanupPolicy is "delete", "compact" or "compact,delete"; empty
	// when not learned.
	CleanupPolicy string `json:"cleanup_policy,omitempty"`
	// Ms is retention.ms, -1 for no limit; Bytes retention.bytes per
	// partition, -1 for no limit; 0 and Known false when not learned.
	Ms    int64 `json:"ms"`
	Bytes int64 `json:"bytes"`
	Known bool  `json:"known"`
	// MsSource and BytesSource say where each value is set: "topic",
	// "broker" (a broker's setting or default) or "default".
	MsSource    string `json:"ms_source,omitempty"`
	BytesSource string `json:"bytes_source,omitempty"`
}

// Deletes reports whether the policy deletes old segments.
func (r Retention) Deletes() bool {
	return r.Known && (r.CleanupPolicy == "" || strings.Contains(r.CleanupPolicy, "delete"))
}

// Partition is one partition: its replicas as Metadata told them, and
// its log's offsets as ListOffsets told them (-1 when not learned).
type Partition struct {
	Partition   int32 `json:"partition"`
	Leader      int32 `json:"leader"` // -1: offline
	LeaderEpoch int32 `json:"leader_epoch"`
	// Replicas lists the assigned replicas, the preferred leader first;
	// ISR those in sync; Offline those whose log dir is offline.
	Replicas []int32 `json:"replicas"`
	ISR      []int32 `json:"isr"`
	Offline  []int32 `json:"offline,omitempty"`
	// Adding and Removing are the replicas a reassignment in progress
	// adds and removes (ListPartitionReassignments).
	Adding   []int32 `json:"adding,omitempty"`
	Removing []int32 `json:"removing,omitempty"`
	// Tier is the partition's replication tier (Tier), TierSince the
	// first poll that saw it in it.
	Tier      string    `json:"tier"`
	TierSince time.Time `json:"tier_since"`

	LogStartOffset   int64 `json:"log_start_offset"`
	HighWatermark    int64 `json:"high_watermark"`
	LastStableOffset int64 `json:"last_stable_offset"`
	// SizeBytes is the leader replica's size on disk (DescribeLogDirs),
	// -1 when not learned.
	SizeBytes int64 `json:"size_bytes"`
	// Batches are the record batches this poll looked up in the log
	// (their headers only), for the append times of the offsets the lag
	// needs: the last record, and each group's last committed and first
	// unconsumed ones. In offset order, none overlapping.
	Batches []Batch `json:"batches,omitempty"`
}

// Batch is a record batch's header, as a one-batch Fetch returned it.
type Batch struct {
	BaseOffset int64 `json:"base_offset"`
	LastOffset int64 `json:"last_offset"`
	// MaxTimestamp is the batch's newest timestamp: the broker's append
	// time with LogAppendTime, the producers' newest create time with
	// CreateTime (TimestampType). kscope never reads the records
	// themselves: a record's time is its batch's.
	MaxTimestamp  time.Time `json:"max_timestamp"`
	TimestampType string    `json:"timestamp_type"`
	// Control is a transaction marker: no record a consumer sees.
	Control bool `json:"control,omitempty"`
}

// Holds reports whether offset o is in b.
func (b Batch) Holds(o int64) bool { return o >= b.BaseOffset && o <= b.LastOffset }

// BatchAt returns the looked-up batch that holds offset o.
func (p *Partition) BatchAt(o int64) (Batch, bool) {
	// Batches are in offset order and do not overlap.
	i := sort.Search(len(p.Batches), func(i int) bool { return p.Batches[i].LastOffset >= o })
	if i < len(p.Batches) && p.Batches[i].Holds(o) {
		return p.Batches[i], true
	}
	return Batch{}, false
}

// Group is one consumer group: its state and members (DescribeGroups,
// or ConsumerGroupDescribe for KIP-848 groups) and its committed offsets
// (OffsetFetch). An Empty group with committed offsets is listed too.
type Group struct {
	Group string `json:"group"`
	// State is Kafka's name for it (Stable, PreparingRebalance,
	// CompletingRebalance, Empty, Dead; Assigning, Reconciling for
	// KIP-848 groups).
	State string `json:"state"`
	// Protocol is "classic" or "consumer" (KIP-848); ProtocolType the
	// classic protocol type ("consumer" for consumers); Assignor the
	// assignor in use.
	Protocol     string   `json:"protocol"`
	ProtocolType string   `json:"protocol_type,omitempty"`
	Assignor     string   `json:"assignor,omitempty"`
	Coordinator  int32    `json:"coordinator"`
	Members      []Member `json:"members"`
	Offsets      []Offset `json:"offsets"`
	// Error says what this poll could not learn of the group (its
	// coordinator did not answer); what it did not learn is the last
	// poll's that did, as of AsOf.
	Error string     `json:"error,omitempty"`
	AsOf  *time.Time `json:"as_of,omitempty"`
}

// Member is one member of a group.
type Member struct {
	MemberID   string            `json:"member_id"`
	InstanceID string            `json:"instance_id,omitempty"`
	ClientID   string            `json:"client_id"`
	Host       string            `json:"host"`
	Assigned   []TopicPartitions `json:"assigned,omitempty"`
}

// TopicPartitions is a topic and some of its partitions.
type TopicPartitions struct {
	Topic      string  `json:"topic"`
	Partitions []int32 `json:"partitions"`
}

// Offset is a group's committed offset for one partition.
type Offset struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed"`
	// LeaderEpoch is the leader epoch committed with it (KIP-320), -1
	// when none.
	LeaderEpoch int32 `json:"leader_epoch"`
	// SeenSince is the first poll that saw this offset committed (the
	// inspector keeps it across polls): the commit was made then or
	// before.
	SeenSince time.Time `json:"seen_since"`
}

// Error is what a poll could not learn, and from which broker. A broker
// that did not answer ApiVersions at all has Request "ApiVersions".
type Error struct {
	// Broker is the broker that failed to answer, -1 when the request
	// went to the cluster as a whole.
	Broker  int32  `json:"broker"`
	Request string `json:"request"`
	Error   string `json:"error"`
}
