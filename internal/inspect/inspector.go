package inspect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/kafka"
)

// Inspector polls one cluster. Poll and Run are called from one goroutine
// at a time; Stats from any.
type Inspector struct {
	cfg Config
	cl  *kgo.Client
	log *slog.Logger

	// The rest is owned by Poll. groups are each group as last learned
	// whole (its offsets with when each was first seen), for a poll
	// whose coordinator does not answer; last the last poll any broker
	// answered (its brokers are asked first for Metadata, those that
	// failed it last).
	batches batchCache
	groups  map[string]learned
	last    *Snapshot

	// mu guards stats.
	mu    sync.Mutex
	stats Stats
}

// Stats are the inspector's own health, for /metrics.
type Stats struct {
	Polls uint64
	// LastPoll is when the last poll started, LastSeconds how long it
	// took.
	LastPoll    time.Time
	LastSeconds float64
	// Errors counts the requests each broker did not answer as asked
	// (-1: requests to the cluster as a whole), since start.
	Errors map[int32]uint64
	// Deferred counts record batch lookups left for a later poll
	// (Config.MaxLookups).
	Deferred uint64
}

// New makes an inspector of the cluster cfg names; nothing is sent before
// the first poll.
func New(cfg Config) (*Inspector, error) {
	cfg.defaults()
	opts, err := cfg.opts()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Inspector{cfg: cfg, cl: cl, log: log.With("component", "inspector"), stats: Stats{Errors: map[int32]uint64{}}}, nil
}

// Close ends the inspector's connections.
func (in *Inspector) Close() { in.cl.Close() }

// Stats returns the inspector's counters.
func (in *Inspector) Stats() Stats {
	in.mu.Lock()
	defer in.mu.Unlock()
	s := in.stats
	s.Errors = make(map[int32]uint64, len(in.stats.Errors))
	for k, v := range in.stats.Errors {
		s.Errors[k] = v
	}
	return s
}

// Run polls every interval until ctx ends, handing each snapshot to keep.
// A poll that runs longer than the interval delays the next one: polls
// never overlap.
func (in *Inspector) Run(ctx context.Context, every time.Duration, keep func(Snapshot)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s := in.Poll(ctx)
		if ctx.Err() != nil {
			return
		}
		keep(s)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Poll asks the cluster what it is now. It never fails: what it could not
// learn is left empty (offsets -1) and said in Snapshot.Errors, with the
// broker that did not answer. Each request has its own deadline
// (RequestTimeout), so that one broker that hangs costs a poll a few
// timeouts, not the poll.
func (in *Inspector) Poll(ctx context.Context) Snapshot {
	start := time.Now()
	p := &poll{in: in, s: Snapshot{Time: start, Bootstrap: in.cfg.Brokers, Controller: -1}, versions: map[int32]map[int16]int16{}, groupErr: map[string]groupFault{}}
	if p.metadata(ctx) {
		// What a broker supports decides how groups are asked; the
		// rest can start at once.
		var wg sync.WaitGroup
		wg.Go(func() {
			p.ping(ctx)
			var after sync.WaitGroup
			after.Go(func() { p.groups(ctx) })
			after.Go(func() { p.describeCluster(ctx) })
			after.Go(func() { p.reassignments(ctx) })
			after.Wait()
		})
		for _, step := range []func(context.Context){p.logOffsets, p.configs, p.logDirs} {
			wg.Go(func() { step(ctx) })
		}
		wg.Wait()
		p.lookups(ctx)
		p.mergeBrokers()
		in.track(&p.s)
		in.last = &p.s
	} else if in.last != nil {
		p.asLast()
	}
	p.s.Seconds = time.Since(start).Seconds()
	in.mu.Lock()
	in.stats.Polls++
	in.stats.LastPoll, in.stats.LastSeconds = start, p.s.Seconds
	for _, e := range p.s.Errors {
		in.stats.Errors[e.Broker]++
	}
	in.stats.Deferred += p.deferred
	in.mu.Unlock()
	return p.s
}

// asLast fills a poll no broker answered with the last one's brokers,
// topics and groups, each group saying so: an outage does not empty the
// lag, it makes it ERR.
func (p *poll) asLast() {
	last := p.in.last
	p.s.ClusterID, p.s.Controller, p.s.KRaft, p.s.Topics, p.s.Changes = last.ClusterID, last.Controller, last.KRaft, last.Topics, last.Changes
	// No broker answered kscope: none is known up now.
	for _, b := range last.Brokers {
		if b.State != BrokerMissing {
			b.State, b.Since = BrokerMissing, p.s.Time
		}
		b.LogDirs = nil
		p.s.Brokers = append(p.s.Brokers, b)
	}
	for _, g := range last.Groups {
		if g.AsOf == nil {
			at := last.Time
			g.AsOf = &at
		}
		g.Error = "no broker answered the poll"
		p.s.Groups = append(p.s.Groups, g)
	}
}

// poll is one poll in progress.
type poll struct {
	in *Inspector
	// mu guards s while the steps run concurrently.
	mu       sync.Mutex
	s        Snapshot
	parts    map[tp]*Partition // into s.Topics
	topicIDs map[[16]byte]string
	// versions are each broker's newest version of each API it answers
	// (its ApiVersions answer).
	versions map[int32]map[int16]int16
	deferred uint64
	// groupErr says, by group, what its coordinator did not answer.
	groupErr map[string]groupFault
	// fenced are the brokers DescribeCluster lists fenced, dirs each
	// broker's log directories: merged into s.Brokers once every step
	// is done (mergeBrokers), since the steps read s.Brokers meanwhile.
	fenced []Broker
	dirs   map[int32][]LogDir
}

// tp is a topic partition.
type tp struct {
	topic     string
	partition int32
}

// timeout is ctx with the request deadline.
func (p *poll) timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, p.in.cfg.RequestTimeout)
}

