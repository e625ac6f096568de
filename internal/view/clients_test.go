package view

import (
	"math"
	"testing"
	"time"

	"kscope/internal/exchange"
	"kscope/internal/inspect"
)

func consumerOf(t *testing.T, v ClientsView, client string) ConsumerLag {
	t.Helper()
	for _, c := range v.Consumers {
		if c.ClientID == client {
			return c
		}
	}
	t.Fatalf("no consumer %s in %+v", client, v.Consumers)
	return ConsumerLag{}
}

func TestClientsOffsetAndTimeLag(t *testing.T) {
	xs := slowAndFast()
	commit := exchange.Exchange{
		Time: t0.Add(29*time.Second + 200*time.Millisecond), Latency: dur(time.Millisecond), APIKey: 8, API: "OffsetCommit",
		ClientID: "invoicing", Group: "billing",
		Client: exchange.Endpoint{Addr: "10.0.0.3:42001"}, Server: exchange.Endpoint{Addr: "10.0.0.9:9092"},
		Topics: []exchange.Topic{{Name: "orders", Partitions: []exchange.Partition{{Partition: 0, CommittedOffset: lagPtr(int64(150))}}}},
	}
	xs = append(xs, commit)
	v := Clients(Of(xs, WindowOf(xs)), ClientsFilter{})
	fast, slow := consumerOf(t, v, "shipping"), consumerOf(t, v, "invoicing")

	if fast.OffsetLag == nil || *fast.OffsetLag != 0 || fast.TimeLagSeconds == nil || *fast.TimeLagSeconds != 0 {
		t.Errorf("fast consumer lag %v / %v, want 0 / 0", fast.OffsetLag, fast.TimeLagSeconds)
	}
	// Last slow fetch: asked 145, got [145,150), high watermark 300.
	if slow.NextOffset == nil || *slow.NextOffset != 150 || slow.OffsetLag == nil || *slow.OffsetLag != 150 {
		t.Errorf("slow next %v lag %v, want 150 / 150", slow.NextOffset, slow.OffsetLag)
	}
	// Offset 150 was appended when the Produce at 15s was answered
	// (15.002s); the window ends with the commit at 29.2s.
	if slow.TimeLagSeconds == nil || math.Abs(*slow.TimeLagSeconds-14.198) > 1e-6 {
		t.Errorf("slow time lag %v, want 14.198", slow.TimeLagSeconds)
	}
	// The freshest log end is the last Produce's (at 29.002s), newer
	// than the slow consumer's own fetch (29.101s is later, but says
	// 300 too: the later wins).
	if slow.HighWatermark == nil || *slow.HighWatermark != 300 || slow.HighWatermarkAt == nil {
		t.Errorf("slow high watermark %v at %v", slow.HighWatermark, slow.HighWatermarkAt)
	}
	if slow.Group != "billing" {
		t.Errorf("group %q, want billing (from its OffsetCommit)", slow.Group)
	}
	// Committed 150: the last committed record 149 was appended at
	// 14.002s, committed at 29.2s.
	if slow.CommitLagSeconds == nil || math.Abs(*slow.CommitLagSeconds-15.198) > 1e-6 {
		t.Errorf("commit lag %v, want 15.198", slow.CommitLagSeconds)
	}
	if fast.CommitLagSeconds != nil {
		t.Errorf("fast consumer never committed: commit lag %v, want null", *fast.CommitLagSeconds)
	}
	if len(v.Producers) != 1 {
		t.Fatalf("producers %+v", v.Producers)
	}
	p := v.Producers[0]
	if p.Records != 300 || p.Requests != 30 || p.Acks != "all" || math.Abs(p.RecordsPerSec-300/v.windowSeconds()) > 1e-9 {
		t.Errorf("producer %+v", p)
	}
}

func (v ClientsView) windowSeconds() float64 { return Window{v.From, v.To}.Seconds() }

func TestClientsProducerErrorsAndAcks0(t *testing.T) {
	ok := produce("p", t0, "t", 0, 0, 10)
	bad := produce("p", t0.Add(time.Second), "t", 0, 0, 10)
	bad.Topics[0].Partitions[0].Error = "NOT_LEADER_OR_FOLLOWER"
	bad.Topics[0].Partitions[0].BaseOffset = lagPtr(int64(-1))
	fire := produce("p", t0.Add(2*time.Second), "t", 0, 0, 10)
	fire.Latency, fire.Topics[0].Partitions[0].BaseOffset, fire.Detail.Acks = nil, nil, lagPtr(int16(0))
	xs := []exchange.Exchange{ok, bad, fire}
	v := Clients(Of(xs, WindowOf(xs)), ClientsFilter{})
	if len(v.Producers) != 1 {
		t.Fatalf("producers %+v", v.Producers)
	}
	p := v.Producers[0]
	if p.Errors["NOT_LEADER_OR_FOLLOWER"] != 1 || p.NoResponse != 1 || p.Acks != "0,all" || p.Requests != 3 {
		t.Errorf("producer %+v", p)
	}
	if ix := BuildOffsetIndex(xs); ix.Ranges() != 1 {
		t.Errorf("index holds %d ranges, want 1 (errors and acks=0 give no offset)", ix.Ranges())
	}
}

