package agent

import (
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"kscope/internal/capture/ebpf"
	"kscope/internal/testenv"
	"kscope/internal/view"
)

const lagClients = "../../testdata/clients/python/lag_clients.py"

// consumerLag sums one consumer's rows of the clients view, evaluated now
// from what the agent traced: its offset lag over the partitions, its
// worst time lag, its last fetch, and where the log ends came from.
type consumerLag struct {
	offsetLag int64
	timeLag   float64
	lastFetch time.Time
	sources   map[string]int
	positions map[string]int
	rows      int
	at        time.Time // when evaluated
}

func (c consumerLag) String() string {
	return fmt.Sprintf("offset lag %d over %d partitions, time lag %.1fs, last fetch %s ago, log ends from %v, positions from %v",
		c.offsetLag, c.rows, c.timeLag, c.at.Sub(c.lastFetch).Round(100*time.Millisecond), c.sources, c.positions)
}

func (l *live) consumers() map[string]consumerLag {
	v := view.Clients(view.FromStore(l.st, view.Window{}, view.ClientsNeeds), view.ClientsFilter{Topic: "orders"})
	out := map[string]consumerLag{}
	for _, r := range v.Consumers {
		c := out[r.ClientID]
		if c.sources == nil {
			c.sources, c.positions, c.at = map[string]int{}, map[string]int{}, v.To
		}
		c.rows++
		if r.OffsetLag != nil {
			c.offsetLag += *r.OffsetLag
		}
		if r.TimeLagSeconds != nil {
			c.timeLag = max(c.timeLag, *r.TimeLagSeconds)
		}
		if r.LastFetch != nil && r.LastFetch.After(c.lastFetch) {
			c.lastFetch = *r.LastFetch
		}
		c.sources[r.HighWatermarkSource]++
		c.positions[r.PositionSource]++
		out[r.ClientID] = c
	}
	return out
}

// TestLiveTrafficLag: lag from traffic alone, evaluated now. A
// kafka-python producer writes 200 records/s to 3 partitions; a
// kafka-python consumer that takes 5 records a poll and sleeps 0.25 s a
// record (it has records buffered, so it rarely fetches) shows its lag
// large and growing, from the log ends the producer's and the others'
// traffic tell; a kcat consumer keeps near 0; a consumer stopped with
// SIGSTOP shows its lag growing and its last fetch falling behind.
func TestLiveTrafficLag(t *testing.T) {
	py := testenv.Python(t, "kafka")
	kcat := testenv.Command(t, "kcat", "kcat")
	c := startCluster(t, "orders") // kafka-python asks Metadata v1, which does not create topics
	l := startAgent(t, c, ebpf.Options{})
	testenv.StartReady(t, py, lagClients, l.addr, "produce", "orders", "200")
	testenv.StartReady(t, py, lagClients, l.addr, "consume", "orders", "slow", "5", "0.25")
	paused := testenv.StartReady(t, py, lagClients, l.addr, "consume", "orders", "paused", "500", "0")
	kc := exec.Command(kcat, "-b", l.addr, "-G", "fast", "-X", "client.id=lag-fast", "-q", "-o", "beginning", "orders")
	if err := kc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kc.Process.Kill(); kc.Wait() })

	time.Sleep(8 * time.Second)
	paused.Process.Signal(syscall.SIGSTOP)
	stoppedAt := time.Now()
	time.Sleep(4 * time.Second)
	first := l.consumers()
	time.Sleep(6 * time.Second)
	then := l.consumers()
	for _, id := range []string{"lag-slow", "lag-paused", "lag-fast"} {
		t.Logf("%s: %v then %v", id, first[id], then[id])
	}
	if st := l.st.Stats(); st.Evicted > 0 {
		t.Fatalf("the store evicted %d exchanges: the views lack what they need", st.Evicted)
	}

	slow, fast, stopped := then["lag-slow"], then["lag-fast"], then["lag-paused"]
	if slow.rows != 3 || slow.offsetLag < 1000 || slow.offsetLag < first["lag-slow"].offsetLag+500 || slow.timeLag < 5 {
		t.Errorf("slow: %v then %v: want 3 partitions, over 1000 records behind, growing, seconds behind", first["lag-slow"], slow)
	}
	// The slow consumer works through what it fetched: it is where it
	// committed. Its log ends cannot come from its own fetches, which it
	// barely makes: the others' traffic says where the log ends.
	if slow.positions[view.PositionCommit] != slow.rows {
		t.Errorf("slow: positions from %v, want its commits", slow.positions)
	}
	if slow.sources["own fetch"] == slow.rows {
		t.Errorf("slow: every log end from its own fetch: %v", slow.sources)
	}
	if fast.rows != 3 || fast.offsetLag > slow.offsetLag/10 || fast.timeLag > 2 {
		t.Errorf("fast (kcat): %v, want near 0 beside slow's %d", fast, slow.offsetLag)
	}
	// A fetch in flight when it stopped may be answered just after.
	if stopped.rows != 3 || stopped.offsetLag < first["lag-paused"].offsetLag+500 || stopped.lastFetch.After(stoppedAt.Add(time.Second)) {
		t.Errorf("stopped (SIGSTOP at %s): %v then %v: want its lag growing, no fetch since it stopped",
			stoppedAt.Format(time.TimeOnly), first["lag-paused"], stopped)
	}
	for id, s := range then {
		if strings.HasPrefix(id, "lag-") && s.sources[""] > 0 {
			t.Errorf("%s: a row without a log end source: %v", id, s.sources)
		}
	}
}