// fail records that broker (-1: the cluster) did not answer request.
func (p *poll) fail(broker int32, request string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	msg := errText(err)
	for _, e := range p.s.Errors {
		if e.Broker == broker && e.Request == request && e.Error == msg {
			return
		}
	}
	p.s.Errors = append(p.s.Errors, Error{Broker: broker, Request: request, Error: msg})
	p.in.log.Debug("poll error", "broker", broker, "request", request, "err", msg)
}

// errText says err as a person reads it: Kafka's error name, a timeout,
// the network's complaint.
func errText(err error) string {
	var ke *kerr.Error
	var ne net.Error
	switch {
	case errors.As(err, &ke):
		return ke.Message
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "no answer within the request timeout"
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		// Brokers hang up on a failed SASL login, and on a client that
		// speaks plain text to a TLS listener.
		return err.Error() + ": the broker closed the connection (check the SASL mechanism, user and password, and --tls)"
	}
	return err.Error()
}

// metadata learns the brokers, topics and partitions; false when no
// broker answered, and nothing else can be asked. Any broker can answer:
// they are asked in turn, those that answered the last poll first.
func (p *poll) metadata(ctx context.Context) bool {
	var brokers []*kgo.Broker
	if last := p.in.last; last != nil {
		for _, silent := range []bool{false, true} {
			for _, b := range last.Brokers {
				failed := !b.Up() || slices.ContainsFunc(last.Errors, func(e Error) bool { return e.Broker == b.ID })
				if failed == silent {
					brokers = append(brokers, p.in.cl.Broker(int(b.ID)))
				}
			}
		}
	}
	brokers = append(brokers, p.in.cl.SeedBrokers()...)
	var resp *kmsg.MetadataResponse
	var last error
	for _, b := range brokers {
		// A new request each time: the client may still be writing
		// the last one to a broker that timed out.
		req := kmsg.NewPtrMetadataRequest()
		req.Topics = nil // every topic
		tctx, cancel := p.timeout(ctx)
		kresp, err := b.Request(tctx, req)
		cancel()
		if err == nil {
			resp = kresp.(*kmsg.MetadataResponse)
			break
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	if resp == nil {
		if last == nil {
			last = errors.New("no broker known")
		}
		p.fail(-1, "Metadata", fmt.Errorf("no broker answered: %w", last))
		return false
	}
	s := &p.s
	if resp.ClusterID != nil {
		s.ClusterID = *resp.ClusterID
	}
	s.Controller = resp.ControllerID
	for _, b := range resp.Brokers {
		br := Broker{ID: b.NodeID, Host: b.Host, Port: b.Port, State: BrokerUp}
		if b.Rack != nil {
			br.Rack = *b.Rack
		}
		s.Brokers = append(s.Brokers, br)
	}
	slices.SortFunc(s.Brokers, func(a, b Broker) int { return int(a.ID - b.ID) })
	p.parts = make(map[tp]*Partition)
	p.topicIDs = make(map[[16]byte]string)
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			p.fail(-1, "Metadata", fmt.Errorf("topic %s: %w", *t.Topic, err))
			continue
		}
		topic := Topic{Name: *t.Topic, Internal: t.IsInternal}
		if t.TopicID != ([16]byte{}) {
			topic.ID = kafka.FormatTopicID(t.TopicID)
			p.topicIDs[t.TopicID] = topic.Name
		}
		for _, pt := range t.Partitions {
			topic.Partitions = append(topic.Partitions, Partition{
				Partition: pt.Partition, Leader: pt.Leader, LeaderEpoch: pt.LeaderEpoch,
				Replicas: pt.Replicas, ISR: pt.ISR, Offline: pt.OfflineReplicas,
				LogStartOffset: -1, HighWatermark: -1, LastStableOffset: -1, SizeBytes: -1,
			})
		}
		slices.SortFunc(topic.Partitions, func(a, b Partition) int { return int(a.Partition - b.Partition) })
		s.Topics = append(s.Topics, topic)
	}
	slices.SortFunc(s.Topics, func(a, b Topic) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	for i := range s.Topics {
		t := &s.Topics[i]
		for j := range t.Partitions {
			p.parts[tp{t.Name, t.Partitions[j].Partition}] = &t.Partitions[j]
		}
	}
	return true
}

// ping asks every broker for its API versions: the cheapest request a
// broker answers, so that one that answers nothing is named as such, and
// what each supports shapes the requests sent to it.
func (p *poll) ping(ctx context.Context) {
	p.eachBroker(ctx, p.brokerIDs(), func(ctx context.Context, id int32) {
		req := kmsg.NewPtrApiVersionsRequest()
		// v3+ brokers refuse an empty software name (KIP-511).
		req.ClientSoftwareName, req.ClientSoftwareVersion = "kscope", "1"
		tctx, cancel := p.timeout(ctx)
		kresp, err := p.in.cl.Broker(int(id)).Request(tctx, req)
		cancel()
		if err == nil {
			err = kerr.ErrorForCode(kresp.(*kmsg.ApiVersionsResponse).ErrorCode)
		}
		if err != nil {
			p.fail(id, "ApiVersions", err)
			return
		}
		av := kresp.(*kmsg.ApiVersionsResponse)
		max := map[int16]int16{}
		for _, k := range av.ApiKeys {
			max[k.ApiKey] = k.MaxVersion
		}
		// Only KRaft brokers finalize metadata.version (KIP-778).
		kraft := slices.ContainsFunc(av.FinalizedFeatures, func(f kmsg.ApiVersionsResponseFinalizedFeature) bool {
			return f.Name == "metadata.version" && f.MaxVersionLevel > 0
		})
		p.mu.Lock()
		p.versions[id] = max
		p.s.KRaft = p.s.KRaft || kraft
		p.mu.Unlock()
	})
}

// brokerIDs are the brokers Metadata listed: those to ask.
func (p *poll) brokerIDs() []int32 {
	ids := make([]int32, 0, len(p.s.Brokers))
	for _, b := range p.s.Brokers {
		if b.Up() {
			ids = append(ids, b.ID)
		}
	}
	return ids
}

// eachBroker runs fn for each broker at once, and returns when all have.
// Each request fn sends has its own deadline (send).
func (p *poll) eachBroker(ctx context.Context, ids []int32, fn func(context.Context, int32)) {
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() { fn(ctx, id) })
	}
	wg.Wait()
}

