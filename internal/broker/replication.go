package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The replication model (Config.Replication). kfake keeps one copy of each
// partition: it answers that the ISR is the replica list, that the
// replicas are the brokers following the leader (so they rotate when the
// leader moves), that every broker is in rack "krack", and it never
// enforces min.insync.replicas. A real cluster loses a broker and shows it:
// the broker leaves every ISR, leaders move to in-sync replicas, acks=all
// producers are refused below min.insync.replicas. The model makes kfake
// show what a real cluster would:
//
//   - Metadata, DescribeTopicPartitions and DescribeCluster are answered
//     by controls that ask kfake for its answer over a side connection
//     (side.go) and edit it: only live brokers, with their racks; each
//     partition's replicas fixed as the model first saw them (preferred
//     leader first), kept across leader moves; the ISR is the replicas that
//     are live; a leader that is not live is no leader (-1,
//     LEADER_NOT_AVAILABLE) until the model moves it. DescribeCluster v2
//     with IncludeFencedBrokers lists a stopped broker fenced (KIP-1073).
//   - StopBroker closes a broker's port and connections (listener.go) and
//     moves each partition it led to the first live replica
//     (kfake.Cluster.MoveTopicPartition, which bumps the leader epoch, as
//     an election does); StartBroker listens again, and the broker rejoins
//     every ISR at once, as if it had caught up.
//   - A Produce with acks=all to a partition whose ISR is below the topic's
//     effective min.insync.replicas is answered NOT_ENOUGH_REPLICAS for
//     that partition, through a kfake.Fault per topic: faults answer
//     partition by partition, so a request that mixes partitions under
//     and over min ISR has those under refused and the others appended,
//     as Kafka answers it.
//   - Coordinators move off stopped brokers (coordinator.go).
//   - OffsetForLeaderEpoch tells where an epoch ended also when nothing
//     was appended since the leader moved (leaderepoch.go).
//
// kfake's admin calls (MoveTopicPartition, ...) are run by its loop and
// wait for good once the cluster has closed (they do not watch for its
// end): they are made by StopBroker, StartBroker and the keeper's refresh,
// all done before the cluster closes, never from a control, and never
// under replication.mu, which controls take.
//
// Not modelled: kfake's controller is always its last broker and topic
// administration (CreateTopics, DeleteTopics, CreatePartitions) must go
// to it, so while it is stopped those fail (Metadata names no controller,
// -1); a topic created while a broker is stopped may be placed on it;
// a partition with no live replica has an empty ISR (Kafka keeps the last
// member in it) and any replica that returns leads it at once, as if
// unclean election were on; leaders do not move back to their preferred
// replica when it returns (Kafka does so within
// leader.imbalance.check.interval.seconds, 5 minutes by default).

// refreshEvery is how often the keeper brings kfake in line with the model
// while a broker is stopped: topics created meanwhile, min.insync.replicas
// changed.
const refreshEvery = 3 * time.Second

// The side connection's requests carry this tagged field, which tells the
// controls to let kfake answer them.
const sideTag = 0x6b73 // "ks"

var sideMark = []byte("kscope-replication")

func mark() kmsg.Tags {
	var t kmsg.Tags
	t.Set(sideTag, sideMark)
	return t
}

func marked(t kmsg.Tags) bool {
	found := false
	t.Each(func(k uint32, v []byte) { found = found || k == sideTag && bytes.Equal(v, sideMark) })
	return found
}

// tp names a partition.
type tp struct {
	topic     string
	partition int32
}

