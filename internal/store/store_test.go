package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"kscope/internal/exchange"
)

var t0 = time.Date(2026, 11, 22, 3, 49, 0, 0, time.UTC)

// fake is an exchange like the decoder builds for a Produce of one batch:
// a JSON request body of about bodyBytes, one topic and partition.
func fake(i int, api, topic string, bodyBytes int) exchange.Exchange {
	lat := int64(time.Duration(i%50) * time.Millisecond)
	off := int64(i)
	body := make([]byte, 0, bodyBytes)
	body = append(body, `{"topics":[{"name":"`...)
	body = append(body, topic...)
	body = append(body, `","pad":"`...)
	body = append(body, bytes.Repeat([]byte{'x'}, max(0, bodyBytes-len(body)-4))...)
	body = append(body, `"}]}`...)
	return exchange.Exchange{
		Time:      t0.Add(time.Duration(i) * time.Millisecond),
		LatencyNS: &lat,
		Client:    exchange.Endpoint{Addr: "10.0.0.1:5000", PID: 42, Process: "order"},
		Server:    exchange.Endpoint{Addr: "10.0.0.2:9092"},
		Side:      "client",
		API:       api, APIKey: apiKeys[api], APIVersion: 9, CorrelationID: int32(i),
		ClientID: "order-svc",
		Topics: []exchange.Topic{{Name: topic, Partitions: []exchange.Partition{{
			Partition: 0, Records: 10, Bytes: 1000, BaseOffset: &off,
			Batches: []exchange.Batch{{Records: 10, Bytes: 1000, Compression: "none", Magic: 2}},
		}}}},
		RequestBytes: 1100, ResponseBytes: 60,
		Request: exchange.JSONBody(body),
	}
}

var apiKeys = map[string]int16{"Produce": 0, "Fetch": 1, "Metadata": 3, "Heartbeat": 12, "EndTxn": 26}

