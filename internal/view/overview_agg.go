package view

import (
	"cmp"
	"math/bits"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/exchange"
)

// ovAgg accumulates the overview in one pass.
type ovAgg struct {
	want    map[string]bool
	conns   map[ovConnKey]*ovConn
	clients map[ovClientKey]*ovClient
	brokers map[string]*ovBroker
	topics  map[string]*ovTopic
	n       int
	codes   []string
	// dlShift is the precision of the delays counted (ovDelay.shift).
	dlShift uint8
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
	ovEdgeBytes     = 120
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
	// txn splits a transactional producer's records by how its
	// transactions ended (overview_txn.go); nil for others.
	txn *ovTxn
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
	// delays are, on a consumer's edge, the delays of the batches it
	// fetched, per partition in order.
	delays []ovDelay
}

// dlShift coarsens the request latency buckets (rlBucket) for batch
// delays: 16 buckets a power of two, so that a bucket's middle is within
// 3.2% of any delay in it. The store keeps a histogram per consumer,
// topic and partition for an hour, most with a few batches a second:
// fewer bins count more than the last percent, and timestamps are whole
// milliseconds anyway.
//
// dlShiftCoarse is the precision of the parts of a minute or longer
// (see OverviewPart.Coarsen): one histogram per consumer and topic, all
// its partitions together (dlAllPartitions), of 2 buckets a power of
// two, so that the quantiles of older points are within 25% (the max and
// the count stay exact). Most of the hour is held in such parts: a
// consumer of 50 topics of 6 partitions each would otherwise cost 3 times
// the rest of the part, and the hour would not fit the store's budget. A
// part merges exactly with the others of its length (parts of different
// precisions merge at the coarser).
const (
	dlShift       = 1
	dlShiftCoarse = 4
)

// dlAllPartitions is the partition of the delays of all a topic's
// partitions, counted together.
const dlAllPartitions = -1

// ovDelay is the delay of the batches one consumer fetched from one
// partition (see batchDelay): their count, the largest, and a sparse
// histogram, which merges exactly.
type ovDelay struct {
	partition int32
	// shift is the histogram's precision: its buckets are rlBucket's
	// >> shift (dlShift, or dlShiftCoarse once rolled up).
	shift   uint8
	batches int64
	max     time.Duration
	// bins count the batches per bucket (rlBucket >> shift) in bucket
	// order; a negative delay (the producer's clock ahead) counts as 0.
	bins []rlBin
}

// ovDelaySize is an ovDelay in its edge's slice.
const ovDelaySize = 48

// countDelays counts the batches of p, fetched by the consumer of ed and
// arrived at arrived, at precision shift; it returns the bytes ed grew
// by.
func (ed *ovEdge) countDelays(p *exchange.Partition, arrived time.Time, shift uint8) int64 {
	var (
		s    *ovDelay
		grew int64
	)
	for bi := range p.Batches {
		d, ok := batchDelay(arrived, &p.Batches[bi])
		if !ok {
			continue
		}
		if s == nil {
			s, grew = ed.delay(p.Partition, shift)
		}
		grew += s.add(d)
	}
	return grew
}

// delay is ed's delays of partition p, made at precision shift if new
// (all partitions' at a coarse one), and the bytes ed grew by to make it.
func (ed *ovEdge) delay(p int32, shift uint8) (*ovDelay, int64) {
	if shift >= dlShiftCoarse {
		p = dlAllPartitions
	}
	i, ok := slices.BinarySearchFunc(ed.delays, p, func(x ovDelay, p int32) int { return cmp.Compare(x.partition, p) })
	if ok {
		return &ed.delays[i], 0
	}
	c := cap(ed.delays)
	ed.delays = slices.Insert(ed.delays, i, ovDelay{partition: p, shift: shift})
	return &ed.delays[i], int64(cap(ed.delays)-c) * ovDelaySize
}

// add counts one batch d late; it returns the bytes s grew by.
func (s *ovDelay) add(d time.Duration) int64 {
	if s.batches == 0 || d > s.max {
		s.max = d
	}
	s.batches++
	b := uint16(rlBucket(uint64(max(d, 0))) >> s.shift)
	i, ok := slices.BinarySearchFunc(s.bins, b, func(x rlBin, b uint16) int { return cmp.Compare(x.b, b) })
	if ok {
		s.bins[i].n++
		return 0
	}
	c := cap(s.bins)
	s.bins = slices.Insert(s.bins, i, rlBin{b: b, n: 1})
	return int64(cap(s.bins)-c) * rlBinSize
}