// replication is the model of one cluster.
type replication struct {
	kc    *kfake.Cluster
	addrs []string
	racks []string // by node; nil: none
	side  []*sideConn
	log   *slog.Logger

	ops    sync.Mutex             // one StopBroker, StartBroker or refresh at a time
	faults map[string]*topicFault // by topic; guarded by ops
	closed bool                   // guarded by ops

	mu      sync.Mutex
	down    []bool // by node
	ids     map[string][16]byte
	assign  map[tp][]int32 // the replicas, as first seen
	offline map[tp]bool    // no live replica at the last refresh
	coord   coordinators

	kick      chan struct{}
	quit      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// topicFault refuses acks=all produce to parts.
type topicFault struct {
	parts []int32
	h     *kfake.FaultHandle
}

func newReplication(kc *kfake.Cluster, addrs, racks []string, tls bool, log *slog.Logger) (*replication, error) {
	if err := checkCoordinatorHash(kc, len(addrs)); err != nil {
		return nil, err
	}
	r := &replication{
		kc: kc, addrs: addrs, racks: racks, log: log,
		faults:  make(map[string]*topicFault),
		down:    make([]bool, len(addrs)),
		ids:     make(map[string][16]byte),
		assign:  make(map[tp][]int32),
		offline: make(map[tp]bool),
		kick:    make(chan struct{}, 1),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	for _, a := range addrs {
		r.side = append(r.side, &sideConn{addr: a, tls: tls})
	}
	r.control(kmsg.Metadata, r.metadata)
	r.control(kmsg.DescribeTopicPartitions, r.describeTopicPartitions)
	r.control(kmsg.DescribeCluster, r.describeCluster)
	r.control(kmsg.FindCoordinator, r.findCoordinator)
	r.control(kmsg.OffsetForLeaderEpoch, r.offsetForLeaderEpoch)
	go r.keep()
	return r, nil
}

// close stops the keeper and waits for a StopBroker or StartBroker under
// way; the cluster closes after.
func (r *replication) close() {
	r.closeOnce.Do(func() {
		close(r.quit)
		<-r.done
		r.ops.Lock()
		r.closed = true
		r.ops.Unlock()
		for _, s := range r.side {
			s.close()
		}
	})
}

// control installs fn for key, replacing itself now and then, as
// controlAPIVersions does.
func (r *replication) control(key kmsg.Key, fn func(kmsg.Request) (kmsg.Response, error, bool)) {
	var answered atomic.Int64
	r.kc.ControlKey(int16(key), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		if answered.Add(1)%renewControlEvery == 0 {
			r.kc.DropControl()
			r.control(key, fn)
		} else {
			r.kc.KeepControl()
		}
		return fn(kreq)
	})
}

// ask has kfake answer req, from a control: see askWith.
func (r *replication) ask(req kmsg.Request) (kmsg.Response, error) {
	return r.askWith(func(ctx context.Context, side *sideConn) (kmsg.Response, error) {
		return side.request(ctx, req)
	})
}

// askWith runs fn with the side connection to the broker that received
// the request, from a control: the control sleeps, which frees kfake's
// loop to answer what fn asks there.
func (r *replication) askWith(fn func(context.Context, *sideConn) (kmsg.Response, error)) (kmsg.Response, error) {
	node := r.kc.CurrentNode()
	if node < 0 || int(node) >= len(r.side) {
		return nil, fmt.Errorf("no broker %d", node)
	}
	type answer struct {
		resp kmsg.Response
		err  error
	}
	ch := make(chan answer, 1)
	r.kc.SleepControl(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*sideTimeout)
		defer cancel()
		resp, err := fn(ctx, r.side[node])
		ch <- answer{resp, err}
	})
	select {
	case a := <-ch:
		return a.resp, a.err
	default:
		return nil, errors.New("the cluster is closing")
	}
}

func (r *replication) metadata(kreq kmsg.Request) (kmsg.Response, error, bool) {
	req := kreq.(*kmsg.MetadataRequest)
	if marked(req.UnknownTags) {
		return nil, nil, false
	}
	side := *req
	// v10 is the first whose answer names topic ids (a topic made again
	// under its name is new to the model) and the last that carries
	// every field of the older requests.
	side.Version = max(req.Version, 10)
	side.UnknownTags = mark()
	kresp, err := r.ask(&side)
	if err != nil {
		return nil, err, true // the client's connection closes; it asks again
	}
	resp := kresp.(*kmsg.MetadataResponse)
	r.rewriteMetadata(resp)
	resp.Version = req.Version
	return resp, nil, true
}