// The estimate never exceeds the budget however much is added, the oldest
// exchanges go first, and every eviction is counted.
func TestEvictionUnderBudget(t *testing.T) {
	for _, tc := range []struct {
		name   string
		budget int64
		body   int
	}{
		{"small bodies", 1 << 20, 200},
		{"large bodies", 1 << 20, 20 << 10},
		{"no bodies", 256 << 10, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Config{MemoryBytes: tc.budget})
			per := Size(ptr(fake(0, "Produce", "orders", tc.body)))
			n := int(10 * tc.budget / per)
			for i := range n {
				s.Add(fake(i, "Produce", fmt.Sprintf("topic-%d", i%7), tc.body))
				if st := s.Stats(); st.Bytes > tc.budget {
					t.Fatalf("after %d adds: %d bytes estimated, budget %d", i+1, st.Bytes, tc.budget)
				}
			}
			st := s.Stats()
			if st.Added != uint64(n) || st.Evicted == 0 || st.Evicted+uint64(st.Exchanges) != st.Added {
				t.Errorf("added %d: %+v", n, st)
			}
			if st.EvictedBytes < int64(st.Evicted)*per {
				t.Errorf("evicted %d exchanges but only %d bytes", st.Evicted, st.EvictedBytes)
			}
			// What is held is the newest, contiguous.
			recs, through := s.Query(Query{})
			if len(recs) != st.Exchanges || recs[len(recs)-1].Seq != uint64(n) || recs[0].Seq != st.FirstSeq || through != uint64(n) {
				t.Fatalf("held %d, first seq %d, last %d, through %d; stats %+v", len(recs), recs[0].Seq, recs[len(recs)-1].Seq, through, st)
			}
			for i := 1; i < len(recs); i++ {
				if recs[i].Seq != recs[i-1].Seq+1 {
					t.Fatalf("gap between seq %d and %d", recs[i-1].Seq, recs[i].Seq)
				}
			}
			// The exchanges budget is used, not wasted.
			if st.ExchangeBytes < st.ExchangeBudget-2*per {
				t.Errorf("only %d of %d exchange bytes used", st.ExchangeBytes, st.ExchangeBudget)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// An exchange larger than the whole table is counted as evicted at once
// and leaves the others in place.
func TestOversizedExchange(t *testing.T) {
	s := New(Config{MemoryBytes: 64 << 10})
	s.Add(fake(0, "Produce", "orders", 100))
	seq := s.Add(fake(1, "Produce", "orders", 128<<10))
	st := s.Stats()
	if seq != 2 || st.Exchanges != 1 || st.Evicted != 1 || st.EvictedBytes < 128<<10 {
		t.Errorf("seq %d, stats %+v", seq, st)
	}
	s.Add(fake(2, "Produce", "orders", 100))
	recs, _ := s.Query(Query{})
	if len(recs) != 2 || recs[0].Seq != 1 || recs[1].Seq != 3 {
		t.Errorf("held %v", seqs(recs))
	}
}

func seqs(recs []Record) []uint64 {
	var out []uint64
	for _, r := range recs {
		out = append(out, r.Seq)
	}
	return out
}

func TestQuery(t *testing.T) {
	s := New(Config{})
	// seq 1..10: even seqs are Fetch of "payments" by process 77 "shipping"
	// seen from the server side; odd are Produce of "orders" by pid 42.
	for i := range 10 {
		e := fake(i, "Produce", "orders", 100)
		if i%2 == 1 {
			e = fake(i, "Fetch", "payments", 100)
			e.Client = exchange.Endpoint{Addr: "10.0.0.3:6000"}
			e.Server = exchange.Endpoint{Addr: "10.0.0.2:9092", PID: 77, Process: "shipping"}
			e.Side = "server"
			e.ClientID = "shipping-svc"
		}
		s.Add(e)
	}
	even := []uint64{2, 4, 6, 8, 10}
	odd := []uint64{1, 3, 5, 7, 9}
	for _, tc := range []struct {
		name    string
		q       Query
		want    []uint64
		through uint64
	}{
		{"all", Query{}, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 10},
		{"api name", Query{Filter: exchange.Filter{APIs: []string{"fetch"}}}, even, 10},
		{"api key", Query{Filter: exchange.Filter{APIs: []string{"0"}}}, odd, 10},
		{"topic", Query{Filter: exchange.Filter{Topics: []string{"payments"}}}, even, 10},
		{"client id", Query{Filter: exchange.Filter{Clients: []string{"order-svc"}}}, odd, 10},
		{"client ip", Query{Filter: exchange.Filter{Clients: []string{"10.0.0.3"}}}, even, 10},
		{"process name, server side", Query{Filter: exchange.Filter{Processes: []string{"shipping"}}}, even, 10},
		{"pid", Query{Filter: exchange.Filter{Processes: []string{"42"}}}, odd, 10},
		{"either process", Query{Filter: exchange.Filter{Processes: []string{"42", "shipping"}}}, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 10},
		{"unknown process", Query{Filter: exchange.Filter{Processes: []string{"kcat"}}}, nil, 10},
		{"side", Query{Filter: exchange.Filter{Side: "server"}}, even, 10},
		// fake's latency is i ms: seq 9 (i=8) and 10 (i=9).
		{"min latency", Query{Filter: exchange.Filter{MinLatency: 8 * time.Millisecond}}, []uint64{9, 10}, 10},
		{"since until", Query{Since: t0.Add(3 * time.Millisecond), Until: t0.Add(6 * time.Millisecond)}, []uint64{4, 5, 6}, 10},
		{"newest limit", Query{Limit: 3}, []uint64{8, 9, 10}, 10},
		{"newest limit filtered", Query{Limit: 2, Filter: exchange.Filter{APIs: []string{"Produce"}}}, []uint64{7, 9}, 10},
		{"after", Query{AfterSeq: 7}, []uint64{8, 9, 10}, 10},
		{"after with limit pages forward", Query{AfterSeq: 3, Limit: 2}, []uint64{4, 5}, 5},
		{"after filtered with limit", Query{AfterSeq: 3, Limit: 2, Filter: exchange.Filter{Side: "server"}}, []uint64{4, 6}, 6},
		{"after the newest", Query{AfterSeq: 10}, nil, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, through := s.Query(tc.q)
			if got := seqs(recs); fmt.Sprint(got) != fmt.Sprint(tc.want) || through != tc.through {
				t.Errorf("got %v through %d, want %v through %d", got, through, tc.want, tc.through)
			}
		})
	}
}

// Records are the analyze JSON lines schema plus "seq", and read back.
func TestRecordJSON(t *testing.T) {
	e := fake(3, "Produce", "orders", 50)
	want, _ := json.Marshal(&e)
	r := Record{Seq: 17, Exchange: e}
	got, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(got), `{"seq":17,`) || string(got[len(`{"seq":17,`):]) != string(want[1:]) {
		t.Fatalf("record JSON\n%s\nexchange JSON\n%s", got, want)
	}
	var back Record
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(back)
	if back.Seq != 17 || back.Latency == nil || *back.Latency != 3*time.Millisecond || string(again) != string(got) {
		t.Errorf("round trip: %s", again)
	}
}

func TestWait(t *testing.T) {
	s := New(Config{})
	s.Add(fake(0, "Produce", "orders", 10))
	if err := s.Wait(context.Background(), 0); err != nil {
		t.Fatalf("wait for a seq already there: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait(context.Background(), 1) }()
	select {
	case err := <-done:
		t.Fatalf("returned before an add: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	s.Add(fake(1, "Produce", "orders", 10))
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not woken by an add")
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- s.Wait(ctx, 2) }()
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("cancelled wait returned %v", err)
	}
}

func TestAggregates(t *testing.T) {
	s := New(Config{})
	for i := range 2000 { // 2 s of 1 ms apart
		e := fake(i, "Produce", "orders", 10)
		if i%4 == 0 {
			e = fake(i, "Fetch", "payments", 10)
			e.Error = "NOT_LEADER_OR_FOLLOWER"
		}
		s.Add(e)
	}
	secs := s.Aggregates(time.Time{}, time.Time{})
	if len(secs) != 2 || !secs[0].Time.Equal(t0) {
		t.Fatalf("%d seconds: %+v", len(secs), secs)
	}
	p := secs[0].APIs["Produce"]
	// latency is i%50 ms: 750 produce of latency sum = sum over i%4!=0.
	var sum, mx int64
	for i := range 1000 {
		if i%4 != 0 {
			l := int64(time.Duration(i%50) * time.Millisecond)
			sum += l
			mx = max(mx, l)
		}
	}
	if p.Requests != 750 || p.Errors != 0 || p.RequestBytes != 750*1100 || p.Records != 7500 || p.Responses != 750 || p.LatencySumNS != sum || p.LatencyMaxNS != mx {
		t.Errorf("Produce %+v", p)
	}
	if f := secs[1].Topics["payments"]; f.Requests != 250 || f.Errors != 250 || f.RecordBytes != 250*1000 {
		t.Errorf("payments %+v", f)
	}
	if got := s.Aggregates(t0.Add(1500*time.Millisecond), time.Time{}); len(got) != 1 || !got[0].Time.Equal(t0.Add(time.Second)) {
		t.Errorf("since 1.5s: %d seconds", len(got))
	}
	if st := s.Stats(); st.Seconds != 2 || st.AddedByAPI["Fetch"] != 500 {
		t.Errorf("stats %+v", st)
	}
}

// Unbounded topic names, many seconds, exchanges out of order: the
// aggregates stay in their share and say what they dropped.
func TestAggregatesUnderBudget(t *testing.T) {
	s := New(Config{MemoryBytes: 1 << 20})
	budget := s.Stats().AggregateBudget
	for i := range 200000 {
		e := fake(i, "Produce", fmt.Sprintf("topic-%d", i), 0)
		e.Request = exchange.Body{}
		e.Time = t0.Add(time.Duration(i/20)*time.Second - time.Duration(i%3)*time.Second)
		s.Add(e)
		if st := s.Stats(); st.AggregateBytes > budget {
			t.Fatalf("after %d: aggregates %d bytes, budget %d", i, st.AggregateBytes, budget)
		}
	}
	st := s.Stats()
	if st.SecondsEvicted == 0 || st.Seconds == 0 {
		t.Errorf("stats %+v", st)
	}
	// One second with more topics than the budget holds.
	s = New(Config{MemoryBytes: 1 << 20})
	for i := range 50000 {
		e := fake(0, "Produce", fmt.Sprintf("topic-%d", i), 0)
		s.Add(e)
	}
	st = s.Stats()
	secs := s.Aggregates(time.Time{}, time.Time{})
	if st.Overflow == 0 || st.AggregateBytes > budget || len(secs) != 1 || secs[0].Topics[OtherTopic].Requests != st.Overflow {
		t.Errorf("overflow %d, other %+v, stats %+v", st.Overflow, secs[0].Topics[OtherTopic], st)
	}
}

// Writers, readers and followers at once; run with -race.
func TestConcurrent(t *testing.T) {
	s := New(Config{MemoryBytes: 512 << 10})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	const n = 5000
	for w := range 2 {
		wg.Go(func() {
			for i := range n {
				s.Add(fake(w*n+i, "Produce", "orders", 300))
			}
		})
	}
	followed := make(chan uint64, 1)
	go func() {
		var after uint64
		for after < 2*n {
			if s.Wait(ctx, after) != nil {
				break
			}
			recs, through := s.Query(Query{AfterSeq: after})
			for _, r := range recs {
				if r.Seq <= after {
					t.Errorf("follower saw seq %d again after %d", r.Seq, after)
				}
				after = r.Seq
			}
			after = through
		}
		followed <- after
	}()
	wg.Go(func() {
		for range 200 {
			s.Query(Query{Limit: 10, Filter: exchange.Filter{Topics: []string{"orders"}}})
			s.Stats()
			s.Aggregates(time.Time{}, time.Time{})
		}
	})
	wg.Wait()
	select {
	case last := <-followed:
		if last != 2*n {
			t.Errorf("follower stopped at seq %d of %d", last, 2*n)
		}
	case <-time.After(10 * time.Second):
		t.Error("follower did not reach the last seq")
	}
	cancel()
}

func BenchmarkAdd(b *testing.B) {
	xs := make([]exchange.Exchange, 1024)
	for i := range xs {
		xs[i] = fake(i, "Produce", fmt.Sprintf("topic-%d", i%16), 1024)
	}
	s := New(Config{MemoryBytes: 64 << 20})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		e := xs[i%len(xs)]
		e.Time = t0.Add(time.Duration(i) * 10 * time.Microsecond)
		s.Add(e)
	}
}

// BenchmarkHeap adds 10 times the budget in fresh exchanges (as the
// decoder makes them) and reports the live heap against the budget.
func BenchmarkHeap(b *testing.B) {
	for _, body := range []int{0, 1 << 10, 16 << 10} {
		b.Run(fmt.Sprintf("body=%d", body), func(b *testing.B) {
			const budget = 32 << 20
			for b.Loop() {
				var before runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				s := New(Config{MemoryBytes: budget})
				per := Size(ptr(fake(0, "Produce", "orders", body)))
				n := int(10 * budget / per)
				for i := range n {
					s.Add(fake(i, "Produce", fmt.Sprintf("topic-%d", i%64), body))
				}
				var after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&after)
				st := s.Stats()
				heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
				b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
				b.ReportMetric(float64(st.Bytes)/(1<<20), "estimate-MiB")
				b.ReportMetric(float64(heap)/float64(budget), "heap/budget")
				b.ReportMetric(float64(st.Exchanges), "held")
				runtime.KeepAlive(s)
			}
		})
	}
}

// BenchmarkQuery scans a full 64 MiB store: the newest 1000 of a topic,
// and a filter that matches nothing (the whole table).
func BenchmarkQuery(b *testing.B) {
	s := New(Config{MemoryBytes: 64 << 20})
	for i := 0; s.Stats().Evicted == 0; i++ {
		s.Add(fake(i, "Produce", fmt.Sprintf("topic-%d", i%16), 1024))
	}
	held := s.Stats().Exchanges
	for _, q := range []struct {
		name string
		q    Query
	}{
		{"newest-1000-of-topic", Query{Limit: 1000, Filter: exchange.Filter{Topics: []string{"topic-3"}}}},
		{"no-match", Query{Limit: 1000, Filter: exchange.Filter{Processes: []string{"nobody"}}}},
	} {
		b.Run(q.name, func(b *testing.B) {
			for b.Loop() {
				s.Query(q.q)
			}
			b.ReportMetric(float64(held), "held")
		})
	}
	// What a view reads: every exchange held.
	b.Run("exchanges-all", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if len(s.Exchanges(Query{})) != held {
				b.Fatal("not all read")
			}
		}
		b.ReportMetric(float64(held), "held")
	})
	// What the transactions metrics read at every scrape: the exchanges
	// that name a transactional id, of which there are none here.
	b.Run("exchanges-transactional", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if len(s.Exchanges(Query{Filter: exchange.Filter{APIs: []string{"Produce", "EndTxn"}, Transactional: true}})) != 0 {
				b.Fatal("read a transactional exchange")
			}
		}
		b.ReportMetric(float64(held), "held")
	})
	// What the lag metrics read: every exchange of the APIs they use,
	// until now.
	b.Run("exchanges-of-apis", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if len(s.Exchanges(Query{Filter: exchange.Filter{APIs: []string{"Produce", "Fetch"}}, Until: time.Now()})) != held {
				b.Fatal("not all read")
			}
		}
		b.ReportMetric(float64(held), "held")
	})
}

