package inspect

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"kscope/internal/broker"
	"kscope/internal/broker/brokertest"
)

func newInspector(t testing.TB, c *broker.Cluster, cfg Config) *Inspector {
	t.Helper()
	cfg.Brokers = c.Addrs()
	in, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.Close)
	return in
}

// produce writes n records to topic/partition, one batch each, at the
// time ts says (CreateTime).
func produce(t *testing.T, cl *kgo.Client, topic string, partition int32, n int, ts func(i int) time.Time) {
	t.Helper()
	for i := range n {
		r := &kgo.Record{Topic: topic, Partition: partition, Value: []byte("v"), Timestamp: ts(i)}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

func (s *Snapshot) partition(topic string, p int32) *Partition {
	for i := range s.Topics {
		if s.Topics[i].Name != topic {
			continue
		}
		for j := range s.Topics[i].Partitions {
			if s.Topics[i].Partitions[j].Partition == p {
				return &s.Topics[i].Partitions[j]
			}
		}
	}
	return nil
}

func (s *Snapshot) group(name string) *Group {
	for i := range s.Groups {
		if s.Groups[i].Group == name {
			return &s.Groups[i]
		}
	}
	return nil
}

// TestPoll: one poll learns brokers, topics with their log offsets and
// retention, groups (an active one and an Empty one) with their members
// and committed offsets, and the batches that hold the offsets the lag
// needs, read from the log.
func TestPoll(t *testing.T) {
	c := brokertest.Start(t, broker.Config{Brokers: 2, Partitions: 2, Topics: []string{"orders"}})
	cl := brokertest.Client(t, c, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	adm := kadm.NewClient(cl)
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	produce(t, cl, "orders", 0, 10, func(i int) time.Time { return base.Add(time.Duration(i) * time.Minute) })
	// A group that committed 4 on orders/0 and has left (Empty), one that
	// is caught up.
	if err := adm.CommitAllOffsets(context.Background(), "billing", kadm.Offsets{"orders": {0: {Topic: "orders", Partition: 0, At: 4}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.AlterTopicConfigs(context.Background(), []kadm.AlterConfig{{Name: "retention.ms", Value: ptr("86400000")}}, "orders"); err != nil {
		t.Fatal(err)
	}
	co := brokertest.Client(t, c, kgo.ConsumerGroup("shipping"), kgo.ConsumeTopics("orders"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	for got := 0; got < 10; {
		got += co.PollFetches(context.Background()).NumRecords()
	}
	if err := co.CommitUncommittedOffsets(context.Background()); err != nil {
		t.Fatal(err)
	}

	in := newInspector(t, c, Config{})
	s := in.Poll(context.Background())
	if len(s.Errors) != 0 {
		t.Fatalf("errors: %+v", s.Errors)
	}
	if len(s.Brokers) != 2 || s.ClusterID == "" || s.Seconds <= 0 {
		t.Errorf("brokers %+v, cluster %q, %v s", s.Brokers, s.ClusterID, s.Seconds)
	}
	p0 := s.partition("orders", 0)
	if p0 == nil || p0.LogStartOffset != 0 || p0.HighWatermark != 10 || p0.LastStableOffset != 10 || len(p0.ISR) == 0 || p0.Leader < 0 {
		t.Fatalf("orders/0: %+v", p0)
	}
	var topic Topic
	for _, tp := range s.Topics {
		if tp.Name == "orders" {
			topic = tp
		}
	}
	if r := topic.Retention; !r.Known || r.Ms != 86400000 || r.MsSource != "topic" || r.Bytes != -1 || !r.Deletes() {
		t.Errorf("retention %+v, want 1 day set on the topic, no size limit", r)
	}
	billing, shipping := s.group("billing"), s.group("shipping")
	if billing == nil || billing.State != "Empty" || len(billing.Offsets) != 1 || billing.Offsets[0].Committed != 4 {
		t.Errorf("billing: %+v", billing)
	}
	if shipping == nil || shipping.Protocol != ProtocolClassic || shipping.State != "Stable" || len(shipping.Members) != 1 ||
		len(shipping.Members[0].Assigned) != 1 || !strings.HasPrefix(shipping.Members[0].ClientID, "kgo") {
		t.Errorf("shipping: %+v", shipping)
	}
	// The batches of offsets 9 (the last), 3 and 4 (billing's last
	// committed and first unconsumed), each its own record's time.
	for _, o := range []int64{3, 4, 9} {
		b, ok := p0.BatchAt(o)
		if !ok || b.BaseOffset != o || !b.MaxTimestamp.Equal(base.Add(time.Duration(o)*time.Minute)) || b.TimestampType != "CreateTime" {
			t.Errorf("offset %d: batch %+v %v", o, b, ok)
		}
	}

	// A second poll reads nothing new from the log: the headers are kept.
	before := in.batches.n
	s2 := in.Poll(context.Background())
	if in.batches.n != before || len(s2.partition("orders", 0).Batches) != len(p0.Batches) {
		t.Errorf("second poll: %d cached batches, was %d; %d in the snapshot, was %d", in.batches.n, before, len(s2.partition("orders", 0).Batches), len(p0.Batches))
	}
	if st := in.Stats(); st.Polls != 2 || st.LastSeconds <= 0 {
		t.Errorf("stats %+v", st)
	}
}

func ptr[T any](v T) *T { return &v }

// TestPollKIP848Group: a group of the consumer protocol (KIP-848) is
// described by ConsumerGroupDescribe: its members and their assignments.
func TestPollKIP848Group(t *testing.T) {
	c := brokertest.Start(t, broker.Config{Brokers: 1, Partitions: 3, Topics: []string{"events"}})
	pr := brokertest.Client(t, c)
	produce(t, pr, "events", 0, 6, func(int) time.Time { return time.Now() })
	co := brokertest.Client(t, c, kgo.ConsumerGroup("nextgen"), kgo.ConsumeTopics("events"), kgo.ServerSideBalancer(),
		kgo.Balancers(kgo.RangeBalancer()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	for got := 0; got < 6; {
		got += co.PollFetches(context.Background()).NumRecords()
	}
	if err := co.CommitUncommittedOffsets(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := newInspector(t, c, Config{}).Poll(context.Background())
	g := s.group("nextgen")
	if g == nil || g.Protocol != ProtocolConsumer || len(g.Members) != 1 || len(g.Offsets) == 0 {
		t.Fatalf("nextgen: %+v (errors %+v)", g, s.Errors)
	}
	n := 0
	for _, a := range g.Members[0].Assigned {
		if a.Topic == "events" {
			n += len(a.Partitions)
		}
	}
	if n != 3 {
		t.Errorf("member assigned %+v, want the 3 partitions of events", g.Members[0].Assigned)
	}
}

// TestPollBrokerNotAnswering: a broker that stops answering (its port
// open, nothing read) is named in the snapshot's errors, the poll ends in a
// few request timeouts, and what the other broker leads is still learned.
func TestPollBrokerNotAnswering(t *testing.T) {
	// Leaders are random: with 8 partitions, broker 0 leads some in 255
	// runs of 256.
	c := brokertest.Start(t, broker.Config{Brokers: 2, Partitions: 8, Topics: []string{"orders"}})
	pr := brokertest.Client(t, c, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := range int32(8) {
		produce(t, pr, "orders", p, 2, func(int) time.Time { return time.Now() })
	}
	// Groups on both coordinators.
	adm := kadm.NewClient(pr)
	groups := []string{"g0", "g1", "g2", "g3", "g4", "g5", "g6", "g7"}
	for i, g := range groups {
		if err := adm.CommitAllOffsets(context.Background(), g, kadm.Offsets{"orders": {0: {Topic: "orders", Partition: 0, At: int64(i)}}}); err != nil {
			t.Fatal(err)
		}
	}
	in := newInspector(t, c, Config{RequestTimeout: time.Second})
	s := in.Poll(context.Background())
	if len(s.Errors) != 0 {
		t.Fatalf("errors before freezing: %+v", s.Errors)
	}
	coordinator := map[string]int32{}
	for _, g := range s.Groups {
		coordinator[g.Group] = g.Coordinator
	}
	if err := c.Freeze(1, true); err != nil {
		t.Fatal(err)
	}
	defer c.Freeze(1, false)
	start := time.Now()
	s = in.Poll(context.Background())
	took := time.Since(start)
	t.Logf("poll with broker 1 frozen: %v, errors %+v", took, s.Errors)
	if took > 8*time.Second {
		t.Errorf("the poll took %v", took)
	}
	named := false
	for _, e := range s.Errors {
		if e.Broker == 1 && e.Request == "ApiVersions" {
			named = true
		}
		if e.Broker == 0 {
			t.Errorf("broker 0 reported: %+v", e)
		}
	}
	if !named {
		t.Errorf("broker 1 not named as not answering: %+v", s.Errors)
	}
	learned, led := 0, 0
	for _, tp := range s.Topics {
		for _, p := range tp.Partitions {
			if p.Leader == 0 {
				led++
			}
			if p.Leader == 0 && p.HighWatermark == 2 {
				learned++
			}
			if p.Leader == 1 && p.HighWatermark != -1 {
				t.Errorf("orders/%d, led by the frozen broker, has high watermark %d", p.Partition, p.HighWatermark)
			}
		}
	}
	if learned != led {
		t.Errorf("%d of broker 0's %d partitions learned", learned, led)
	} else if led == 0 {
		t.Log("broker 0 leads none of the partitions this run (leaders are random)")
	}
	// Every group is still there: those the frozen broker coordinates
	// as last learned, saying so.
	for i, name := range groups {
		g := s.group(name)
		switch {
		case g == nil:
			t.Errorf("group %s (coordinator %d) missing", name, coordinator[name])
		case len(g.Offsets) != 1 || g.Offsets[0].Committed != int64(i):
			t.Errorf("group %s: offsets %+v", name, g.Offsets)
		case coordinator[name] == 1 && (g.Error == "" || g.AsOf == nil):
			t.Errorf("group %s, coordinated by the frozen broker: error %q, as of %v", name, g.Error, g.AsOf)
		case coordinator[name] == 0 && g.Error != "":
			t.Errorf("group %s, coordinated by broker 0: error %q", name, g.Error)
		}
		if g != nil && g.Error != "" {
			t.Logf("group %s: %s (as of %v)", name, g.Error, g.AsOf)
		}
	}
	// With every broker frozen, the groups are still there as last
	// learned, saying no broker answered.
	c.Freeze(0, true)
	s = in.Poll(context.Background())
	c.Freeze(0, false)
	for _, name := range groups {
		if g := s.group(name); g == nil || g.Error != "no broker answered the poll" || g.AsOf == nil || len(g.Offsets) != 1 {
			t.Errorf("no broker answering: group %s %+v", name, g)
		}
	}
	if len(s.Topics) == 0 || len(s.Errors) == 0 || s.Errors[0].Request != "Metadata" {
		t.Errorf("no broker answering: %d topics, errors %+v", len(s.Topics), s.Errors)
	}
	// Thawed, it answers again.
	c.Freeze(1, false)
	if s := in.Poll(context.Background()); len(s.Errors) != 0 {
		t.Errorf("errors after thawing: %+v", s.Errors)
	}
}

// TestPollOffsetsSeenSince: a committed offset keeps the time of the
// first poll that saw it; a new one takes the poll's.
func TestPollOffsetsSeenSince(t *testing.T) {
	c := brokertest.Start(t, broker.Config{Brokers: 1, Partitions: 1, Topics: []string{"orders"}})
	adm := kadm.NewClient(brokertest.Client(t, c))
	commit := func(o int64) {
		if err := adm.CommitAllOffsets(context.Background(), "billing", kadm.Offsets{"orders": {0: {Topic: "orders", Partition: 0, At: o}}}); err != nil {
			t.Fatal(err)
		}
	}
	in := newInspector(t, c, Config{})
	seen := func() time.Time {
		t.Helper()
		s := in.Poll(context.Background())
		g := s.group("billing")
		if g == nil || len(g.Offsets) != 1 {
			t.Fatalf("billing: %+v", g)
		}
		return g.Offsets[0].SeenSince
	}
	commit(0)
	first := seen()
	if again := seen(); !again.Equal(first) {
		t.Errorf("same offset: seen since %v, then %v", first, again)
	}
	commit(0) // committed again, same offset: nothing tells the polls
	if again := seen(); !again.Equal(first) {
		t.Errorf("same offset again: seen since %v, then %v", first, again)
	}
	start := time.Now()
	commit(5)
	if moved := seen(); !moved.After(first) || moved.Before(start) {
		t.Errorf("new offset: seen since %v (first %v, committed after %v)", moved, first, start)
	}
}