// request sends req to broker id; a failure is recorded under name.
func (p *poll) request(ctx context.Context, id int32, name string, req kmsg.Request) (kmsg.Response, bool) {
	resp, err := p.send(ctx, id, name, req)
	return resp, err == nil
}

// send sends req to broker id; a failure is recorded under name.
func (p *poll) send(ctx context.Context, id int32, name string, req kmsg.Request) (kmsg.Response, error) {
	ctx, cancel := p.timeout(ctx)
	defer cancel()
	resp, err := p.in.cl.Broker(int(id)).Request(ctx, req)
	if err != nil {
		p.fail(id, name, err)
		return nil, err
	}
	return resp, nil
}

// logOffsets learns each partition's log start, high watermark and last
// stable offset (ListOffsets -2, and -1 read uncommitted and committed),
// from its leader.
func (p *poll) logOffsets(ctx context.Context) {
	byLeader := map[int32][]tp{}
	// The partitions are read field by field: the other steps write
	// theirs meanwhile (under p.mu).
	for ti := range p.s.Topics {
		t := &p.s.Topics[ti]
		for pi := range t.Partitions {
			if pt := &t.Partitions[pi]; pt.Leader >= 0 {
				byLeader[pt.Leader] = append(byLeader[pt.Leader], tp{t.Name, pt.Partition})
			}
		}
	}
	leaders := make([]int32, 0, len(byLeader))
	for id := range byLeader {
		leaders = append(leaders, id)
	}
	p.eachBroker(ctx, leaders, func(ctx context.Context, id int32) {
		for _, q := range []struct {
			ts        int64
			isolation int8
			set       func(*Partition, int64)
		}{
			{-2, 0, func(pt *Partition, o int64) { pt.LogStartOffset = o }},
			{-1, 0, func(pt *Partition, o int64) { pt.HighWatermark = o }},
			{-1, 1, func(pt *Partition, o int64) { pt.LastStableOffset = o }},
		} {
			req := kmsg.NewPtrListOffsetsRequest()
			req.ReplicaID = -1
			req.IsolationLevel = q.isolation
			idx := map[string]int{}
			for _, x := range byLeader[id] {
				i, ok := idx[x.topic]
				if !ok {
					i = len(req.Topics)
					idx[x.topic] = i
					rt := kmsg.NewListOffsetsRequestTopic()
					rt.Topic = x.topic
					req.Topics = append(req.Topics, rt)
				}
				rp := kmsg.NewListOffsetsRequestTopicPartition()
				rp.Partition = x.partition
				rp.CurrentLeaderEpoch = -1
				rp.Timestamp = q.ts
				req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
			}
			kresp, ok := p.request(ctx, id, "ListOffsets", req)
			if !ok {
				return // the leader does not answer: the other two would wait as long
			}
			for _, t := range kresp.(*kmsg.ListOffsetsResponse).Topics {
				for _, rp := range t.Partitions {
					if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
						p.fail(id, "ListOffsets", fmt.Errorf("%s/%d: %w", t.Topic, rp.Partition, err))
						continue
					}
					p.mu.Lock()
					if pt := p.parts[tp{t.Topic, rp.Partition}]; pt != nil {
						q.set(pt, rp.Offset)
					}
					p.mu.Unlock()
				}
			}
		}
	})
}

