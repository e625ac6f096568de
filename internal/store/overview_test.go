package store_test

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"kscope/internal/exchange"
	"kscope/internal/store"
	"kscope/internal/view"
)

var ovT0 = time.Date(2026, 11, 22, 4, 0, 0, 0, time.UTC)

// ovTraffic is 30 seconds of what an agent sees: traced producers and
// consumers (several topics per request, partition errors, acks=0),
// consumers that long-poll empty, one that changes group half-way, a
// follower broker's replica fetches, exchanges traced from both sides
// (the broker's copy before or after the client's), and broker-side
// copies of untraced clients.
func ovTraffic() []exchange.Exchange {
	var xs []exchange.Exchange
	lat := func(d time.Duration) *time.Duration { return &d }
	corr := int32(0)
	maxWait := int32(500)
	topics := []string{"orders", "payments", "audit", "only-produced"}
	part := func(name string, n int, recs, bytes int64, errAt int) exchange.Topic {
		t := exchange.Topic{Name: name}
		for p := range n {
			pt := exchange.Partition{Partition: int32(p), Records: recs, Bytes: bytes}
			if p == errAt {
				pt.Error = "NOT_LEADER_OR_FOLLOWER"
			}
			t.Partitions = append(t.Partitions, pt)
		}
		return t
	}
	for s := range 30 {
		base := ovT0.Add(time.Duration(s) * time.Second)
		for i := range 40 {
			at := base.Add(time.Duration(i) * 24 * time.Millisecond)
			corr++
			c := i % 8
			e := exchange.Exchange{
				Time:          at,
				Client:        exchange.Endpoint{Addr: fmt.Sprintf("10.0.1.%d:%d", c, 40000+c), PID: uint32(100 + c), Process: fmt.Sprintf("svc%d", c)},
				Server:        exchange.Endpoint{Addr: fmt.Sprintf("10.0.0.%d:9092", 1+i%3)},
				Side:          "client",
				CorrelationID: corr,
				ClientID:      fmt.Sprintf("client-%d", c),
				Latency:       lat(time.Duration(300+(i*37+s*11)%4000) * time.Microsecond),
			}
			switch {
			case c < 3: // producers
				e.API, e.APIKey = "Produce", 0
				e.Topics = []exchange.Topic{part(topics[c%2], 3, 5, 700, (i+s)%7), part(topics[3], 1+c, 2, 90, -1)}
				if c == 2 && i%5 == 0 {
					e.Latency = nil // acks=0
				}
			case c < 6: // consumers
				e.API, e.APIKey = "Fetch", 1
				e.Detail = &exchange.Detail{MaxWaitMS: &maxWait}
				if i%3 == 0 {
					e.Topics = []exchange.Topic{part("orders", 2, 0, 0, -1)}
					e.Latency = lat(time.Duration(490+i%20) * time.Millisecond)
				} else {
					e.Topics = []exchange.Topic{part("orders", 3, 4, 560, -1), part("payments", 2, 1, 80, -1)}
				}
				if i%11 == 0 {
					e.Error = "NOT_COORDINATOR"
				}
			case c == 6: // group traffic of the consumers
				e.API, e.APIKey = "Heartbeat", 12
				e.Client = exchange.Endpoint{Addr: fmt.Sprintf("10.0.1.%d:%d", 3+i%3, 40003+i%3), PID: uint32(103 + i%3), Process: fmt.Sprintf("svc%d", 3+i%3)}
				e.ClientID = fmt.Sprintf("client-%d", 3+i%3)
				e.Group = "billing"
				if i%3 == 1 && s >= 15 {
					e.Group = "billing-v2"
				}
				if i%9 == 0 {
					e.API, e.APIKey, e.Error = "JoinGroup", 11, "REBALANCE_IN_PROGRESS"
				}
			default: // a follower broker, seen on the leader's side
				e.API, e.APIKey, e.Side = "Fetch", 1, "server"
				e.Client = exchange.Endpoint{Addr: "10.0.0.3:51000"}
				e.ClientID = "broker-3-fetcher-0"
				e.Detail = &exchange.Detail{Replica: true, MaxWaitMS: &maxWait}
				e.Topics = []exchange.Topic{part("orders", 3, 4, 560, -1), part("audit", 1, 1, 50, -1)}
			}
			// Both ends traced: the broker's copy (no process) comes
			// just before or just after the client's.
			if e.Side == "client" && i%4 != 3 {
				twin := e
				twin.Side = "server"
				twin.Client = exchange.Endpoint{Addr: e.Client.Addr}
				twin.Time = at.Add(150 * time.Microsecond)
				if i%2 == 0 {
					xs = append(xs, twin, e)
				} else {
					xs = append(xs, e, twin)
				}
				continue
			}
			xs = append(xs, e)
			if i%13 == 0 {
				// An untraced client, seen by the broker only.
				u := e
				corr++
				u.Side, u.CorrelationID = "server", corr
				u.Client = exchange.Endpoint{Addr: "192.168.7.7:33000"}
				u.ClientID = "untraced"
				xs = append(xs, u)
			}
		}
	}
	return xs
}