// TestExchangesAsQuery: Exchanges returns what Query does, as exchanges,
// for time windows and filters.
func TestExchangesAsQuery(t *testing.T) {
	s := New(Config{MemoryBytes: 64 << 20})
	for i := range 3000 {
		api := "Produce"
		if i%3 == 0 {
			api = "Fetch"
		}
		s.Add(fake(i, api, fmt.Sprintf("topic-%d", i%5), 64))
	}
	for _, q := range []Query{
		{},
		{Since: t0.Add(500 * time.Millisecond), Until: t0.Add(2 * time.Second)},
		{Filter: exchange.Filter{APIs: []string{"Fetch"}}},
		{Filter: exchange.Filter{Topics: []string{"topic-3"}}, Since: t0.Add(time.Second)},
		{Since: t0.Add(time.Hour)},
	} {
		recs, _ := s.Query(q)
		xs := s.Exchanges(q)
		if len(xs) != len(recs) {
			t.Fatalf("%+v: %d exchanges, %d records", q, len(xs), len(recs))
		}
		for i := range xs {
			if xs[i].CorrelationID != recs[i].CorrelationID || !xs[i].Time.Equal(recs[i].Time) {
				t.Fatalf("%+v: exchange %d is corr %d, record corr %d", q, i, xs[i].CorrelationID, recs[i].CorrelationID)
			}
		}
	}
}