// rewriteMetadata edits kfake's answer to what the model says.
func (r *replication) rewriteMetadata(resp *kmsg.MetadataResponse) {
	r.mu.Lock()
	defer r.mu.Unlock()
	brokers := resp.Brokers[:0]
	for _, b := range resp.Brokers {
		if !r.isDown(b.NodeID) {
			b.Rack = r.rack(b.NodeID)
			brokers = append(brokers, b)
		}
	}
	resp.Brokers = brokers
	if r.isDown(resp.ControllerID) {
		resp.ControllerID = -1
	}
	poke := false
	for i := range resp.Topics {
		t := &resp.Topics[i]
		if t.ErrorCode != 0 || t.Topic == nil {
			continue
		}
		r.learnTopic(*t.Topic, t.TopicID)
		for j := range t.Partitions {
			p := &t.Partitions[j]
			if p.ErrorCode != 0 {
				continue
			}
			v := r.partition(*t.Topic, p.Partition, p.Replicas, p.Leader)
			p.Replicas, p.ISR, p.OfflineReplicas = v.replicas, v.isr, v.offline
			if !v.leads {
				// Kafka answers a partition without a leader so;
				// clients ask again shortly.
				p.Leader, p.ErrorCode = -1, kerr.LeaderNotAvailable.Code
				poke = poke || len(v.isr) > 0
			}
		}
	}
	if poke {
		r.poke()
	}
}

func (r *replication) describeTopicPartitions(kreq kmsg.Request) (kmsg.Response, error, bool) {
	req := kreq.(*kmsg.DescribeTopicPartitionsRequest)
	if marked(req.UnknownTags) {
		return nil, nil, false
	}
	side := *req
	side.UnknownTags = mark()
	kresp, err := r.ask(&side)
	if err != nil {
		return nil, err, true
	}
	resp := kresp.(*kmsg.DescribeTopicPartitionsResponse)
	r.mu.Lock()
	poke := false
	for i := range resp.Topics {
		t := &resp.Topics[i]
		if t.ErrorCode != 0 || t.Topic == nil {
			continue
		}
		r.learnTopic(*t.Topic, t.TopicID)
		for j := range t.Partitions {
			p := &t.Partitions[j]
			if p.ErrorCode != 0 {
				continue
			}
			v := r.partition(*t.Topic, p.Partition, p.Replicas, p.LeaderID)
			p.Replicas, p.ISR, p.OfflineReplicas = v.replicas, v.isr, v.offline
			if !v.leads {
				// Kafka answers a leaderless partition here without
				// an error.
				p.LeaderID = -1
				poke = poke || len(v.isr) > 0
			}
		}
	}
	r.mu.Unlock()
	if poke {
		r.poke()
	}
	resp.Version = req.Version
	return resp, nil, true
}

func (r *replication) describeCluster(kreq kmsg.Request) (kmsg.Response, error, bool) {
	req := kreq.(*kmsg.DescribeClusterRequest)
	if marked(req.UnknownTags) {
		return nil, nil, false
	}
	side := *req
	side.UnknownTags = mark()
	kresp, err := r.ask(&side)
	if err != nil {
		return nil, err, true
	}
	resp := kresp.(*kmsg.DescribeClusterResponse)
	r.mu.Lock()
	brokers := resp.Brokers[:0]
	for _, b := range resp.Brokers {
		b.Rack = r.rack(b.NodeID)
		b.IsFenced = r.isDown(b.NodeID)
		// A stopped broker is fenced once its session ends, listed only
		// to who asks for fenced brokers (v2, KIP-1073).
		if !b.IsFenced || req.IncludeFencedBrokers {
			brokers = append(brokers, b)
		}
	}
	resp.Brokers = brokers
	if r.isDown(resp.ControllerID) {
		resp.ControllerID = -1
	}
	r.mu.Unlock()
	resp.Version = req.Version
	return resp, nil, true
}

