package broker

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// racks3 puts brokers 0 and 1 in one rack, 2 in another.
var racks3 = []string{"rack-a", "rack-a", "rack-b"}

// eventually retries check until it returns nil or d passes.
func eventually(t *testing.T, d time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// metadata asks through cl, as a client's own refresh does.
func metadata(ctx context.Context, cl *kgo.Client, topics ...string) (*kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	return req.RequestWith(ctx, cl)
}

func brokerIDs(resp *kmsg.MetadataResponse) []int32 {
	var ids []int32
	for _, b := range resp.Brokers {
		ids = append(ids, b.NodeID)
	}
	slices.Sort(ids)
	return ids
}

func without(ns []int32, down []int32) []int32 {
	var out []int32
	for _, n := range ns {
		if !slices.Contains(down, n) {
			out = append(out, n)
		}
	}
	return out
}

// A broker stops and starts as in a real cluster: it leaves the broker
// list and every ISR, leaders move to live replicas with higher epochs, the
// replicas stay; acks=all producers go on while min.insync.replicas holds
// and are refused with NOT_ENOUGH_REPLICAS once it does not; started
// again, the brokers rejoin every ISR.
func TestReplicationStopStart(t *testing.T) {
	c := startCluster(t, Config{Brokers: 3, Replication: true, Racks: racks3})
	ctx := context.Background()
	const topic = "order"
	if err := c.CreateTopic(ctx, topic, 6, 3, "min.insync.replicas=2"); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, c)
	// The service's producer: acks=all and idempotent, franz-go's
	// defaults; it gives a record up after a few tries, so that a refusal
	// comes back as an error, and it may refresh its metadata every
	// 250ms rather than 5s, so that the test is quick.
	producer := newClient(t, c, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RecordRetries(3), kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }),
		kgo.MetadataMinAge(250*time.Millisecond))

	first, err := metadata(ctx, cl, topic)
	if err != nil {
		t.Fatal(err)
	}
	replicas := map[int32][]int32{}
	leaders := map[int32]int32{}
	epochs := map[int32]int32{}
	for _, p := range first.Topics[0].Partitions {
		replicas[p.Partition] = p.Replicas
		leaders[p.Partition], epochs[p.Partition] = p.Leader, p.LeaderEpoch
		if len(p.Replicas) != 3 || p.Replicas[0] != p.Leader {
			t.Fatalf("partition %d: replicas %v, leader %d: want 3, the leader first", p.Partition, p.Replicas, p.Leader)
		}
	}

	produceAll := func() error {
		pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		var rs []*kgo.Record
		for p := range int32(6) {
			rs = append(rs, &kgo.Record{Partition: p, Value: []byte("order")})
		}
		return producer.ProduceSync(pctx, rs...).FirstErr()
	}

	for _, step := range []struct {
		name      string
		do        func() error
		down      []int32
		refused   bool // acks=all produce: NOT_ENOUGH_REPLICAS
		underMin  bool
		wantFence []int32 // DescribeCluster v2 IncludeFencedBrokers
	}{
		{name: "all up", do: func() error { return nil }},
		{name: "broker 1 stops", do: func() error { return c.StopBroker(1) }, down: []int32{1}, wantFence: []int32{1}},
		{name: "broker 2 stops too", do: func() error { return c.StopBroker(2) }, down: []int32{1, 2}, refused: true, wantFence: []int32{1, 2}},
		{name: "both start", do: func() error {
			return errors.Join(c.StartBroker(1), c.StartBroker(2))
		}},
	} {
		t.Run(step.name, func(t *testing.T) {
			if err := step.do(); err != nil {
				t.Fatal(err)
			}
			live := without([]int32{0, 1, 2}, step.down)

			// Metadata, as a client asks for it.
			resp, err := metadata(ctx, cl, topic)
			if err != nil {
				t.Fatal(err)
			}
			if got := brokerIDs(resp); !slices.Equal(got, live) {
				t.Errorf("brokers %v, want %v", got, live)
			}
			for _, b := range resp.Brokers {
				if b.Rack == nil || *b.Rack != racks3[b.NodeID] {
					t.Errorf("broker %d: rack %v, want %s", b.NodeID, b.Rack, racks3[b.NodeID])
				}
			}
			for _, p := range resp.Topics[0].Partitions {
				want := replicas[p.Partition]
				if !slices.Equal(p.Replicas, want) {
					t.Errorf("partition %d: replicas %v, want them unchanged: %v", p.Partition, p.Replicas, want)
				}
				if isr := without(want, step.down); !slices.Equal(p.ISR, isr) {
					t.Errorf("partition %d: ISR %v, want %v", p.Partition, p.ISR, isr)
				}
				if !slices.Equal(p.OfflineReplicas, without(want, live)) {
					t.Errorf("partition %d: offline replicas %v, want %v", p.Partition, p.OfflineReplicas, step.down)
				}
				if p.ErrorCode != 0 || !slices.Contains(p.ISR, p.Leader) {
					t.Errorf("partition %d: leader %d (error %d), not in the ISR %v", p.Partition, p.Leader, p.ErrorCode, p.ISR)
				}
				moved := p.Leader != leaders[p.Partition]
				if moved && p.LeaderEpoch <= epochs[p.Partition] || p.LeaderEpoch < epochs[p.Partition] {
					t.Errorf("partition %d: leader %d -> %d, epoch %d -> %d", p.Partition, leaders[p.Partition], p.Leader, epochs[p.Partition], p.LeaderEpoch)
				}
				if slices.Contains(step.down, leaders[p.Partition]) && !moved {
					t.Errorf("partition %d: its leader %d stopped and it did not move", p.Partition, p.Leader)
				}
				leaders[p.Partition], epochs[p.Partition] = p.Leader, p.LeaderEpoch
			}

			// A stopped broker's port refuses connections; a running
			// one accepts them.
			for id, addr := range c.Addrs() {
				conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
				if conn != nil {
					conn.Close()
				}
				if slices.Contains(step.down, int32(id)) != errors.Is(err, syscall.ECONNREFUSED) {
					t.Errorf("broker %d (down %v): dial: %v", id, step.down, err)
				}
			}

			// DescribeCluster: racks; the stopped brokers only to who
			// asks for the fenced ones, and fenced.
			for _, fenced := range []bool{false, true} {
				req := kmsg.NewPtrDescribeClusterRequest()
				req.IncludeFencedBrokers = fenced
				dc, err := req.RequestWith(ctx, cl)
				if err != nil {
					t.Fatal(err)
				}
				var ids, fencedIDs []int32
				for _, b := range dc.Brokers {
					ids = append(ids, b.NodeID)
					if b.IsFenced {
						fencedIDs = append(fencedIDs, b.NodeID)
					}
					if b.Rack == nil || *b.Rack != racks3[b.NodeID] {
						t.Errorf("DescribeCluster: broker %d: rack %v", b.NodeID, b.Rack)
					}
				}
				slices.Sort(ids)
				wantIDs := live
				if fenced {
					wantIDs = []int32{0, 1, 2}
				}
				if !slices.Equal(ids, wantIDs) || fenced && !slices.Equal(fencedIDs, step.wantFence) || !fenced && len(fencedIDs) > 0 {
					t.Errorf("DescribeCluster (fenced %v): brokers %v, fenced %v; want %v, fenced %v", fenced, ids, fencedIDs, wantIDs, step.wantFence)
				}
			}

			err = produceAll()
			switch {
			case step.refused && !errors.Is(err, kerr.NotEnoughReplicas):
				t.Errorf("produce with %d of 3 brokers: %v, want NOT_ENOUGH_REPLICAS", len(live), err)
			case !step.refused && err != nil:
				t.Errorf("produce: %v", err)
			}

			states := c.Brokers()
			for _, b := range states {
				if b.Up == slices.Contains(step.down, b.ID) || b.Rack != racks3[b.ID] || b.Addr != c.Addrs()[b.ID] {
					t.Errorf("Brokers(): %+v (down %v)", b, step.down)
				}
			}
		})
	}
}

