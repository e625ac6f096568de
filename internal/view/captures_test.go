package view_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kscope/internal/exchange"
	"kscope/internal/offline"
	"kscope/internal/store"
	"kscope/internal/view"
)

// captures holds pcaps of real clients against kscope broker (see its
// README).
const captures = "../../testdata/captures/"

// exchangesOf decodes capture files.
func exchangesOf(t *testing.T, files ...string) []exchange.Exchange {
	t.Helper()
	a, err := offline.Analyze(context.Background(), files, offline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Err(); err != nil {
		t.Fatal(err)
	}
	return a.Exchanges
}

// TestOverviewPartsOnCaptures: for every capture, the overview merged from
// a store's per-second parts (the live API's path) has the same JSON as
// the overview computed from the exchanges (the --pcap path).
func TestOverviewPartsOnCaptures(t *testing.T) {
	files, _ := filepath.Glob(captures + "*.pcap")
	if len(files) == 0 {
		t.Fatal("no captures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			xs := exchangesOf(t, f)
			if len(xs) == 0 {
				t.Skip("no exchanges")
			}
			w := view.WindowOf(xs)
			w = view.Window{From: w.From.Truncate(time.Second), To: w.To.Truncate(time.Second).Add(time.Second)}
			want := view.Overview(view.Of(xs, w), view.OverviewFilter{})

			st := store.New(store.Config{})
			view.KeepParts(st)
			for _, e := range xs {
				st.Add(e)
			}
			in := view.FromStore(st, w, view.OverviewFilter{}.Needs())
			if in.Overview == nil || in.Window != w {
				t.Fatalf("the store's parts do not cover the capture: input over %v, capture %v", in.Window, w)
			}
			got := view.Overview(in, view.OverviewFilter{})
			if got.ResolutionSeconds != 1 {
				t.Errorf("resolution %v s, want 1 (seconds, not rolled up)", got.ResolutionSeconds)
			}
			got.ResolutionSeconds = 0 // what the exchanges say
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(want)
			var g, wv any
			json.Unmarshal(gj, &g)
			json.Unmarshal(wj, &wv)
			if !jsonClose(g, wv) {
				t.Fatalf("overview from parts:\n%s\nfrom exchanges:\n%s", gj, wj)
			}
			if want.Exchanges == 0 {
				t.Error("no exchange in the overview")
			}
		})
	}
}