// coarsen lowers s's precision to shift, if finer: exact, since each
// coarse bucket is whole fine ones.
func (s *ovDelay) coarsen(shift uint8) {
	if shift <= s.shift {
		return
	}
	by := shift - s.shift
	s.shift = shift
	out := s.bins[:0]
	for _, x := range s.bins {
		x.b >>= by
		if n := len(out); n > 0 && out[n-1].b == x.b {
			out[n-1].n += x.n
			continue
		}
		out = append(out, x)
	}
	s.bins = out
}

// merge adds o to s, at the coarser of their precisions; o is not
// changed (its bins may be a decoder's scratch: they are copied).
func (s *ovDelay) merge(o *ovDelay) {
	if o.batches == 0 {
		return
	}
	if s.batches == 0 {
		s.shift = max(s.shift, o.shift)
	}
	s.coarsen(o.shift)
	by := s.shift - o.shift
	if s.batches == 0 || o.max > s.max {
		s.max = o.max
	}
	s.batches += o.batches
	out := make([]rlBin, 0, len(s.bins)+len(o.bins))
	i := 0
	for _, y := range o.bins {
		y.b >>= by
		for i < len(s.bins) && s.bins[i].b < y.b {
			out = append(out, s.bins[i])
			i++
		}
		if i < len(s.bins) && s.bins[i].b == y.b {
			y.n += s.bins[i].n
			i++
		}
		if n := len(out); n > 0 && out[n-1].b == y.b {
			out[n-1].n += y.n
			continue
		}
		out = append(out, y)
	}
	out = append(out, s.bins[i:]...)
	s.bins = out[:len(out):len(out)]
}

// quantile is the q-quantile of the delays in seconds: the nearest-rank
// delay's bucket middle, no more than the largest delay.
func (s *ovDelay) quantile(q float64) float64 {
	if s.batches == 0 {
		return 0
	}
	rank := min(max(int64(q*float64(s.batches)+0.999999), 1), s.batches)
	var seen int64
	for _, x := range s.bins {
		if seen += int64(x.n); seen >= rank {
			lo := int(x.b) << s.shift
			mid := (rlBucketMid(lo) + rlBucketMid(lo+1<<s.shift-1)) / 2
			return min(mid, float64(s.max)) / 1e9
		}
	}
	return s.max.Seconds()
}

// mergeDelays adds the delays o to ed's, at precision shift or coarser.
func (ed *ovEdge) mergeDelays(o []ovDelay, shift uint8) {
	for i := range o {
		s, _ := ed.delay(o[i].partition, shift)
		s.merge(&o[i])
	}
}

// coarsenDelays lowers the precision of a's delays to shift, and of
// those counted after; at dlShiftCoarse, the partitions of each topic are
// counted together.
func (a *ovAgg) coarsenDelays(shift uint8) {
	if shift <= a.dlShift {
		return
	}
	a.dlShift = shift
	for _, c := range a.clients {
		if c.cons == nil {
			continue
		}
		for _, ed := range c.cons.edges {
			if shift < dlShiftCoarse {
				for i := range ed.delays {
					ed.delays[i].coarsen(shift)
				}
				continue
			}
			all := ovDelay{partition: dlAllPartitions, shift: shift}
			for i := range ed.delays {
				all.merge(&ed.delays[i])
			}
			ed.delays = ed.delays[:0]
			if all.batches > 0 {
				ed.delays = append(ed.delays, all)
			}
		}
	}
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
		dlShift: dlShift,
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
	if e.Is(kmsg.EndTxn) {
		// It names no topic: it ends the client's transaction whatever
		// the topic filter.
		a.size += c.cl.countTxn(e, 0)
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
		a.size += c.cl.countTxn(e, records)
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
		arrived, timed := fetchArrival(e)
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
				if timed && len(p.Batches) > 0 {
					a.size += ed.countDelays(p, arrived, a.dlShift)
				}
			}
		}
	}
	// The per-API rows are the sum of the per-broker ones, made at the
	// end: one histogram less to touch per exchange.
	l := a.latency(c, rlAPI(e, records))
	a.size += l.br.add(e, a.codes)
	a.size += l.cl.add(e, a.codes)
}

func ovHas(m map[string]struct{}, k string) bool {
	_, ok := m[k]
	return ok
}