// A request that mixes partitions under min.insync.replicas and others is
// answered partition by partition, as Kafka does: those under refused,
// the others appended.
func TestReplicationProduceMixed(t *testing.T) {
	c := startCluster(t, Config{Brokers: 3, Replication: true})
	ctx := context.Background()
	if err := c.CreateTopic(ctx, "strict", 1, 3, "min.insync.replicas=3"); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateTopic(ctx, "lax", 1, 3); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, c)
	if _, err := metadata(ctx, cl, "strict", "lax"); err != nil { // the model learns them
		t.Fatal(err)
	}
	if err := c.StopBroker(0); err != nil {
		t.Fatal(err)
	}
	resp, err := metadata(ctx, cl, "strict", "lax")
	if err != nil {
		t.Fatal(err)
	}
	leaders := map[string]int32{}
	for _, tp := range resp.Topics {
		leaders[*tp.Topic] = tp.Partitions[0].Leader
	}
	if leaders["strict"] != leaders["lax"] {
		// One request goes to one broker: lead both from the same.
		if err := c.kc.MoveTopicPartition("lax", 0, leaders["strict"]); err != nil {
			t.Fatal(err)
		}
	}

	for _, tt := range []struct {
		acks int16
		want map[string]int16
	}{
		{-1, map[string]int16{"strict": kerr.NotEnoughReplicas.Code, "lax": 0}},
		{1, map[string]int16{"strict": 0, "lax": 0}},
	} {
		t.Run(fmt.Sprintf("acks=%d", tt.acks), func(t *testing.T) {
			req := kmsg.NewPtrProduceRequest()
			req.Version, req.Acks, req.TimeoutMillis = 7, tt.acks, 5000
			for _, name := range []string{"strict", "lax"} {
				rt := kmsg.NewProduceRequestTopic()
				rt.Topic = name
				rp := kmsg.NewProduceRequestTopicPartition()
				rp.Records = oneRecordBatch([]byte("x"))
				rt.Partitions = append(rt.Partitions, rp)
				req.Topics = append(req.Topics, rt)
			}
			pr := kmsg.NewPtrProduceResponse()
			pr.Version = req.Version
			if err := dialRaw(t, c.Addrs()[leaders["strict"]]).roundTrip(req, pr); err != nil {
				t.Fatal(err)
			}
			got := map[string]int16{}
			for _, rt := range pr.Topics {
				got[rt.Topic] = rt.Partitions[0].ErrorCode
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("error codes %v, want %v", got, tt.want)
			}
		})
	}
}

