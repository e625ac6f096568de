package loadgen

import (
	"context"
	"net"
	"testing"
	"time"
)

// serve starts a Server on a loopback port for the test.
func serve(t *testing.T, s Shape, perWrite int) string {
	t.Helper()
	srv, err := NewServer(s)
	if err != nil {
		t.Fatal(err)
	}
	srv.PerWrite = perWrite
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return ln.Addr().String()
}

func total(a [numKinds]int64) int64 {
	var n int64
	for _, x := range a {
		n += x
	}
	return n
}

func TestRunCountsExactly(t *testing.T) {
	shape := Shape{BatchBytes: 1024, Partitions: 2}
	for _, tc := range []struct {
		name                   string
		conns, inFlight, write int
		exchanges              int64
	}{
		{"one connection, one in flight", 1, 1, 1, 500},
		{"pipelined", 3, 5, 1, 3001},
		{"several per writev", 2, 8, 4, 4000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := serve(t, shape, tc.write)
			res, err := Run(context.Background(), Config{Server: addr, Connections: tc.conns, InFlight: tc.inFlight, PerWrite: tc.write,
				Exchanges: tc.exchanges, Mix: DefaultMix, Shape: shape})
			if err != nil {
				t.Fatal(err)
			}
			if res.Sent != res.Answered || total(res.Sent) != tc.exchanges || res.Latency.Count() != uint64(tc.exchanges) {
				t.Fatalf("sent %v, answered %v, %d latencies; want %d of each", res.Sent, res.Answered, res.Latency.Count(), tc.exchanges)
			}
			// The mix holds to within one exchange of each kind per connection.
			for k, share := range DefaultMix {
				want := share * float64(tc.exchanges)
				if d := float64(res.Sent[k]) - want; d > float64(tc.conns) || d < -float64(tc.conns) {
					t.Errorf("%s: %d sent, want %.0f", Kind(k), res.Sent[k], want)
				}
			}
		})
	}
}

func TestRunPaced(t *testing.T) {
	shape := Shape{BatchBytes: 100, Partitions: 1}
	addr := serve(t, shape, 1)
	// A count at a rate takes count/rate.
	res, err := Run(context.Background(), Config{Server: addr, Connections: 3, Rate: 4000, Exchanges: 2000, Shape: shape})
	if err != nil {
		t.Fatal(err)
	}
	if total(res.Answered) != 2000 || res.Elapsed < 490*time.Millisecond || res.Elapsed > time.Second {
		t.Errorf("2000 exchanges at 4000/s: %d answered in %s, want 500ms", total(res.Answered), res.Elapsed)
	}
	// A duration at a rate sends rate*duration, exactly: the schedule is
	// absolute, so late timers catch up rather than lose sends.
	res, err = Run(context.Background(), Config{Server: addr, Connections: 3, Rate: 5000, Duration: 1200 * time.Millisecond, Shape: shape})
	if err != nil {
		t.Fatal(err)
	}
	if n := total(res.Answered); n != 6000 || total(res.Sent) != n {
		t.Errorf("1.2s at 5000/s: sent %d, answered %d; want 6000", total(res.Sent), n)
	}
	if len(res.PerSecond) < 1 || res.PerSecond[0] < 4500 || res.PerSecond[0] > 5500 {
		t.Errorf("per second %v, want 5000", res.PerSecond)
	}
}

func TestParseMix(t *testing.T) {
	m, err := ParseMix("produce=2, fetch=1,heartbeat=1")
	if err != nil {
		t.Fatal(err)
	}
	if m != (Mix{Produce: 0.5, Fetch: 0.25, Heartbeat: 0.25}) {
		t.Errorf("mix %v", m)
	}
	seq := newSequence(m)
	var n [numKinds]int
	for range 8 {
		n[seq.next()]++
	}
	if n != [numKinds]int{4, 2, 0, 2} {
		t.Errorf("8 picks: %v, want 4 produce, 2 fetch, 2 heartbeat", n)
	}
	for _, bad := range []string{"produce", "joingroup=1", "fetch=-1", "fetch=0"} {
		if _, err := ParseMix(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestHistogram(t *testing.T) {
	var h Histogram
	for i := 1; i <= 1000; i++ {
		h.Add(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, time.Millisecond}} {
		got := h.Quantile(tc.q)
		if d := float64(got-tc.want) / float64(tc.want); d > 0.07 || d < -0.07 {
			t.Errorf("p%g = %s, want %s", tc.q*100, got, tc.want)
		}
	}
}
