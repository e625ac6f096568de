package view

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"kscope/internal/exchange"
	"kscope/internal/store"
)

// withBatch gives exchange i, a Fetch that got records, the record batch
// it carried: 20 records whose max timestamp is 1 ms to 2 s before the
// response arrived (spread as the consumers of a busy cluster are). The
// traffic of benchExchanges shares its topics and carries no batch, so
// that the overview's benchmarks do not count delays; these do.
func withBatch(e *exchange.Exchange, i int) {
	if e.API != "Fetch" || len(e.Topics) == 0 || e.Topics[0].Partitions[0].Records == 0 {
		return
	}
	t := e.Topics[0]
	p := t.Partitions[0]
	d := time.Duration(1+(uint32(i)*2246822519>>16)%2000) * time.Millisecond
	at := e.Time.Add(*e.Latency - d).Truncate(time.Millisecond)
	p.Batches = []exchange.Batch{{BaseOffset: int64(i) * 20, LastOffsetDelta: 19, Records: 20, MaxTimestamp: at, TimestampType: "CreateTime"}}
	t.Partitions = []exchange.Partition{p}
	e.Topics = []exchange.Topic{t}
}

// BenchmarkDelayParts is BenchmarkOverviewParts with the consumers'
// record batches: an hour of 10,000 exchanges/s added to a store of the
// default budget. It reports what the parts of the hour hold and the time
// to answer the delay history of the hour (one point a minute).
func BenchmarkDelayParts(b *testing.B) {
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
				withBatch(&e, i)
				st.Add(e)
			}
			w := Window{From: tr.t0, To: tr.t0.Add(span)}
			runtime.GC()
			for b.Loop() {
				benchDelayHistory(st, w)
			}
			// The Latency page's request chart over the same hour, as
			// GET /api/v1/history/requests answers it.
			start := time.Now()
			ws, step := StoreSteps(st, w, time.Minute)
			steps := make([]Input, len(ws))
			for i, sw := range ws {
				steps[i] = FromStore(st, sw, Needs{Parts: true})
			}
			if h := RequestsOverTime(w, step, steps); len(h.Series) == 0 {
				b.Fatal("no request series")
			}
			b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/requests-history")
			s := st.Stats()
			for _, r := range s.Resolutions {
				b.Logf("%2d s parts: %4d, %5.1f MB, %6.1f kB each", r.Seconds, r.Parts, float64(r.Bytes)/1e6, float64(r.Bytes)/float64(max(r.Parts, 1))/1e3)
			}
			coarsest := s.Resolutions[len(s.Resolutions)-1]
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/history")
			b.ReportMetric(float64(s.AggregateBytes)/1e6, "aggregate-MB")
			b.ReportMetric(float64(coarsest.Bytes)/float64(coarsest.Parts)*float64(time.Hour/time.Second)/float64(coarsest.Seconds)/1e6, "coarsest-MB/hour")
			b.ReportMetric(float64(s.Seconds), "seconds-held")
		})
	}
}

// BenchmarkStoreAddDelay is BenchmarkStoreAdd with the consumers' record
// batches.
func BenchmarkStoreAddDelay(b *testing.B) {
	for _, keep := range []string{"none", "parts"} {
		b.Run(keep, func(b *testing.B) {
			const n = 9_000_000
			tr := newBenchTraffic(2)
			xs := make([]exchange.Exchange, 1<<16)
			st := store.New(store.Config{})
			if keep != "none" {
				KeepParts(st)
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				j := i % len(xs)
				if j == 0 {
					b.StopTimer()
					for k := range xs {
						tr.exchange(&xs[k], (i+k)%n, n)
						withBatch(&xs[k], (i+k)%n)
					}
					b.StartTimer()
				}
				st.Add(xs[j])
			}
		})
	}
}

// benchDelayHistory answers the delay history of w, a point a minute, as
// GET /api/v1/history/delay does.
func benchDelayHistory(st *store.Store, w Window) DelayHistory {
	ws, step := StoreSteps(st, w, time.Minute)
	steps := make([]Input, len(ws))
	for i, sw := range ws {
		steps[i] = FromStore(st, sw, Needs{Parts: true})
	}
	return DelayOverTime(w, step, steps, DelayHistoryFilter{})
}
