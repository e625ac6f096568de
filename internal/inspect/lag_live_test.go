package inspect_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"kscope/internal/broker"
	"kscope/internal/broker/brokertest"
	"kscope/internal/inspect"
	"kscope/internal/testenv"
	"kscope/internal/view"
)

const lagClients = "../../testdata/clients/python/lag_clients.py"

// poller polls a cluster every interval in the background, keeping the
// snapshots, and computes the lag view of the latest ones.
type poller struct {
	t     *testing.T
	in    *inspect.Inspector
	mu    sync.Mutex
	snaps []inspect.Snapshot
}

func startPoller(t *testing.T, c *broker.Cluster, every time.Duration) *poller {
	in, err := inspect.New(inspect.Config{Brokers: c.Addrs(), RequestTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	p := &poller{t: t, in: in}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		in.Run(ctx, every, func(s inspect.Snapshot) {
			p.mu.Lock()
			p.snaps = append(p.snaps, s)
			p.mu.Unlock()
		})
	}()
	t.Cleanup(func() { cancel(); <-done; in.Close() })
	return p
}

// lag is the lag view of the polls so far.
func (p *poller) lag() view.LagView {
	p.mu.Lock()
	snaps := append([]inspect.Snapshot(nil), p.snaps...)
	p.mu.Unlock()
	if len(snaps) == 0 {
		return view.LagView{}
	}
	return view.Lag(view.Input{Window: view.Window{From: snaps[0].Time, To: time.Now()}, Cluster: snaps}, view.LagFilter{})
}

// group waits for the next poll and returns group's row.
func (p *poller) group(name string) view.GroupLag {
	p.t.Helper()
	p.mu.Lock()
	n := len(p.snaps)
	p.mu.Unlock()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		p.mu.Lock()
		m := len(p.snaps)
		p.mu.Unlock()
		if m > n {
			break
		}
		if time.Now().After(deadline) {
			p.t.Fatal("no poll within 10s")
		}
	}
	for _, g := range p.lag().Groups {
		if g.Group == name {
			return g
		}
	}
	return view.GroupLag{}
}

// until polls group until ok says so, for at most d.
func (p *poller) until(name string, d time.Duration, ok func(view.GroupLag) bool) view.GroupLag {
	p.t.Helper()
	var g view.GroupLag
	for deadline := time.Now().Add(d); time.Now().Before(deadline); {
		if g = p.group(name); ok(g) {
			return g
		}
	}
	p.t.Errorf("group %s after %v: %s (%s), state %s, lag %d", name, d, g.Status, g.Reason, g.State, g.OffsetLag)
	return g
}

func partition(g view.GroupLag, topic string, p int32) view.PartitionLag {
	for _, x := range g.Partitions {
		if x.Topic == topic && x.Partition == p {
			return x
		}
	}
	return view.PartitionLag{}
}