// partsOverview adds xs to a store that keeps the overview's parts and
// merges those of w.
func partsOverview(t *testing.T, xs []exchange.Exchange, w view.Window, cfg store.Config) (view.OverviewView, *store.Store) {
	t.Helper()
	st := store.New(cfg)
	st.KeepPartials(func() store.Partial { return view.NewOverviewPart() })
	for _, e := range xs {
		st.Add(e)
	}
	var o view.OverviewView
	if ok := st.Parts(w.From, w.To, 0, func(c store.Cover) {
		if !c.From.Equal(w.From) || !c.To.Equal(w.To) {
			t.Fatalf("the parts cover %v-%v, want %v", c.From, c.To, w)
		}
		o = view.OverviewOfParts(w, overviewParts(c.Parts))
	}); !ok {
		t.Fatal("no parts kept")
	}
	return o, st
}

// sameOverview fails unless a and b have the same JSON, numbers equal to
// a relative 1e-9 (sums of rates in another order).
func sameOverview(t *testing.T, got, want view.OverviewView) {
	t.Helper()
	var g, w any
	for _, p := range []struct {
		o   view.OverviewView
		dst *any
	}{{got, &g}, {want, &w}} {
		b, err := json.Marshal(p.o)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, p.dst); err != nil {
			t.Fatal(err)
		}
	}
	if path, ok := jsonEqual("", g, w); !ok {
		gj, _ := json.MarshalIndent(got, "", " ")
		wj, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("overview from parts differs at %s\nparts: %.3000s\nexchanges: %.3000s", path, gj, wj)
	}
}

func jsonEqual(path string, a, b any) (string, bool) {
	switch av := a.(type) {
	case float64:
		bv, ok := b.(float64)
		if !ok || math.Abs(av-bv) > 1e-9*math.Max(math.Abs(av), math.Abs(bv)) {
			return fmt.Sprintf("%s: %v != %v", path, a, b), false
		}
		return "", true
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok || len(av) != len(bv) {
			return fmt.Sprintf("%s: keys %v != %v", path, keys(av), keys(b)), false
		}
		for k := range av {
			if p, ok := jsonEqual(path+"."+k, av[k], bv[k]); !ok {
				return p, false
			}
		}
		return "", true
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			return fmt.Sprintf("%s: %d items != %v", path, len(av), b), false
		}
		for i := range av {
			if p, ok := jsonEqual(fmt.Sprintf("%s[%d]", path, i), av[i], bv[i]); !ok {
				return p, false
			}
		}
		return "", true
	}
	if !reflect.DeepEqual(a, b) {
		return fmt.Sprintf("%s: %v != %v", path, a, b), false
	}
	return "", true
}

