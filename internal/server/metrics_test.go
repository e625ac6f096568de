package server

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"kscope/internal/exchange"
	"kscope/internal/metrics"
	"kscope/internal/store"
	"kscope/internal/view"
)

// sample finds the sample of family name whose labels are labels
// (name=value pairs); nil when there is none.
func sample(fams []*dto.MetricFamily, name string, labels ...string) *dto.Metric {
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.Metric {
			if len(m.Label) != len(labels)/2 {
				continue
			}
			for i := 0; i < len(labels); i += 2 {
				found := false
				for _, l := range m.Label {
					if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			return m
		}
	}
	return nil
}

func value(m *dto.Metric) float64 {
	switch {
	case m == nil:
		return -1
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return -1
}

// TestTrafficMetrics: the traffic counters and the latency histogram of a
// scrape, with their declared names and labels; every kscope metric of
// the scrape is declared (package metrics), and promlint finds nothing.
func TestTrafficMetrics(t *testing.T) {
	st := store.New(store.Config{})
	s, err := New(Config{MetricsClientIDs: true}, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-time.Minute)
	const broker = "10.0.0.2:9092"
	at := func(i int) time.Time { return base.Add(time.Duration(i) * 100 * time.Millisecond) }
	add := func(e exchange.Exchange) {
		e.Server.Addr = broker
		st.Add(e)
	}
	for i := range 10 {
		p := fake(i, "Produce", 0, "orders") // 3 records, 100 bytes, 0-9 ms
		p.Time = at(i)
		if i == 9 {
			p.Topics[0].Partitions[0].Error = "NOT_LEADER_OR_FOLLOWER"
		}
		add(p)
	}
	hb := fake(20, "Heartbeat", 12, "")
	hb.Topics, hb.Group, hb.Time = nil, "billing", at(20)
	hb.Client, hb.ClientID = exchange.Endpoint{Addr: "10.0.0.3:6000", PID: 43, Process: "invoicing"}, "invoicing-1"
	add(hb)
	f := fake(21, "Fetch", 1, "orders")
	f.Time, f.Client, f.ClientID = at(21), hb.Client, hb.ClientID
	add(f)
	r := fake(22, "Fetch", 1, "orders")
	r.Time, r.Client, r.Side, r.ClientID, r.Detail = at(22), exchange.Endpoint{Addr: "10.0.0.4:7000"}, "server", "broker-3", &exchange.Detail{Replica: true}
	add(r)
	st.Flush(time.Now())

	fams, err := s.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"kscope_topic_records_in_total", []string{"topic", "orders"}, 27}, // the partition answered with an error was not appended
		{"kscope_topic_bytes_in_total", []string{"topic", "orders"}, 900},
		{"kscope_topic_records_out_total", []string{"topic", "orders"}, 3},
		{"kscope_topic_replication_bytes_total", []string{"topic", "orders"}, 100},
		{"kscope_group_consumed_records_total", []string{"group", "billing", "topic", "orders"}, 3},
		{"kscope_requests_total", []string{"api", "Produce", "broker", broker}, 10},
		{"kscope_requests_total", []string{"api", "Fetch", "broker", broker}, 1},
		{"kscope_requests_total", []string{"api", view.APIFetchReplication, "broker", broker}, 1},
		{"kscope_request_errors_total", []string{"api", "Produce", "broker", broker, "error", "NOT_LEADER_OR_FOLLOWER"}, 1},
		{"kscope_client_produced_records_total", []string{"client", "order-svc", "topic", "orders"}, 27},
		{"kscope_client_consumed_records_total", []string{"client", "invoicing-1", "group", "billing", "topic", "orders"}, 3},
		{"kscope_metrics_overflow_total", []string{"metric", "kscope_topic_*"}, 0},
	} {
		if got := value(sample(fams, c.name, c.labels...)); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// Produce latencies 0, 1, ..., 9 ms.
	h := sample(fams, "kscope_request_duration_seconds", "api", "Produce", "broker", broker).GetHistogram()
	if h.GetSampleCount() != 10 || h.GetSampleSum() < 0.0449 || h.GetSampleSum() > 0.0451 {
		t.Errorf("Produce duration: %d observations summing to %v, want 10 and 0.045", h.GetSampleCount(), h.GetSampleSum())
	}
	for _, b := range h.Bucket {
		want := uint64(0) // ms values at most the bound
		for ms := range 10 {
			if float64(ms)/1000 <= b.GetUpperBound() {
				want++
			}
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("Produce duration bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}

	checkScrape(t, s.registry, fams)
}

// checkScrape: every kscope metric of a scrape is declared (package
// metrics), with its declared type and labels, and promlint finds
// nothing.
func checkScrape(t *testing.T, reg *prometheus.Registry, fams []*dto.MetricFamily) {
	t.Helper()
	declared := map[string]*metrics.Metric{}
	for _, m := range metrics.All() {
		declared[m.Name] = m
	}
	for _, f := range fams {
		name := f.GetName()
		if !strings.HasPrefix(name, "kscope_") {
			continue
		}
		m := declared[name]
		if m == nil {
			t.Errorf("%s is exported but not declared in package metrics", name)
			continue
		}
		if got := strings.ToLower(f.GetType().String()); got != string(m.Kind) {
			t.Errorf("%s is a %s, declared a %s", name, got, m.Kind)
		}
		for _, x := range f.Metric {
			var labels []string
			for _, l := range x.Label {
				labels = append(labels, l.GetName())
			}
			want := slices.Clone(m.Labels)
			slices.Sort(want)
			if !slices.Equal(labels, want) {
				t.Errorf("%s has labels %v, declared %v", name, labels, want)
				break
			}
		}
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// Without --metrics-client-ids no metric has a client label.
func TestNoClientIDsByDefault(t *testing.T) {
	st := store.New(store.Config{})
	s, err := New(Config{}, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	st.Add(fake(1, "Produce", 0, "orders"))
	fams, err := s.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == "client" {
					t.Errorf("%s has a client label without the opt-in", f.GetName())
				}
			}
		}
	}
	if value(sample(fams, "kscope_topic_records_in_total", "topic", "orders")) != 3 {
		t.Error("no traffic counter")
	}
}