// TestLagLive runs real clients (kafka-python, confluent-kafka, kcat,
// franz-go) against the embedded cluster and polls it as kscope lag does:
// a slow consumer's lag is large and growing while a fast one keeps up; a
// consumer that is stopped (SIGSTOP) or killed, its group Empty, shows its
// Append Lag rising and STOP; a group whose offset an operator rewinds
// shows REWIND; a transactional producer's consumer ends at lag 0 (the
// commit marker left); records deleted before a group consumed them are
// LOST, with a time to loss before that; a broker that stops answering is
// named while the rest is still polled. Offsets are checked against
// kafka-python's own admin client.
func TestLagLive(t *testing.T) {
	py := testenv.Python(t, "kafka", "confluent_kafka")
	kcat := testenv.Command(t, "kcat", "kcat")
	ctx := context.Background()
	c := brokertest.Start(t, broker.Config{Brokers: 3, Partitions: 3, Topics: []string{"orders", "txn", "del"}}) // closed after the clients are gone
	b := strings.Join(c.Addrs(), ",")
	adm := kadm.NewClient(brokertest.Client(t, c))
	p := startPoller(t, c, time.Second)

	testenv.StartReady(t, py, lagClients, b, "produce", "orders", "200")
	testenv.StartReady(t, py, lagClients, b, "consume", "orders", "slow", "5", "0.25")
	testenv.StartReady(t, py, lagClients, b, "consume", "orders", "killed", "50", "0")
	stopped := testenv.StartReady(t, py, lagClients, b, "confluent-consume", "orders", "stopped", "0.02")
	kc := exec.Command(kcat, "-b", b, "-G", "fast", "-X", "auto.commit.interval.ms=1000", "-q", "-o", "beginning", "orders")
	kc.Stdout = io.Discard
	if err := kc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kc.Process.Kill(); kc.Wait() })

	// A slow consumer falls behind; a fast one keeps up.
	time.Sleep(10 * time.Second)
	slow1 := p.group("slow")
	time.Sleep(4 * time.Second)
	slow2, fast := p.group("slow"), p.group("fast")
	t.Logf("slow: lag %d then %d, status %s (%s); fast: lag %d, max time lag %s s", slow1.OffsetLag, slow2.OffsetLag, slow2.Status, slow2.Reason, fast.OffsetLag, str(fast.MaxTimeLagSeconds))
	if slow2.OffsetLag < 500 || slow2.OffsetLag < slow1.OffsetLag+300 || slow2.Status == view.LagOK {
		t.Errorf("slow: lag %d then %d, %s: want large, growing, not OK", slow1.OffsetLag, slow2.OffsetLag, slow2.Status)
	}
	if fast.OffsetLag > slow2.OffsetLag/4 || fast.MaxTimeLagSeconds == nil || *fast.MaxTimeLagSeconds > 5 || fast.Status != view.LagOK {
		t.Errorf("fast (kcat): lag %d, time lag %s, %s: want it keeping up", fast.OffsetLag, str(fast.MaxTimeLagSeconds), fast.Status)
	}

	// Killed: the group empties; its Append Lag keeps rising, and it is
	// STOP once no commit came for the whole window. Stopped (SIGSTOP):
	// still a member for its session timeout, and STOP.
	killed := p.group("killed")
	if killed.State != "Stable" || killed.Members != 1 {
		t.Errorf("killed before: %+v", killed)
	}
	syscall.Kill(stoppedPid(t, "killed"), syscall.SIGKILL)
	stopped.Process.Signal(syscall.SIGSTOP)
	var appendLag []float64
	k := p.until("killed", 30*time.Second, func(g view.GroupLag) bool {
		if g.MaxAppendLagSeconds != nil {
			appendLag = append(appendLag, *g.MaxAppendLagSeconds)
		}
		return g.State == "Empty" && g.Status == view.LagStop
	})
	t.Logf("killed: %s %s (%s), Append Lag %v", k.State, k.Status, k.Reason, appendLag)
	if n := len(appendLag); n < 2 || appendLag[n-1] < appendLag[0]+5 {
		t.Errorf("killed: Append Lag %v, want it rising", appendLag)
	}
	s := p.until("stopped", 20*time.Second, func(g view.GroupLag) bool { return g.Status == view.LagStop })
	t.Logf("stopped (SIGSTOP): %s %s (%s), lag %d", s.State, s.Status, s.Reason, s.OffsetLag)

	// The killed group's offsets as kafka-python's admin client lists
	// them, after a poll: what the poll says.
	k = p.group("killed")
	out, err := exec.Command(py, lagClients, b, "offsets", "killed", "orders").Output()
	if err != nil {
		t.Fatal(err)
	}
	var their struct{ Committed, End map[string]int64 }
	if err := json.Unmarshal(out, &their); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, x := range k.Partitions {
		if x.CommittedOffset == nil || their.Committed[fmt.Sprint(x.Partition)] != *x.CommittedOffset {
			t.Errorf("killed orders/%d: committed %v, kafka-python says %d", x.Partition, x.CommittedOffset, their.Committed[fmt.Sprint(x.Partition)])
		}
		// The producer runs on, about 70 records a second a partition:
		// kafka-python's end offset, read a second or two after the
		// poll, is a little past the poll's, never before.
		if end := their.End[fmt.Sprint(x.Partition)]; x.HighWatermark == nil || end < *x.HighWatermark || end > *x.HighWatermark+400 {
			t.Errorf("orders/%d: high watermark %s at the poll, kafka-python's end offset %d after", x.Partition, str(x.HighWatermark), end)
		}
	}

	// Rewound by an operator: REWIND.
	commit := func(o int64) {
		if err := adm.CommitAllOffsets(ctx, "rewound", kadm.Offsets{"orders": {0: {Topic: "orders", Partition: 0, At: o}}}); err != nil {
			t.Fatal(err)
		}
	}
	commit(300)
	p.group("rewound")
	commit(350)
	p.group("rewound")
	commit(100)
	r := p.until("rewound", 5*time.Second, func(g view.GroupLag) bool { return g.Status == view.LagRewind })
	t.Logf("rewound: %s (%s)", r.Status, r.Reason)

	// Transactions: the consumer read everything committed and sits
	// before the last commit marker: lag 0.
	txn := transactions(t, c)
	g := p.until("txn", 10*time.Second, func(g view.GroupLag) bool { return len(g.Partitions) > 0 && g.OffsetLag == 0 })
	t.Logf("txn: %d records in committed transactions read, lag %d, %s", txn, g.OffsetLag, g.Status)

	// Deleted before consumed: a time to loss first, then LOST.
	pr := brokertest.Client(t, c, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DefaultProduceTopic("del"))
	for range 100 {
		if err := pr.ProduceSync(ctx, &kgo.Record{Value: []byte("x"), Partition: 0}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: ptr("3600000")}}, "del"); err != nil {
		t.Fatal(err)
	}
	if err := adm.CommitAllOffsets(ctx, "del", kadm.Offsets{"del": {0: {Topic: "del", Partition: 0, At: 10}}}); err != nil {
		t.Fatal(err)
	}
	d := p.until("del", 5*time.Second, func(g view.GroupLag) bool {
		x := partition(g, "del", 0)
		return x.TimeToLossSeconds != nil && *x.TimeToLossSeconds > 3500 && *x.TimeToLossSeconds <= 3600
	})
	t.Logf("del before: time to loss %v s", *partition(d, "del", 0).TimeToLossSeconds)
	if _, err := adm.DeleteRecords(ctx, kadm.Offsets{"del": {0: {Topic: "del", Partition: 0, At: 50}}}); err != nil {
		t.Fatal(err)
	}
	d = p.until("del", 5*time.Second, func(g view.GroupLag) bool { return g.Status == view.LagLost })
	x := partition(d, "del", 0)
	t.Logf("del after: %s (%s), time to loss %s", x.Status, x.Reason, str(x.TimeToLossSeconds))
	if x.TimeToLossSeconds == nil || *x.TimeToLossSeconds != 0 || !strings.Contains(x.Reason, "40 records were deleted") {
		t.Errorf("del after DeleteRecords: %+v", x)
	}

	// A broker that stops answering is named, since when, and the rest of
	// the cluster is still polled.
	c.Freeze(2, true)
	var v view.LagView
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		if v = p.lag(); len(v.Errors) > 0 && v.Errors[0].Broker == 2 {
			break
		}
	}
	c.Freeze(2, false)
	if len(v.Errors) == 0 || v.Errors[0].Broker != 2 {
		t.Errorf("broker 2 frozen: errors %+v", v.Errors)
	} else {
		t.Logf("broker 2 frozen: %+v; %d groups still computed", v.Errors, len(v.Groups))
	}
	if len(v.Groups) < 5 {
		t.Errorf("with broker 2 frozen, %d groups", len(v.Groups))
	}
}

