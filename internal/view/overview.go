package view

import (
	"math/bits"
	"net"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

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

// merge adds b to a; b is not changed. A client's group is the one it
// named last, by exchange time.
func (a *ovAgg) merge(b *ovAgg) {
	a.n += b.n
	topics := make(map[*ovTopic]*ovTopic, len(b.topics))
	for name, bt := range b.topics {
		at := a.topic(name)
		for len(at.partitions) < len(bt.partitions) {
			at.partitions = append(at.partitions, 0)
		}
		for i, w := range bt.partitions {
			at.partitions[i] |= w
		}
		at.replBytes += bt.replBytes
		at.replRecords += bt.replRecords
		topics[bt] = at
	}
	mergeRole := func(ar, br *ovRole) *ovRole {
		if br == nil {
			return ar
		}
		if ar == nil {
			ar = &ovRole{}
		}
		ar.requests += br.requests
		ar.errors += br.errors
		for c, n := range br.errorsByCode {
			if ar.errorsByCode == nil {
				ar.errorsByCode = make(map[string]int64)
			}
			ar.errorsByCode[c] += n
		}
		for bt, be := range br.edges {
			ae := ar.edge(topics[bt])
			ae.bytes += be.bytes
			ae.records += be.records
			ae.requests += be.requests
		}
		return ar
	}
	for k, bc := range b.clients {
		ac := a.clients[k]
		if ac == nil {
			ac = &ovClient{c: bc.c, lat: make(rlSet)}
			a.clients[k] = ac
		}
		ac.nameGroup(bc.group, bc.groupAt)
		ac.prod = mergeRole(ac.prod, bc.prod)
		ac.cons = mergeRole(ac.cons, bc.cons)
		ac.lat.merge(bc.lat)
	}
	for addr, bb := range b.brokers {
		ab := a.brokers[addr]
		if ab == nil {
			ab = &ovBroker{addr: addr, lat: make(rlSet)}
			a.brokers[addr] = ab
		}
		ab.requests += bb.requests
		ab.produce += bb.produce
		ab.fetch += bb.fetch
		ab.replicaFetch += bb.replicaFetch
		ab.bytesIn += bb.bytesIn
		ab.bytesOut += bb.bytesOut
		ab.replBytes += bb.replBytes
		for r := range bb.replicas {
			if ab.replicas == nil {
				ab.replicas = make(map[string]struct{})
			}
			ab.replicas[r] = struct{}{}
		}
		ab.lat.merge(bb.lat)
	}
}

// ovAgg accumulates the overview in one pass.
type ovAgg struct {
	want    map[string]bool
	conns   map[ovConnKey]*ovConn
	clients map[ovClientKey]*ovClient
	brokers map[string]*ovBroker
	topics  map[string]*ovTopic
	n       int
	codes   []string
	// size estimates the memory held, for the store's budget.
	size int64
}

// Estimated memory of the parts of an ovAgg: a struct, its allocation and
// its map entry.
const (
	ovMapEntryBytes = 64
	ovConnBytes     = 160
	ovClientBytes   = 224
	ovBrokerBytes   = 192
	ovTopicBytes    = 96
	ovRoleBytes     = 80
	ovEdgeBytes     = 96
	ovStatsBytes    = 144
	ovConnTopicSize = 80
)

// ovConnKey is one connection as a view knows it; its ovClient and
// ovBroker are looked up once per connection, not per exchange.
type ovConnKey struct {
	client, server string
	pid            uint32
}

type ovConn struct {
	clientID string
	cl       *ovClient
	br       *ovBroker
	// Per-connection caches of the latency rows and topics it used, to
	// spare map lookups per exchange (a connection uses few of each).
	lat      []ovConnLat
	topics   []*ovConnTopic
	topicMap map[string]*ovConnTopic
}

type ovConnLat struct {
	api    string
	br, cl *rlStats
}

type ovConnTopic struct {
	name       string
	t          *ovTopic
	prod, cons *ovEdge
}

// ovConnCache bounds the per-connection caches; beyond it, maps answer.
const ovConnCache = 8

func (a *ovAgg) latency(c *ovConn, api string) *ovConnLat {
	for i := range c.lat {
		if c.lat[i].api == api {
			return &c.lat[i]
		}
	}
	for _, set := range []rlSet{c.br.lat, c.cl.lat} {
		if set[api] == nil {
			a.size += ovStatsBytes
		}
	}
	l := ovConnLat{api: api, br: c.br.lat.get(api), cl: c.cl.lat.get(api)}
	if len(c.lat) < ovConnCache {
		c.lat = append(c.lat, l)
		return &c.lat[len(c.lat)-1]
	}
	return &l
}

// topicOf is the topic and the client's edges to it: a few topics are
// searched in a slice, more in a map.
func (a *ovAgg) topicOf(c *ovConn, name string) *ovConnTopic {
	if c.topicMap != nil {
		if ct := c.topicMap[name]; ct != nil {
			return ct
		}
	} else {
		for _, ct := range c.topics {
			if ct.name == name {
				return ct
			}
		}
	}
	ct := &ovConnTopic{name: name, t: a.topic(name)}
	a.size += ovConnTopicSize
	if len(c.topics) < ovConnCache {
		c.topics = append(c.topics, ct)
		return ct
	}
	if c.topicMap == nil {
		c.topicMap = make(map[string]*ovConnTopic, 2*ovConnCache)
		for _, t := range c.topics {
			c.topicMap[t.name] = t
		}
	}
	c.topicMap[name] = ct
	return ct
}

type ovClientKey struct {
	who, clientID string
}

type ovClient struct {
	c          Client
	group      string
	groupAt    time.Time
	prod, cons *ovRole
	lat        rlSet
}

// nameGroup records that the client named group at t; the latest wins
// (at equal times, the one named after).
func (c *ovClient) nameGroup(group string, t time.Time) {
	if group != "" && !t.Before(c.groupAt) {
		c.group, c.groupAt = group, t
	}
}

// ovRole is a client as producer or as consumer.
type ovRole struct {
	requests, errors int64
	errorsByCode     map[string]int64
	edges            map[*ovTopic]*ovEdge
}

type ovEdge struct {
	bytes, records, requests int64
}

type ovBroker struct {
	addr                                   string
	requests, produce, fetch, replicaFetch int64
	bytesIn, bytesOut, replBytes           int64
	replicas                               map[string]struct{}
	lat                                    rlSet
}

type ovTopic struct {
	name                   string
	partitions             []uint64 // a bit per partition seen
	replBytes, replRecords int64
}

// see marks partition p seen; it returns the bytes t grew by.
func (t *ovTopic) see(p int32) int64 {
	if p < 0 {
		return 0
	}
	i := int(p) / 64
	var grew int64
	for len(t.partitions) <= i {
		c := cap(t.partitions)
		t.partitions = append(t.partitions, 0)
		grew += int64(cap(t.partitions)-c) * 8
	}
	t.partitions[i] |= 1 << (uint(p) % 64)
	return grew
}

func (t *ovTopic) count() int {
	n := 0
	for _, w := range t.partitions {
		n += bits.OnesCount64(w)
	}
	return n
}

func newOvAgg(f OverviewFilter) *ovAgg {
	a := &ovAgg{
		conns:   make(map[ovConnKey]*ovConn),
		clients: make(map[ovClientKey]*ovClient),
		brokers: make(map[string]*ovBroker),
		topics:  make(map[string]*ovTopic),
	}
	if len(f.Topics) > 0 {
		a.want = make(map[string]bool, len(f.Topics))
		for _, t := range f.Topics {
			a.want[t] = true
		}
	}
	return a
}

func (a *ovAgg) conn(e *exchange.Exchange) *ovConn {
	k := ovConnKey{e.Client.Addr, e.Server.Addr, e.Client.PID}
	if a.conns == nil {
		a.conns = make(map[ovConnKey]*ovConn)
	}
	c := a.conns[k]
	if c != nil && c.clientID == e.ClientID {
		return c
	}
	// A new connection, or one whose client changed its client id.
	cl := overviewClient(e)
	ck := ovClientKey{ovWho(&cl), cl.ClientID}
	ca := a.clients[ck]
	if ca == nil {
		ca = &ovClient{c: cl, lat: make(rlSet)}
		a.clients[ck] = ca
		a.size += ovClientBytes + int64(len(cl.Process)+len(cl.Pod)+len(cl.Host)+len(cl.ClientID))
	}
	br := a.brokers[e.Server.Addr]
	if br == nil {
		br = &ovBroker{addr: e.Server.Addr, lat: make(rlSet)}
		a.brokers[e.Server.Addr] = br
		a.size += ovBrokerBytes + int64(len(e.Server.Addr))
	}
	c = &ovConn{clientID: e.ClientID, cl: ca, br: br}
	a.conns[k] = c
	a.size += ovConnBytes
	return c
}

func (a *ovAgg) topic(name string) *ovTopic {
	t := a.topics[name]
	if t == nil {
		t = &ovTopic{name: name}
		a.topics[name] = t
		a.size += ovTopicBytes + int64(len(name))
	}
	return t
}

func (r *ovRole) edge(t *ovTopic) *ovEdge {
	ed, _ := r.edgeNew(t)
	return ed
}

// edgeNew is r's edge to t, and whether it was made.
func (r *ovRole) edgeNew(t *ovTopic) (*ovEdge, bool) {
	if r.edges == nil {
		r.edges = make(map[*ovTopic]*ovEdge)
	}
	ed := r.edges[t]
	if ed == nil {
		ed = &ovEdge{}
		r.edges[t] = ed
		return ed, true
	}
	return ed, false
}

// count counts one request; it returns the bytes r grew by.
func (r *ovRole) count(codes []string) int64 {
	r.requests++
	if len(codes) == 0 {
		return 0
	}
	r.errors++
	if r.errorsByCode == nil {
		r.errorsByCode = make(map[string]int64)
	}
	var grew int64
	for _, c := range codes {
		if _, ok := r.errorsByCode[c]; !ok {
			grew += ovMapEntryBytes
		}
		r.errorsByCode[c]++
	}
	return grew
}

// edge is role's edge to ct's topic, cached in *cached.
func (a *ovAgg) edge(role *ovRole, ct *ovConnTopic, cached **ovEdge) *ovEdge {
	if *cached == nil {
		ed, made := role.edgeNew(ct.t)
		if made {
			a.size += ovEdgeBytes
		}
		*cached = ed
	}
	return *cached
}

func (a *ovAgg) names(e *exchange.Exchange) bool {
	for ti := range e.Topics {
		if a.want[e.Topics[ti].Name] {
			return true
		}
	}
	return false
}

func (a *ovAgg) add(e *exchange.Exchange) {
	c := a.conn(e)
	if e.Group != "" && namesOwnGroup(e) {
		c.cl.nameGroup(e.Group, e.Time)
	}
	if a.want != nil && !a.names(e) {
		return
	}
	a.n++
	a.codes = rlErrorCodes(a.codes, e)
	br := c.br
	br.requests++
	var records int64
	switch {
	case e.Is(kmsg.Produce):
		br.produce++
		if c.cl.prod == nil {
			c.cl.prod = &ovRole{}
			a.size += ovRoleBytes
		}
		role := c.cl.prod
		a.size += role.count(a.codes)
		for ti := range e.Topics {
			t := &e.Topics[ti]
			if a.want != nil && !a.want[t.Name] {
				continue
			}
			ct := a.topicOf(c, t.Name)
			ta, ed := ct.t, a.edge(role, ct, &ct.prod)
			ed.requests++
			for pi := range t.Partitions {
				p := &t.Partitions[pi]
				a.size += ta.see(p.Partition)
				// A partition answered with an error was not
				// appended: its retry will count.
				if p.Error != "" {
					continue
				}
				ed.bytes += p.Bytes
				ed.records += p.Records
				br.bytesIn += p.Bytes
				records += p.Records
			}
		}
	case IsReplication(e):
		br.replicaFetch++
		if br.replicas == nil {
			br.replicas = make(map[string]struct{})
		}
		if h := ovHost(e.Client.Addr); !ovHas(br.replicas, h) {
			br.replicas[h] = struct{}{}
			a.size += ovMapEntryBytes + int64(len(h))
		}
		for ti := range e.Topics {
			t := &e.Topics[ti]
			if a.want != nil && !a.want[t.Name] {
				continue
			}
			ta := a.topic(t.Name)
			for pi := range t.Partitions {
				p := &t.Partitions[pi]
				a.size += ta.see(p.Partition)
				ta.replBytes += p.Bytes
				ta.replRecords += p.Records
				br.replBytes += p.Bytes
				records += p.Records
			}
		}
	case e.Is(kmsg.Fetch): // by a consumer
		br.fetch++
		if c.cl.cons == nil {
			c.cl.cons = &ovRole{}
			a.size += ovRoleBytes
		}
		role := c.cl.cons
		a.size += role.count(a.codes)
		for ti := range e.Topics {
			t := &e.Topics[ti]
			if a.want != nil && !a.want[t.Name] {
				continue
			}
			ct := a.topicOf(c, t.Name)
			ta, ed := ct.t, a.edge(role, ct, &ct.cons)
			ed.requests++
			for pi := range t.Partitions {
				p := &t.Partitions[pi]
				a.size += ta.see(p.Partition)
				ed.bytes += p.Bytes
				ed.records += p.Records
				br.bytesOut += p.Bytes
				records += p.Records
			}
		}
	}
	// The per-API rows are the sum of the per-broker ones, made at the
	// end: one histogram less to touch per exchange.
	l := a.latency(c, rlAPI(e, records))
	a.size += l.br.add(e, a.codes)
	a.size += l.cl.add(e, a.codes)
}

func (a *ovAgg) result(w Window) OverviewView {
	secs := w.Seconds()
	o := OverviewView{
		From: w.From, To: w.To, Seconds: secs, Exchanges: a.n,
		Nodes: []Node{}, Edges: []Edge{}, Topics: []TopicRow{}, Brokers: []BrokerRow{},
		Producers: []ClientRow{}, Consumers: []ClientRow{},
	}
	type ovTopicSum struct {
		row                  *TopicRow
		bytesIn, recordsIn   int64
		bytesOut, recordsOut int64
	}
	sums := make(map[*ovTopic]*ovTopicSum, len(a.topics))
	for _, t := range a.topics {
		row := TopicRow{
			Name:                   t.name,
			Partitions:             t.count(),
			ReplicationBytesPerSec: float64(t.replBytes) / secs,
		}
		sums[t] = &ovTopicSum{row: &row}
	}
	edge := func(from, to string, ed *ovEdge) Edge {
		return Edge{
			From: from, To: to,
			BytesPerSec:    float64(ed.bytes) / secs,
			RecordsPerSec:  float64(ed.records) / secs,
			RequestsPerSec: float64(ed.requests) / secs,
			Bytes:          ed.bytes, Records: ed.records, Requests: ed.requests,
		}
	}
	clientRow := func(id string, ca *ovClient, r *ovRole) ClientRow {
		row := ClientRow{
			ID: id, Client: ca.c, Topics: []string{},
			Requests: r.requests, RequestsPerSec: float64(r.requests) / secs,
			Errors: r.errors, ErrorsByCode: r.errorsByCode,
		}
		for t, ed := range r.edges {
			row.Topics = append(row.Topics, t.name)
			row.Bytes += ed.bytes
			row.Records += ed.records
		}
		sort.Strings(row.Topics)
		row.BytesPerSec = float64(row.Bytes) / secs
		row.RecordsPerSec = float64(row.Records) / secs
		return row
	}
	for _, ca := range a.clients {
		who := ovWho(&ca.c)
		if r := ca.prod; r != nil {
			id := KindProducer + ":" + who + ":" + ca.c.ClientID
			c := ca.c
			o.Nodes = append(o.Nodes, Node{ID: id, Kind: KindProducer, Label: ovLabel(&c, ""), Client: &c})
			o.Producers = append(o.Producers, clientRow(id, ca, r))
			for t, ed := range r.edges {
				s := sums[t]
				s.row.Producers++
				s.bytesIn += ed.bytes
				s.recordsIn += ed.records
				o.Edges = append(o.Edges, edge(id, KindTopic+":"+t.name, ed))
			}
		}
		if r := ca.cons; r != nil {
			id := KindConsumer + ":" + who + ":" + ca.c.ClientID
			c := ca.c
			o.Nodes = append(o.Nodes, Node{ID: id, Kind: KindConsumer, Label: ovLabel(&c, ca.group), Client: &c, Group: ca.group})
			row := clientRow(id, ca, r)
			row.Group = ca.group
			o.Consumers = append(o.Consumers, row)
			for t, ed := range r.edges {
				s := sums[t]
				s.row.Consumers++
				s.bytesOut += ed.bytes
				s.recordsOut += ed.records
				o.Edges = append(o.Edges, edge(KindTopic+":"+t.name, id, ed))
			}
		}
		for _, r := range ca.lat.rows(secs, nil) {
			c := ca.c
			r.Client = &c
			o.Latency.ByClient = append(o.Latency.ByClient, r)
		}
	}
	for _, s := range sums {
		s.row.BytesInPerSec = float64(s.bytesIn) / secs
		s.row.RecordsInPerSec = float64(s.recordsIn) / secs
		s.row.BytesOutPerSec = float64(s.bytesOut) / secs
		s.row.RecordsOutPerSec = float64(s.recordsOut) / secs
		o.Topics = append(o.Topics, *s.row)
		o.Nodes = append(o.Nodes, Node{ID: KindTopic + ":" + s.row.Name, Kind: KindTopic, Label: s.row.Name})
	}
	for _, b := range a.brokers {
		if b.requests == 0 {
			continue
		}
		lat := b.lat.rows(secs, nil)
		o.Brokers = append(o.Brokers, BrokerRow{
			Broker:                     b.addr,
			RequestsPerSec:             float64(b.requests) / secs,
			ProduceRequestsPerSec:      float64(b.produce) / secs,
			FetchRequestsPerSec:        float64(b.fetch) / secs,
			ReplicaFetchRequestsPerSec: float64(b.replicaFetch) / secs,
			BytesInPerSec:              float64(b.bytesIn) / secs,
			BytesOutPerSec:             float64(b.bytesOut) / secs,
			ReplicationBytesPerSec:     float64(b.replBytes) / secs,
			Replicas:                   len(b.replicas),
			Latency:                    lat,
		})
		for _, r := range lat {
			r.Broker = b.addr
			o.Latency.ByBroker = append(o.Latency.ByBroker, r)
		}
	}
	all := make(rlSet)
	for _, b := range a.brokers {
		for api, st := range b.lat {
			all.get(api).merge(st)
		}
	}
	o.Latency.ByAPI = all.rows(secs, nil)
	if o.Latency.ByBroker == nil {
		o.Latency.ByBroker = []LatencyRow{}
	}
	if o.Latency.ByClient == nil {
		o.Latency.ByClient = []LatencyRow{}
	}
	kindOrder := map[string]int{KindProducer: 0, KindTopic: 1, KindConsumer: 2}
	sort.Slice(o.Nodes, func(i, j int) bool {
		if ki, kj := kindOrder[o.Nodes[i].Kind], kindOrder[o.Nodes[j].Kind]; ki != kj {
			return ki < kj
		}
		return o.Nodes[i].ID < o.Nodes[j].ID
	})
	sort.Slice(o.Edges, func(i, j int) bool {
		if o.Edges[i].From != o.Edges[j].From {
			return o.Edges[i].From < o.Edges[j].From
		}
		return o.Edges[i].To < o.Edges[j].To
	})
	sort.Slice(o.Topics, func(i, j int) bool { return o.Topics[i].Name < o.Topics[j].Name })
	sort.Slice(o.Brokers, func(i, j int) bool { return o.Brokers[i].Broker < o.Brokers[j].Broker })
	sort.Slice(o.Producers, func(i, j int) bool { return o.Producers[i].ID < o.Producers[j].ID })
	sort.Slice(o.Consumers, func(i, j int) bool { return o.Consumers[i].ID < o.Consumers[j].ID })
	sort.SliceStable(o.Latency.ByBroker, func(i, j int) bool {
		if o.Latency.ByBroker[i].API != o.Latency.ByBroker[j].API {
			return o.Latency.ByBroker[i].API < o.Latency.ByBroker[j].API
		}
		return o.Latency.ByBroker[i].Broker < o.Latency.ByBroker[j].Broker
	})
	sort.SliceStable(o.Latency.ByClient, func(i, j int) bool {
		ri, rj := &o.Latency.ByClient[i], &o.Latency.ByClient[j]
		if ri.API != rj.API {
			return ri.API < rj.API
		}
		if wi, wj := ovWho(ri.Client), ovWho(rj.Client); wi != wj {
			return wi < wj
		}
		return ri.Client.ClientID < rj.Client.ClientID
	})
	return o
}

// ovLabel is how a person names a client: "process (client id)", with
// the pod and the group when known.
func ovLabel(c *Client, group string) string {
	s := ovWho(c)
	if c.Pod != "" {
		s = "pod " + c.Pod + " " + s
	}
	if c.ClientID != "" {
		s += " (" + c.ClientID + ")"
	}
	if group != "" {
		s += " group " + group
	}
	return s
}

func ovHas(m map[string]struct{}, k string) bool {
	_, ok := m[k]
	return ok
}
