package agent

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"kscope/internal/broker"
	"kscope/internal/broker/brokertest"
	"kscope/internal/capture/ebpf"
	"kscope/internal/conn"
	"kscope/internal/exchange"
	"kscope/internal/store"
	"kscope/internal/testenv"
)

// live is an agent tracing the whole machine, with an embedded cluster in
// this process (so the broker side is traced too).
type live struct {
	t       *testing.T
	cluster *broker.Cluster
	addr    string
	st      *store.Store
	ag      *Agent
	cancel  context.CancelFunc
	done    chan error
}

func startCluster(t *testing.T, topics ...string) *broker.Cluster {
	t.Helper()
	return brokertest.Start(t, broker.Config{Brokers: 1, Partitions: 3, Topics: topics})
}

// startAgent traces c's traffic, or what opts says when it says anything:
// the other packages' tests run beside, and their Kafka traffic would
// crowd this test's out of the store.
func startAgent(t *testing.T, c *broker.Cluster, opts ebpf.Options) *live {
	t.Helper()
	if opts.Ports == nil && opts.PIDs == nil && opts.Cgroup == "" {
		_, port, _ := net.SplitHostPort(c.Addrs()[0])
		p, _ := strconv.Atoi(port)
		opts.Ports = []uint16{uint16(p)}
	}
	return startAgentEverywhere(t, c, opts)
}

// startAgentEverywhere traces the whole machine, or what opts says.
func startAgentEverywhere(t *testing.T, c *broker.Cluster, opts ebpf.Options) *live {
	t.Helper()
	testenv.Root(t)
	src, err := ebpf.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	l := &live{t: t, cluster: c, addr: c.Addrs()[0], st: store.New(store.Config{MemoryBytes: 64 << 20}), done: make(chan error, 1)}
	l.ag = New(Config{
		Source:      src,
		SourceStats: func() CaptureStats { s := src.Stats(); return CaptureStats{Events: s.Events, RingDrops: s.RingDrops} },
		Store:       l.st,
		Processes:   conn.NewResolver(""),
	})
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	go func() { l.done <- l.ag.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-l.done:
			if err != nil {
				t.Errorf("agent: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("agent did not stop")
		}
	})
	return l
}

func (l *live) port() uint16 {
	_, p, _ := net.SplitHostPort(l.addr)
	n, _ := strconv.Atoi(p)
	return uint16(n)
}