// oneRecordBatch is a v2 record batch of one record, as a client sends it.
func oneRecordBatch(value []byte) []byte {
	r := kmsg.Record{Value: value}
	r.Length = int32(len(r.AppendTo(nil)) - 1)
	now := time.Now().UnixMilli()
	b := kmsg.RecordBatch{
		Magic: 2, FirstTimestamp: now, MaxTimestamp: now,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, PartitionLeaderEpoch: -1,
		NumRecords: 1, Records: r.AppendTo(nil),
	}
	raw := b.AppendTo(nil)
	b.Length = int32(len(raw) - 12)
	b.CRC = int32(crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b.AppendTo(nil)
}

// A partition whose only replica stops is offline: no leader, an empty
// ISR. It comes back with its broker, under a new epoch.
func TestReplicationOffline(t *testing.T) {
	c := startCluster(t, Config{Brokers: 3, Replication: true})
	ctx := context.Background()
	if err := c.CreateTopic(ctx, "solo", 1, 1); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, c)
	resp, err := metadata(ctx, cl, "solo")
	if err != nil {
		t.Fatal(err)
	}
	p := resp.Topics[0].Partitions[0]
	host, epoch := p.Leader, p.LeaderEpoch
	if err := c.StopBroker(host); err != nil {
		t.Fatal(err)
	}
	resp, err = metadata(ctx, cl, "solo")
	if err != nil {
		t.Fatal(err)
	}
	p = resp.Topics[0].Partitions[0]
	if p.Leader != -1 || p.ErrorCode != kerr.LeaderNotAvailable.Code || len(p.ISR) != 0 || !slices.Equal(p.Replicas, []int32{host}) || !slices.Equal(p.OfflineReplicas, []int32{host}) {
		t.Errorf("offline partition: %+v", p)
	}
	if err := c.StartBroker(host); err != nil {
		t.Fatal(err)
	}
	resp, err = metadata(ctx, cl, "solo")
	if err != nil {
		t.Fatal(err)
	}
	p = resp.Topics[0].Partitions[0]
	if p.Leader != host || p.ErrorCode != 0 || !slices.Equal(p.ISR, []int32{host}) || p.LeaderEpoch <= epoch {
		t.Errorf("back: leader %d, error %d, ISR %v, epoch %d (was %d)", p.Leader, p.ErrorCode, p.ISR, p.LeaderEpoch, epoch)
	}
}