// findCoordinator moves the coordinators of the keys asked for off stopped
// brokers before kfake answers (coordinator.go).
func (r *replication) findCoordinator(kreq kmsg.Request) (kmsg.Response, error, bool) {
	req := kreq.(*kmsg.FindCoordinatorRequest)
	keys := req.CoordinatorKeys
	if req.Version <= 3 {
		keys = []string{req.CoordinatorKey}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range keys {
		r.coord.remember(k)
	}
	// RehashCoordinators is an atomic add, not an admin call: safe
	// here, and under mu so that kfake's generation follows the
	// model's in order.
	for range r.coord.rehash(keys, r.down) {
		r.kc.RehashCoordinators()
	}
	return nil, nil, false
}

// partView is a partition as the model answers it.
type partView struct {
	replicas, isr, offline []int32
	leads                  bool // kfake's leader is a live replica
}

// partition returns the model's view of a partition for which kfake
// answers replicas and leader; r.mu is held.
func (r *replication) partition(topic string, p int32, replicas []int32, leader int32) partView {
	k := tp{topic, p}
	a, ok := r.assign[k]
	if !ok {
		a = slices.Clone(replicas)
		r.assign[k] = a
	}
	v := partView{replicas: slices.Clone(a), isr: []int32{}, offline: []int32{}}
	for _, n := range a {
		if r.isDown(n) {
			v.offline = append(v.offline, n)
		} else {
			v.isr = append(v.isr, n)
		}
	}
	v.leads = slices.Contains(v.isr, leader)
	return v
}

// learnTopic notes a topic's id: a topic made again under the same name is
// a new topic, its replicas to be learned anew. r.mu is held.
func (r *replication) learnTopic(name string, id [16]byte) {
	if old, ok := r.ids[name]; ok && old == id {
		return
	}
	if _, ok := r.ids[name]; ok {
		r.forgetTopic(name)
	}
	r.ids[name] = id
}

func (r *replication) forgetTopic(name string) {
	delete(r.ids, name)
	for k := range r.assign {
		if k.topic == name {
			delete(r.assign, k)
			delete(r.offline, k)
		}
	}
}

// isDown reports whether node is a stopped broker; r.mu is held.
func (r *replication) isDown(node int32) bool {
	return node >= 0 && int(node) < len(r.down) && r.down[node]
}

// rack is node's rack, nil when the cluster has none.
func (r *replication) rack(node int32) *string {
	if node < 0 || int(node) >= len(r.racks) {
		return nil
	}
	return &r.racks[node]
}

// poke has the keeper refresh soon.
func (r *replication) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// keep refreshes when poked, and every refreshEvery while a broker is
// stopped or the last refresh failed, until close.
func (r *replication) keep() {
	defer close(r.done)
	tick := time.NewTicker(refreshEvery)
	defer tick.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-r.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	failed := false
	for {
		select {
		case <-r.quit:
			return
		case <-r.kick:
		case <-tick.C:
			if !failed && !r.anyDown() {
				continue
			}
		}
		r.ops.Lock()
		err := r.refresh(ctx)
		r.ops.Unlock()
		failed = err != nil
		if failed && ctx.Err() == nil {
			r.log.Warn("the replication model could not bring the cluster in line", "err", err)
		}
	}
}

func (r *replication) anyDown() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.down, true)
}

// liveNode is a broker that runs.
func (r *replication) liveNode() int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return int32(slices.Index(r.down, false))
}

// refresh brings kfake in line with the model: it learns every partition,
// moves each leader that is not a live replica to the first live one,
// refuses acks=all produce under min ISR, and moves coordinators off
// stopped brokers. r.ops is held; never from a control.
func (r *replication) refresh(ctx context.Context) error {
	node := r.liveNode()
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	req.UnknownTags = mark()
	kresp, err := r.side[node].request(ctx, req)
	if err != nil {
		return err
	}
	resp := kresp.(*kmsg.MetadataResponse)

	type move struct {
		tp
		to int32
	}
	var (
		moves  []move
		topics []string
	)
	r.mu.Lock()
	seen := make(map[string]bool, len(resp.Topics))
	for _, t := range resp.Topics {
		if t.ErrorCode != 0 || t.Topic == nil {
			continue
		}
		name := *t.Topic
		r.learnTopic(name, t.TopicID)
		seen[name] = true
		topics = append(topics, name)
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 {
				continue
			}
			k := tp{name, p.Partition}
			v := r.partition(name, p.Partition, p.Replicas, p.Leader)
			switch {
			case len(v.isr) == 0:
				r.offline[k] = true
			case !v.leads || r.offline[k]:
				// An election, also when a partition comes back
				// with the leader it had: the epoch goes up.
				moves = append(moves, move{k, v.isr[0]})
			}
		}
	}
	for name := range r.ids {
		if !seen[name] {
			r.forgetTopic(name)
		}
	}
	r.mu.Unlock()

	var errs []error
	for _, m := range moves {
		if err := r.kc.MoveTopicPartition(m.topic, m.partition, m.to); err != nil {
			errs = append(errs, fmt.Errorf("move the leader of %s/%d to broker %d: %w", m.topic, m.partition, m.to, err))
			continue
		}
		r.mu.Lock()
		delete(r.offline, m.tp)
		r.mu.Unlock()
		r.log.Debug("leader moved", "topic", m.topic, "partition", m.partition, "to", m.to)
	}
	if err := r.refuseUnderMinISR(ctx, node, topics); err != nil {
		errs = append(errs, err)
	}
	r.mu.Lock()
	for range r.coord.rehash(nil, r.down) {
		r.kc.RehashCoordinators()
	}
	r.mu.Unlock()
	return errors.Join(errs...)
}