// Config names read for each topic.
const (
	cfgRetentionMs    = "retention.ms"
	cfgRetentionBytes = "retention.bytes"
	cfgCleanupPolicy  = "cleanup.policy"
	cfgMinISR         = "min.insync.replicas"
)

// configs learns each topic's retention (the effective values: topic
// overrides, else broker settings, else Kafka's defaults).
func (p *poll) configs(ctx context.Context) {
	if len(p.s.Topics) == 0 {
		return
	}
	// A new request for each broker asked: the client may still be
	// writing the last one to a broker that timed out.
	newReq := func() *kmsg.DescribeConfigsRequest {
		req := kmsg.NewPtrDescribeConfigsRequest()
		for _, t := range p.s.Topics {
			r := kmsg.NewDescribeConfigsRequestResource()
			r.ResourceType = kmsg.ConfigResourceTypeTopic
			r.ResourceName = t.Name
			r.ConfigNames = []string{cfgRetentionMs, cfgRetentionBytes, cfgCleanupPolicy, cfgMinISR}
			req.Resources = append(req.Resources, r)
		}
		// Synonyms say where a value comes from on brokers that do not
		// say its source (v0).
		req.IncludeSynonyms = true
		return req
	}
	byName := map[string]*Topic{}
	for i := range p.s.Topics {
		byName[p.s.Topics[i].Name] = &p.s.Topics[i]
	}
	// Any broker answers for topics: the first that does.
	var resp *kmsg.DescribeConfigsResponse
	for _, id := range p.brokerIDs() {
		kresp, ok := p.request(ctx, id, "DescribeConfigs", newReq())
		if ok {
			resp = kresp.(*kmsg.DescribeConfigsResponse)
			break
		}
	}
	if resp == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range resp.Resources {
		t := byName[r.ResourceName]
		if t == nil || r.ErrorCode != 0 {
			continue
		}
		ret := Retention{Known: true, Ms: -1, Bytes: -1}
		for _, c := range r.Configs {
			if c.Value == nil {
				continue
			}
			switch c.Name {
			case cfgRetentionMs:
				ret.Ms, _ = strconv.ParseInt(*c.Value, 10, 64)
				ret.MsSource = sourceOf(c)
			case cfgRetentionBytes:
				ret.Bytes, _ = strconv.ParseInt(*c.Value, 10, 64)
				ret.BytesSource = sourceOf(c)
			case cfgCleanupPolicy:
				ret.CleanupPolicy = *c.Value
			case cfgMinISR:
				n, _ := strconv.Atoi(*c.Value)
				t.MinISR, t.MinISRSource = n, sourceOf(c)
			}
		}
		t.Retention = ret
	}
}

