package inspect

import (
	"context"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// scenario is what the cluster's controls answer, changed between polls:
// kfake itself keeps every replica in sync, leads with the first one and
// puts every broker in one rack (see ANCHORS.md), so the tests answer
// Metadata, DescribeConfigs and DescribeLogDirs themselves, as Kafka
// would in each state.
type scenario struct {
	mu         sync.Mutex
	controller int32
	brokers    []int32
	racks      map[int32]string
	parts      map[string][]scPart // by topic
	// minISR is each topic's min.insync.replicas and where it is set.
	minISR map[string]scConfig
	// badDir names a broker whose log directory has failed.
	badDir int32
	// addrs are the brokers' real addresses, by id.
	addrs []string
}

type scPart struct {
	leader, epoch int32
	replicas, isr []int32
}

type scConfig struct {
	value  string
	source kmsg.ConfigSource
}

func (sc *scenario) set(fn func()) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	fn()
}

func (sc *scenario) install(c *kfake.Cluster) {
	c.ControlKey(int16(kmsg.Metadata), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		sc.mu.Lock()
		defer sc.mu.Unlock()
		req := kreq.(*kmsg.MetadataRequest)
		resp := req.ResponseKind().(*kmsg.MetadataResponse)
		resp.ControllerID = sc.controller
		for _, id := range sc.brokers {
			b := kmsg.NewMetadataResponseBroker()
			host, port, _ := net.SplitHostPort(sc.addrs[id])
			p, _ := strconv.Atoi(port)
			b.NodeID, b.Host, b.Port = id, host, int32(p)
			if r, ok := sc.racks[id]; ok {
				b.Rack = kmsg.StringPtr(r)
			}
			resp.Brokers = append(resp.Brokers, b)
		}
		for _, name := range slices.Sorted(maps.Keys(sc.parts)) {
			t := kmsg.NewMetadataResponseTopic()
			t.Topic = kmsg.StringPtr(name)
			for i, p := range sc.parts[name] {
				mp := kmsg.NewMetadataResponseTopicPartition()
				mp.Partition, mp.Leader, mp.LeaderEpoch = int32(i), p.leader, p.epoch
				mp.Replicas, mp.ISR = slices.Clone(p.replicas), slices.Clone(p.isr)
				t.Partitions = append(t.Partitions, mp)
			}
			resp.Topics = append(resp.Topics, t)
		}
		return resp, nil, true
	})
	c.ControlKey(int16(kmsg.DescribeConfigs), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		sc.mu.Lock()
		defer sc.mu.Unlock()
		req := kreq.(*kmsg.DescribeConfigsRequest)
		resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
		for _, r := range req.Resources {
			rr := kmsg.NewDescribeConfigsResponseResource()
			rr.ResourceType, rr.ResourceName = r.ResourceType, r.ResourceName
			for _, cf := range []struct {
				name string
				c    scConfig
			}{
				{cfgRetentionMs, scConfig{"604800000", kmsg.ConfigSourceDefaultConfig}},
				{cfgRetentionBytes, scConfig{"-1", kmsg.ConfigSourceDefaultConfig}},
				{cfgCleanupPolicy, scConfig{"delete", kmsg.ConfigSourceDefaultConfig}},
				{cfgMinISR, sc.minISR[r.ResourceName]},
			} {
				rc := kmsg.NewDescribeConfigsResponseResourceConfig()
				rc.Name, rc.Value, rc.Source = cf.name, kmsg.StringPtr(cf.c.value), cf.c.source
				rr.Configs = append(rr.Configs, rc)
			}
			resp.Resources = append(resp.Resources, rr)
		}
		return resp, nil, true
	})
	c.ControlKey(int16(kmsg.DescribeLogDirs), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		sc.mu.Lock()
		defer sc.mu.Unlock()
		resp := kreq.ResponseKind().(*kmsg.DescribeLogDirsResponse)
		d := kmsg.NewDescribeLogDirsResponseDir()
		d.Dir = "/var/lib/kafka/data"
		if c.CurrentNode() == sc.badDir {
			d.ErrorCode = 56 // KAFKA_STORAGE_ERROR
		}
		resp.Dirs = append(resp.Dirs, d)
		return resp, nil, true
	})
}