// refuseUnderMinISR makes the faults that refuse acks=all produce to every
// partition whose ISR is below its topic's effective min.insync.replicas,
// and removes the others. r.ops is held.
func (r *replication) refuseUnderMinISR(ctx context.Context, node int32, topics []string) error {
	want := make(map[string][]int32)
	if r.anyDown() { // else every ISR is whole
		minISR, err := r.minISR(ctx, node, topics)
		if err != nil {
			return err
		}
		r.mu.Lock()
		for k, a := range r.assign {
			m, ok := minISR[k.topic]
			if !ok {
				continue
			}
			live := 0
			for _, n := range a {
				if !r.isDown(n) {
					live++
				}
			}
			// KIP-966: min.insync.replicas above the replication
			// factor counts as the replication factor.
			if live < min(m, len(a)) {
				want[k.topic] = append(want[k.topic], k.partition)
			}
		}
		r.mu.Unlock()
	}
	for topic, parts := range want {
		slices.Sort(parts)
		if f, ok := r.faults[topic]; ok && slices.Equal(f.parts, parts) {
			continue
		}
		old := r.faults[topic]
		// The new fault first: no request slips between the two.
		r.faults[topic] = &topicFault{parts: parts, h: r.kc.Fault(kfake.Fault{
			Keys:       []kmsg.Key{kmsg.Produce},
			Topic:      topic,
			Partitions: parts,
			Err:        kerr.NotEnoughReplicas,
			Count:      -1,
			When:       acksAll,
		})}
		if old != nil {
			old.h.Remove()
		}
		r.log.Info("acks=all produce refused: ISR below min.insync.replicas", "topic", topic, "partitions", fmt.Sprint(parts))
	}
	for topic, f := range r.faults {
		if _, ok := want[topic]; !ok {
			f.h.Remove()
			delete(r.faults, topic)
		}
	}
	return nil
}

// acksAll is the produce requests Kafka holds to min.insync.replicas.
func acksAll(req kmsg.Request) bool {
	p, ok := req.(*kmsg.ProduceRequest)
	return ok && p.Acks == -1
}

// minISR reads each topic's min.insync.replicas, its own or the broker's
// default, from kfake over the side connection: a control cannot ask
// kfake, and the model needs it only when a broker stops.
func (r *replication) minISR(ctx context.Context, node int32, topics []string) (map[string]int, error) {
	out := make(map[string]int, len(topics))
	if len(topics) == 0 {
		return out, nil
	}
	req := kmsg.NewPtrDescribeConfigsRequest()
	for _, t := range topics {
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType = kmsg.ConfigResourceTypeTopic
		rr.ResourceName = t
		rr.ConfigNames = []string{"min.insync.replicas"}
		req.Resources = append(req.Resources, rr)
	}
	kresp, err := r.side[node].request(ctx, req)
	if err != nil {
		return nil, err
	}
	for _, res := range kresp.(*kmsg.DescribeConfigsResponse).Resources {
		if res.ErrorCode != 0 {
			continue // deleted meanwhile
		}
		m := 1 // Kafka's default
		for _, c := range res.Configs {
			if c.Name != "min.insync.replicas" || c.Value == nil {
				continue
			}
			if n, err := strconv.Atoi(*c.Value); err == nil && n > 0 {
				m = n
			}
		}
		out[res.ResourceName] = m
	}
	return out, nil
}