// A consumer group goes on when its coordinator's broker stops: the
// coordinator moves to a live broker, as it moves with __consumer_offsets
// leadership in Kafka, and the group keeps its members and offsets.
func TestReplicationGroupCoordinatorStops(t *testing.T) {
	c := startCluster(t, Config{Brokers: 3, Replication: true})
	ctx := context.Background()
	const topic, group = "events", "billing"
	if err := c.CreateTopic(ctx, topic, 3, 3); err != nil {
		t.Fatal(err)
	}
	// Metadata refreshed every 250ms at most rather than 5s: quicker
	// to find the new leaders.
	quick := kgo.MetadataMinAge(250 * time.Millisecond)
	producer := newClient(t, c, kgo.DefaultProduceTopic(topic), quick)
	consumer := newClient(t, c, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), quick,
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.AutoCommitInterval(500*time.Millisecond))
	admin := newClient(t, c)

	produce := func(tag string, n int) {
		t.Helper()
		pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		for i := range n {
			if err := producer.ProduceSync(pctx, &kgo.Record{Value: fmt.Appendf(nil, "%s-%d", tag, i)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	consume := func(tag string, n int) {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		seen := map[string]bool{}
		for len(seen) < n {
			fs := consumer.PollFetches(cctx)
			if cctx.Err() != nil {
				t.Fatalf("%d of %d %s records consumed", len(seen), n, tag)
			}
			fs.EachRecord(func(r *kgo.Record) {
				if strings.HasPrefix(string(r.Value), tag+"-") {
					seen[string(r.Value)] = true
				}
			})
		}
	}
	coordinator := func() int32 {
		t.Helper()
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKey = group
		req.CoordinatorKeys = []string{group}
		resp, err := req.RequestWith(ctx, admin)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Coordinators) == 1 {
			return resp.Coordinators[0].NodeID
		}
		return resp.NodeID
	}

	produce("before", 20)
	consume("before", 20)
	was := coordinator()
	if err := c.StopBroker(was); err != nil {
		t.Fatal(err)
	}
	if now := coordinator(); now == was {
		t.Fatalf("the coordinator is still stopped broker %d", was)
	}
	produce("after", 20)
	consume("after", 20)
	// The client may still hold the stopped broker as the coordinator:
	// its first commit can fail to dial it, and the next asks for the
	// coordinator anew, as an application's retry would.
	eventually(t, 10*time.Second, func() error {
		if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
			return fmt.Errorf("commit through the new coordinator: %w", err)
		}
		return nil
	})
	// The group is still one member, stable, at its coordinator.
	eventually(t, 10*time.Second, func() error {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = []string{group}
		resp, err := req.RequestWith(ctx, admin)
		if err != nil || len(resp.Groups) != 1 {
			return fmt.Errorf("describe group: %v", err)
		}
		if g := resp.Groups[0]; g.ErrorCode != 0 || g.State != "Stable" || len(g.Members) != 1 {
			return fmt.Errorf("group after the stop: error %d, %s, %d members", g.ErrorCode, g.State, len(g.Members))
		}
		return nil
	})
}

// The model's hash is kfake's: coordinators are where the model thinks.
func TestCoordinatorOf(t *testing.T) {
	c := startCluster(t, Config{Brokers: 3})
	for gen := uint64(0); gen < 5; gen++ {
		for _, key := range []string{"shipping", "invoicing", "g-1", "g-2", "txn"} {
			if got, want := c.kc.CoordinatorFor(key), coordinatorOf(gen, key, 3); got != want {
				t.Errorf("generation %d, %q: kfake %d, model %d", gen, key, got, want)
			}
		}
		c.kc.RehashCoordinators()
	}
}

func TestCoordinatorRehash(t *testing.T) {
	for _, tt := range []struct {
		name string
		down []bool
		keys []string
	}{
		{"one of three down", []bool{false, true, false}, []string{"a"}},
		{"two of three down", []bool{true, false, true}, []string{"a", "b"}},
		{"the remembered ones", []bool{false, false, true}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var cs coordinators
			for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
				cs.remember(k)
			}
			// Look for a generation that puts a key on a down broker.
			for !slices.ContainsFunc(append(tt.keys, "a", "b", "c", "d", "e", "f"), func(k string) bool { return tt.down[coordinatorOf(cs.gen, k, 3)] }) {
				cs.gen++
			}
			was := cs.gen
			steps := cs.rehash(tt.keys, tt.down)
			if cs.gen != was+steps {
				t.Fatalf("gen %d after %d steps from %d", cs.gen, steps, was)
			}
			for _, k := range tt.keys {
				if tt.down[coordinatorOf(cs.gen, k, 3)] {
					t.Errorf("%q still on a down broker after %d steps", k, steps)
				}
			}
			if tt.keys == nil && steps == 0 {
				t.Errorf("no move for the remembered keys")
			}
		})
	}
	var cs coordinators
	for i := range maxCoordinatorKeys + 10 {
		cs.remember(fmt.Sprint("k", i))
	}
	if len(cs.keys) != maxCoordinatorKeys || cs.keys["k0"] != 0 {
		t.Errorf("remembers %d keys, k0 at %d", len(cs.keys), cs.keys["k0"])
	}
}