// stoppedPid finds the pid of the lag_clients.py consumer of group.
func stoppedPid(t *testing.T, group string) int {
	t.Helper()
	out, err := exec.Command("pgrep", "-f", "lag_clients.py .* consume orders "+group+" ").Output()
	if err != nil {
		t.Fatalf("pgrep %s: %v", group, err)
	}
	var pid int
	fmt.Sscan(string(out), &pid)
	return pid
}

// transactions writes three committed transactions of 10 records and one
// aborted to txn/0 (franz-go, transactional), and reads them back in group
// txn, read_committed, committing: it returns the records read.
func transactions(t *testing.T, c *broker.Cluster) int {
	t.Helper()
	ctx := context.Background()
	pr := brokertest.Client(t, c, kgo.TransactionalID("lag-txn"), kgo.DefaultProduceTopic("txn"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 4 {
		if err := pr.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for range 10 {
			if err := pr.ProduceSync(ctx, &kgo.Record{Value: []byte("t"), Partition: 0}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := pr.EndTransaction(ctx, kgo.TransactionEndTry(i != 2)); err != nil {
			t.Fatal(err)
		}
	}
	co := brokertest.Client(t, c, kgo.ConsumerGroup("txn"), kgo.ConsumeTopics("txn"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	n := 0
	for deadline := time.Now().Add(20 * time.Second); n < 30 && time.Now().Before(deadline); {
		fctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := co.PollFetches(fctx)
		cancel()
		n += fs.NumRecords()
	}
	if err := co.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	return n
}

func ptr[T any](v T) *T { return &v }

// str says what p points to, or null.
func str[T any](p *T) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}
