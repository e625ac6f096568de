package view

import (
	"math"
	"testing"
	"time"

	"kscope/internal/exchange"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func dur(d time.Duration) *time.Duration { return &d }

// produce is a Produce of n records to topic/partition at time at,
// answered 2 ms later with base offset base.
func produce(client string, at time.Time, topic string, partition int32, base, n int64) exchange.Exchange {
	return exchange.Exchange{
		Time: at, Latency: dur(2 * time.Millisecond), APIKey: 0, API: "Produce", ClientID: client,
		Client: exchange.Endpoint{Addr: "10.0.0.1:40000"}, Server: exchange.Endpoint{Addr: "10.0.0.9:9092"},
		Detail: &exchange.Detail{Acks: lagPtr(int16(-1))},
		Topics: []exchange.Topic{{Name: topic, Partitions: []exchange.Partition{{
			Partition: partition, Records: n, Bytes: 100 * n, BaseOffset: lagPtr(base),
		}}}},
	}
}

// fetchPart is one partition of a fetch response: batches [base, base+n)
// whose max timestamp is maxTS, and the high watermark.
type fetchPart struct {
	topic     string
	partition int32
	fetchOff  int64
	n         int64
	maxTS     time.Time
	hw        int64
}

func fetch(client string, at time.Time, parts ...fetchPart) exchange.Exchange {
	e := exchange.Exchange{
		Time: at, Latency: dur(time.Millisecond), APIKey: 1, API: "Fetch", ClientID: client,
		Client: exchange.Endpoint{Addr: "10.0.0.2:41000"}, Server: exchange.Endpoint{Addr: "10.0.0.9:9092"},
		Detail: &exchange.Detail{MaxWaitMS: lagPtr(int32(500))},
	}
	for _, p := range parts {
		ep := exchange.Partition{Partition: p.partition, FetchOffset: lagPtr(p.fetchOff), HighWatermark: lagPtr(p.hw), Records: p.n}
		if p.n > 0 {
			ep.Batches = []exchange.Batch{{BaseOffset: p.fetchOff, LastOffsetDelta: int32(p.n - 1), Records: int32(p.n),
				FirstTimestamp: p.maxTS, MaxTimestamp: p.maxTS, TimestampType: "CreateTime", Magic: 2}}
		}
		i := -1
		for j := range e.Topics {
			if e.Topics[j].Name == p.topic {
				i = j
			}
		}
		if i < 0 {
			e.Topics = append(e.Topics, exchange.Topic{Name: p.topic})
			i = len(e.Topics) - 1
		}
		e.Topics[i].Partitions = append(e.Topics[i].Partitions, ep)
	}
	return e
}

// slowAndFast: a producer writes 10 records a second to orders/0; a fast
// consumer fetches each second what was just produced; a slow one reads
// 5 records a second, falling further behind.
func slowAndFast() []exchange.Exchange {
	var xs []exchange.Exchange
	for s := range 30 {
		at := t0.Add(time.Duration(s) * time.Second)
		xs = append(xs, produce("order", at, "orders", 0, int64(s*10), 10))
	}
	for s := range 30 {
		at := t0.Add(time.Duration(s)*time.Second + 100*time.Millisecond)
		hw := int64(s*10 + 10)
		// The fast consumer gets the 10 just produced (created at s).
		xs = append(xs, fetch("shipping", at, fetchPart{"orders", 0, int64(s * 10), 10, t0.Add(time.Duration(s) * time.Second), hw}))
		// The slow one gets records [5s, 5s+5), produced at s/2.
		off := int64(s * 5)
		slow := fetch("invoicing", at, fetchPart{"orders", 0, off, 5, t0.Add(time.Duration(off/10) * time.Second), hw})
		slow.Client.Addr = "10.0.0.3:42000"
		xs = append(xs, slow)
	}
	return xs
}

func seriesOf(t *testing.T, v LatencyView, consumer string) LatencySeries {
	t.Helper()
	for _, s := range v.Series {
		if matchesLabel(consumer, s.Consumer) {
			return s
		}
	}
	t.Fatalf("no series for consumer %s in %+v", consumer, v.Series)
	return LatencySeries{}
}

func TestLatencySlowConsumerRisesFastStaysNearZero(t *testing.T) {
	xs := slowAndFast()
	v := Latency(Of(xs, WindowOf(xs)), LatencyFilter{Topic: "orders"})
	fast, slow := seriesOf(t, v, "shipping"), seriesOf(t, v, "invoicing")
	if fast.Producer != "order@10.0.0.1" || slow.Producer != "order@10.0.0.1" {
		t.Errorf("producer not known from the Produce seen: %q %q", fast.Producer, slow.Producer)
	}
	if len(fast.Points) != 30 || len(slow.Points) != 30 {
		t.Fatalf("points: fast %d slow %d, want 30 each", len(fast.Points), len(slow.Points))
	}
	for _, p := range fast.Points {
		if p.DelaySeconds < 0 || p.DelaySeconds > 0.2 {
			t.Errorf("fast consumer delay %.3fs at %s, want near zero", p.DelaySeconds, p.Time)
		}
		if p.ExactDelaySeconds == nil || *p.ExactDelaySeconds > 0.2 || *p.ExactDelaySeconds < 0 {
			t.Errorf("fast consumer exact delay %v, want known and near zero", p.ExactDelaySeconds)
		}
		if p.TimestampType != "CreateTime" {
			t.Errorf("timestamp type %q", p.TimestampType)
		}
	}
	first, last := slow.Points[0], slow.Points[len(slow.Points)-1]
	if last.DelaySeconds < 10 || last.DelaySeconds <= first.DelaySeconds+10 {
		t.Errorf("slow consumer delay went %.1fs -> %.1fs, want rising past 10s", first.DelaySeconds, last.DelaySeconds)
	}
	// The last slow fetch returns offsets [145,150), produced at 14s, and
	// arrives at 29.101s: exactly 15.101s later.
	if last.ExactDelaySeconds == nil || math.Abs(*last.ExactDelaySeconds-15.101) > 1e-6 {
		t.Errorf("slow exact delay %v, want 15.101", last.ExactDelaySeconds)
	}
}

func TestLatencyUnknownProduceIsNullNotInvented(t *testing.T) {
	// Produces seen for offsets [0,10) and [100,110) only; a fetch of
	// [50,60) lies between them and must not be interpolated.
	xs := []exchange.Exchange{
		produce("p", t0, "t", 0, 0, 10),
		produce("p", t0.Add(10*time.Second), "t", 0, 100, 10),
		fetch("c", t0.Add(20*time.Second), fetchPart{"t", 0, 50, 10, t0.Add(5 * time.Second), 110}),
	}
	v := Latency(Of(xs, WindowOf(xs)), LatencyFilter{})
	if len(v.Series) != 1 || len(v.Series[0].Points) != 1 {
		t.Fatalf("series %+v", v.Series)
	}
	s := v.Series[0]
	if s.Producer != "" || s.Points[0].ExactDelaySeconds != nil {
		t.Errorf("exact delay %v producer %q: invented from neighbouring ranges", s.Points[0].ExactDelaySeconds, s.Producer)
	}
	if d := s.Points[0].DelaySeconds; math.Abs(d-15.001) > 1e-6 {
		t.Errorf("timestamp delay %.6f, want 15.001", d)
	}
	c := Clients(Of(xs, WindowOf(xs)), ClientsFilter{})
	if len(c.Consumers) != 1 {
		t.Fatalf("consumers %+v", c.Consumers)
	}
	if cl := c.Consumers[0]; cl.OffsetLag == nil || *cl.OffsetLag != 50 || cl.TimeLagSeconds != nil {
		t.Errorf("offset lag %v (want 50), time lag %v (want null: offset 60 never seen produced)", cl.OffsetLag, cl.TimeLagSeconds)
	}
}

func TestLatencyManyTopicsAndReplicaFetches(t *testing.T) {
	var xs []exchange.Exchange
	var parts []fetchPart
	for i, topic := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		for p := range int32(7) {
			xs = append(xs, produce("p", t0, topic, p, 0, 3))
			parts = append(parts, fetchPart{topic, p, 0, 3, t0.Add(time.Duration(i) * time.Millisecond), 3})
		}
	}
	xs = append(xs, fetch("c", t0.Add(time.Second), parts...))
	replica := fetch("broker-1", t0.Add(time.Second), parts...)
	replica.Detail.Replica, replica.Detail.ReplicaID = true, lagPtr(int32(1))
	replica.Client.Addr = "10.0.0.8:50000"
	xs = append(xs, replica)
	v := Latency(Of(xs, WindowOf(xs)), LatencyFilter{})
	if len(v.Series) != 49 {
		t.Errorf("%d series, want 49 (7 topics × 7 partitions, one consumer)", len(v.Series))
	}
	for _, s := range v.Series {
		if s.Consumer != "c@10.0.0.2" {
			t.Errorf("series for %s: a replica fetch counted as a consumer", s.Consumer)
		}
	}
	c := Clients(Of(xs, WindowOf(xs)), ClientsFilter{})
	if len(c.Consumers) != 49 {
		t.Errorf("%d consumer rows, want 49", len(c.Consumers))
	}
}