func TestStopBrokerRefused(t *testing.T) {
	plain := startCluster(t, Config{Brokers: 2})
	c := startCluster(t, Config{Brokers: 2, Replication: true})
	if err := c.StopBroker(0); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"no model", plain.StopBroker(0), "does not model replication"},
		{"no such broker", c.StopBroker(2), "brokers 0 to 1"},
		{"negative", c.StopBroker(-1), "brokers 0 to 1"},
		{"stopped already", c.StopBroker(0), "stopped already"},
		{"the last", c.StopBroker(1), "last one running"},
		{"running already", c.StartBroker(1), "running already"},
		{"no model start", plain.StartBroker(1), "does not model replication"},
	} {
		if tt.err == nil || !strings.Contains(tt.err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, tt.err, tt.want)
		}
	}
}

func TestReplicationConfigRefused(t *testing.T) {
	for _, cfg := range []Config{
		{Brokers: 3, Racks: racks3},
		{Brokers: 2, Replication: true, Racks: racks3},
		{Brokers: 1, Replication: true, SASLUser: testUser, SASLPassword: testPassword},
	} {
		if c, err := StartCluster(context.Background(), cfg); err == nil {
			c.Close()
			t.Errorf("StartCluster(%+v) succeeded, want an error", cfg)
		}
	}
}

// Old clients ask Metadata at old versions: the model answers them at
// theirs.
func TestReplicationMetadataOldVersion(t *testing.T) {
	c := startCluster(t, Config{Brokers: 3, Replication: true, Racks: racks3, Topics: []string{"t"}})
	if err := c.StopBroker(2); err != nil {
		t.Fatal(err)
	}
	for _, v := range []int16{1, 5, 9, 12} {
		req := kmsg.NewPtrMetadataRequest()
		req.Version = v
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr("t")
		req.Topics = append(req.Topics, rt)
		resp := kmsg.NewPtrMetadataResponse()
		resp.Version = v
		if err := dialRaw(t, c.Addrs()[0]).roundTrip(req, resp); err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		if got := brokerIDs(resp); !slices.Equal(got, []int32{0, 1}) || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 3 {
			t.Errorf("v%d: brokers %v, topics %+v", v, got, resp.Topics)
		}
		for _, p := range resp.Topics[0].Partitions {
			if slices.Contains(p.ISR, 2) {
				t.Errorf("v%d: partition %d: ISR %v", v, p.Partition, p.ISR)
			}
		}
	}
}