func keys(v any) []string {
	m, _ := v.(map[string]any)
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// TestOverviewPartsEqualView: the overview merged from the store's
// per-second parts is the overview computed from the exchanges, for the
// whole traffic and for windows inside it.
func TestOverviewPartsEqualView(t *testing.T) {
	xs := ovTraffic()
	for _, w := range []view.Window{
		{From: ovT0, To: ovT0.Add(30 * time.Second)},
		{From: ovT0.Add(5 * time.Second), To: ovT0.Add(12 * time.Second)},
		{From: ovT0.Add(14 * time.Second), To: ovT0.Add(29 * time.Second)},
		{From: ovT0.Add(29 * time.Second), To: ovT0.Add(30 * time.Second)}, // twins still held
	} {
		t.Run(fmt.Sprintf("%v-%v", w.From.Sub(ovT0), w.To.Sub(ovT0)), func(t *testing.T) {
			want := view.Overview(view.Of(xs, w), view.OverviewFilter{})
			got, st := partsOverview(t, xs, w, store.Config{})
			sameOverview(t, got, want)
			if want.Exchanges == 0 || len(want.Consumers) == 0 || len(want.Latency.ByClient) == 0 {
				t.Fatalf("the traffic does not exercise the overview: %+v", want)
			}
			if st.Stats().TwinsDropped == 0 {
				t.Error("no broker-side twin dropped")
			}
		})
	}
}

// TestOverviewPartsLate: exchanges that arrive out of order (within the
// twin hold) count as in order, and a consumer's group is the one it named
// last by time.
func TestOverviewPartsLate(t *testing.T) {
	xs := ovTraffic()
	// Around second 15, 30 exchanges (about 0.4 s) arrive after the next 40.
	n := len(xs) / 2
	moved := append([]exchange.Exchange{}, xs[n:n+30]...)
	xs = append(append(append(append([]exchange.Exchange{}, xs[:n]...), xs[n+30:n+70]...), moved...), xs[n+70:]...)
	w := view.Window{From: ovT0, To: ovT0.Add(30 * time.Second)}
	got, _ := partsOverview(t, xs, w, store.Config{})
	sameOverview(t, got, view.Overview(view.Of(xs, w), view.OverviewFilter{}))
	for _, c := range got.Consumers {
		if c.ClientID == "client-4" && c.Group != "billing-v2" {
			t.Errorf("client-4 group = %q, want billing-v2 (named last)", c.Group)
		}
	}
}

// TestOverviewPartsBudget: under a small budget the parts keep the newest
// seconds, stay within the aggregates' share and say what they dropped.
func TestOverviewPartsBudget(t *testing.T) {
	var xs []exchange.Exchange
	for range 10 {
		xs = append(xs, ovTraffic()...)
		for i := range xs[len(xs)-len(ovTraffic()):] {
			xs[len(xs)-1-i].Time = xs[len(xs)-1-i].Time.Add(time.Duration(len(xs)/1200) * 30 * time.Second)
		}
	}
	const budget = 512 << 10
	st := store.New(store.Config{MemoryBytes: budget})
	st.KeepPartials(func() store.Partial { return view.NewOverviewPart() })
	for _, e := range xs {
		st.Add(e)
	}
	s := st.Stats()
	if s.AggregateBytes > s.AggregateBudget || s.SecondsEvicted == 0 {
		t.Fatalf("aggregates %d bytes of %d, %d seconds evicted: want within budget and some evicted; %+v", s.AggregateBytes, s.AggregateBudget, s.SecondsEvicted, s.Resolutions)
	}
	last := xs[len(xs)-1].Time.Truncate(time.Second)
	st.Parts(ovT0, last, 0, func(c store.Cover) {
		if !c.Whole.After(ovT0) || c.From.Before(c.Whole) {
			t.Errorf("Parts says it covers evicted seconds: whole from %v, window from %v", c.Whole, c.From)
		}
	})
	st.Parts(last.Add(-2*time.Second), last, 0, func(c store.Cover) {
		if !c.From.Equal(last.Add(-2*time.Second)) || !c.To.Equal(last) || len(c.Parts) == 0 {
			t.Errorf("the newest seconds are not covered: %v-%v, %d parts", c.From, c.To, len(c.Parts))
		}
	})
	t.Logf("%d seconds held in %d bytes (%d per second): %+v", s.Seconds, s.AggregateBytes, s.AggregateBytes/int64(max(s.Seconds, 1)), s.Resolutions)
}

func overviewParts(ps []store.Part) []*view.OverviewPart {
	out := make([]*view.OverviewPart, len(ps))
	for i, p := range ps {
		out[i] = p.Partial.(*view.OverviewPart)
	}
	return out
}

// TestOverviewPartsManySeconds: merging many seconds (on several CPUs)
// gives the overview of the exchanges too.
func TestOverviewPartsManySeconds(t *testing.T) {
	var xs []exchange.Exchange
	for k := range 4 {
		for _, e := range ovTraffic() {
			e.Time = e.Time.Add(time.Duration(k) * 30 * time.Second)
			xs = append(xs, e)
		}
	}
	w := view.Window{From: ovT0, To: ovT0.Add(120 * time.Second)}
	got, _ := partsOverview(t, xs, w, store.Config{})
	sameOverview(t, got, view.Overview(view.Of(xs, w), view.OverviewFilter{}))
}

// TestTotalsEqualOverview: the traffic counters, fed once per exchange by
// the store (the twin rule), count what the overview shows over the same
// traffic: records and bytes per topic, consumption per group, requests,
// errors by name and answered requests per request row and broker.
func TestTotalsEqualOverview(t *testing.T) {
	xs := ovTraffic()
	st := store.New(store.Config{})
	buckets := []float64{.001, .002, .005, .01, .1, .5, 1}
	tot := view.NewTotals(view.TotalsOptions{ClientIDs: true, LatencyBuckets: buckets})
	view.CountTotals(st, tot)
	for _, e := range xs {
		st.Add(e)
	}
	st.Flush(ovT0.Add(time.Hour)) // the broker-side copies still held
	got := tot.Read()
	o := view.Overview(view.Of(xs, view.Window{From: ovT0, To: ovT0.Add(time.Minute)}), view.OverviewFilter{})

	near := func(a float64, b int64) bool { return math.Abs(a-float64(b)) < 1e-6*max(1, math.Abs(a)) }
	in := map[string]int64{}
	out := map[string]int64{}
	groups := map[view.GroupTopic]int64{}
	clients := map[string]view.ClientRow{}
	for _, c := range append(o.Producers, o.Consumers...) {
		clients[c.ID] = c
	}
	for _, e := range o.Edges {
		if topic, ok := strings.CutPrefix(e.To, view.KindTopic+":"); ok {
			in[topic] += e.Records
		}
		if topic, ok := strings.CutPrefix(e.From, view.KindTopic+":"); ok {
			out[topic] += e.Records
			groups[view.GroupTopic{Group: clients[e.To].Group, Topic: topic}] += e.Records
		}
	}
	for _, tr := range o.Topics {
		tt := got.Topics[tr.Name]
		if tt.RecordsIn != in[tr.Name] || tt.RecordsOut != out[tr.Name] || !near(tr.BytesInPerSec*o.Seconds, tt.BytesIn) ||
			!near(tr.BytesOutPerSec*o.Seconds, tt.BytesOut) || !near(tr.ReplicationBytesPerSec*o.Seconds, tt.ReplicationBytes) {
			t.Errorf("topic %s: totals %+v, overview %+v (records in %d, out %d)", tr.Name, tt, tr, in[tr.Name], out[tr.Name])
		}
	}
	if len(got.Topics) != len(o.Topics) {
		t.Errorf("totals have %d topics, the overview %d", len(got.Topics), len(o.Topics))
	}
	// A consumer named its group before it fetched (the overview names it
	// by the last request of the window, which is the same here until the
	// group changes half-way: compare the sum per topic).
	perTopic := map[string]int64{}
	for k, f := range got.Groups {
		perTopic[k.Topic] += f.Records
	}
	for topic, n := range out {
		if perTopic[topic] != n {
			t.Errorf("topic %s: groups consumed %d records, consumers %d", topic, perTopic[topic], n)
		}
	}
	if f := got.Groups[view.GroupTopic{Group: "billing", Topic: "orders"}]; f.Records == 0 {
		t.Errorf("group billing consumed nothing from orders: %+v", got.Groups)
	}
	rows := 0
	for _, r := range o.Latency.ByBroker {
		rt, ok := got.Requests[view.RequestKey{API: r.API, Broker: r.Broker}]
		if !ok || rt.Requests != uint64(r.Requests) || rt.Answered != uint64(r.Answered) || rt.Errors != uint64(r.Errors) || len(rt.ErrorsByCode) != len(r.ErrorsByCode) {
			t.Errorf("%s at %s: totals %+v, overview %+v", r.API, r.Broker, rt, r)
			continue
		}
		for code, n := range r.ErrorsByCode {
			if rt.ErrorsByCode[code] != uint64(n) {
				t.Errorf("%s at %s: %d %s, overview %d", r.API, r.Broker, rt.ErrorsByCode[code], code, n)
			}
		}
		if last := rt.Buckets[len(rt.Buckets)-1]; last > rt.Answered || (r.Max <= buckets[len(buckets)-1] && last != rt.Answered) {
			t.Errorf("%s at %s: %d answered, %d within the last bucket", r.API, r.Broker, rt.Answered, last)
		}
		for i := 1; i < len(rt.Buckets); i++ {
			if rt.Buckets[i] < rt.Buckets[i-1] {
				t.Errorf("%s at %s: buckets not cumulative: %v", r.API, r.Broker, rt.Buckets)
			}
		}
		rows++
	}
	if rows != len(got.Requests) || rows == 0 {
		t.Errorf("%d request rows in the overview, %d in the totals", rows, len(got.Requests))
	}
	for _, p := range o.Producers {
		var recs int64
		for k, f := range got.Produced {
			if k.Client == p.ClientID {
				recs += f.Records
			}
		}
		if recs != p.Records {
			t.Errorf("producer %s: %d records counted by client id, %d in the overview", p.ClientID, recs, p.Records)
		}
	}
}

// TestTotalsCapped: past the cap of label sets, traffic counts under the
// overflow value, and is counted as overflow.
func TestTotalsCapped(t *testing.T) {
	st := store.New(store.Config{})
	tot := view.NewTotals(view.TotalsOptions{MaxLabelSets: 2, Overflow: "(other)"})
	view.CountTotals(st, tot)
	for i := range 5 {
		e := ovTraffic()[0]
		e.API, e.APIKey, e.Side, e.Latency = "Produce", 0, "", nil
		e.Topics = []exchange.Topic{{Name: fmt.Sprintf("t%d", i), Partitions: []exchange.Partition{{Partition: 0, Records: 10}}}}
		st.Add(e)
	}
	got := tot.Read()
	if len(got.Topics) != 3 || got.Topics["(other)"].RecordsIn != 30 || got.Topics["t0"].RecordsIn != 10 || got.Overflow["topic"] != 3 {
		t.Errorf("topics %+v, overflow %v: want t0, t1 and (other) with 30 records, 3 overflows", got.Topics, got.Overflow)
	}
}

// counted counts the exchanges a store counts once.
type counted struct{ n map[int32]int }

func (c *counted) Add(e *exchange.Exchange) { c.n[e.CorrelationID]++ }

// TestTwinsCountedOnce: an exchange traced from both sides counts once,
// also when it took longer than twinHold (a long-poll Fetch) and nothing
// else came meanwhile, and when it got no response; a broker-side copy
// alone counts once Flush says its time is up.
func TestTwinsCountedOnce(t *testing.T) {
	st := store.New(store.Config{})
	c := &counted{n: map[int32]int{}}
	st.Count(c)
	lat := func(d time.Duration) *time.Duration { return &d }
	mk := func(corr int32, at time.Time, latency *time.Duration, side string) exchange.Exchange {
		e := exchange.Exchange{Time: at, Latency: latency, API: "Fetch", APIKey: 1, CorrelationID: corr, Side: side,
			Client: exchange.Endpoint{Addr: "10.0.0.1:5000"}, Server: exchange.Endpoint{Addr: "10.0.0.2:9092"}}
		if side == "client" {
			e.Client.PID, e.Client.Process = 42, "shipping"
		}
		return e
	}
	// Client-side traffic up to 5 s, then a 5 s long-poll started at 0,
	// seen by the broker first, then by the client.
	for i := range 5 {
		st.Add(mk(int32(100+i), ovT0.Add(time.Duration(i)*time.Second), lat(time.Millisecond), "client"))
	}
	st.Add(mk(1, ovT0, lat(5*time.Second), "server"))
	st.Add(mk(1, ovT0, lat(5*time.Second+time.Millisecond), "client"))
	// The other way round, and a request the connection's close left
	// without a response, seen from both sides long after it started.
	st.Add(mk(2, ovT0.Add(time.Second), lat(5*time.Second), "client"))
	st.Add(mk(2, ovT0.Add(time.Second), lat(5*time.Second-time.Millisecond), "server"))
	st.Add(mk(3, ovT0.Add(2*time.Second), nil, "server"))
	st.Add(mk(3, ovT0.Add(2*time.Second), nil, "client"))
	// A broker-side copy whose client was not traced.
	st.Add(mk(4, ovT0.Add(6*time.Second), lat(time.Millisecond), "server"))
	if c.n[4] != 0 {
		t.Errorf("the broker-side copy counted before its twin's time was up")
	}
	st.Flush(ovT0.Add(10 * time.Second))
	for corr := int32(1); corr <= 4; corr++ {
		if c.n[corr] != 1 {
			t.Errorf("exchange %d counted %d times, want once", corr, c.n[corr])
		}
	}
}

// countAll counts the exchanges a store feeds its counters, by key.
type countAll map[int32]int

func (c countAll) Add(e *exchange.Exchange) { c[e.CorrelationID]++ }

// TestTwinsBudget: a burst of broker-side copies whose clients are not
// traced, faster than the twin hold drains: the held copies stay within
// their share of the budget, counted in the store's bytes, the oldest
// counted early (and said so), and every exchange still counts once.
func TestTwinsBudget(t *testing.T) {
	const n = 20000
	st := store.New(store.Config{MemoryBytes: 1 << 20})
	c := countAll{}
	st.Count(c)
	budget := st.Stats().ExchangeBudget / 4
	peak := int64(0)
	for i := range n {
		e := exchange.Exchange{
			Time: ovT0.Add(time.Duration(i) * 50 * time.Microsecond), API: "Produce", APIKey: 0, Side: "server", CorrelationID: int32(i),
			Client: exchange.Endpoint{Addr: "192.168.7.7:33000"}, Server: exchange.Endpoint{Addr: "10.0.0.1:9092", PID: 1, Process: "broker"},
			Topics:  []exchange.Topic{{Name: "orders", Partitions: []exchange.Partition{{Partition: int32(i % 3), Records: 4, Bytes: 560}}}},
			Request: exchange.JSONBody(make([]byte, 300)), Response: exchange.JSONBody(make([]byte, 100)),
		}
		st.Add(e)
		s := st.Stats()
		peak = max(peak, s.TwinsBytes)
		if s.Bytes > s.BudgetBytes {
			t.Fatalf("after %d: the store holds %d bytes, over its budget of %d", i, s.Bytes, s.BudgetBytes)
		}
	}
	st.Flush(ovT0.Add(time.Hour))
	s := st.Stats()
	if peak > budget || s.TwinsBytes != 0 {
		t.Errorf("held copies peaked at %d bytes (budget %d), %d left after the flush", peak, budget, s.TwinsBytes)
	}
	if s.TwinsEarly == 0 {
		t.Errorf("no copy counted early, with %d held in a %d-byte share", n, budget)
	}
	if len(c) != n {
		t.Errorf("%d exchanges counted, want %d", len(c), n)
	}
	for k, v := range c {
		if v != 1 {
			t.Errorf("exchange %d counted %d times", k, v)
			break
		}
	}
	t.Logf("peak %d bytes of a %d share, %d counted early", peak, budget, s.TwinsEarly)
}

// TestTwinsBudgetBothEnds: both ends traced, each client-side copy 500
// exchanges after its broker-side one, more than the twins' share holds:
// the broker-side copies count early, and their client-side twins are the
// ones dropped: every exchange counts once.
func TestTwinsBudgetBothEnds(t *testing.T) {
	const n, lag = 20000, 500
	st := store.New(store.Config{MemoryBytes: 1 << 20})
	c := countAll{}
	st.Count(c)
	mk := func(i int, side string) exchange.Exchange {
		e := exchange.Exchange{
			Time: ovT0.Add(time.Duration(i) * 50 * time.Microsecond), API: "Produce", Side: side, CorrelationID: int32(i),
			Client: exchange.Endpoint{Addr: "10.0.0.7:33000"}, Server: exchange.Endpoint{Addr: "10.0.0.1:9092"},
			Topics:  []exchange.Topic{{Name: "orders", Partitions: []exchange.Partition{{Partition: int32(i % 3), Records: 4, Bytes: 560}}}},
			Request: exchange.JSONBody(make([]byte, 300)),
		}
		if side == "client" {
			e.Client.PID, e.Client.Process = 7, "producer"
		}
		return e
	}
	for i := range n + lag {
		if i < n {
			st.Add(mk(i, "server"))
		}
		if i >= lag {
			st.Add(mk(i-lag, "client"))
		}
	}
	st.Flush(ovT0.Add(time.Hour))
	s := st.Stats()
	if s.TwinsEarly == 0 {
		t.Errorf("no copy counted early")
	}
	if len(c) != n {
		t.Errorf("%d exchanges counted, want %d", len(c), n)
	}
	twice := 0
	for _, v := range c {
		if v != 1 {
			twice++
		}
	}
	if twice > 0 {
		t.Errorf("%d exchanges counted twice", twice)
	}
	t.Logf("%d counted early, %d twins dropped", s.TwinsEarly, s.TwinsDropped)
}