func TestOffsetIndexBoundedAndOverlaps(t *testing.T) {
	ix := NewOffsetIndex(3)
	for i := range int64(5) {
		e := produce("p", t0.Add(time.Duration(i)*time.Second), "t", 0, i*10, 10)
		ix.Add(&e)
	}
	if ix.Ranges() != 3 || ix.Dropped != 2 {
		t.Errorf("ranges %d dropped %d, want 3 and 2", ix.Ranges(), ix.Dropped)
	}
	if _, ok := ix.Lookup("t", 0, 5); ok {
		t.Error("an evicted range still answers")
	}
	if at, ok := ix.Lookup("t", 0, 49); !ok || !at.Produced.Equal(t0.Add(4*time.Second)) {
		t.Errorf("offset 49: %+v %v", at, ok)
	}
	if _, ok := ix.Lookup("t", 0, 50); ok {
		t.Error("offset 50 was never produced")
	}
	// The topic recreated: offsets from 0 again replace what overlaps.
	e := produce("p", t0.Add(time.Minute), "t", 0, 25, 10)
	ix.Add(&e)
	if at, ok := ix.Lookup("t", 0, 30); !ok || !at.Produced.Equal(t0.Add(time.Minute)) {
		t.Errorf("offset 30 after overlap: %+v", at)
	}
	if _, ok := ix.Lookup("t", 0, 22); ok {
		t.Error("offset 22: its range overlapped a newer one and should be gone")
	}
	// LogAppendTime wins over the response time.
	lat := t0.Add(time.Hour)
	e = produce("p", t0, "u", 0, 0, 1)
	e.Topics[0].Partitions[0].LogAppendTime = &lat
	ix.Add(&e)
	if at, _ := ix.Lookup("u", 0, 0); !at.LogAppendTime || !at.Appended.Equal(lat) {
		t.Errorf("log append time not used: %+v", at)
	}
}

// With fetch sessions a request leaves out a partition whose fetch offset
// did not change; the response still returns its records. The lag counts
// them, from the offset the process sent last.
func TestClientsFetchSessionOmitsOffset(t *testing.T) {
	var xs []exchange.Exchange
	for s := range 3 {
		xs = append(xs, produce("order", t0.Add(time.Duration(s)*time.Second), "orders", 0, int64(s*10), 10))
	}
	// An empty long poll from 10, then records [10,30) for a request
	// that did not name the partition.
	xs = append(xs, fetch("shipping", t0.Add(1100*time.Millisecond), fetchPart{"orders", 0, 10, 0, time.Time{}, 10}))
	f := fetch("shipping", t0.Add(2500*time.Millisecond), fetchPart{"orders", 0, 10, 20, t0.Add(2 * time.Second), 30})
	f.Topics[0].Partitions[0].FetchOffset = nil
	xs = append(xs, f)
	c := consumerOf(t, Clients(Of(xs, WindowOf(xs)), ClientsFilter{}), "shipping")
	if c.NextOffset == nil || *c.NextOffset != 30 || c.OffsetLag == nil || *c.OffsetLag != 0 || c.Records != 20 || c.Fetches != 2 {
		t.Errorf("consumer %+v: want next offset 30, lag 0, 20 records in 2 fetches", c)
	}
}

// After a rebalance moves a partition, its row is its new owner's: the
// former owner's last fetch is no longer the group's lag.
func TestClientsPartitionMovedInGroup(t *testing.T) {
	var xs []exchange.Exchange
	for s := range 10 {
		xs = append(xs, produce("order", t0.Add(time.Duration(s)*time.Second), "orders", 0, int64(s*10), 10))
	}
	group := func(e exchange.Exchange, pid uint32) exchange.Exchange {
		e.Client.PID, e.Client.Process = pid, "shipping"
		return e
	}
	join := func(pid uint32, at time.Time) exchange.Exchange {
		return group(exchange.Exchange{Time: at, Latency: dur(time.Millisecond), APIKey: 11, API: "JoinGroup", ClientID: "shipping", Group: "shipping",
			Client: exchange.Endpoint{Addr: "10.0.0.2:41000"}, Server: exchange.Endpoint{Addr: "10.0.0.9:9092"}}, pid)
	}
	xs = append(xs, join(1, t0), join(2, t0.Add(4*time.Second)))
	// Process 1 owns the partition for 5 s, then process 2.
	xs = append(xs, group(fetch("shipping", t0.Add(4100*time.Millisecond), fetchPart{"orders", 0, 40, 10, t0.Add(4 * time.Second), 50}), 1))
	xs = append(xs, group(fetch("shipping", t0.Add(9100*time.Millisecond), fetchPart{"orders", 0, 90, 10, t0.Add(9 * time.Second), 100}), 2))
	v := Clients(Of(xs, WindowOf(xs)), ClientsFilter{})
	if len(v.Consumers) != 1 || v.Consumers[0].Process != "shipping[2]" || *v.Consumers[0].NextOffset != 100 {
		t.Errorf("consumers %+v: want only shipping[2] at offset 100", v.Consumers)
	}
}

