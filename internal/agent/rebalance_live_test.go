package agent

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"kscope/internal/broker"
	"kscope/internal/capture/ebpf"
	"kscope/internal/exchange"
	"kscope/internal/store"
	"kscope/internal/testenv"
	"kscope/internal/view"
)

// A member joining a group, traced live, yields a rebalance whose delay
// for that member is what the member itself timed: from its first
// JoinGroup to being assigned partitions (franz-go's OnPartitionsAssigned
// fires right after the SyncGroup response).
func TestLiveRebalanceDelay(t *testing.T) {
	testenv.Root(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := broker.StartCluster(ctx, broker.Config{Brokers: 1, Partitions: 4, Topics: []string{"rb-live"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	st := store.New(store.Config{MemoryBytes: 64 << 20})
	ag, err := Live(ebpf.Options{}, Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ag.Close() })
	actx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ag.Run(actx) }()
	t.Cleanup(func() { stop(); <-done })
	time.Sleep(500 * time.Millisecond) // the tracepoints attach

	// Each consumer records when it was first assigned partitions.
	type member struct {
		cl       *kgo.Client
		assigned chan time.Time
	}
	consumer := func(name string) *member {
		m := &member{assigned: make(chan time.Time, 1)}
		var once sync.Once
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.ClientID(name), kgo.ConsumerGroup("rb-live"), kgo.ConsumeTopics("rb-live"),
			kgo.HeartbeatInterval(300*time.Millisecond),
			// Eager: the joining member gets its partitions in the
			// generation it joins. (Cooperative-sticky takes a second
			// generation to move partitions; each is its own rebalance.)
			kgo.Balancers(kgo.RangeBalancer()),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
				if len(a) > 0 {
					once.Do(func() { m.assigned <- time.Now() })
				}
			}))
		if err != nil {
			t.Fatal(err)
		}
		m.cl = cl
		go func() {
			for ctx.Err() == nil && !cl.PollFetches(ctx).IsClientClosed() {
			}
		}()
		t.Cleanup(cl.Close)
		return m
	}
	first := consumer("rb-first")
	select {
	case <-first.assigned:
	case <-ctx.Done():
		t.Fatal("first consumer never assigned")
	}
	time.Sleep(time.Second)
	started := time.Now()
	second := consumer("rb-second")
	var assignedAt time.Time
	select {
	case assignedAt = <-second.assigned:
	case <-ctx.Done():
		t.Fatal("second consumer never assigned")
	}
	clientTimed := assignedAt.Sub(started).Seconds()
	memberID, gen := second.cl.GroupMetadata()

	// Wait for the agent to have decoded the second member's sync.
	var rb *view.Rebalance
	var v view.Rebalances
	deadline := time.Now().Add(10 * time.Second)
	for rb == nil && time.Now().Before(deadline) {
		time.Sleep(300 * time.Millisecond)
		recs, _ := st.Query(store.Query{Filter: exchange.Filter{APIs: view.RebalanceAPIs}})
		xs := make([]exchange.Exchange, len(recs))
		for i := range recs {
			xs[i] = recs[i].Exchange
		}
		v = view.RebalancesOf(view.Of(xs, view.Window{}), view.RebalanceFilter{Group: "rb-live"})
		for i := range v.Rebalances {
			r := &v.Rebalances[i]
			if r.Generation == gen && r.Complete {
				for _, m := range r.Members {
					if m.MemberID == memberID && m.DelaySeconds != nil {
						rb = r
					}
				}
			}
		}
	}
	if rb == nil {
		t.Fatalf("no complete rebalance of generation %d with member %s: %+v", gen, memberID, v.Rebalances)
	}
	var measured float64
	for _, m := range rb.Members {
		if m.MemberID == memberID {
			measured = *m.DelaySeconds
		}
	}
	t.Logf("generation %d: second member timed %.1fms from start to assignment; kscope measured %.1fms JoinGroup to SyncGroup (group %.1fms, %d members, %s)",
		gen, clientTimed*1000, measured*1000, *rb.DelaySeconds*1000, len(rb.Members), rb.Reason)
	// The client's time adds its bootstrap (ApiVersions, FindCoordinator,
	// Metadata) before the join and the hook after the sync: a few ms.
	if measured > clientTimed || math.Abs(clientTimed-measured) > 0.05 {
		t.Errorf("kscope measured %.1fms, the client timed %.1fms", measured*1000, clientTimed*1000)
	}
	if len(rb.Members) != 2 {
		t.Errorf("generation %d has %d members, want 2", gen, len(rb.Members))
	}
}
