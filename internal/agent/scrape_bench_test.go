package agent

import (
	"testing"
	"time"

	"kscope/internal/view"
)

// BenchmarkScrapeViews is what a /metrics scrape of the agent computes
// from a full store (64 MiB of bench wire's mix, all of it recent): the
// views behind the lag metrics, recomputed when their figures are over
// 10 s old (so at every scrape of a Prometheus scraping every 15 s), and
// the transactions view, computed at every scrape. The store holds what
// a busy agent holds, at any rate of traffic: this is the cost of a
// scrape, whatever the traffic costs.
func BenchmarkScrapeViews(b *testing.B) {
	st, _, _ := fullPipeline(b, 100, time.Now().Add(-time.Minute))
	held := float64(st.Stats().Exchanges)
	b.Run("lag", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			// As lagCollector.refresh.
			now := time.Now()
			in := view.FromStore(st, view.Window{From: now.Add(-5 * time.Minute), To: now}, view.ClientsNeeds.And(view.LatencyNeeds))
			cv := view.Clients(in, view.ClientsFilter{})
			view.Latency(in, view.LatencyFilter{})
			if len(cv.Consumers) == 0 {
				b.Fatal("no consumer in the lag figures")
			}
		}
		b.ReportMetric(held, "held")
	})
	b.Run("transactions", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			// As txnCollector.Collect.
			view.Transactions(view.FromStore(st, view.Window{}, view.TransactionsNeeds), view.TransactionsFilter{All: true})
		}
		b.ReportMetric(held, "held")
	})
}
