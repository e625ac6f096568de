package view

import (
	"encoding/json"
	"math"
	"runtime"
	"testing"
	"time"

	"kscope/internal/exchange"
)

var ovT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// ovX builds a synthetic exchange. topics maps each topic to its
// partitions' (records, bytes) pairs.
type ovPart struct {
	p              int32
	records, bytes int64
	err            string
}

type ovTT struct {
	name  string
	parts []ovPart
}

func ovX(at time.Duration, api string, client, server, clientID string, lat time.Duration, topics ...ovTT) exchange.Exchange {
	keys := map[string]int16{"Produce": 0, "Fetch": 1, "OffsetCommit": 8, "Heartbeat": 12, "JoinGroup": 11, "Metadata": 3}
	e := exchange.Exchange{
		Time: ovT0.Add(at), API: api, APIKey: keys[api], ClientID: clientID,
		Client: exchange.Endpoint{Addr: client}, Server: exchange.Endpoint{Addr: server},
	}
	if lat >= 0 {
		e.Latency = &lat
	}
	for _, t := range topics {
		et := exchange.Topic{Name: t.name}
		for _, p := range t.parts {
			et.Partitions = append(et.Partitions, exchange.Partition{Partition: p.p, Records: p.records, Bytes: p.bytes, Error: p.err})
		}
		e.Topics = append(e.Topics, et)
	}
	return e
}

func fetchWait(e exchange.Exchange, ms int32) exchange.Exchange {
	e.Detail = &exchange.Detail{MaxWaitMS: &ms}
	return e
}

func replica(e exchange.Exchange) exchange.Exchange {
	id := int32(2)
	e.Detail = &exchange.Detail{ReplicaID: &id, Replica: true}
	return e
}

func ovTopicRow(o OverviewView, name string) *TopicRow {
	for i := range o.Topics {
		if o.Topics[i].Name == name {
			return &o.Topics[i]
		}
	}
	return nil
}

func ovLatency(rows []LatencyRow, api string) *LatencyRow {
	for i := range rows {
		if rows[i].API == api {
			return &rows[i]
		}
	}
	return nil
}