// sourceOf is where c's value comes from: its source, or (brokers that
// do not say it) its first synonym's, the one in effect.
func sourceOf(c kmsg.DescribeConfigsResponseResourceConfig) string {
	if c.Source == kmsg.ConfigSourceUnknown && len(c.ConfigSynonyms) > 0 {
		return ConfigSource(c.ConfigSynonyms[0].Source)
	}
	return ConfigSource(c.Source)
}

// ConfigSource is where a config value comes from, as a person says it:
// "topic", "broker" (a broker's setting, dynamic or static) or "default".
func ConfigSource(s kmsg.ConfigSource) string {
	switch s {
	case kmsg.ConfigSourceDynamicTopicConfig:
		return "topic"
	case kmsg.ConfigSourceDynamicBrokerConfig, kmsg.ConfigSourceDynamicDefaultBrokerConfig, kmsg.ConfigSourceStaticBrokerConfig:
		return "broker"
	}
	return "default"
}

// logDirs learns each broker's log directories, and each partition's
// size on its leader.
func (p *poll) logDirs(ctx context.Context) {
	p.eachBroker(ctx, p.brokerIDs(), func(ctx context.Context, id int32) {
		req := kmsg.NewPtrDescribeLogDirsRequest()
		req.Topics = nil // every partition
		kresp, ok := p.request(ctx, id, "DescribeLogDirs", req)
		if !ok {
			return
		}
		resp := kresp.(*kmsg.DescribeLogDirsResponse)
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			p.fail(id, "DescribeLogDirs", err)
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		var dirs []LogDir
		for _, d := range resp.Dirs {
			dir := LogDir{Dir: d.Dir, TotalBytes: d.TotalBytes, UsableBytes: d.UsableBytes}
			if err := kerr.ErrorForCode(d.ErrorCode); err != nil {
				// The broker's OfflineLogDirectoryCount: a disk it
				// cannot use.
				dir.Error = errText(err)
			}
			for _, t := range d.Topics {
				for _, rp := range t.Partitions {
					if rp.IsFuture {
						continue // a copy being moved here
					}
					dir.Bytes += rp.Size
					dir.Replicas++
					pt := p.parts[tp{t.Topic, rp.Partition}]
					// The leader's copy: followers may lag it.
					if pt != nil && pt.Leader == id {
						pt.SizeBytes = rp.Size
					}
				}
			}
			dirs = append(dirs, dir)
		}
		slices.SortFunc(dirs, func(a, b LogDir) int { return strings.Compare(a.Dir, b.Dir) })
		if p.dirs == nil {
			p.dirs = map[int32][]LogDir{}
		}
		p.dirs[id] = dirs
	})
}