// client exchanges of a process, waiting up to a few seconds for them.
func (l *live) exchangesOf(pid int, want func([]exchange.Exchange) bool) []exchange.Exchange {
	l.t.Helper()
	var out []exchange.Exchange
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs, _ := l.st.Query(store.Query{Filter: exchange.Filter{Processes: []string{strconv.Itoa(pid)}, Side: "client"}, Limit: 100000})
		out = out[:0]
		for _, r := range recs {
			out = append(out, r.Exchange)
		}
		if want(out) || time.Now().After(deadline) {
			return out
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// logCounters logs what a test that waited in vain saw: the exchanges by
// API (those still waiting for their response apart), and the source's,
// the agent's and the store's counters.
func (l *live) logCounters(xs []exchange.Exchange) {
	l.t.Helper()
	apis := map[string]int{}
	for _, e := range xs {
		k := e.API
		if e.LatencyNS == nil {
			k += " (no response)"
		}
		apis[k]++
	}
	l.t.Logf("exchanges by API: %v\nsource %+v\nagent %+v\nstore %+v", apis, l.ag.cfg.Source.(*ebpf.Source).Stats(), l.ag.Stats(), l.st.Stats())
}

func run(t *testing.T, stdin string, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return cmd
}

func has(xs []exchange.Exchange, api, topic string) bool {
	for _, e := range xs {
		if e.API != api {
			continue
		}
		for _, tp := range e.Topics {
			if tp.Name == topic {
				return true
			}
		}
	}
	return false
}

// checkClient asserts what a user reads in the events table for a traced
// client process: its pid, name and client id, the topic and partitions.
func checkClient(t *testing.T, xs []exchange.Exchange, pid int, comm, clientID, topic string, apis ...string) {
	t.Helper()
	if len(xs) == 0 {
		t.Fatalf("%s[%d]: no exchanges", comm, pid)
	}
	for _, e := range xs {
		if e.Client.PID != uint32(pid) || e.Side != "client" || e.Client.Process != comm {
			t.Errorf("%s[%d]: exchange %s corr %d attributed to %s[%d] side %q", comm, pid, e.API, e.CorrelationID, e.Client.Process, e.Client.PID, e.Side)
		}
		if clientID != "" && e.ClientID != clientID && !strings.HasPrefix(e.ClientID, clientID) {
			t.Errorf("%s[%d]: client id %q, want %q", comm, pid, e.ClientID, clientID)
		}
	}
	for _, api := range apis {
		if !has(xs, api, topic) {
			t.Errorf("%s[%d]: no %s exchange naming topic %s", comm, pid, api, topic)
		}
	}
}

func TestLiveKcat(t *testing.T) {
	kcat := testenv.Command(t, "kcat", "kcat")
	c := startCluster(t, "kc")
	l := startAgent(t, c, ebpf.Options{})
	var msgs strings.Builder
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&msgs, "order-%d\n", i)
	}
	p := run(t, msgs.String(), kcat, "-P", "-b", l.addr, "-t", "kc", "-z", "gzip")
	// kcat may send its records in several Produce requests: wait for
	// all of them, not for the first.
	produced := func(xs []exchange.Exchange) (records int64, requests int) {
		for _, e := range xs {
			if e.API == "Produce" {
				requests++
				for _, tp := range e.Topics {
					for _, pp := range tp.Partitions {
						records += pp.Records
					}
				}
			}
		}
		return records, requests
	}
	xs := l.exchangesOf(p.Process.Pid, func(xs []exchange.Exchange) bool {
		n, _ := produced(xs)
		return n >= 50
	})
	checkClient(t, xs, p.Process.Pid, "kcat", "rdkafka", "kc", "Produce", "Metadata")
	records, requests := produced(xs)
	if records != 50 {
		l.logCounters(xs)
		t.Errorf("kcat produced 50 records, kscope counted %d in %d Produce requests", records, requests)
	}
	t.Logf("kcat's records came in %d Produce requests", requests)

	// A group consumer: JoinGroup, SyncGroup, Fetch, OffsetCommit.
	cons := exec.Command(kcat, "-b", l.addr, "-G", "kc-group", "-X", "auto.offset.reset=earliest", "kc")
	if err := cons.Start(); err != nil {
		t.Fatal(err)
	}
	xs = l.exchangesOf(cons.Process.Pid, func(xs []exchange.Exchange) bool {
		return has(xs, "Fetch", "kc") && has(xs, "OffsetCommit", "kc")
	})
	cons.Process.Kill()
	cons.Wait()
	checkClient(t, xs, cons.Process.Pid, "kcat", "rdkafka", "kc", "Fetch", "OffsetCommit")
	groups := map[string]bool{}
	for _, e := range xs {
		if e.API == "JoinGroup" || e.API == "SyncGroup" {
			groups[e.Group] = true
		}
	}
	if !groups["kc-group"] {
		t.Errorf("no JoinGroup/SyncGroup of kc-group from kcat -G: %v", groups)
	}
}

const pyProducer = `
import sys
from kafka import KafkaProducer
p = KafkaProducer(bootstrap_servers=sys.argv[1], client_id="py-producer", compression_type="gzip")
for i in range(40):
    p.send("py", b"invoice-%d" % i)
p.flush()
p.close()
`

const pyConsumer = `
import sys, time
from kafka import KafkaConsumer
c = KafkaConsumer("py", bootstrap_servers=sys.argv[1], client_id="py-consumer", group_id="py-group",
                  auto_offset_reset="earliest", max_partition_fetch_bytes=8*1024*1024, fetch_max_bytes=16*1024*1024)
deadline = time.time() + float(sys.argv[2])
n = 0
while time.time() < deadline:
    for tp, recs in c.poll(timeout_ms=200).items():
        n += len(recs)
    c.commit()
print(n)
`

func python(t *testing.T) string { return testenv.Python(t, "kafka") }

// pyCons is pyConsumer running.
type pyCons struct {
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan error
}

// startPyConsumer starts pyConsumer for secs seconds; it is waited for
// when the test ends.
func startPyConsumer(t *testing.T, py, addr string, secs int) *pyCons {
	t.Helper()
	p := &pyCons{cmd: exec.Command(py, "-c", pyConsumer, addr, strconv.Itoa(secs)), done: make(chan error, 1)}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.wait(t, time.Duration(secs)*time.Second+time.Minute) })
	return p
}

