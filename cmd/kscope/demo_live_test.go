package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"kscope/internal/capture/ebpf"
	"kscope/internal/demo"
	"kscope/internal/testenv"
	"kscope/internal/view"
)

// demoRun is a kscope demo running as a process of its own, as a user
// starts it.
type demoRun struct {
	bin    string
	listen string
	api    string
	cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
	done   chan struct{}
	err    error // the exit, once done is closed
}

// freeAddr returns a loopback address nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startDemo runs "kscope demo" on random ports and waits for its API.
func startDemo(t *testing.T, args ...string) *demoRun {
	t.Helper()
	d := &demoRun{bin: kscopeBinary(t), listen: freeAddr(t), done: make(chan struct{})}
	d.api = "http://" + d.listen
	d.cmd = exec.Command(d.bin, append([]string{"demo", "--port", "0", "--listen", d.listen}, args...)...)
	d.cmd.Stdout, d.cmd.Stderr = &d.stdout, &d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.err = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		select {
		case <-d.done:
		default:
			d.cmd.Process.Kill()
			<-d.done
		}
		if t.Failed() {
			t.Logf("demo stdout:\n%s\ndemo stderr:\n%s", d.stdout.String(), d.stderr.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		// Ready once its services run and its banner is out: the
		// banner comes after the services start, and ends with the
		// retention button's hint.
		var st demo.Status
		if err := d.get("/api/v1/demo", nil, &st); err == nil && len(st.Processes) == len(demo.Services) && strings.Contains(d.stdout.String(), "the Big Red Retention Button") {
			return d
		}
		select {
		case <-d.done:
			t.Fatalf("kscope demo exited: %v\n%s", d.err, d.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("kscope demo's API did not answer within a minute\n%s", d.stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// get asks the demo's API for path into v.
func (d *demoRun) get(path string, q url.Values, v any) error {
	resp, err := http.Get(d.api + path + "?" + q.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", path, resp.Status, b)
	}
	return json.Unmarshal(b, v)
}

func (d *demoRun) status(t *testing.T) demo.Status {
	t.Helper()
	var st demo.Status
	if err := d.get(demo.StatusPath, nil, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// groupLag is a group's row of the demo's lag view.
func (d *demoRun) groupLag(t *testing.T, group string) view.GroupLag {
	t.Helper()
	var v view.LagView
	if err := d.get("/api/v1/lag", url.Values{"group": {group}}, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Groups) != 1 {
		return view.GroupLag{}
	}
	return v.Groups[0]
}

// kscope runs a kscope command against the demo and returns its output.
func (d *demoRun) kscope(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, d.bin, append(args, "--server", d.api)...).CombinedOutput()
	return string(out), err
}

// interrupt sends Ctrl-C's signal and waits for the demo to exit.
func (d *demoRun) interrupt(t *testing.T) {
	t.Helper()
	d.cmd.Process.Signal(os.Interrupt)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		t.Fatal("kscope demo did not stop within 30s of SIGINT")
	}
}

// gone checks that nothing the demo started is left: no service process,
// no port bound (the brokers', the API's, Prometheus's and
// Alertmanager's).
func gone(t *testing.T, st demo.Status, api string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range st.Processes {
		for syscall.Kill(p.PID, 0) == nil {
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.PID)); err == nil && strings.Contains(string(b), ") Z ") {
				break // exited, waiting to be reaped by init
			}
			if time.Now().After(deadline) {
				t.Errorf("%s (pid %d) still runs after the demo ended", p.Service, p.PID)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	addrs := append(slices.Clone(st.Bootstrap), strings.TrimPrefix(api, "http://"))
	for _, u := range []string{st.Alerting.Prometheus, st.Alerting.Alertmanager} {
		if u != "" {
			addrs = append(addrs, strings.TrimPrefix(u, "http://"))
		}
	}
	// Prometheus and Alertmanager get SIGTERM from the kernel when the
	// demo is killed, and take a moment to shut down.
	for _, addr := range addrs {
		for {
			ln, err := net.Listen("tcp", addr)
			if err == nil {
				ln.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s still bound after the demo ended: %v", addr, err)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// groupLag sums one group's offset lag over its partitions and takes its
// largest time lag, from the clients view.
type groupLag struct {
	offset     int64
	time       float64
	partitions int
}

func lagByGroup(v view.ClientsView) map[string]groupLag {
	out := make(map[string]groupLag)
	for _, c := range v.Consumers {
		g := out[c.Group]
		g.partitions++
		if c.OffsetLag != nil {
			g.offset += *c.OffsetLag
		}
		if c.TimeLagSeconds != nil {
			g.time = max(g.time, *c.TimeLagSeconds)
		}
		out[c.Group] = g
	}
	return out
}

func (d *demoRun) lag(t *testing.T) map[string]groupLag {
	t.Helper()
	var v view.ClientsView
	if err := d.get("/api/v1/clients", url.Values{"topic": {demo.Topic}}, &v); err != nil {
		t.Fatal(err)
	}
	return lagByGroup(v)
}

// delays returns the producer-consumer delays of a consumer's batches
// fetched in [from, to), exact where the agent saw the Produce.
func (d *demoRun) delays(t *testing.T, consumer string, from, to time.Time) []float64 {
	t.Helper()
	var v view.LatencyView
	if err := d.get("/api/v1/latency", url.Values{"topic": {demo.Topic}, "consumer": {consumer}}, &v); err != nil {
		t.Fatal(err)
	}
	var out []float64
	for _, s := range v.Series {
		for _, p := range s.Points {
			if p.Time.Before(from) || !p.Time.Before(to) {
				continue
			}
			if p.ExactDelaySeconds != nil {
				out = append(out, *p.ExactDelaySeconds)
			} else {
				out = append(out, p.DelaySeconds)
			}
		}
	}
	sort.Float64s(out)
	return out
}

func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return -1
	}
	return xs[int(q*float64(len(xs)-1))]
}

// The scenario of the Pixie Kafka tutorial, end to end, through the API of
// the demo a user starts: one producer and two groups on topic order;
// invoicing falling behind while shipping keeps up; shipping scaled to 3
// rebalancing; invoicing catching up once its delay is off.
func TestDemoScenario(t *testing.T) {
	testenv.Root(t)
	d := startDemo(t)
	started := time.Now()
	st := d.status(t)
	if !st.Traced || st.Topic != (demo.TopicInfo{Name: "order", Partitions: 5, ReplicationFactor: 3}) || !st.InvoicingDelay.On {
		t.Fatalf("status: %+v", st)
	}
	// This kernel takes the raw sys_exit tracepoint: the agent does not
	// fall back to the syscall tracepoints.
	if st.SyscallHook != string(ebpf.HookRaw) {
		t.Errorf("status: syscall hook %q, want %q", st.SyscallHook, ebpf.HookRaw)
	}
	for _, want := range []string{"kscope demo is running", "(syscall hook raw)", "kscope overview", "kscope demo scale shipping 3", "kscope demo invoicing-delay off", "--server " + d.api,
		"group shipping (KIP-848 consumer protocol)", "group invoicing (classic protocol"} {
		if !strings.Contains(d.stdout.String(), want) {
			t.Errorf("the demo's banner lacks %q:\n%s", want, d.stdout.String())
		}
	}

	// Invoicing falls behind, shipping keeps up.
	time.Sleep(time.Until(started.Add(20 * time.Second)))
	early := d.lag(t)
	time.Sleep(15 * time.Second)
	late := d.lag(t)
	t.Logf("lag at 20s: %+v; at 35s: %+v", early, late)
	inv0, inv, ship := early[demo.Invoicing], late[demo.Invoicing], late[demo.Shipping]
	if inv.partitions != 5 || ship.partitions != 5 {
		t.Errorf("partitions seen consumed: invoicing %d, shipping %d, want 5 each", inv.partitions, ship.partitions)
	}
	if inv.offset <= inv0.offset || inv.offset < 30 || inv.time <= inv0.time {
		t.Errorf("invoicing's lag did not rise: %+v then %+v", inv0, inv)
	}
	if ship.offset > 25 || ship.time > 2 || inv.offset < 3*ship.offset {
		t.Errorf("shipping does not keep up: %+v (invoicing %+v)", ship, inv)
	}
	// The producer-consumer delay tells the same.
	now := time.Now()
	invEarly := d.delays(t, demo.Invoicing, started, started.Add(15*time.Second))
	invLate := d.delays(t, demo.Invoicing, now.Add(-10*time.Second), now)
	shipAll := d.delays(t, demo.Shipping, started, now)
	t.Logf("invoicing delay p50 %.2fs in its first 15s, %.2fs in the last 10s (%d, %d batches); shipping p50 %.3fs p90 %.3fs (%d batches)",
		quantile(invEarly, .5), quantile(invLate, .5), len(invEarly), len(invLate), quantile(shipAll, .5), quantile(shipAll, .9), len(shipAll))
	if len(invEarly) == 0 || len(invLate) == 0 || quantile(invLate, .5) < quantile(invEarly, .5)+2 {
		t.Errorf("invoicing's producer-consumer delay did not rise")
	}
	if len(shipAll) < 50 || quantile(shipAll, .9) > 1 {
		t.Errorf("shipping's producer-consumer delay is not near zero")
	}

	// One producer, two consumer groups on topic order.
	var ov view.OverviewView
	if err := d.get("/api/v1/overview", nil, &ov); err != nil {
		t.Fatal(err)
	}
	var topic *view.TopicRow
	for i := range ov.Topics {
		if ov.Topics[i].Name == demo.Topic {
			topic = &ov.Topics[i]
		}
	}
	groups := map[string]bool{}
	for _, c := range ov.Consumers {
		groups[c.Group] = true
	}
	if topic == nil || topic.Producers != 1 || topic.Consumers != 2 || topic.Partitions != 5 || !groups[demo.Shipping] || !groups[demo.Invoicing] {
		t.Errorf("overview: topic %+v, consumer groups %v", topic, groups)
	}
	orderPID, ledgerPID := 0, 0
	for _, p := range st.Processes {
		switch p.Service {
		case demo.Order:
			orderPID = p.PID
		case demo.Ledger:
			ledgerPID = p.PID
		}
	}
	// order, and ledger the transactional producer.
	if len(ov.Producers) != 2 || !slices.ContainsFunc(ov.Producers, func(p view.ClientRow) bool {
		return p.Process == fmt.Sprintf("order[%d]", orderPID) && p.ClientID == "order-service"
	}) {
		t.Errorf("overview producers: %+v", ov.Producers)
	}
	demoTransactions(t, d, ledgerPID, started)

	// The same traffic on /metrics, as Prometheus counters: both groups
	// consume order, invoicing less than shipping.
	m := scrape(t, d.api+"/metrics")
	in := m[`kscope_topic_records_in_total{topic="order"}`]
	shipped := m[`kscope_group_consumed_records_total{group="shipping",topic="order"}`]
	invoiced := m[`kscope_group_consumed_records_total{group="invoicing",topic="order"}`]
	t.Logf("/metrics: %v records produced to order, %v consumed by shipping, %v by invoicing; invoicing lag on partition 0: %v",
		in, shipped, invoiced, m[`kscope_consumer_offset_lag{group="invoicing",partition="0",topic="order"}`])
	if in < 100 || shipped < in/2 || invoiced <= 0 || invoiced >= shipped {
		t.Errorf("/metrics: %v records produced to order, %v consumed by shipping, %v by invoicing", in, shipped, invoiced)
	}
	if _, ok := m[`kscope_consumer_offset_lag{group="invoicing",partition="0",topic="order"}`]; !ok {
		t.Errorf("/metrics has no offset lag for invoicing")
	}
	if !strings.Contains(d.stdout.String(), d.api+"/metrics") {
		t.Errorf("the banner does not say where the metrics are:\n%s", d.stdout.String())
	}
	// The kernel copied headers: the ring carried bytes, and the banner
	// says how to see what it skipped (orders' bursts make batches large
	// enough to skip; small frames are copied whole).
	ring, skipped := m["kscope_capture_ring_bytes_total"], m["kscope_capture_skipped_record_bytes_total"]
	t.Logf("/metrics: the ring carried %v bytes, %v record bytes skipped", ring, skipped)
	if _, ok := m["kscope_capture_skipped_record_bytes_total"]; !ok || ring <= 0 {
		t.Errorf("/metrics: ring bytes %v, skipped record bytes %v (present: %v)", ring, skipped, ok)
	}
	if !strings.Contains(d.stdout.String(), "kscope_capture_(ring|skipped_record)_bytes_total") {
		t.Errorf("the banner does not say how to see what the kernel skipped:\n%s", d.stdout.String())
	}

	// Scaling shipping to 3 rebalances its group.
	scaled := time.Now()
	out, err := d.kscope(t, "demo", "scale", "shipping", "3")
	if err != nil || !strings.Contains(out, "shipping: 3 processes, started pids") {
		t.Fatalf("kscope demo scale shipping 3: %v\n%s", err, out)
	}
	var rb *view.Rebalance
	var group view.RebalanceGroup
	// The two new members may join in one group epoch or in two; the
	// partitions another gives up reach them in the last.
	var assigned, revoked bool
	for deadline := time.Now().Add(40 * time.Second); (rb == nil || !assigned || !revoked) && time.Now().Before(deadline); {
		time.Sleep(time.Second)
		var v view.Rebalances
		if err := d.get("/api/v1/rebalances", url.Values{"group": {demo.Shipping}}, &v); err != nil {
			t.Fatal(err)
		}
		assigned, revoked = false, false
		for i := range v.Rebalances {
			r := &v.Rebalances[i]
			if r.Complete && len(r.Members) == 3 && r.DelaySeconds != nil && r.Started != nil && r.Started.After(scaled.Add(-time.Second)) {
				rb = r
				assigned = assigned || slices.ContainsFunc(r.Members, func(m view.RebalanceMember) bool { return len(m.Assigned) > 0 })
				revoked = revoked || slices.ContainsFunc(r.Members, func(m view.RebalanceMember) bool { return len(m.Revoked) > 0 })
			}
		}
		for _, g := range v.Groups {
			if g.Group == demo.Shipping {
				group = g
			}
		}
	}
	if rb == nil {
		t.Fatalf("no complete rebalance of group shipping with 3 members after scaling")
	}
	t.Logf("shipping rebalanced to generation %d in %.3fs: %s", rb.Generation, *rb.DelaySeconds, rb.Reason)
	// Shipping's group is on the KIP-848 protocol: the epochs that
	// brought its new members gave them partitions another gave up.
	if rb.GroupProtocol != demo.ConsumerProtocol || !assigned || !revoked {
		t.Errorf("shipping's rebalance: protocol %q, members %+v; want consumer, partitions revoked and assigned (in the epochs since scaling: assigned %v, revoked %v)", rb.GroupProtocol, rb.Members, assigned, revoked)
	}
	// kscope rebalances shows both protocols side by side.
	if out, err := d.kscope(t, "rebalances"); err != nil || !regexp.MustCompile(`(?m)^shipping +consumer `).MatchString(out) || !regexp.MustCompile(`(?m)^invoicing +classic `).MatchString(out) {
		t.Errorf("kscope rebalances does not show shipping on the consumer protocol and invoicing on the classic one: %v\n%s", err, out)
	}
	if n := scrape(t, d.api+"/metrics")[`kscope_group_rebalance_duration_seconds_count{group="shipping"}`]; n < 1 {
		t.Errorf("/metrics: %v complete rebalances of shipping observed", n)
	}
	if *rb.DelaySeconds <= 0 || len(group.Members) != 3 {
		t.Errorf("rebalance delay %v, group members %d", *rb.DelaySeconds, len(group.Members))
	}
	n := 0
	for _, p := range d.status(t).Processes {
		if p.Service == demo.Shipping {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d shipping processes run, want 3", n)
	}

	// With its delay off, invoicing catches up.
	before := d.lag(t)[demo.Invoicing]
	if out, err := d.kscope(t, "demo", "invoicing-delay", "off"); err != nil || !strings.Contains(out, "invoicing delay off") {
		t.Fatalf("kscope demo invoicing-delay off: %v\n%s", err, out)
	}
	after := before
	for deadline := time.Now().Add(40 * time.Second); after.offset*2 > before.offset && time.Now().Before(deadline); {
		time.Sleep(time.Second)
		after = d.lag(t)[demo.Invoicing]
	}
	t.Logf("invoicing lag with the delay off: %+v, then %+v", before, after)
	if after.offset*2 > before.offset {
		t.Errorf("invoicing's lag did not fall with its delay off: %+v, then %+v", before, after)
	}

	// The cluster's own lag: invoicing stopped, its group is Empty, and
	// its Append Lag keeps rising while order produces.
	if out, err := d.kscope(t, "demo", "scale", "invoicing", "0"); err != nil {
		t.Fatalf("kscope demo scale invoicing 0: %v\n%s", err, out)
	}
	var empty view.GroupLag
	for deadline := time.Now().Add(40 * time.Second); empty.State != "Empty" && time.Now().Before(deadline); {
		time.Sleep(time.Second)
		empty = d.groupLag(t, demo.Invoicing)
	}
	if empty.State != "Empty" || empty.MaxAppendLagSeconds == nil {
		t.Fatalf("invoicing after scaling to 0: %+v", empty)
	}
	time.Sleep(2*demo.LagPoll + time.Second)
	later := d.groupLag(t, demo.Invoicing)
	t.Logf("invoicing, Empty: Append Lag %.1fs, then %.1fs (status %s: %s)", *empty.MaxAppendLagSeconds, *later.MaxAppendLagSeconds, later.Status, later.Reason)
	if later.State != "Empty" || *later.MaxAppendLagSeconds < *empty.MaxAppendLagSeconds+5 {
		t.Errorf("invoicing's Append Lag did not keep rising while Empty: %+v then %+v", empty, later)
	}
	if out, err := d.kscope(t, "lag", "--group", demo.Invoicing); err != nil || !strings.Contains(out, "Empty") || !strings.Contains(out, "APPEND-LAG") {
		t.Errorf("kscope lag --group invoicing: %v\n%s", err, out)
	}

	// One demo at a time.
	second := exec.Command(d.bin, "demo", "--port", "0", "--listen", d.listen)
	out2, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(out2), "a kscope demo is already running") {
		t.Errorf("a second demo: %v\n%s", err, out2)
	}

	// Ctrl-C stops everything.
	last := d.status(t)
	d.interrupt(t)
	if d.err != nil {
		t.Errorf("kscope demo exited with %v after SIGINT", d.err)
	}
	gone(t, last, d.api)
}

// Without root, kscope demo says so in one line and offers --no-trace.
func TestDemoNotRoot(t *testing.T) {
	testenv.Root(t) // to become another user
	bin := kscopeBinary(t)
	cmd := exec.Command(bin, "demo", "--port", "0", "--listen", freeAddr(t))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("kscope demo as nobody: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "root") || !strings.Contains(lines[0], "--no-trace") {
		t.Errorf("kscope demo as nobody said:\n%s", out)
	}
}

// With --no-trace the cluster and the services run, the controls work,
// the views say they need the agent, and a demo killed outright leaves
// no process and no port behind.
func TestDemoNoTrace(t *testing.T) {
	d := startDemo(t, "--no-trace")
	st := d.status(t)
	if st.Traced {
		t.Errorf("status says traced with --no-trace")
	}
	// Each service is named after itself, as ps and the agent show it.
	// It names itself as it starts (procname.go, at init), which on a
	// loaded machine can come a little after the demo lists it.
	for _, p := range st.Processes {
		var (
			b   []byte
			err error
		)
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			b, err = os.ReadFile("/proc/" + strconv.Itoa(p.PID) + "/comm")
			if err == nil && strings.TrimSpace(string(b)) == p.Service || time.Now().After(deadline) {
				break
			}
		}
		if err != nil || strings.TrimSpace(string(b)) != p.Service {
			t.Errorf("pid %d of %s is named %q (%v)", p.PID, p.Service, b, err)
		}
	}
	out, err := d.kscope(t, "overview")
	if err == nil || !strings.Contains(out, "--no-trace") {
		t.Errorf("kscope overview of an untraced demo: %v\n%s", err, out)
	}

	// The cluster is polled, not traced: kscope lag answers, as the
	// banner says, once two polls came (5 s apart).
	var lag string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		if lag, err = d.kscope(t, "lag"); err == nil && strings.Contains(lag, "invoicing") && strings.Contains(lag, "shipping") {
			break
		}
	}
	if err != nil || !strings.Contains(lag, "invoicing") || !strings.Contains(lag, "APPEND-LAG") {
		t.Errorf("kscope lag of an untraced demo: %v\n%s", err, lag)
	}

	if out, err := d.kscope(t, "demo", "scale", "invoicing", "2"); err != nil || !strings.Contains(out, "invoicing: 2 processes, started pid ") {
		t.Fatalf("scale invoicing 2: %v\n%s", err, out)
	}
	if out, err := d.kscope(t, "demo", "invoicing-delay", "off"); err != nil || !strings.Contains(out, "2 invoicing processes") {
		t.Fatalf("invoicing-delay off: %v\n%s", err, out)
	}
	if out, err := d.kscope(t, "demo", "scale", "invoicing", "1"); err != nil || !strings.Contains(out, "stopped pid") {
		t.Fatalf("scale invoicing 1: %v\n%s", err, out)
	}
	if out, err := d.kscope(t, "demo", "scale", "payments", "1"); err == nil || !strings.Contains(out, "unknown service") {
		t.Errorf("scale of an unknown service: %v\n%s", err, out)
	}
	st = d.status(t)
	if st.InvoicingDelay.On || len(st.Processes) != len(demo.Services) {
		t.Errorf("after the controls: %+v", st)
	}
	out, err = d.kscope(t, "demo", "status")
	if err != nil || !strings.Contains(out, "invoicing delay off") {
		t.Errorf("kscope demo status: %v\n%s", err, out)
	}

	second := exec.Command(d.bin, "demo", "--no-trace", "--port", "0", "--listen", d.listen)
	if out, err := second.CombinedOutput(); err == nil || !strings.Contains(string(out), "already running") {
		t.Errorf("a second demo: %v\n%s", err, out)
	}

	// Killed without a chance to clean up, the demo still takes its
	// services along.
	d.cmd.Process.Kill()
	<-d.done
	gone(t, st, d.api)
}
