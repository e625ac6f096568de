package view

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"kscope/internal/exchange"
)

// benchExchanges builds n exchanges spread over 15 minutes (10,000/s for
// n = 9,000,000): 100 producers and 100 consumers (traced processes), 50
// topics of 12 partitions, 6 brokers; each client uses topicsPerClient
// topics (50: every client every topic, the worst case); 45% Produce, 45% Fetch (a third of
// them empty long-polls), 10% Heartbeat and OffsetCommit. Topic slices are
// shared between exchanges, as their content does not matter to the cost
// and it keeps 9M exchanges in memory.
func benchExchanges(n, topicsPerClient int) []exchange.Exchange {
	const (
		clients = 200
		topics  = 50
		brokers = 6
	)
	span := 15 * time.Minute
	maxWait := int32(500)
	fetchDetail := &exchange.Detail{MaxWaitMS: &maxWait}
	var produced, fetched, empty [topics][12][]exchange.Topic
	for t := range topics {
		for p := range 12 {
			name := fmt.Sprintf("topic-%02d", t)
			produced[t][p] = []exchange.Topic{{Name: name, Partitions: []exchange.Partition{{Partition: int32(p), Records: 10, Bytes: 1200}}}}
			fetched[t][p] = []exchange.Topic{{Name: name, Partitions: []exchange.Partition{{Partition: int32(p), Records: 20, Bytes: 2400}}}}
			empty[t][p] = []exchange.Topic{{Name: name, Partitions: []exchange.Partition{{Partition: int32(p)}}}}
		}
	}
	var caddr, cid, comm [clients]string
	for c := range clients {
		caddr[c] = fmt.Sprintf("10.1.%d.%d:%d", c/250, c%250, 40000+c)
		cid[c] = fmt.Sprintf("svc-%d", c)
		comm[c] = fmt.Sprintf("svc%d", c)
	}
	var baddr [brokers]string
	for b := range brokers {
		baddr[b] = fmt.Sprintf("10.0.0.%d:9092", b+1)
	}
	lats := make([]time.Duration, 1024)
	for i := range lats {
		lats[i] = time.Duration(200+i*i/4) * time.Microsecond
	}
	longPoll := 501 * time.Millisecond
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	xs := make([]exchange.Exchange, n)
	for i := range xs {
		r := uint32(i) * 2654435761 // cheap spread
		c := int(r>>8) % clients
		t, p, b := (c+int(r>>16)%topicsPerClient)%topics, int(r>>4)%12, (c+int(r>>20))%brokers
		e := &xs[i]
		e.Time = t0.Add(time.Duration(int64(span) * int64(i) / int64(n)))
		e.Client = exchange.Endpoint{Addr: caddr[c], PID: uint32(1000 + c), Process: comm[c]}
		e.Server = exchange.Endpoint{Addr: baddr[b]}
		e.Side = "client"
		e.ClientID = cid[c]
		e.CorrelationID = int32(i)
		e.Latency = &lats[r%1024]
		switch k := i % 20; {
		case k < 9 && c < 100:
			e.APIKey, e.API, e.Topics = 0, "Produce", produced[t][p]
		case k < 18 && c >= 100:
			e.APIKey, e.API, e.Detail = 1, "Fetch", fetchDetail
			if k%3 == 0 {
				e.Topics, e.Latency = empty[t][p], &longPoll
			} else {
				e.Topics = fetched[t][p]
			}
		case k == 18:
			e.APIKey, e.API, e.Group = 12, "Heartbeat", "group"
		default:
			e.APIKey, e.API, e.Group = 8, "OffsetCommit", "group"
		}
	}
	return xs
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
		o := Overview(xs, w, OverviewFilter{})
		if len(o.Topics) != 50 || len(o.Consumers) != 100 {
			b.Fatalf("topics %d consumers %d", len(o.Topics), len(o.Consumers))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/exchange")
}