// jsonClose compares decoded JSON, numbers to a relative 1e-9.
func jsonClose(a, b any) bool {
	switch av := a.(type) {
	case float64:
		bv, ok := b.(float64)
		d := av - bv
		return ok && d*d <= 1e-18*max(av*av, bv*bv)
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for k := range av {
			if !jsonClose(av[k], bv[k]) {
				return false
			}
		}
		return true
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for i := range av {
			if !jsonClose(av[i], bv[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}

// TestOverviewCaptures: on real clients' captures, the topics they used
// show with the producers and consumers that used them.
func TestOverviewCaptures(t *testing.T) {
	tests := []struct {
		file      string
		topics    []string
		producers []string // client ids
		consumer  string
		group     string
	}{
		{"franz-go.pcap", []string{"audit", "orders", "payments"}, []string{"franz-producer-lz4", "franz-producer-zstd"}, "franz-consumer-1", "shipping"},
		{"kcat.pcap", []string{"events"}, []string{"rdkafka"}, "kcat-consumer", "kcat-group"},
		{"kafkajs.pcap", []string{"js-events", "js-orders"}, nil, "", "kafkajs-group"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			o := view.Overview(view.Of(exchangesOf(t, captures+tt.file), view.Window{}), view.OverviewFilter{})
			for _, name := range tt.topics {
				var tr *view.TopicRow
				for i := range o.Topics {
					if o.Topics[i].Name == name {
						tr = &o.Topics[i]
					}
				}
				if tr == nil {
					t.Errorf("topic %s missing from %+v", name, o.Topics)
					continue
				}
				if tr.Producers == 0 || tr.Consumers == 0 || tr.BytesInPerSec <= 0 || tr.BytesOutPerSec <= 0 || tr.Partitions == 0 {
					t.Errorf("topic %+v: want producers, consumers, bytes in and out", *tr)
				}
			}
			ids := map[string]bool{}
			for _, p := range o.Producers {
				ids[p.ClientID] = true
			}
			for _, id := range tt.producers {
				if !ids[id] {
					t.Errorf("producer %s missing from %+v", id, o.Producers)
				}
			}
			found := false
			for _, c := range o.Consumers {
				if (tt.consumer == "" || c.ClientID == tt.consumer) && c.Group == tt.group {
					found = true
				}
			}
			if !found {
				t.Errorf("no consumer %q in group %s: %+v", tt.consumer, tt.group, o.Consumers)
			}
		})
	}
}

// TestReplicaFetchNoPhantomConsumer: on a capture where brokers 1 and 2
// replicate each other's partitions (Fetch v11 with ReplicaID, Fetch v15
// with ReplicaState, KIP-903) while one client produces and one consumes
// (testdata/captures/replica-fetch.pcap, made by internal/offline), the
// overview, clients and latency views show the one consumer, and the
// followers' fetches only as replication.
func TestReplicaFetchNoPhantomConsumer(t *testing.T) {
	in := view.Of(exchangesOf(t, captures+"replica-fetch.pcap"), view.Window{})
	o := view.Overview(in, view.OverviewFilter{})
	if len(o.Consumers) != 1 || o.Consumers[0].ClientID != "shop-consumer" || o.Consumers[0].Host != "10.0.0.9" {
		t.Errorf("consumers %+v, want only shop-consumer at 10.0.0.9", o.Consumers)
	} else if c := o.Consumers[0]; c.Records != 9 {
		t.Errorf("shop-consumer fetched 9 records, overview says %d", c.Records)
	}
	if len(o.Producers) != 1 || o.Producers[0].ClientID != "shop-producer" || o.Producers[0].Records != 12 {
		t.Errorf("producers %+v, want only shop-producer with 12 records", o.Producers)
	}
	for _, n := range o.Nodes {
		if n.Kind == view.KindConsumer && (n.Client == nil || n.ClientID != "shop-consumer") {
			t.Errorf("phantom consumer node %+v", n)
		}
	}
	for _, e := range o.Edges {
		if strings.HasPrefix(e.To, view.KindConsumer+":") && e.To != "consumer:10.0.0.9:shop-consumer" {
			t.Errorf("edge to a phantom consumer: %+v", e)
		}
	}
	// Records out per topic, summed from the edges (topic rows give
	// rates only).
	out := map[string]int64{}
	for _, e := range o.Edges {
		if name, ok := strings.CutPrefix(e.From, view.KindTopic+":"); ok {
			out[name] += e.Records
		}
	}
	topics := map[string]view.TopicRow{}
	for _, tr := range o.Topics {
		topics[tr.Name] = tr
	}
	tests := []struct {
		topic                string
		partitions           int
		producers, consumers int
		recordsOut           int64
	}{
		// orders: partition 0 led by broker 1, 1 by broker 2; each
		// follower replicates the other's.
		{"orders", 2, 1, 1, 9},
		// audit: produced, replicated by broker 2, consumed by nobody.
		{"audit", 1, 1, 0, 0},
	}
	for _, tt := range tests {
		tr, ok := topics[tt.topic]
		if !ok {
			t.Errorf("topic %s missing: %+v", tt.topic, o.Topics)
			continue
		}
		if tr.Partitions != tt.partitions || tr.Producers != tt.producers || tr.Consumers != tt.consumers || out[tt.topic] != tt.recordsOut {
			t.Errorf("topic %s: %d partitions, %d producers, %d consumers, %d records out; want %d, %d, %d, %d",
				tt.topic, tr.Partitions, tr.Producers, tr.Consumers, out[tt.topic], tt.partitions, tt.producers, tt.consumers, tt.recordsOut)
		}
		if tr.ReplicationBytesPerSec <= 0 {
			t.Errorf("topic %s: no replication shown: %+v", tt.topic, tr)
		}
		if tt.consumers == 0 && tr.BytesOutPerSec != 0 {
			t.Errorf("topic %s: replication counted as bytes out: %+v", tt.topic, tr)
		}
	}
	if len(o.Topics) != 2 {
		t.Errorf("topics %+v, want orders and audit", o.Topics)
	}
	brokers := map[string]view.BrokerRow{}
	for _, b := range o.Brokers {
		brokers[b.Broker] = b
	}
	for _, addr := range []string{"10.0.0.1:9092", "10.0.0.2:9092"} {
		b := brokers[addr]
		if b.Replicas != 1 || b.ReplicaFetchRequestsPerSec <= 0 || b.ReplicationBytesPerSec <= 0 || b.FetchRequestsPerSec <= 0 {
			t.Errorf("broker %s: %+v, want one follower replicating and consumer fetches apart", addr, b)
		}
	}
	if len(brokers) != 2 {
		t.Errorf("brokers %+v, want 10.0.0.1:9092 and 10.0.0.2:9092", o.Brokers)
	}
	// Clients: lag of the one consumer on its two
	// partitions, which it read to the end.
	cv := view.Clients(in, view.ClientsFilter{})
	lagged := map[int32]int64{}
	for _, c := range cv.Consumers {
		if c.ClientID != "shop-consumer" || c.Topic != "orders" {
			t.Errorf("clients: phantom consumer %s (%s) on %s/%d", c.Process, c.ClientID, c.Topic, c.Partition)
			continue
		}
		if c.OffsetLag != nil {
			lagged[c.Partition] = *c.OffsetLag
		}
	}
	if len(lagged) != 2 || lagged[0] != 0 || lagged[1] != 0 {
		t.Errorf("clients: shop-consumer offset lags %v, want 0 on orders/0 and orders/1", lagged)
	}

	// Latency: series of the consumer only.
	lv := view.Latency(in, view.LatencyFilter{})
	seen := map[int32]bool{}
	for _, s := range lv.Series {
		if s.ClientID != "shop-consumer" || s.Consumer != "shop-consumer@10.0.0.9" {
			t.Errorf("latency: series of phantom consumer %s (%s) on %s/%d", s.Consumer, s.ClientID, s.Topic, s.Partition)
			continue
		}
		seen[s.Partition] = true
		for _, p := range s.Points {
			if p.ExactDelaySeconds == nil {
				t.Errorf("latency: orders/%d offset %d: the Produce is in the capture, yet no exact delay", s.Partition, p.BaseOffset)
			}
		}
	}
	if !seen[0] || !seen[1] {
		t.Errorf("latency: series %+v, want shop-consumer on orders/0 and orders/1", lv.Series)
	}
}

// TestLatencyAndClientsOnCaptures: in each capture a real producer and a
// real consumer of the same topics were both captured, so every consumed
// topic has a latency series, the exact delay is known (the Produce was
// seen), delays are non-negative and within the capture's length, and each
// consumer ends caught up (the workloads read everything).
func TestLatencyAndClientsOnCaptures(t *testing.T) {
	for _, c := range []struct {
		file     string
		topics   []string
		consumer string
		group    string
		maxDelay float64 // seconds: the capture's length
	}{
		{"kafka-python.pcap", []string{"clicks"}, "kafka-python-consumer", "analytics", 1},
		{"kcat.pcap", []string{"events"}, "kcat-consumer", "kcat-group", 13},
		{"franz-go.pcap", []string{"orders", "payments", "audit"}, "franz-consumer-1", "shipping", 6},
	} {
		t.Run(c.file, func(t *testing.T) {
			in := view.Of(exchangesOf(t, captures+c.file), view.Window{})
			lv := view.Latency(in, view.LatencyFilter{})
			exact := 0
			for _, topic := range c.topics {
				n := 0
				for _, s := range lv.Series {
					if s.Topic != topic {
						continue
					}
					n++
					for _, p := range s.Points {
						if p.DelaySeconds < 0 || p.DelaySeconds > c.maxDelay {
							t.Errorf("%s/%d %s: delay %.3fs, want within [0, %vs]", s.Topic, s.Partition, s.Consumer, p.DelaySeconds, c.maxDelay)
						}
						if p.TimestampType != "CreateTime" {
							t.Errorf("timestamp type %q", p.TimestampType)
						}
						if p.ExactDelaySeconds != nil {
							exact++
							if d := *p.ExactDelaySeconds; d < 0 || d > c.maxDelay {
								t.Errorf("%s/%d: exact delay %.3fs", s.Topic, s.Partition, d)
							}
						}
					}
				}
				if n == 0 {
					t.Errorf("no latency series for consumed topic %s", topic)
				}
			}
			if exact == 0 {
				t.Error("the producer was captured, yet no delay is exact")
			}
			cv := view.Clients(in, view.ClientsFilter{Client: c.consumer})
			if len(cv.Consumers) == 0 {
				t.Fatalf("no consumer rows for %s", c.consumer)
			}
			for _, cl := range cv.Consumers {
				if cl.Group != c.group {
					t.Errorf("%s/%d: group %q, want %s", cl.Topic, cl.Partition, cl.Group, c.group)
				}
				if cl.OffsetLag == nil || *cl.OffsetLag != 0 || cl.TimeLagSeconds == nil || *cl.TimeLagSeconds != 0 {
					t.Errorf("%s/%d: lag %v / %v, want 0 / 0: the workload read everything", cl.Topic, cl.Partition, cl.OffsetLag, cl.TimeLagSeconds)
				}
				if cl.CommitLagSeconds == nil || *cl.CommitLagSeconds < 0 || *cl.CommitLagSeconds > c.maxDelay {
					t.Errorf("%s/%d: commit lag %v", cl.Topic, cl.Partition, cl.CommitLagSeconds)
				}
			}
		})
	}
}

// The rebalances found in real captures are those the traffic holds
// (kscope analyze --api JoinGroup,SyncGroup FILE shows them).
func TestRebalancesCaptures(t *testing.T) {
	type round struct {
		gen     int32
		members int
		// minimum and maximum stop-the-world seconds
		min, max float64
		reason   string
	}
	for _, tc := range []struct {
		file, group string
		gen         int32
		members     int // at the end of the capture
		rounds      []round
		leaves      int
		rip         int // heartbeats answered REBALANCE_IN_PROGRESS
	}{
		// franz-go: consumer-1 alone (gen 1); consumer-2 joins (gen 2,
		// held ~489ms until consumer-1's heartbeat learns of it); the
		// cooperative follow-up (gen 3, ~501ms); consumer-2 leaves
		// (gen 4); then consumer-1 leaves too.
		{"franz-go.pcap", "shipping", 4, 0, []round{
			{1, 1, 0.001, 0.010, "member joined: franz-consumer-1-"},
			{2, 2, 0.480, 0.500, "member joined: franz-consumer-2-"},
			{3, 2, 0.495, 0.510, "members rejoined"},
			{4, 1, 0, 0.002, "member left: franz-consumer-2-"},
		}, 2, 3},
		// kcat: two -G consumers; the second waits ~1.65s for the first
		// to rejoin.
		{"kcat.pcap", "kcat-group", 2, 0, []round{
			{1, 1, 0, 0.005, "member joined: kcat-consumer-"},
			{2, 2, 1.6, 1.7, "member joined: kcat-consumer-"},
		}, 2, 1},
		// kafkajs: the second member's JoinGroup is held ~5s.
		{"kafkajs.pcap", "kafkajs-group", 2, 0, []round{
			{1, 1, 0.005, 0.020, "member joined: kafkajs-demo-"},
			{2, 2, 5.0, 5.1, "member joined: kafkajs-demo-"},
		}, 2, 6},
	} {
		t.Run(tc.file, func(t *testing.T) {
			v := view.RebalancesOf(view.Of(exchangesOf(t, captures+tc.file), view.Window{}), view.RebalanceFilter{})
			if len(v.Groups) != 1 || v.Groups[0].Group != tc.group {
				t.Fatalf("groups = %+v, want %s", v.Groups, tc.group)
			}
			g := v.Groups[0]
			if g.Generation == nil || *g.Generation != tc.gen || len(g.Members) != tc.members || g.Rebalances != len(tc.rounds) || g.ProtocolType != "consumer" || g.Leader == "" {
				t.Errorf("group = %+v", g)
			}
			if len(v.Rebalances) != len(tc.rounds) {
				t.Fatalf("%d rebalances, want %d: %+v", len(v.Rebalances), len(tc.rounds), v.Rebalances)
			}
			for i, want := range tc.rounds {
				rb := v.Rebalances[i]
				if rb.Generation != want.gen || len(rb.Members) != want.members || !rb.Complete || rb.DelaySeconds == nil {
					t.Errorf("rebalance %d = %+v, want generation %d with %d members, complete", i, rb, want.gen, want.members)
					continue
				}
				if d := *rb.DelaySeconds; d < want.min || d > want.max {
					t.Errorf("generation %d stop-the-world %.4fs, want %.3f..%.3f", rb.Generation, d, want.min, want.max)
				}
				if !strings.HasPrefix(rb.Reason, want.reason) {
					t.Errorf("generation %d reason %q, want %q...", rb.Generation, rb.Reason, want.reason)
				}
				// The group waits for its slowest member.
				for _, m := range rb.Members {
					if m.DelaySeconds == nil || *m.DelaySeconds > *rb.DelaySeconds+1e-9 {
						t.Errorf("generation %d member %s delay %v beyond the group's %.4f", rb.Generation, m.MemberID, m.DelaySeconds, *rb.DelaySeconds)
					}
				}
			}
			var leaves, rip int
			for _, e := range v.Events {
				switch {
				case e.API == "LeaveGroup":
					leaves++
				case e.API == "Heartbeat" && e.Error == "REBALANCE_IN_PROGRESS":
					rip++
				}
			}
			if leaves != tc.leaves || rip != tc.rip {
				t.Errorf("%d leaves and %d REBALANCE_IN_PROGRESS heartbeats, want %d and %d", leaves, rip, tc.leaves, tc.rip)
			}
		})
	}
}