func TestLatencyOnceAndFilters(t *testing.T) {
	xs := slowAndFast()
	// The same fetch seen from the broker's side too.
	dup := xs[len(xs)-1]
	xs[len(xs)-1].Side = "client"
	dup.Side = "server"
	xs = append(xs, dup)
	v := Latency(Of(xs, WindowOf(xs)), LatencyFilter{Consumer: "invoicing"})
	if len(v.Series) != 1 || len(v.Series[0].Points) != 30 {
		t.Fatalf("want one series of 30 points for invoicing, got %+v", v.Series)
	}
	if v := Latency(Of(xs, WindowOf(xs)), LatencyFilter{Producer: "nobody"}); len(v.Series) != 0 {
		t.Errorf("producer filter kept %d series", len(v.Series))
	}
	if v := Latency(Of(xs, WindowOf(xs)), LatencyFilter{Producer: "order"}); len(v.Series) != 2 {
		t.Errorf("producer filter: %d series, want 2", len(v.Series))
	}
}

// BenchmarkLatencyAndClients: 15 minutes of a producer and two consumers
// on 30 partitions, 100 produce and 200 fetch exchanges a second (270,000
// exchanges), the scale the agent's store holds.
func BenchmarkLatencyAndClients(b *testing.B) {
	var xs []exchange.Exchange
	for s := range 900 {
		for k := range 100 {
			at := t0.Add(time.Duration(s)*time.Second + time.Duration(k)*10*time.Millisecond)
			p := int32(k % 30)
			off := int64(s*100+k) / 30 * 10
			xs = append(xs, produce("order", at, "orders", p, off, 10))
			xs = append(xs, fetch("shipping", at.Add(5*time.Millisecond), fetchPart{"orders", p, off, 10, at, off + 10}))
			xs = append(xs, fetch("invoicing", at.Add(5*time.Millisecond), fetchPart{"orders", p, off / 2, 10, at.Add(-time.Minute), off + 10}))
		}
	}
	w := WindowOf(xs)
	b.ResetTimer()
	for b.Loop() {
		Latency(Of(xs, w), LatencyFilter{})
		Clients(Of(xs, w), ClientsFilter{})
	}
}