// BrokerState is one broker of a cluster.
type BrokerState struct {
	ID   int32
	Addr string
	// Rack is "" when the cluster gives its brokers none.
	Rack string
	// Up is false while the broker is stopped (StopBroker).
	Up bool
}

// Brokers lists the cluster's brokers, in node order.
func (c *Cluster) Brokers() []BrokerState {
	out := make([]BrokerState, len(c.addrs))
	for i, a := range c.addrs {
		out[i] = BrokerState{ID: int32(i), Addr: a, Up: true}
	}
	if r := c.repl; r != nil {
		r.mu.Lock()
		for i := range out {
			out[i].Up = !r.down[i]
			if i < len(r.racks) {
				out[i].Rack = r.racks[i]
			}
		}
		r.mu.Unlock()
	}
	return out
}

// ErrNoReplication is the error of StopBroker and StartBroker on a cluster
// started without Config.Replication: kfake alone would go on naming a
// stopped broker leader, and clients would wait for it.
var ErrNoReplication = errors.New("the cluster does not model replication (broker.Config.Replication)")

// StopBroker stops broker id as its process would stop: its port refuses
// connections and its connections close; it leaves every ISR, and each
// partition it led gets the first live replica as leader. Produce with
// acks=all to partitions whose ISR falls below min.insync.replicas is
// refused. The last running broker cannot be stopped.
func (c *Cluster) StopBroker(id int32) error {
	r := c.repl
	if r == nil {
		return fmt.Errorf("stop broker %d: %w", id, ErrNoReplication)
	}
	l, err := c.listener(int(id))
	if err != nil {
		return err
	}
	r.ops.Lock()
	defer r.ops.Unlock()
	if r.closed {
		return fmt.Errorf("stop broker %d: the cluster is closed", id)
	}
	r.mu.Lock()
	live := 0
	for _, d := range r.down {
		if !d {
			live++
		}
	}
	switch {
	case r.down[id]:
		r.mu.Unlock()
		return fmt.Errorf("broker %d is stopped already", id)
	case live == 1:
		r.mu.Unlock()
		return fmt.Errorf("broker %d is the last one running: the cluster would stop with it", id)
	}
	r.down[id] = true
	r.mu.Unlock()
	l.stop()
	r.log.Info("broker stopped", "broker", id, "addr", c.addrs[id])

	ctx, cancel := context.WithTimeout(context.Background(), 4*sideTimeout)
	defer cancel()
	if err := r.refresh(ctx); err != nil {
		r.poke()
		return fmt.Errorf("broker %d stopped, but the cluster is not in line yet (it retries): %w", id, err)
	}
	return nil
}

// StartBroker starts a stopped broker again on its port: it rejoins every
// ISR, and partitions left without a live replica get it as leader.
func (c *Cluster) StartBroker(id int32) error {
	r := c.repl
	if r == nil {
		return fmt.Errorf("start broker %d: %w", id, ErrNoReplication)
	}
	l, err := c.listener(int(id))
	if err != nil {
		return err
	}
	r.ops.Lock()
	defer r.ops.Unlock()
	if r.closed {
		return fmt.Errorf("start broker %d: the cluster is closed", id)
	}
	r.mu.Lock()
	up := !r.down[id]
	r.mu.Unlock()
	if up {
		return fmt.Errorf("broker %d is running already", id)
	}
	if err := l.start(); err != nil {
		return fmt.Errorf("start broker %d: listen on %s again: %w", id, c.addrs[id], err)
	}
	r.mu.Lock()
	r.down[id] = false
	r.mu.Unlock()
	r.log.Info("broker started", "broker", id, "addr", c.addrs[id])

	ctx, cancel := context.WithTimeout(context.Background(), 4*sideTimeout)
	defer cancel()
	if err := r.refresh(ctx); err != nil {
		r.poke()
		return fmt.Errorf("broker %d started, but the cluster is not in line yet (it retries): %w", id, err)
	}
	return nil
}