func TestOverview(t *testing.T) {
	const (
		prod  = "10.0.0.1:5000"
		cons  = "10.0.0.2:6000"
		cons2 = "10.0.0.2:6001" // the same consumer, its coordinator connection
		b1    = "10.0.1.1:9092"
		b2    = "10.0.1.2:9092"
		ms    = time.Millisecond
	)
	w := Window{From: ovT0, To: ovT0.Add(10 * time.Second)}
	tests := []struct {
		name  string
		xs    []exchange.Exchange
		check func(t *testing.T, o OverviewView)
	}{{
		name: "a Produce with many topics counts each topic and partition",
		xs: []exchange.Exchange{
			ovX(0, "Produce", prod, b1, "p", 2*ms,
				ovTT{"a", []ovPart{{0, 10, 1000, ""}, {1, 10, 1000, ""}, {2, 10, 1000, ""}, {3, 10, 1000, ""}, {4, 10, 1000, ""}, {5, 10, 1000, ""}}},
				ovTT{"b", []ovPart{{0, 5, 500, ""}}}, ovTT{"c", []ovPart{{0, 1, 100, ""}}}, ovTT{"d", []ovPart{{0, 1, 100, ""}}},
				ovTT{"e", []ovPart{{0, 1, 100, ""}}}, ovTT{"f", []ovPart{{7, 2, 200, ""}}}),
		},
		check: func(t *testing.T, o OverviewView) {
			if len(o.Topics) != 6 {
				t.Fatalf("topics = %d, want 6 (every topic of the request)", len(o.Topics))
			}
			a := ovTopicRow(o, "a")
			if a.Partitions != 6 || a.BytesInPerSec != 600 || a.RecordsInPerSec != 6 || a.Producers != 1 || a.Consumers != 0 {
				t.Errorf("topic a = %+v, want 6 partitions, 600 B/s, 6 records/s, 1 producer, 0 consumers", *a)
			}
			if f := ovTopicRow(o, "f"); f.BytesInPerSec != 20 {
				t.Errorf("topic f bytes in = %v, want 20", f.BytesInPerSec)
			}
			if len(o.Edges) != 6 || o.Edges[0].RequestsPerSec != 0.1 {
				t.Errorf("edges = %+v, want 6 producer->topic edges at 0.1 requests/s", o.Edges)
			}
			if len(o.Producers) != 1 || o.Producers[0].Bytes != 6000+500+100*3+200 {
				t.Errorf("producers = %+v", o.Producers)
			}
		},
	}, {
		name: "a topic with producers only, another with consumers only",
		xs: []exchange.Exchange{
			ovX(0, "Produce", prod, b1, "p", ms, ovTT{"only-in", []ovPart{{0, 3, 300, ""}}}),
			fetchWait(ovX(ms, "Fetch", cons, b1, "c", ms, ovTT{"only-out", []ovPart{{0, 4, 400, ""}}}), 500),
		},
		check: func(t *testing.T, o OverviewView) {
			in, out := ovTopicRow(o, "only-in"), ovTopicRow(o, "only-out")
			if in == nil || in.Producers != 1 || in.Consumers != 0 || in.BytesInPerSec != 30 {
				t.Errorf("only-in = %+v", in)
			}
			if out == nil || out.Producers != 0 || out.Consumers != 1 || out.BytesOutPerSec != 40 {
				t.Errorf("only-out = %+v", out)
			}
		},
	}, {
		name: "replica fetches are replication, not consumers",
		xs: []exchange.Exchange{
			replica(fetchWait(ovX(0, "Fetch", "10.0.1.2:40000", b1, "broker-2", 500*ms, ovTT{"t", []ovPart{{0, 7, 700, ""}}}), 500)),
			replica(fetchWait(ovX(ms, "Fetch", "10.0.1.2:40000", b1, "broker-2", 2*ms, ovTT{"t", []ovPart{{1, 3, 300, ""}}}), 500)),
		},
		check: func(t *testing.T, o OverviewView) {
			if len(o.Consumers) != 0 || len(o.Edges) != 0 {
				t.Fatalf("consumers = %+v, edges = %+v: a replica fetch made a phantom consumer", o.Consumers, o.Edges)
			}
			for _, n := range o.Nodes {
				if n.Kind == KindConsumer {
					t.Errorf("phantom consumer node %+v", n)
				}
			}
			tr := ovTopicRow(o, "t")
			if tr.Consumers != 0 || tr.BytesOutPerSec != 0 || tr.ReplicationBytesPerSec != 100 || tr.Partitions != 2 {
				t.Errorf("topic = %+v, want replication 100 B/s and nothing out", *tr)
			}
			if len(o.Brokers) != 1 || o.Brokers[0].ReplicaFetchRequestsPerSec != 0.2 || o.Brokers[0].Replicas != 1 || o.Brokers[0].FetchRequestsPerSec != 0 {
				t.Errorf("brokers = %+v", o.Brokers)
			}
			if ovLatency(o.Latency.ByAPI, "Fetch") != nil || ovLatency(o.Latency.ByAPI, APIFetchReplication) == nil {
				t.Errorf("latency rows = %+v, want replica fetches in %q only", o.Latency.ByAPI, APIFetchReplication)
			}
		},
	}, {
		name: "an exchange traced from both sides counts once",
		xs: func() []exchange.Exchange {
			c := ovX(0, "Produce", prod, b1, "p", ms, ovTT{"t", []ovPart{{0, 10, 1000, ""}}})
			c.Side, c.CorrelationID, c.Client.PID, c.Client.Process = "client", 7, 42, "order"
			s := c
			s.Side, s.Client.PID, s.Client.Process = "server", 0, ""
			s.Server.PID, s.Server.Process = 1, "kafka"
			return []exchange.Exchange{c, s}
		}(),
		check: func(t *testing.T, o OverviewView) {
			if o.Exchanges != 1 || ovTopicRow(o, "t").BytesInPerSec != 100 {
				t.Errorf("exchanges = %d, topic = %+v: want one exchange, 100 B/s", o.Exchanges, o.Topics)
			}
			if len(o.Producers) != 1 || o.Producers[0].Process != "order[42]" {
				t.Errorf("producers = %+v, want the traced process order[42]", o.Producers)
			}
		},
	}, {
		name: "empty long-polls are kept apart from fetches that returned records",
		xs: []exchange.Exchange{
			fetchWait(ovX(0, "Fetch", cons, b1, "c", 2*ms, ovTT{"t", []ovPart{{0, 5, 500, ""}}}), 500),
			fetchWait(ovX(ms, "Fetch", cons, b1, "c", 4*ms, ovTT{"t", []ovPart{{0, 5, 500, ""}}}), 500),
			fetchWait(ovX(2*ms, "Fetch", cons, b1, "c", 501*ms, ovTT{"t", []ovPart{{0, 0, 0, ""}}}), 500),
			fetchWait(ovX(3*ms, "Fetch", cons, b1, "c", 502*ms, ovTT{"t", []ovPart{{0, 0, 0, ""}}}), 500),
			fetchWait(ovX(4*ms, "Fetch", cons, b1, "c", 503*ms, ovTT{"t", []ovPart{{0, 0, 0, ""}}}), 500),
		},
		check: func(t *testing.T, o OverviewView) {
			f, lp := ovLatency(o.Latency.ByAPI, "Fetch"), ovLatency(o.Latency.ByAPI, APIFetchEmptyLongPoll)
			if f == nil || lp == nil {
				t.Fatalf("latency rows = %+v", o.Latency.ByAPI)
			}
			if f.Requests != 2 || f.P99 > 0.0041 || f.P50 < 0.0019 {
				t.Errorf("Fetch = %+v, want 2 requests, p50 2ms, p99 4ms: long-polls inflate it", *f)
			}
			if lp.Requests != 3 || math.Abs(lp.P50-0.502) > 0.01 {
				t.Errorf("long-poll = %+v, want 3 requests around 502ms", *lp)
			}
			if len(o.Consumers) != 1 || o.Consumers[0].Requests != 5 {
				t.Errorf("consumers = %+v, want one consumer with 5 fetches", o.Consumers)
			}
			if b := o.Latency.ByBroker; len(b) != 2 || b[0].Broker != b1 {
				t.Errorf("by broker = %+v", b)
			}
		},
	}, {
		name: "a consumer's group is learned from its other connections",
		xs: []exchange.Exchange{
			func() exchange.Exchange {
				e := ovX(0, "JoinGroup", cons2, b2, "c", ms)
				e.Group = "shipping"
				return e
			}(),
			fetchWait(ovX(ms, "Fetch", cons, b1, "c", ms, ovTT{"t", []ovPart{{0, 1, 10, ""}}}), 500),
		},
		check: func(t *testing.T, o OverviewView) {
			if len(o.Consumers) != 1 || o.Consumers[0].Group != "shipping" {
				t.Errorf("consumers = %+v, want group shipping", o.Consumers)
			}
		},
	}, {
		name: "errors by code; a failed partition's records are not counted in",
		xs: []exchange.Exchange{
			ovX(0, "Produce", prod, b1, "p", ms, ovTT{"t", []ovPart{{0, 5, 500, "NOT_LEADER_OR_FOLLOWER"}, {1, 5, 500, ""}}}),
			ovX(ms, "Produce", prod, b1, "p", ms, ovTT{"t", []ovPart{{0, 5, 500, ""}}}),
		},
		check: func(t *testing.T, o OverviewView) {
			p := o.Producers[0]
			if p.Errors != 1 || p.ErrorsByCode["NOT_LEADER_OR_FOLLOWER"] != 1 || p.Records != 10 {
				t.Errorf("producer = %+v, want 1 error NOT_LEADER_OR_FOLLOWER and 10 records", p)
			}
			if r := ovLatency(o.Latency.ByAPI, "Produce"); r.ErrorRate != 0.5 {
				t.Errorf("produce error rate = %v, want 0.5", r.ErrorRate)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, Overview(Of(tt.xs, w), OverviewFilter{}))
		})
	}
}

