// Package exchange turns decoded Kafka requests and their responses into
// exchanges: one record per request with its latency, endpoints, errors and
// a typed summary, plus the whole request and response as JSON with record
// data and SASL secrets removed. The JSON form of Exchange is a contract
// read by other tools (`kscope analyze -o jsonl`, the agent API): fields are
// only ever added.
//
// An exchange never holds record keys, values or SASL passwords.
package exchange

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/kafka"
)

// Exchange is one Kafka request and its response.
type Exchange struct {
	// Time is when the first byte of the request was seen.
	Time time.Time `json:"time"`
	// Latency is the time from the first byte of the request to the last
	// byte of the response; nil when no response came (acks=0 Produce, a
	// response lost in a capture hole, a request still waiting).
	Latency   *time.Duration `json:"-"`
	LatencyNS *int64         `json:"latency_ns"`

	Client Endpoint `json:"client"`
	Server Endpoint `json:"server"`
	// Side is "client" when the traced process is the Kafka client,
	// "server" when it is the broker; empty for capture files. When both
	// ends are traced on one machine each exchange is seen twice, once
	// per side: views count one of them.
	Side string `json:"side,omitempty"`

	APIKey        int16  `json:"api_key"`
	API           string `json:"api"`
	APIVersion    int16  `json:"api_version"`
	CorrelationID int32  `json:"correlation_id"`
	ClientID      string `json:"client_id,omitempty"`
	// Error is the top-level error code's name (Kafka's spelling,
	// e.g. NOT_LEADER_OR_FOLLOWER); empty when none. Per-partition
	// errors are in Topics.
	Error string `json:"error,omitempty"`
	// NoResponse says why no response is attached: "acks=0",
	// "timeout", "lost" (a later response came first: Kafka answers in
	// order), "end of capture".
	NoResponse string `json:"no_response,omitempty"`

	Topics []Topic `json:"topics,omitempty"`

	// Group fields for group APIs (JoinGroup, SyncGroup, Heartbeat,
	// LeaveGroup, OffsetCommit, OffsetFetch, ConsumerGroupHeartbeat...).
	Group      string `json:"group,omitempty"`
	Generation *int32 `json:"generation,omitempty"`
	MemberID   string `json:"member_id,omitempty"`

	// Detail holds the API-specific summary fields that the views use
	// (acks, max wait, protocol, assignments, coordinator...).
	Detail *Detail `json:"detail,omitempty"`

	RequestBytes  int `json:"request_bytes"`
	ResponseBytes int `json:"response_bytes,omitempty"`

	Request  Body `json:"request,omitzero"`
	Response Body `json:"response,omitzero"`

	// Truncated: some bytes of the request or response were not captured;
	// what was complete was decoded.
	Truncated bool `json:"truncated"`

	// detailShared: Detail was built for an earlier exchange, which
	// holds it too (Cache).
	detailShared bool
}

// DetailShared says that e's Detail was built for an earlier exchange,
// which holds it too (Cache shares it): its memory counts once, with that
// exchange.
func (e *Exchange) DetailShared() bool { return e.detailShared }

// Is reports whether e is a request of API k.
func (e *Exchange) Is(k kmsg.Key) bool { return e.APIKey == int16(k) }

// Failed reports whether e got an error, top-level or in any partition,
// or no response.
func (e *Exchange) Failed() bool {
	if e.Error != "" || e.NoResponse != "" {
		return true
	}
	for ti := range e.Topics {
		for pi := range e.Topics[ti].Partitions {
			if e.Topics[ti].Partitions[pi].Error != "" {
				return true
			}
		}
	}
	return false
}

// Endpoint is one side of an exchange. For traffic traced live, the
// traced side also names its process.
type Endpoint struct {
	Addr string `json:"addr"`
	// PID, Process (command name), Cmdline, Container (container id) and
	// Pod (Kubernetes pod uid) are set for the side whose process was
	// traced.
	PID       uint32 `json:"pid,omitempty"`
	Process   string `json:"process,omitempty"`
	Cmdline   string `json:"cmdline,omitempty"`
	Container string `json:"container,omitempty"`
	Pod       string `json:"pod,omitempty"`
}

// Topic is one topic of a request, with its partitions.
type Topic struct {
	Name string `json:"name"`
	// ID is set when the request named the topic by id (Fetch v13+);
	// Name is then the name learned from Metadata, or the id itself when
	// unknown.
	ID         string      `json:"id,omitempty"`
	Partitions []Partition `json:"partitions,omitempty"`
}

