package view

import (
	"net"
	"runtime"
	"strconv"
	"sync"
	"time"

	"kscope/internal/exchange"
)

// OverviewFilter narrows the overview.
type OverviewFilter struct {
	// Topics, when set, keeps only these topics: Produce and Fetch count
	// only their partitions of these topics, and brokers, clients and
	// request latency only the exchanges that name one of them. Consumer
	// groups are still learned from every group exchange, as those name
	// no topic.
	Topics []string `json:"topics,omitempty"`
}

// OverviewView is the topic-centric flow of a window: who produces to and who
// consumes from each topic, at what rates, through which brokers, and how
// fast the brokers answer. Rates are per second of the window.
type OverviewView struct {
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Seconds float64   `json:"seconds"`
	// Exchanges counts the exchanges the overview is made of (each once,
	// in the window, matching the filter).
	Exchanges int `json:"exchanges"`
	// ResolutionSeconds is the length of the longest part of the
	// agent's store merged into the overview (1 for seconds, 60 once
	// rolled up into minutes), which From and To are cut to; zero when
	// it was computed from the exchanges themselves.
	ResolutionSeconds float64 `json:"resolution_seconds"`

	// The flow graph: producers -> topics -> consumers.
	Nodes []Node `json:"nodes"`
	Edges []Edge `json:"edges"`

	Topics    []TopicRow  `json:"topics"`
	Brokers   []BrokerRow `json:"brokers"`
	Producers []ClientRow `json:"producers"`
	Consumers []ClientRow `json:"consumers"`

	Latency RequestLatency `json:"latency"`
}

// Node kinds.
const (
	KindProducer = "producer"
	KindTopic    = "topic"
	KindConsumer = "consumer"
)

// Node is a producer, a topic or a consumer. A process that both produces
// and consumes is two nodes, one of each kind, so that the graph reads
// from left to right.
type Node struct {
	// ID is "topic:NAME", or "producer:WHO:CLIENT_ID" and
	// "consumer:WHO:CLIENT_ID" where WHO is the process (name[pid]) or,
	// for untraced clients (capture files), the client host.
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	Label string `json:"label"`
	// Client is set for producers and consumers.
	*Client
	// Group is the consumer group a consumer was seen joining,
	// heartbeating or committing in; empty when unknown.
	Group string `json:"group,omitempty"`
}

// Edge is a producer -> topic or topic -> consumer flow of record data
// (Produce request batches accepted, Fetch response batches).
type Edge struct {
	From           string  `json:"from"`
	To             string  `json:"to"`
	BytesPerSec    float64 `json:"bytes_per_sec"`
	RecordsPerSec  float64 `json:"records_per_sec"`
	RequestsPerSec float64 `json:"requests_per_sec"`
	Bytes          int64   `json:"bytes"`
	Records        int64   `json:"records"`
	Requests       int64   `json:"requests"`
}

// TopicRow sums a topic. In is what producers wrote (record batches of
// Produce partitions answered without error, or not answered: acks=0);
// out is what consumers fetched. Replication is follower brokers'
// fetches, never counted as consumption.
type TopicRow struct {
	Name string `json:"name"`
	// Partitions counts the distinct partitions seen in Produce and
	// Fetch requests (replica fetches included).
	Partitions             int     `json:"partitions"`
	Producers              int     `json:"producers"`
	Consumers              int     `json:"consumers"`
	BytesInPerSec          float64 `json:"bytes_in_per_sec"`
	BytesOutPerSec         float64 `json:"bytes_out_per_sec"`
	RecordsInPerSec        float64 `json:"records_in_per_sec"`
	RecordsOutPerSec       float64 `json:"records_out_per_sec"`
	ReplicationBytesPerSec float64 `json:"replication_bytes_per_sec"`
}