// A broker-side copy whose client side is not in yet (the broker wrote the
// response, the client has not read it) is named after the client process
// of its connection, not left as an untraced client.
func TestOnceNamesBrokerSideByConnection(t *testing.T) {
	mk := func(side string, corr int32, pid uint32) exchange.Exchange {
		e := produce("order-service", t0.Add(time.Duration(corr)*time.Second), "orders", 0, int64(corr*10), 10)
		e.Side, e.CorrelationID = side, corr
		e.Client.PID = pid
		if pid != 0 {
			e.Client.Process = "order"
		}
		return e
	}
	xs := []exchange.Exchange{mk("client", 1, 42), mk("server", 1, 0), mk("server", 2, 0)}
	out := Once(xs)
	if len(out) != 2 {
		t.Fatalf("Once kept %d exchanges, want 2", len(out))
	}
	for _, e := range out {
		if e.Client.PID != 42 || procKey(&e) != "order[42]" {
			t.Errorf("exchange %d named %q (pid %d), want order[42]", e.CorrelationID, procKey(&e), e.Client.PID)
		}
	}
	other := mk("server", 3, 0)
	other.Client.Addr = "10.0.0.7:5000"
	if out := Once(append(xs, other)); out[len(out)-1].Client.PID != 0 {
		t.Errorf("a connection never seen from its client got a process: %+v", out[len(out)-1].Client)
	}
}

// TestClientsLagWhenFetchesStop: a consumer with records buffered stops
// fetching; its lag is measured at the window's end against the log end
// others' traffic tells (the producer's responses, another consumer's
// fetches), so it grows, not stays at what its last fetch said. Its row
// says where the log end came from and since when it has not fetched.
func TestClientsLagWhenFetchesStop(t *testing.T) {
	var xs []exchange.Exchange
	for s := range 40 {
		xs = append(xs, produce("order", t0.Add(time.Duration(s)*time.Second), "orders", 0, int64(s*10), 10))
	}
	// The slow consumer fetched twice, early on; the fast one keeps up
	// until 20 s.
	for s := range 2 {
		slow := fetch("invoicing", t0.Add(time.Duration(s)*time.Second+100*time.Millisecond), fetchPart{"orders", 0, int64(s * 5), 5, t0, int64(s*10 + 10)})
		slow.Client.Addr = "10.0.0.3:42000"
		xs = append(xs, slow)
	}
	for s := range 20 {
		xs = append(xs, fetch("shipping", t0.Add(time.Duration(s)*time.Second+200*time.Millisecond), fetchPart{"orders", 0, int64(s * 10), 10, t0, int64(s*10 + 10)}))
	}
	w := Window{From: t0, To: t0.Add(40 * time.Second)}
	v := Clients(Of(xs, w), ClientsFilter{})
	slow := consumerOf(t, v, "invoicing")
	// Next offset 10; the last Produce (39 s, answered 39.002 s) ended
	// the log at 400.
	if slow.OffsetLag == nil || *slow.OffsetLag != 390 || slow.HighWatermarkSource != EndProduce || !slow.HighWatermarkAt.Equal(t0.Add(39*time.Second+2*time.Millisecond)) {
		t.Errorf("slow: lag %v, log end from %q at %v; want 390 from the producer at 39.002s", slow.OffsetLag, slow.HighWatermarkSource, slow.HighWatermarkAt)
	}
	// Offset 10 appended at 1.002 s: 38.998 s old at the window's end.
	if slow.TimeLagSeconds == nil || math.Abs(*slow.TimeLagSeconds-38.998) > 1e-6 {
		t.Errorf("slow time lag %v, want 38.998", slow.TimeLagSeconds)
	}
	if slow.LastFetch == nil || !slow.LastFetch.Equal(t0.Add(1100*time.Millisecond+time.Millisecond)) {
		t.Errorf("last fetch %v", slow.LastFetch)
	}
	// Without the producer's traffic, the fast consumer's fetches tell
	// the log end.
	var noProduce []exchange.Exchange
	for _, e := range xs {
		if e.API != "Produce" {
			noProduce = append(noProduce, e)
		}
	}
	slow = consumerOf(t, Clients(Of(noProduce, w), ClientsFilter{}), "invoicing")
	if slow.OffsetLag == nil || *slow.OffsetLag != 190 || slow.HighWatermarkSource != EndOtherFetch {
		t.Errorf("without producers: lag %v from %q, want 190 from another fetch", slow.OffsetLag, slow.HighWatermarkSource)
	}
	// A cluster poll after that is fresher still.
	in := Of(noProduce, w)
	in.Cluster = []inspect.Snapshot{{Time: t0.Add(35 * time.Second), Topics: []inspect.Topic{{Name: "orders",
		Partitions: []inspect.Partition{{Partition: 0, Leader: 1, LogStartOffset: 0, HighWatermark: 350, LastStableOffset: 350}}}}}}
	slow = consumerOf(t, Clients(in, ClientsFilter{}), "invoicing")
	if slow.OffsetLag == nil || *slow.OffsetLag != 340 || slow.HighWatermarkSource != EndCluster {
		t.Errorf("with a poll: lag %v from %q, want 340 from the cluster", slow.OffsetLag, slow.HighWatermarkSource)
	}
}