// Partition is one partition of a topic in a request and its response.
type Partition struct {
	Partition int32  `json:"partition"`
	Error     string `json:"error"`
	// Records and Bytes count the record data carried (Produce request,
	// Fetch response) from the batch headers.
	// A read_committed Fetch does not count the records of aborted
	// transactions, which its consumer drops: AbortedRecords counts
	// them.
	Records int64 `json:"records,omitempty"`
	Bytes   int64 `json:"bytes,omitempty"`
	// AbortedRecords: records of a read_committed Fetch response in
	// batches of aborted transactions (the response's aborted
	// transactions and the batches' producer ids, KIP-98), which the
	// consumer drops.
	AbortedRecords int64 `json:"aborted_records,omitempty"`
	// BaseOffset is the offset of the first record: from the Produce
	// response, or the first batch of a Fetch response.
	BaseOffset     *int64 `json:"base_offset,omitempty"`
	FetchOffset    *int64 `json:"fetch_offset,omitempty"`
	HighWatermark  *int64 `json:"high_watermark,omitempty"`
	LogStartOffset *int64 `json:"log_start_offset,omitempty"`
	// CommittedOffset: OffsetCommit request, OffsetFetch response.
	CommittedOffset *int64 `json:"committed_offset,omitempty"`
	// Timestamp / Offset: ListOffsets request and response.
	Timestamp *int64 `json:"timestamp,omitempty"`
	Offset    *int64 `json:"offset,omitempty"`

	FirstTimestamp *time.Time `json:"first_timestamp,omitempty"`
	MaxTimestamp   *time.Time `json:"max_timestamp,omitempty"`
	// TimestampType is CreateTime or LogAppendTime (from the batch
	// attributes).
	TimestampType string `json:"timestamp_type,omitempty"`
	// LogAppendTime from a Produce response, when the topic uses it.
	LogAppendTime *time.Time `json:"log_append_time,omitempty"`

	Batches []Batch `json:"batches,omitempty"`
	// Incomplete: the record data ended inside a batch, which a Fetch
	// response cut at its max bytes does (or a capture hole); the
	// partial batch is not counted.
	Incomplete bool `json:"incomplete,omitempty"`
}

// Batch is the header of one record batch; never its records.
type Batch = kafka.Batch