// wait returns how the consumer ended, waiting at most limit. One still
// running then is killed, and reported with a nil error: kafka-python
// 2.0.2 hung once in CI (its only thread waiting on a lock, a response
// unread on its fetch connection, for more than ten minutes), and what
// it had fetched by then is what the tests look at.
func (p *pyCons) wait(t *testing.T, limit time.Duration) error {
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(limit):
		p.cmd.Process.Kill()
		err := <-p.done
		p.done <- err
		t.Logf("the kafka-python consumer still ran %v after it started: killed; its output: %q", limit, p.out.String())
		return nil
	}
}

func TestLivePython(t *testing.T) {
	py := python(t)
	c := startCluster(t, "py") // kafka-python asks Metadata v1, which does not create topics
	// This consumer starts before the agent: its connections are picked
	// up at their next read or write.
	early := startPyConsumer(t, py, c.Addrs()[0], 12).cmd
	time.Sleep(3 * time.Second)
	l := startAgent(t, c, ebpf.Options{})

	p := run(t, "", py, "-c", pyProducer, l.addr)
	xs := l.exchangesOf(p.Process.Pid, func(xs []exchange.Exchange) bool { return has(xs, "Produce", "py") })
	checkClient(t, xs, p.Process.Pid, "python3", "py-producer", "py", "Produce")

	xs = l.exchangesOf(early.Process.Pid, func(xs []exchange.Exchange) bool {
		return has(xs, "Fetch", "py") && has(xs, "OffsetCommit", "py")
	})
	checkClient(t, xs, early.Process.Pid, "python3", "py-consumer", "py", "Fetch", "OffsetCommit")
}

// A Fetch response above 1 MiB decodes whole: records and bytes are
// counted, and nothing is marked truncated.
func TestLiveLargeFetch(t *testing.T) {
	py := python(t)
	c := startCluster(t, "py")
	l := startAgent(t, c, ebpf.Options{})
	big := `
import sys
from kafka import KafkaProducer
p = KafkaProducer(bootstrap_servers=sys.argv[1], client_id="big", batch_size=900000, linger_ms=50, max_request_size=8000000)
for i in range(3000):
    p.send("py", b"x" * 1000, partition=0)
p.flush()
`
	run(t, "", py, "-c", big, l.addr)
	pc := startPyConsumer(t, py, l.addr, 4)
	if err := pc.wait(t, 4*time.Second+time.Minute); err != nil {
		t.Fatalf("consumer: %v\n%s", err, pc.out.String())
	}
	out, cons := pc.out.String(), pc.cmd
	xs := l.exchangesOf(cons.Process.Pid, func(xs []exchange.Exchange) bool { return false })
	largest := exchange.Exchange{}
	for _, e := range xs {
		if e.API == "Fetch" && e.ResponseBytes > largest.ResponseBytes {
			largest = e
		}
	}
	if largest.ResponseBytes < 1<<20 {
		t.Fatalf("largest Fetch response %d bytes, want > 1 MiB (consumer read %s records)", largest.ResponseBytes, strings.TrimSpace(out))
	}
	var records, bytes int64
	for _, tp := range largest.Topics {
		for _, p := range tp.Partitions {
			records += p.Records
			bytes += p.Bytes
		}
	}
	if largest.Truncated || records < 1000 || bytes < 1<<20 {
		t.Errorf("Fetch of %d bytes: truncated %v, %d records, %d record bytes", largest.ResponseBytes, largest.Truncated, records, bytes)
	}
}

// A franz-go program (kscope bench traffic) is traced like any client.
func TestLiveFranzGo(t *testing.T) {
	c := startCluster(t, "fg")
	l := startAgent(t, c, ebpf.Options{})
	bin := filepath.Join(t.TempDir(), "kscope")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/kscope").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	p := run(t, "", bin, "bench", "traffic", "--bootstrap", l.addr, "--topic", "fg", "--bytes", "200000", "--record-size", "100", "--consume")
	xs := l.exchangesOf(p.Process.Pid, func(xs []exchange.Exchange) bool { return has(xs, "Produce", "fg") && has(xs, "Fetch", "fg") })
	checkClient(t, xs, p.Process.Pid, "kscope", "kgo", "fg", "Produce", "Fetch")
}