// Many clients asking at once while brokers stop and start: every answer
// comes (controls sleep while kfake answers their side requests), and
// the model's controls survive replacing themselves. A request in flight
// to a broker that stops fails, as it would with a real one; none hangs.
func TestReplicationBusy(t *testing.T) {
	// Restored after the cluster closes (cleanups run last first): its
	// controls read it.
	n := renewControlEvery
	t.Cleanup(func() { renewControlEvery = n })
	renewControlEvery = 7
	c := startCluster(t, Config{Brokers: 3, Replication: true, Topics: []string{"busy"}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errs := make(chan error, 8)
	for range 8 {
		cl := newClient(t, c)
		go func() {
			for ctx.Err() == nil {
				rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
				_, err := metadata(rctx, cl, "busy")
				rcancel()
				if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for i := range 6 {
		id := int32(i % 3)
		if err := c.StopBroker(id); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		if err := c.StartBroker(id); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	for range 8 {
		if err := <-errs; err != nil {
			t.Errorf("a client's metadata: %v", err)
		}
	}
	resp, err := metadata(context.Background(), newClient(t, c), "busy")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range resp.Topics[0].Partitions {
		if len(p.ISR) != 3 || p.ErrorCode != 0 {
			t.Errorf("partition %d after: ISR %v, error %d", p.Partition, p.ISR, p.ErrorCode)
		}
	}
}

// A consumer that read a partition to its end goes on where it was when
// the leader moves before anything else is appended: the epoch it read
// ends at the log end. kfake alone answers that it does not know where
// the epoch ended, and franz-go would read the partition again from its
// start.
func TestReplicationEpochEndAfterMove(t *testing.T) {
	c := startCluster(t, Config{Brokers: 3, Replication: true})
	ctx := context.Background()
	const topic = "moves"
	if err := c.CreateTopic(ctx, topic, 1, 3); err != nil {
		t.Fatal(err)
	}
	quick := kgo.MetadataMinAge(100 * time.Millisecond)
	producer := newClient(t, c, kgo.DefaultProduceTopic(topic), quick)
	consumer := newClient(t, c, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), quick)
	produce := func(n int) {
		t.Helper()
		for range n {
			if err := producer.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// consume polls for d and returns the offsets it got.
	consume := func(d time.Duration) []int64 {
		t.Helper()
		pctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		var got []int64
		for pctx.Err() == nil {
			fs := consumer.PollFetches(pctx)
			fs.EachError(func(_ string, _ int32, err error) {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("fetch: %v", err)
				}
			})
			fs.EachRecord(func(r *kgo.Record) { got = append(got, r.Offset) })
		}
		return got
	}

	produce(5)
	if got := consume(time.Second); len(got) != 5 {
		t.Fatalf("consumed offsets %v, want 0-4", got)
	}
	md, err := metadata(ctx, consumer, topic)
	if err != nil {
		t.Fatal(err)
	}
	leader := md.Topics[0].Partitions[0].Leader
	if err := c.StopBroker(leader); err != nil {
		t.Fatal(err)
	}
	md, err = metadata(ctx, consumer, topic)
	if err != nil {
		t.Fatal(err)
	}
	p := md.Topics[0].Partitions[0]

	// Asked directly, as the consumer asks.
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	rp.LeaderEpoch, rp.CurrentLeaderEpoch = 0, p.LeaderEpoch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, consumer)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Topics[0].Partitions[0]; got.ErrorCode != 0 || got.LeaderEpoch != 0 || got.EndOffset != 5 {
		t.Errorf("epoch 0 ends at %d (epoch %d, error %d), want 5", got.EndOffset, got.LeaderEpoch, got.ErrorCode)
	}

	if got := consume(2 * time.Second); len(got) != 0 {
		t.Errorf("after the move, nothing new: consumed offsets %v again", got)
	}
	produce(3)
	if got := consume(2 * time.Second); !slices.Equal(got, []int64{5, 6, 7}) {
		t.Errorf("consumed offsets %v, want 5, 6, 7", got)
	}
}