// Detail carries the API-specific fields the views need. Only the fields
// that apply are set.
type Detail struct {
	// Produce
	Acks            *int16 `json:"acks,omitempty"`
	TransactionalID string `json:"transactional_id,omitempty"`
	TimeoutMS       *int32 `json:"timeout_ms,omitempty"`
	// Fetch
	MaxWaitMS      *int32 `json:"max_wait_ms,omitempty"`
	MinBytes       *int32 `json:"min_bytes,omitempty"`
	ReplicaID      *int32 `json:"replica_id,omitempty"`
	IsolationLevel string `json:"isolation_level,omitempty"`
	SessionID      *int32 `json:"session_id,omitempty"`
	// Replica is true for broker-to-broker replica fetches (replica id
	// >= 0, or ReplicaState in Fetch v15+).
	Replica bool `json:"replica,omitempty"`
	// Group protocol (JoinGroup, SyncGroup, ConsumerGroupHeartbeat)
	ProtocolType       string   `json:"protocol_type,omitempty"`
	Protocol           string   `json:"protocol,omitempty"`
	Protocols          []string `json:"protocols,omitempty"`
	Leader             string   `json:"leader,omitempty"`
	Members            []Member `json:"members,omitempty"`
	SessionTimeoutMS   *int32   `json:"session_timeout_ms,omitempty"`
	RebalanceTimeoutMS *int32   `json:"rebalance_timeout_ms,omitempty"`
	// MemberEpoch: KIP-848, the response's member epoch when answered,
	// else the request's; RequestMemberEpoch the request's (0 joins, -1
	// and -2 leave).
	MemberEpoch        *int32 `json:"member_epoch,omitempty"`
	RequestMemberEpoch *int32 `json:"request_member_epoch,omitempty"`
	// Subscription: the topics this member subscribes to (JoinGroup
	// request metadata of the consumer protocol, ConsumerGroupHeartbeat),
	// or the regular expression (KIP-848).
	Subscription      []string `json:"subscription,omitempty"`
	SubscriptionRegex string   `json:"subscription_regex,omitempty"`
	// Owned: the partitions a ConsumerGroupHeartbeat member says it owns;
	// nil when it did not say (unchanged), empty when it owns none.
	Owned []TopicPartitions `json:"owned,omitempty"`
	// Assignment: SyncGroup response / ConsumerGroupHeartbeat response:
	// what this member got.
	Assignment []TopicPartitions `json:"assignment,omitempty"`
	// FindCoordinator
	CoordinatorKeys []string `json:"coordinator_keys,omitempty"`
	CoordinatorType string   `json:"coordinator_type,omitempty"`
	Coordinator     string   `json:"coordinator,omitempty"`
	// Coordinators: FindCoordinator v4+, one per key (KIP-699).
	Coordinators []Coordinator `json:"coordinators,omitempty"`
	// Metadata
	ClusterID    string   `json:"cluster_id,omitempty"`
	ControllerID *int32   `json:"controller_id,omitempty"`
	Brokers      []Broker `json:"brokers,omitempty"`
	// TopicErrors: topic-level errors of a Metadata response, by topic
	// name (UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE while a
	// topic is created...).
	TopicErrors map[string]string `json:"topic_errors,omitempty"`
	// ApiVersions
	ClientSoftware string `json:"client_software,omitempty"`
	APIKeys        int    `json:"api_keys,omitempty"`
	// InitProducerId (the producer id and epoch answered), EndTxn (those
	// the request names)
	ProducerID    *int64 `json:"producer_id,omitempty"`
	ProducerEpoch *int16 `json:"producer_epoch,omitempty"`
	// TransactionTimeoutMS: InitProducerId, the producer's
	// transaction.timeout.ms.
	TransactionTimeoutMS *int32 `json:"transaction_timeout_ms,omitempty"`
	// Commit: EndTxn, true to commit the transaction, false to abort it.
	Commit *bool `json:"commit,omitempty"`
	// SaslHandshake / SaslAuthenticate: the mechanism and, for PLAIN,
	// the user name. Never the password or the raw token.
	Mechanism string `json:"mechanism,omitempty"`
	User      string `json:"user,omitempty"`
	// Groups named by DescribeGroups, OffsetFetch v8+ (several groups)
	Groups []string `json:"groups,omitempty"`
	// Described: the groups of a DescribeGroups response.
	Described []GroupDescription `json:"described,omitempty"`
	// ThrottleMS from the response, when non-zero.
	ThrottleMS int32 `json:"throttle_ms,omitempty"`
	// DecodeError says why the request or response body could not be
	// decoded; the summary then holds what the header told.
	DecodeError string `json:"decode_error,omitempty"`
}

// Member is one group member as the JoinGroup leader, the SyncGroup
// leader, LeaveGroup or DescribeGroups sees it.
type Member struct {
	MemberID     string            `json:"member_id"`
	InstanceID   string            `json:"instance_id,omitempty"`
	ClientID     string            `json:"client_id,omitempty"`
	ClientHost   string            `json:"client_host,omitempty"`
	Subscription []string          `json:"subscription,omitempty"`
	Assignment   []TopicPartitions `json:"assignment,omitempty"`
	// Reason and Error: LeaveGroup v3+ (KIP-345, KIP-800).
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Coordinator is one key's coordinator in a FindCoordinator response.
type Coordinator struct {
	Key    string `json:"key"`
	NodeID int32  `json:"node_id"`
	Addr   string `json:"addr,omitempty"`
	Error  string `json:"error,omitempty"`
}

// GroupDescription is one group of a DescribeGroups response.
type GroupDescription struct {
	Group        string   `json:"group"`
	Error        string   `json:"error,omitempty"`
	State        string   `json:"state,omitempty"`
	ProtocolType string   `json:"protocol_type,omitempty"`
	Protocol     string   `json:"protocol,omitempty"`
	Members      []Member `json:"members,omitempty"`
}

// TopicPartitions is a topic and a set of its partitions.
type TopicPartitions struct {
	Topic      string  `json:"topic"`
	Partitions []int32 `json:"partitions"`
}

// Broker is one broker of a Metadata response.
type Broker struct {
	NodeID int32  `json:"node_id"`
	Addr   string `json:"addr"`
	Rack   string `json:"rack,omitempty"`
}