// TestClientsPosition: a consumer whose commit is below what it had
// fetched a second before works through a backlog: its lag counts from
// its commit. One that commits what it fetched, every 5 s, counts from
// its fetches: the commit interval is not lag.
func TestClientsPosition(t *testing.T) {
	var xs []exchange.Exchange
	for s := range 30 {
		at := t0.Add(time.Duration(s) * time.Second)
		xs = append(xs, produce("order", at, "orders", 0, int64(s*10), 10))
		// Both fetch all there is each second.
		for _, c := range []struct {
			id, addr string
		}{{"buffered", "10.0.0.3:42000"}, {"prompt", "10.0.0.4:42000"}} {
			f := fetch(c.id, at.Add(100*time.Millisecond), fetchPart{"orders", 0, int64(s * 10), 10, at, int64(s*10 + 10)})
			f.Client.Addr = c.addr
			xs = append(xs, f)
			if s%5 != 4 {
				continue
			}
			// Every 5 s: buffered commits 2 records a second, prompt all
			// it fetched.
			committed := int64(s*10 + 10)
			if c.id == "buffered" {
				committed = int64(2 * s)
			}
			xs = append(xs, exchange.Exchange{
				Time: at.Add(500 * time.Millisecond), Latency: dur(time.Millisecond), APIKey: 8, API: "OffsetCommit", ClientID: c.id, Group: c.id,
				Client: exchange.Endpoint{Addr: c.addr}, Server: exchange.Endpoint{Addr: "10.0.0.9:9092"},
				Topics: []exchange.Topic{{Name: "orders", Partitions: []exchange.Partition{{Partition: 0, CommittedOffset: lagPtr(committed)}}}},
			})
		}
	}
	// buffered also fetched orders/1 once, and has committed none of it.
	xs = append(xs, produce("order", t0, "orders", 1, 0, 10))
	f := fetch("buffered", t0.Add(100*time.Millisecond), fetchPart{"orders", 1, 0, 10, t0, 10})
	f.Client.Addr = "10.0.0.3:42000"
	xs = append(xs, f)
	// The window ends at 29.9 s: the last commits were at 29.5 s.
	v := Clients(Of(xs, Window{From: t0, To: t0.Add(29900 * time.Millisecond)}), ClientsFilter{})
	b, p := consumerOf(t, v, "buffered"), consumerOf(t, v, "prompt")
	for _, c := range v.Consumers {
		if c.ClientID == "buffered" && c.Partition == 1 && (c.PositionSource != PositionFirstFetch || *c.Position != 0 || *c.OffsetLag != 10) {
			t.Errorf("buffered orders/1: position %v from %s, lag %v; want 0 from its first fetch, 10", *c.Position, c.PositionSource, *c.OffsetLag)
		}
	}
	if b.PositionSource != PositionCommit || *b.Position != 58 || *b.OffsetLag != 242 || *b.FetchLag != 0 {
		t.Errorf("buffered: position %v from %s, lag %v, fetch lag %v; want 58 from its commit, 242, 0", *b.Position, b.PositionSource, *b.OffsetLag, *b.FetchLag)
	}
	// Record 58 was produced at 5.002 s.
	if b.TimeLagSeconds == nil || math.Abs(*b.TimeLagSeconds-24.898) > 1e-6 {
		t.Errorf("buffered time lag %v, want 24.898", b.TimeLagSeconds)
	}
	if p.PositionSource != PositionFetch || *p.Position != 300 || *p.OffsetLag != 0 || *p.TimeLagSeconds != 0 {
		t.Errorf("prompt: position %v from %s, lag %v, time lag %v; want 300 from its fetches, 0", *p.Position, p.PositionSource, *p.OffsetLag, *p.TimeLagSeconds)
	}
}