func (s *Snapshot) broker(id int32) *Broker {
	for i := range s.Brokers {
		if s.Brokers[i].ID == id {
			return &s.Brokers[i]
		}
	}
	return nil
}

func (s *Snapshot) events(kind string) []Event {
	var out []Event
	for _, e := range s.Events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// TestHealthTiersAndEvents: each replication tier as Kafka defines it,
// the KIP-966 effective min ISR, since when each partition is in its
// tier, and the events between polls (ISR shrink and expand, leader
// change, unclean election suspected, broker gone and back, log directory
// offline), with their counts.
func TestHealthTiersAndEvents(t *testing.T) {
	kc, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(3, "orders", "audit"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	sc := &scenario{
		controller: 0, brokers: []int32{0, 1, 2}, racks: map[int32]string{0: "r1", 1: "r1", 2: "r2"}, badDir: -1,
		parts: map[string][]scPart{
			"orders": {
				{leader: 0, epoch: 3, replicas: []int32{0, 1, 2}, isr: []int32{0, 1, 2}},
				{leader: 1, epoch: 3, replicas: []int32{1, 2, 0}, isr: []int32{1, 2, 0}},
				{leader: 2, epoch: 3, replicas: []int32{2, 0, 1}, isr: []int32{2, 0, 1}},
			},
			// RF 2 with min.insync.replicas 3 from the broker: the
			// effective min is 2 (KIP-966), so a full ISR is at it.
			"audit": {
				{leader: 0, epoch: 0, replicas: []int32{0, 1}, isr: []int32{0, 1}},
				{leader: 1, epoch: 0, replicas: []int32{1, 2}, isr: []int32{1, 2}},
				{leader: 2, epoch: 0, replicas: []int32{2, 0}, isr: []int32{2, 0}},
			},
		},
		minISR: map[string]scConfig{
			"orders": {"2", kmsg.ConfigSourceDynamicTopicConfig},
			"audit":  {"3", kmsg.ConfigSourceStaticBrokerConfig},
		},
	}
	sc.addrs = kc.ListenAddrs()
	sc.install(kc)
	in, err := New(Config{Brokers: kc.ListenAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	ctx := context.Background()

	s1 := in.Poll(ctx)
	orders := s1.topic("orders")
	if orders == nil || orders.MinISR != 2 || orders.MinISRSource != "topic" {
		t.Fatalf("orders' min.insync.replicas: %+v", orders)
	}
	if a := s1.topic("audit"); a.MinISR != 3 || a.MinISRSource != "broker" || a.EffectiveMinISR(&a.Partitions[0]) != 2 {
		t.Fatalf("audit's min.insync.replicas: %d from %s, effective %d", a.MinISR, a.MinISRSource, a.EffectiveMinISR(&a.Partitions[0]))
	}
	for _, c := range []struct {
		topic string
		p     int32
		tier  string
	}{{"orders", 0, TierOK}, {"orders", 2, TierOK}, {"audit", 0, TierAtMinISR}, {"audit", 2, TierAtMinISR}} {
		if p := s1.partition(c.topic, c.p); p.Tier != c.tier || !p.TierSince.Equal(s1.Time) {
			t.Errorf("poll 1: %s/%d is %s since %v, want %s since the poll", c.topic, c.p, p.Tier, p.TierSince, c.tier)
		}
	}
	if len(s1.Events) != 0 {
		t.Errorf("a first poll has nothing to compare with, got events %+v", s1.Events)
	}
	if b := s1.broker(2); b == nil || b.Rack != "r2" || !b.Up() {
		t.Fatalf("broker 2: %+v", b)
	}

	// Poll 2: broker 2 leaves the ISR of orders/0 (under-replicated and
	// at min ISR), orders/1 loses its leader (offline), orders/2 is left
	// with its leader alone (under min ISR); broker 1's disk fails.
	sc.set(func() {
		o := sc.parts["orders"]
		o[0].isr = []int32{0, 1}
		o[1].leader, o[1].isr = -1, []int32{1}
		o[2].isr = []int32{2}
		sc.badDir = 1
	})
	s2 := in.Poll(ctx)
	for _, c := range []struct {
		p     int32
		tier  string
		holds []string
	}{
		{0, TierAtMinISR, []string{TierUnderReplicated, TierAtMinISR}},
		{1, TierOffline, []string{TierOffline}},
		{2, TierUnderMinISR, []string{TierUnderReplicated, TierUnderMinISR}},
	} {
		p := s2.partition("orders", c.p)
		if p.Tier != c.tier || !p.TierSince.Equal(s2.Time) {
			t.Errorf("poll 2: orders/%d is %s since %v, want %s since poll 2", c.p, p.Tier, p.TierSince, c.tier)
		}
		for _, tier := range Tiers {
			if InTier(s2.topic("orders"), p, tier) != slices.Contains(c.holds, tier) {
				t.Errorf("poll 2: orders/%d in %s: %v, want it in %v only", c.p, tier, !slices.Contains(c.holds, tier), c.holds)
			}
		}
	}
	if m := s2.partition("orders", 0).Missing(); !slices.Equal(m, []int32{2}) {
		t.Errorf("orders/0 misses %v, want [2]", m)
	}
	if p := s2.partition("audit", 0); p.Tier != TierAtMinISR || !p.TierSince.Equal(s1.Time) {
		t.Errorf("audit/0 stayed at min ISR: %s since %v, want since poll 1", p.Tier, p.TierSince)
	}
	if sh := s2.events(EventISRShrink); len(sh) != 3 || !slices.Equal(sh[0].Brokers, []int32{2}) || sh[0].Partition != 0 {
		t.Errorf("ISR shrinks: %+v", sh)
	}
	// orders/0 lost 2; orders/1 lost 2 and 0; orders/2 lost 0 and 1.
	if n := s2.Changes.ISRShrinks[2]; n != 2 {
		t.Errorf("broker 2 left %d ISRs, want 2", n)
	}
	if n := s2.Changes.ISRShrinks[0]; n != 2 {
		t.Errorf("broker 0 left %d ISRs, want 2", n)
	}
	if b := s2.broker(1); len(b.LogDirs) != 1 || b.LogDirs[0].Error == "" {
		t.Errorf("broker 1's failed log directory: %+v", b.LogDirs)
	}
	if e := s2.events(EventLogDirOffline); len(e) != 1 || e[0].Broker != 1 {
		t.Errorf("log dir offline events: %+v", e)
	}
	if e := s2.events(EventTier); len(e) != 3 {
		t.Errorf("tier changes: %+v", e)
	}

	// Poll 3: broker 0 is gone from the cluster (still a replica);
	// orders/1 is led by broker 2, which was not in its last ISR [1]
	// (unclean); orders/0's ISR is whole again.
	sc.set(func() {
		sc.brokers = []int32{1, 2}
		o := sc.parts["orders"]
		o[0].isr = []int32{0, 1, 2}
		o[1].leader, o[1].epoch, o[1].isr = 2, 5, []int32{2}
		sc.badDir = -1
	})
	s3 := in.Poll(ctx)
	if b := s3.broker(0); b == nil || b.State != BrokerMissing || !b.Since.Equal(s3.Time) || b.Rack != "r1" {
		t.Errorf("broker 0 should be missing since poll 3, as it was known: %+v", b)
	}
	if e := s3.events(EventBrokerGone); len(e) != 1 || e[0].Broker != 0 {
		t.Errorf("broker gone: %+v", e)
	}
	if e := s3.events(EventUnclean); len(e) != 1 || e[0].Partition != 1 || e[0].Broker != 2 {
		t.Errorf("unclean election: %+v", e)
	}
	if s3.Changes.UncleanSuspected != 1 || s3.Changes.LeaderElections[2] != 2 || s3.Changes.LeaderElectionsByTopic["orders"] != 2 {
		t.Errorf("changes: %+v", s3.Changes)
	}
	// orders/0 gets 2 back; orders/1's ISR becomes its new leader.
	if e := s3.events(EventISRExpand); len(e) != 2 || e[0].Partition != 0 || !slices.Equal(e[0].Brokers, []int32{2}) {
		t.Errorf("ISR expand: %+v", e)
	}
	if p := s3.partition("orders", 0); p.Tier != TierOK || !p.TierSince.Equal(s3.Time) {
		t.Errorf("orders/0 back in sync: %s since %v", p.Tier, p.TierSince)
	}
	if e := s3.events(EventLogDirOnline); len(e) != 1 {
		t.Errorf("log dir back online: %+v", e)
	}

	// Poll 4: broker 0 is back.
	sc.set(func() { sc.brokers = []int32{0, 1, 2} })
	s4 := in.Poll(ctx)
	if e := s4.events(EventBrokerBack); len(e) != 1 || e[0].Broker != 0 || !s4.broker(0).Up() {
		t.Errorf("broker back: %+v", e)
	}
	// The counts go on from where they were, and the snapshots already
	// handed out are not changed.
	if s4.Changes.UncleanSuspected != 1 || s2.Changes.UncleanSuspected != 0 {
		t.Errorf("unclean counts: poll 2 %d, poll 4 %d", s2.Changes.UncleanSuspected, s4.Changes.UncleanSuspected)
	}
}

func (s *Snapshot) topic(name string) *Topic {
	for i := range s.Topics {
		if s.Topics[i].Name == name {
			return &s.Topics[i]
		}
	}
	return nil
}

// TestHealthFencedAndReassigning: a broker the controller fenced is
// listed as such (DescribeCluster v2), not as missing; a replica that a
// reassignment is adding does not make its partition under-replicated,
// as Kafka counts it.
func TestHealthFencedAndReassigning(t *testing.T) {
	kc, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(1, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	sc := &scenario{
		brokers: []int32{0, 1}, racks: map[int32]string{}, badDir: -1, addrs: kc.ListenAddrs(),
		parts:  map[string][]scPart{"orders": {{leader: 0, epoch: 1, replicas: []int32{0, 1, 2}, isr: []int32{0, 1}}}},
		minISR: map[string]scConfig{"orders": {"1", kmsg.ConfigSourceDefaultConfig}},
	}
	sc.install(kc)
	kc.ControlKey(int16(kmsg.DescribeCluster), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		req := kreq.(*kmsg.DescribeClusterRequest)
		resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
		for _, id := range []int32{0, 1, 2} {
			b := kmsg.NewDescribeClusterResponseBroker()
			b.NodeID, b.Host, b.Port = id, "127.0.0.1", 9092
			b.IsFenced = id == 2
			if !b.IsFenced || req.IncludeFencedBrokers {
				resp.Brokers = append(resp.Brokers, b)
			}
		}
		return resp, nil, true
	})
	adding := false
	kc.ControlKey(int16(kmsg.ListPartitionReassignments), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		resp := kreq.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
		sc.mu.Lock()
		defer sc.mu.Unlock()
		if adding {
			rt := kmsg.NewListPartitionReassignmentsResponseTopic()
			rt.Topic = "orders"
			rp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
			rp.Partition, rp.Replicas, rp.AddingReplicas = 0, []int32{0, 1, 2}, []int32{2}
			rt.Partitions = append(rt.Partitions, rp)
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
	in, err := New(Config{Brokers: kc.ListenAddrs()[:2]})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	s := in.Poll(context.Background())
	if b := s.broker(2); b == nil || b.State != BrokerFenced {
		t.Fatalf("broker 2 is fenced: %+v", b)
	}
	if p := s.partition("orders", 0); p.Tier != TierUnderReplicated || !slices.Equal(p.Missing(), []int32{2}) {
		t.Errorf("orders/0 without its reassignment: %s, missing %v", p.Tier, p.Missing())
	}
	sc.set(func() { adding = true })
	s = in.Poll(context.Background())
	if p := s.partition("orders", 0); p.Tier != TierOK || !slices.Equal(p.Adding, []int32{2}) || len(p.Missing()) != 0 {
		t.Errorf("orders/0 while 2 is being added: %s, adding %v, missing %v", p.Tier, p.Adding, p.Missing())
	}
}