// HTTP and a Redis-like line protocol on the same machine are no Kafka.
func TestLiveHTTPIsNotKafka(t *testing.T) {
	c := startCluster(t)
	l := startAgentEverywhere(t, c, ebpf.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hello") })}
	go srv.Serve(ln)
	defer srv.Close()
	curl := testenv.Command(t, "curl", "curl")
	for i := 0; i < 5; i++ {
		run(t, "", curl, "-s", "http://"+ln.Addr().String()+"/")
	}
	// A Redis-like exchange of lines over a raw TCP connection.
	rl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer rl.Close()
	go func() {
		c, err := rl.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 512)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			c.Write(append([]byte("+OK "), buf[:n]...))
		}
	}()
	py := python(t)
	run(t, "", py, "-c", `
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
for i in range(20):
    s.sendall(b"*1\r\n$4\r\nPING\r\n")
    s.recv(512)
s.close()
`, strconv.Itoa(rl.Addr().(*net.TCPAddr).Port))
	time.Sleep(time.Second)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	rport := strconv.Itoa(rl.Addr().(*net.TCPAddr).Port)
	recs, _ := l.st.Query(store.Query{Limit: 100000})
	for _, r := range recs {
		for _, p := range []string{port, rport} {
			if strings.HasSuffix(r.Server.Addr, ":"+p) || strings.HasSuffix(r.Client.Addr, ":"+p) {
				t.Errorf("HTTP or Redis-like exchange decoded as Kafka: %s", r.API)
			}
		}
	}
	if st := l.ag.Stats(); st.Decoder.NotKafka < 2 {
		t.Errorf("no connection judged not Kafka: %+v", st.Decoder)
	}
}

// An agent stopped and started again while a client keeps its connection
// open picks the connection up at its next bytes and decodes on.
func TestLiveRestart(t *testing.T) {
	py := python(t)
	c := startCluster(t, "py")
	cons := startPyConsumer(t, py, c.Addrs()[0], 15).cmd
	fetches := func(l *live) func([]exchange.Exchange) bool {
		return func(xs []exchange.Exchange) bool {
			n := 0
			for _, e := range xs {
				if e.API == "Fetch" && e.LatencyNS != nil {
					n++
				}
			}
			return n >= 3
		}
	}
	first := startAgent(t, c, ebpf.Options{})
	if xs := first.exchangesOf(cons.Process.Pid, fetches(first)); !fetches(first)(xs) {
		first.logCounters(xs)
		t.Fatalf("first agent: %d exchanges, not 3 fetches", len(xs))
	}
	first.cancel()
	if err := <-first.done; err != nil {
		t.Fatal(err)
	}
	first.done <- nil // for its cleanup
	second := startAgent(t, c, ebpf.Options{})
	xs := second.exchangesOf(cons.Process.Pid, fetches(second))
	if !fetches(second)(xs) {
		second.logCounters(xs)
		t.Fatalf("restarted agent: %d exchanges of the running consumer, not 3 fetches", len(xs))
	}
	checkClient(t, xs, cons.Process.Pid, "python3", "py-consumer", "py", "Fetch")
}

// More traffic than the agent can take: the kernel ring overflows, the
// drops are counted, the traced program is not slowed to a halt, and the
// store stays within its budget. Every byte is copied (CopyRecords): with
// headers only, 100 MB of 16 KiB batches carry about 6 MB through the
// ring, which a 64 KiB ring may well keep up with.
func TestLiveFlood(t *testing.T) {
	testenv.Root(t)
	c := startCluster(t, "flood")
	src, err := ebpf.Open(ebpf.Options{RingBytes: 64 << 10, CopyRecords: true})
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(store.Config{MemoryBytes: 1 << 20})
	ag := New(Config{Source: src, SourceStats: func() CaptureStats {
		s := src.Stats()
		return CaptureStats{RingDrops: s.RingDrops, LostBytes: s.LostBytes}
	}, Store: st})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ag.Run(ctx) }()
	defer func() { cancel(); <-done }()

	bin := filepath.Join(t.TempDir(), "kscope")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/kscope").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	start := time.Now()
	run(t, "", bin, "bench", "traffic", "--bootstrap", c.Addrs()[0], "--topic", "flood", "--bytes", "100000000", "--consume")
	took := time.Since(start)
	time.Sleep(500 * time.Millisecond)
	s := ag.Stats()
	if s.Capture.RingDrops == 0 {
		t.Errorf("100 MB through a 64 KiB ring and no drop counted: %+v", s.Capture)
	}
	if used := st.Stats().Bytes; used > 1<<20 {
		t.Errorf("store uses %d bytes, budget 1 MiB", used)
	}
	t.Logf("100 MB produced and consumed in %s; ring drops %d, lost bytes %d, decoder %d exchanges, %d resyncs",
		took.Round(time.Millisecond), s.Capture.RingDrops, s.Capture.LostBytes, s.Decoder.Exchanges, s.Decoder.Resyncs)
}
