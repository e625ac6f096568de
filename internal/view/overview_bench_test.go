package view

import (
	"fmt"
	"math/bits"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"kscope/internal/exchange"
	"kscope/internal/store"
)

// benchExchanges builds n exchanges spread over 15 minutes (10,000/s for
// n = 9,000,000): 100 producers and 100 consumers (traced processes), 50
// topics of 12 partitions, 6 brokers; each client uses topicsPerClient
// topics (50: every client every topic, the worst case); 45% Produce, 45% Fetch (a third of
// them empty long-polls), 10% Heartbeat and OffsetCommit. Topic slices are
// shared between exchanges, as their content does not matter to the cost
// and it keeps 9M exchanges in memory.
func benchExchanges(n, topicsPerClient int) []exchange.Exchange {
	tr := newBenchTraffic(topicsPerClient)
	xs := make([]exchange.Exchange, n)
	for i := range xs {
		tr.exchange(&xs[i], i, n)
	}
	return xs
}

const (
	benchClients = 200
	benchTopics  = 50
	benchBrokers = 6
)

// benchTraffic holds what the exchanges of benchExchanges share.
type benchTraffic struct {
	topicsPerClient          int
	fetchDetail              *exchange.Detail
	produced, fetched, empty [benchTopics][12][]exchange.Topic
	caddr, cid, comm         [benchClients]string
	baddr                    [benchBrokers]string
	lats                     []time.Duration
	longPoll                 time.Duration
	t0                       time.Time
	// span is the time the exchanges are spread over (15 minutes).
	span time.Duration
}

func newBenchTraffic(topicsPerClient int) *benchTraffic {
	maxWait := int32(500)
	tr := &benchTraffic{
		topicsPerClient: topicsPerClient,
		fetchDetail:     &exchange.Detail{MaxWaitMS: &maxWait},
		lats:            make([]time.Duration, 1024),
		longPoll:        501 * time.Millisecond,
		t0:              time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		span:            15 * time.Minute,
	}
	for t := range benchTopics {
		for p := range 12 {
			name := fmt.Sprintf("topic-%02d", t)
			tr.produced[t][p] = []exchange.Topic{{Name: name, Partitions: []exchange.Partition{{Partition: int32(p), Records: 10, Bytes: 1200}}}}
			tr.fetched[t][p] = []exchange.Topic{{Name: name, Partitions: []exchange.Partition{{Partition: int32(p), Records: 20, Bytes: 2400}}}}
			tr.empty[t][p] = []exchange.Topic{{Name: name, Partitions: []exchange.Partition{{Partition: int32(p)}}}}
		}
	}
	for c := range benchClients {
		tr.caddr[c] = fmt.Sprintf("10.1.%d.%d:%d", c/250, c%250, 40000+c)
		tr.cid[c] = fmt.Sprintf("svc-%d", c)
		tr.comm[c] = fmt.Sprintf("svc%d", c)
	}
	for b := range benchBrokers {
		tr.baddr[b] = fmt.Sprintf("10.0.0.%d:9092", b+1)
	}
	for i := range tr.lats {
		tr.lats[i] = time.Duration(200+i*i/4) * time.Microsecond
	}
	return tr
}

// exchange sets *e to exchange i of n spread over tr.span.
func (tr *benchTraffic) exchange(e *exchange.Exchange, i, n int) {
	span := tr.span
	r := uint32(i) * 2654435761 // cheap spread
	c := int(r>>8) % benchClients
	t, p, b := (c+int(r>>16)%tr.topicsPerClient)%benchTopics, int(r>>4)%12, (c+int(r>>20))%benchBrokers
	*e = exchange.Exchange{}
	hi, lo := bits.Mul64(uint64(span), uint64(i)) // an hour of ns times 36,000,000 overflows int64
	at, _ := bits.Div64(hi, lo, uint64(n))
	e.Time = tr.t0.Add(time.Duration(at))
	e.Client = exchange.Endpoint{Addr: tr.caddr[c], PID: uint32(1000 + c), Process: tr.comm[c]}
	e.Server = exchange.Endpoint{Addr: tr.baddr[b]}
	e.Side = "client"
	e.ClientID = tr.cid[c]
	e.CorrelationID = int32(i)
	e.Latency = &tr.lats[r%1024]
	switch k := i % 20; {
	case k < 9 && c < 100:
		e.APIKey, e.API, e.Topics = 0, "Produce", tr.produced[t][p]
	case k < 18 && c >= 100:
		e.APIKey, e.API, e.Detail = 1, "Fetch", tr.fetchDetail
		if k%3 == 0 {
			e.Topics, e.Latency = tr.empty[t][p], &tr.longPoll
		} else {
			e.Topics = tr.fetched[t][p]
		}
	case k == 18:
		e.APIKey, e.API, e.Group = 12, "Heartbeat", "group"
	default:
		e.APIKey, e.API, e.Group = 8, "OffsetCommit", "group"
	}
}