// BrokerRow sums what one broker (server address) answered.
type BrokerRow struct {
	Broker                     string  `json:"broker"`
	RequestsPerSec             float64 `json:"requests_per_sec"`
	ProduceRequestsPerSec      float64 `json:"produce_requests_per_sec"`
	FetchRequestsPerSec        float64 `json:"fetch_requests_per_sec"`
	ReplicaFetchRequestsPerSec float64 `json:"replica_fetch_requests_per_sec"`
	BytesInPerSec              float64 `json:"bytes_in_per_sec"`
	BytesOutPerSec             float64 `json:"bytes_out_per_sec"`
	ReplicationBytesPerSec     float64 `json:"replication_bytes_per_sec"`
	// Replicas counts the follower hosts that fetched from it.
	Replicas int `json:"replicas"`
	// Latency is per API (Fetch split as in RequestLatency).
	Latency []LatencyRow `json:"latency"`
}

// ClientRow is one producer or consumer: its Produce or (consumer) Fetch
// requests, the record data they carried and their errors.
type ClientRow struct {
	// ID is the client's node id in the graph.
	ID string `json:"id"`
	Client
	Group          string           `json:"group,omitempty"`
	Topics         []string         `json:"topics"`
	Requests       int64            `json:"requests"`
	RequestsPerSec float64          `json:"requests_per_sec"`
	Bytes          int64            `json:"bytes"`
	BytesPerSec    float64          `json:"bytes_per_sec"`
	Records        int64            `json:"records"`
	RecordsPerSec  float64          `json:"records_per_sec"`
	Errors         int64            `json:"errors"`
	ErrorsByCode   map[string]int64 `json:"errors_by_code,omitempty"`
	// CommittedRecords and AbortedRecords: a transactional producer's
	// records of the transactions it ended in the window, by their EndTxn
	// (KIP-98); records of a transaction still open are in neither.
	CommittedRecords int64 `json:"committed_records,omitempty"`
	AbortedRecords   int64 `json:"aborted_records,omitempty"`
}

// overviewClient names the client of e: its traced process, else its host.
func overviewClient(e *exchange.Exchange) Client {
	c := Client{ClientID: e.ClientID}
	if e.Client.PID != 0 {
		c.Process = e.Client.Process + "[" + strconv.FormatUint(uint64(e.Client.PID), 10) + "]"
		c.PID = e.Client.PID
		c.Pod = e.Client.Pod
		return c
	}
	c.Host = ovHost(e.Client.Addr)
	return c
}

func ovHost(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// ovWho is the part of a node id naming the process or host.
func ovWho(c *Client) string {
	if c.Process != "" {
		return c.Process
	}
	return c.Host
}

// Overview computes the overview of in: from its merged parts when it has
// them (and f filters no topic), else from its exchanges, which it reads
// and never modifies.
func Overview(in Input, f OverviewFilter) OverviewView {
	w := in.Window
	if in.Overview != nil && len(f.Topics) == 0 {
		return in.Overview.Result(w)
	}
	xs := Once(in.Exchanges)
	// Large inputs are cut in one part per CPU, each summed apart, then
	// merged in time order (a client's group is the last it named). The
	// goroutines end before Overview returns.
	parts := 1
	if len(xs) >= ovParallelMin {
		parts = runtime.GOMAXPROCS(0)
	}
	aggs := make([]*ovAgg, parts)
	var wg sync.WaitGroup
	for i := range parts {
		lo, hi := len(xs)*i/parts, len(xs)*(i+1)/parts
		wg.Go(func() {
			a := newOvAgg(f)
			for j := lo; j < hi; j++ {
				e := &xs[j]
				if e.Time.Before(w.From) || !e.Time.Before(w.To) {
					continue
				}
				a.add(e)
			}
			aggs[i] = a
		})
	}
	wg.Wait()
	for _, b := range aggs[1:] {
		aggs[0].merge(b)
	}
	return aggs[0].result(w)
}

// ovParallelMin is the number of exchanges from which the overview is
// computed on several CPUs.
var ovParallelMin = 100_000