// describeCluster learns the brokers the controller fenced
// (DescribeCluster v2): registered, but not listed by Metadata.
func (p *poll) describeCluster(ctx context.Context) {
	for _, id := range p.brokerIDs() {
		p.mu.Lock()
		v, ok := p.versions[id][int16(kmsg.DescribeCluster)]
		p.mu.Unlock()
		if !ok {
			continue // too old, or did not answer ApiVersions
		}
		req := kmsg.NewPtrDescribeClusterRequest()
		req.IncludeFencedBrokers = v >= 2
		kresp, err := p.send(ctx, id, "DescribeCluster", req)
		if err != nil {
			continue
		}
		resp := kresp.(*kmsg.DescribeClusterResponse)
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			p.fail(id, "DescribeCluster", err)
			return
		}
		var fenced []Broker
		for _, b := range resp.Brokers {
			if b.IsFenced {
				br := Broker{ID: b.NodeID, Host: b.Host, Port: b.Port, State: BrokerFenced}
				if b.Rack != nil {
					br.Rack = *b.Rack
				}
				fenced = append(fenced, br)
			}
		}
		p.mu.Lock()
		p.fenced = fenced
		p.mu.Unlock()
		return
	}
}

// reassignments learns the replicas being added and removed by
// reassignments in progress (KIP-455): a replica being added is not yet
// expected in the ISR. Any broker answers (KRaft brokers forward it to
// the controller); a cluster too old for it has none to say.
func (p *poll) reassignments(ctx context.Context) {
	ids := p.brokerIDs()
	// ZooKeeper clusters answer it on the controller only.
	if i := slices.Index(ids, p.s.Controller); i > 0 {
		ids[0], ids[i] = ids[i], ids[0]
	}
	for _, id := range ids {
		p.mu.Lock()
		_, ok := p.versions[id][int16(kmsg.ListPartitionReassignments)]
		p.mu.Unlock()
		if !ok {
			continue
		}
		req := kmsg.NewPtrListPartitionReassignmentsRequest()
		req.TimeoutMillis = int32(p.in.cfg.RequestTimeout.Milliseconds())
		req.Topics = nil // every reassignment
		kresp, err := p.send(ctx, id, "ListPartitionReassignments", req)
		if err != nil {
			continue
		}
		resp := kresp.(*kmsg.ListPartitionReassignmentsResponse)
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			if errors.Is(err, kerr.NotController) {
				continue
			}
			p.fail(id, "ListPartitionReassignments", err)
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, t := range resp.Topics {
			for _, rp := range t.Partitions {
				if pt := p.parts[tp{t.Topic, rp.Partition}]; pt != nil {
					pt.Adding, pt.Removing = rp.AddingReplicas, rp.RemovingReplicas
				}
			}
		}
		return
	}
}

// mergeBrokers adds what the steps learned of the brokers: the fenced
// ones, and each one's log directories.
func (p *poll) mergeBrokers() {
	for _, f := range p.fenced {
		if !slices.ContainsFunc(p.s.Brokers, func(b Broker) bool { return b.ID == f.ID }) {
			p.s.Brokers = append(p.s.Brokers, f)
		}
	}
	for i := range p.s.Brokers {
		p.s.Brokers[i].LogDirs = p.dirs[p.s.Brokers[i].ID]
	}
	slices.SortFunc(p.s.Brokers, func(a, b Broker) int { return int(a.ID - b.ID) })
}