// BenchmarkOverview builds the overview of 15 minutes of traffic.
// KSCOPE_BENCH_EXCHANGES sets how many exchanges (default 1,000,000;
// 9,000,000 is 10,000 exchanges/s, about 5 GB of memory).
func BenchmarkOverview(b *testing.B) {
	for _, tpc := range []int{2, 50} {
		b.Run(fmt.Sprintf("topics-per-client=%d", tpc), func(b *testing.B) { benchOverview(b, tpc) })
	}
}

func benchOverview(b *testing.B, topicsPerClient int) {
	n := 1_000_000
	if s := os.Getenv("KSCOPE_BENCH_EXCHANGES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	xs := benchExchanges(n, topicsPerClient)
	w := WindowOf(xs)
	runtime.GC() // the setup's garbage is not the view's cost
	b.ResetTimer()
	for range b.N {
		o := Overview(Of(xs, w), OverviewFilter{})
		if len(o.Topics) != 50 || len(o.Consumers) != 100 {
			b.Fatalf("topics %d consumers %d", len(o.Topics), len(o.Consumers))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/exchange")
}

// BenchmarkOverviewParts builds the overview of the last hour of 10,000
// exchanges/s (36,000,000, the traffic of BenchmarkOverview) the way the
// live API does: from a store with the default budget (that of `kscope
// agent`) that kept the overview's parts while the exchanges were added,
// rolled up as they aged. It reports the time to answer, the resolution
// the answer was computed at, and what the parts of the hour hold. The
// setup (adding them) takes a few minutes; BenchmarkStoreAdd measures it
// per exchange.
func BenchmarkOverviewParts(b *testing.B) {
	for _, tpc := range []int{2, 50} {
		b.Run(fmt.Sprintf("topics-per-client=%d", tpc), func(b *testing.B) {
			const rate, span = 10_000, time.Hour
			n := int(rate * span.Seconds())
			tr := newBenchTraffic(tpc)
			tr.span = span
			st := store.New(store.Config{})
			KeepParts(st)
			var e exchange.Exchange
			for i := range n {
				tr.exchange(&e, i, n)
				st.Add(e)
			}
			w := Window{From: tr.t0, To: tr.t0.Add(span)}
			runtime.GC()
			var o OverviewView
			for b.Loop() {
				o = Overview(FromStore(st, w, Needs{Parts: true}), OverviewFilter{})
			}
			s := st.Stats()
			if !o.From.Equal(w.From) || !o.To.Equal(w.To) || o.Exchanges != n || len(o.Topics) != 50 || len(o.Consumers) != 100 {
				b.Fatalf("overview of %v-%v: %d exchanges, %d topics, %d consumers; the store holds %d seconds in %d bytes: %+v",
					o.From, o.To, o.Exchanges, len(o.Topics), len(o.Consumers), s.Seconds, s.AggregateBytes, s.Resolutions)
			}
			for _, r := range s.Resolutions {
				b.Logf("%2d s parts: %4d, %5.1f MB, %6.1f kB each", r.Seconds, r.Parts, float64(r.Bytes)/1e6, float64(r.Bytes)/float64(max(r.Parts, 1))/1e3)
			}
			coarsest := s.Resolutions[len(s.Resolutions)-1]
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/overview")
			b.ReportMetric(o.ResolutionSeconds, "resolution-s")
			b.ReportMetric(float64(s.AggregateBytes)/1e6, "aggregate-MB")
			b.ReportMetric(float64(s.AggregateBudget)/1e6, "budget-MB")
			b.ReportMetric(float64(coarsest.Bytes)/float64(coarsest.Parts)*float64(time.Hour/time.Second)/float64(coarsest.Seconds)/1e6, "coarsest-MB/hour")
		})
	}
}

// BenchmarkStoreAdd is the cost of Store.Add per exchange of the traffic
// of BenchmarkOverview: bare, with the overview's parts, and with the
// parts and the traffic totals (what an agent's server keeps).
func BenchmarkStoreAdd(b *testing.B) {
	for _, keep := range []string{"none", "parts", "parts+totals"} {
		b.Run(keep, func(b *testing.B) {
			const n = 9_000_000
			tr := newBenchTraffic(2)
			xs := make([]exchange.Exchange, 1<<16)
			st := store.New(store.Config{})
			if keep != "none" {
				KeepParts(st)
			}
			if keep == "parts+totals" {
				CountTotals(st, NewTotals(TotalsOptions{MaxLabelSets: 10000, Overflow: "(other)",
					LatencyBuckets: []float64{.000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}}))
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				j := i % len(xs)
				if j == 0 {
					b.StopTimer()
					for k := range xs {
						tr.exchange(&xs[k], (i+k)%n, n)
					}
					b.StartTimer()
				}
				st.Add(xs[j])
			}
		})
	}
}