// TestReadByKeyAndTxn: a read that passes over exchanges by the API key
// and transactional flag kept beside each (without unpacking them) returns
// what filtering every exchange unpacked does.
func TestReadByKeyAndTxn(t *testing.T) {
	s := New(Config{MemoryBytes: 64 << 20})
	for i := range 3000 {
		api := []string{"Produce", "Fetch", "EndTxn", "Metadata"}[i%4]
		e := fake(i, api, fmt.Sprintf("topic-%d", i%5), 64)
		if i%3 == 0 {
			e.Detail = &exchange.Detail{TransactionalID: fmt.Sprintf("txn-%d", i%7)}
		}
		s.Add(e)
	}
	all := s.Exchanges(Query{})
	for _, q := range []Query{
		{Filter: exchange.Filter{APIs: []string{"Produce", "endtxn"}, Transactional: true}},
		{Filter: exchange.Filter{APIs: []string{"1"}}},
		{Filter: exchange.Filter{Transactional: true}, Since: t0.Add(time.Second)},
		{Filter: exchange.Filter{APIs: []string{"Heartbeat"}}},
		{Filter: exchange.Filter{APIs: []string{"NoSuchAPI"}}},
	} {
		var want []int32
		for i := range all {
			in := (q.Since.IsZero() || !all[i].Time.Before(q.Since)) && q.Filter.Match(&all[i])
			if in {
				want = append(want, all[i].CorrelationID)
			}
		}
		var got []int32
		for _, x := range s.Exchanges(q) {
			got = append(got, x.CorrelationID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%+v: %d exchanges read, want %d", q.Filter, len(got), len(want))
		}
		recs, _ := s.Query(q)
		if len(recs) != len(want) {
			t.Errorf("%+v: Query returned %d, want %d", q.Filter, len(recs), len(want))
		}
	}
	if n := len(s.Exchanges(Query{Filter: exchange.Filter{Transactional: true}})); n != 1000 {
		t.Errorf("%d transactional exchanges read, want 1000", n)
	}
}

// TestTimeBounds: a read whose time bounds lie beyond every exchange held
// passes them without reading their times, and returns what checking each
// time does, an exchange without a time included.
func TestTimeBounds(t *testing.T) {
	s := New(Config{MemoryBytes: 64 << 20})
	var times []time.Time
	for i := range 1000 {
		e := fake(i, "Produce", "orders", 64)
		if i == 500 {
			e.Time = time.Time{}
		}
		times = append(times, e.Time)
		s.Add(e)
	}
	if first := s.Stats().FirstSeen; !first.Equal(t0) {
		t.Errorf("first seen %v, want %v: the exchange without a time counted", first, t0)
	}
	last := t0.Add(999 * time.Millisecond)
	for _, q := range []Query{
		{Until: last.Add(time.Nanosecond)},
		{Until: last},
		{Since: t0},
		{Since: t0.Add(-time.Hour), Until: t0.Add(time.Hour)},
		{Since: t0.Add(time.Nanosecond)},
		{Since: t0.Add(10 * time.Millisecond), Until: t0.Add(20 * time.Millisecond)},
	} {
		var want []int32
		for i, tm := range times {
			if (q.Since.IsZero() || !tm.Before(q.Since)) && (q.Until.IsZero() || tm.Before(q.Until)) {
				want = append(want, int32(i))
			}
		}
		var got []int32
		for _, x := range s.Exchanges(q) {
			got = append(got, x.CorrelationID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("since %v until %v: %d exchanges, want %d", q.Since, q.Until, len(got), len(want))
		}
	}
}

// TestReadWhileAdding: readers unpack after letting the lock go, while Add
// packs, evicts and releases; what they read is still each exchange as it
// was added. Run with -race.
func TestReadWhileAdding(t *testing.T) {
	s := New(Config{MemoryBytes: 1 << 20})
	const n = 20000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			s.Add(fake(i, "Produce", fmt.Sprintf("topic-%d", i%7), 300))
		}
	}()
	reads := 0
	for running := true; running; reads++ {
		select {
		case <-done:
			running = false
		default:
		}
		recs, _ := s.Query(Query{})
		for _, r := range recs {
			if r.Seq != uint64(r.CorrelationID)+1 || r.Topics[0].Name != fmt.Sprintf("topic-%d", r.CorrelationID%7) || len(r.Request.JSON()) != 300 {
				t.Fatalf("read %d: record %d is exchange %d of %s, body %d bytes", reads, r.Seq, r.CorrelationID, r.Topics[0].Name, len(r.Request.JSON()))
			}
		}
		if st := s.Stats(); st.Unreadable != 0 {
			t.Fatalf("%d records did not unpack", st.Unreadable)
		}
	}
	if s.Stats().Evicted == 0 || reads < 2 {
		t.Fatalf("%d reads, %d evicted: nothing was read while the store turned over", reads, s.Stats().Evicted)
	}
}