func TestOverviewTopicFilter(t *testing.T) {
	xs := []exchange.Exchange{
		ovX(0, "Produce", "10.0.0.1:1", "10.0.1.1:9092", "p", time.Millisecond,
			ovTT{"a", []ovPart{{0, 1, 100, ""}}}, ovTT{"b", []ovPart{{0, 1, 100, ""}}}),
		ovX(time.Millisecond, "Metadata", "10.0.0.1:1", "10.0.1.1:9092", "p", time.Millisecond),
	}
	o := Overview(Of(xs, Window{}), OverviewFilter{Topics: []string{"b"}})
	if len(o.Topics) != 1 || o.Topics[0].Name != "b" || o.Exchanges != 1 {
		t.Errorf("topics = %+v, exchanges = %d: want only b, from the one Produce", o.Topics, o.Exchanges)
	}
}

func TestLatencyQuantiles(t *testing.T) {
	var s rlStats
	for i := 1; i <= 1000; i++ {
		d := time.Duration(i) * time.Millisecond
		s.add(&exchange.Exchange{Latency: &d}, nil)
	}
	for _, q := range []struct{ q, want float64 }{{0.5, 0.5}, {0.9, 0.9}, {0.99, 0.99}} {
		if got := s.quantile(q.q); math.Abs(got-q.want)/q.want > 0.02 {
			t.Errorf("p%v = %v, want %v within 2%%", q.q*100, got, q.want)
		}
	}
}

// TestOverviewParallel: the overview computed in parts and merged is the
// one computed in one pass.
func TestOverviewParallel(t *testing.T) {
	xs := benchExchanges(50_000, 3)
	// A group named only in the first part must reach the consumers.
	for i := 0; i < 200; i++ {
		e := ovX(0, "JoinGroup", xs[i].Client.Addr, xs[i].Server.Addr, xs[i].ClientID, time.Millisecond)
		e.Time, e.Client, e.Group = xs[0].Time, xs[i].Client, "g"
		xs[i] = e
	}
	w := WindowOf(xs)
	defer func(v int) { ovParallelMin = v }(ovParallelMin)
	ovParallelMin = len(xs) + 1
	one := Overview(Of(xs, w), OverviewFilter{})
	ovParallelMin = 1
	parts := Overview(Of(xs, w), OverviewFilter{})
	a, _ := json.Marshal(one)
	b, _ := json.Marshal(parts)
	if string(a) != string(b) {
		t.Errorf("parallel overview differs from the one-pass one")
	}
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one CPU: nothing was cut")
	}
}
