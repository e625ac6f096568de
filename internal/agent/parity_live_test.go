package agent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"kscope/internal/capture/ebpf"
	"kscope/internal/exchange"
	"kscope/internal/store"
	"kscope/internal/testenv"
	"kscope/internal/view"
)

// TestLiveCaptureParity: the views on a capture file give the same answers
// as live (issue 4). The agent traces real clients (kcat producers and a
// group of two kcat consumers, one joining later) while tcpdump records the
// same loopback traffic; the overview, latency, clients and rebalances
// views over the agent's store and over `kscope analyze` of the capture
// must tell a user the same story.
//
// Clients are named differently for a good reason: live, by process
// ("kcat[pid]"); in a capture, which knows no process, by client id and
// host ("parity-producer-1@127.0.0.1"). The test compares by client id,
// and gives every client its own client id: two processes on one host with
// one client id are two clients live but one in a capture.
func TestLiveCaptureParity(t *testing.T) {
	kcat := testenv.Command(t, "kcat", "kcat")
	tcpdump := testenv.Command(t, "tcpdump", "tcpdump")
	c := startCluster(t, "parity")
	l := startAgent(t, c, ebpf.Options{})
	bin := filepath.Join(t.TempDir(), "kscope")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/kscope").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}

	// tcpdump as scripts/make-captures.sh runs it: every packet handed
	// over and written at once, a buffer big enough to drop none.
	pcapFile := filepath.Join(t.TempDir(), "parity.pcap")
	dumpErr := &syncWriter{}
	dump := exec.Command(tcpdump, "-i", "lo", "-s", "0", "--immediate-mode", "-U", "-B", "65536", "-Z", "root",
		"-w", pcapFile, "tcp port "+strconv.Itoa(int(l.port())))
	dump.Stderr = dumpErr
	if err := dump.Start(); err != nil {
		t.Fatal(err)
	}
	defer dump.Process.Kill()
	for i := 0; !strings.Contains(dumpErr.String(), "listening on"); i++ {
		if i > 100 {
			t.Fatalf("tcpdump did not start: %s", dumpErr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	start := time.Now()
	consumer := func(id string) *exec.Cmd {
		cmd := exec.Command(kcat, "-b", l.addr, "-G", "parity-group", "-q",
			"-X", "client.id="+id, "-X", "auto.offset.reset=earliest", "-X", "auto.commit.interval.ms=500", "parity")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	produce := func(id string, from, to int) {
		var in strings.Builder
		for i := from; i <= to; i++ {
			fmt.Fprintf(&in, "order-%d\n", i)
		}
		run(t, in.String(), kcat, "-b", l.addr, "-P", "-t", "parity", "-z", "gzip", "-X", "linger.ms=5", "-X", "client.id="+id)
	}
	c1 := consumer("parity-consumer-1")
	time.Sleep(3 * time.Second)
	produce("parity-producer-1", 1, 200)
	time.Sleep(time.Second)
	c2 := consumer("parity-consumer-2") // joins: a rebalance
	time.Sleep(5 * time.Second)
	produce("parity-producer-2", 201, 400)
	time.Sleep(2 * time.Second)
	for _, cmd := range []*exec.Cmd{c2, c1} { // both leave the group
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}
	time.Sleep(time.Second)
	end := time.Now()
	dump.Process.Signal(os.Interrupt)
	dump.Wait()
	if s := dumpErr.String(); !strings.Contains(s, "\n0 packets dropped by kernel") {
		t.Fatalf("tcpdump lost packets, the capture cannot be compared: %s", s)
	}
	w := view.Window{From: start, To: end}

	live := l.parityExchanges(w)
	capt := analyzeCapture(t, bin, pcapFile, l.port())
	// A request whose response the broker wrote but the client never
	// read (kcat closes its connections on SIGINT with a long-poll Fetch
	// pending) differs for a good reason: the agent, at the client's
	// syscalls, sees it unanswered (view.Once keeps the client's copy);
	// tcpdump, on the wire, sees the response. Such requests are left
	// out of both sides, and only those.
	gone := abandoned(live)
	for k, e := range gone {
		t.Logf("left out: %s v%d corr %d from %s (%s): the broker answered in %s, the client closed without reading", e.API, e.APIVersion, k.corr, k.client, e.ClientID, e.Latency)
	}
	for k, e := range gone {
		if c := find(capt, k); c == nil || c.Latency == nil {
			t.Errorf("%s corr %d from %s: the broker's copy is answered, yet the capture has %v", e.API, k.corr, k.client, c)
		}
	}
	live, capt = without(live, gone), without(capt, gone)
	t.Logf("window %s; live: %d exchanges (%d once), capture: %d", end.Sub(start).Round(time.Millisecond), len(live), len(view.Once(live)), len(capt))
	if len(capt) < 20 {
		t.Fatalf("the capture holds %d exchanges", len(capt))
	}

	t.Run("overview", func(t *testing.T) {
		compareOverview(t, view.Overview(view.Of(live, w), view.OverviewFilter{}), view.Overview(view.Of(capt, w), view.OverviewFilter{}))
	})
	t.Run("rebalances", func(t *testing.T) {
		compareRebalances(t, view.RebalancesOf(view.Of(live, w), view.RebalanceFilter{}), view.RebalancesOf(view.Of(capt, w), view.RebalanceFilter{}))
	})
	t.Run("clients", func(t *testing.T) {
		compareClients(t, view.Clients(view.Of(live, w), view.ClientsFilter{}), view.Clients(view.Of(capt, w), view.ClientsFilter{}))
	})
	t.Run("latency", func(t *testing.T) {
		compareLatency(t, view.Latency(view.Of(live, w), view.LatencyFilter{}), view.Latency(view.Of(capt, w), view.LatencyFilter{}))
	})
}

type parityKey struct {
	client, server string
	corr           int32
}

// abandoned are the exchanges whose client copy has no response and whose
// broker copy has one, keyed to their broker copy.
func abandoned(xs []exchange.Exchange) map[parityKey]*exchange.Exchange {
	unanswered := map[parityKey]bool{}
	for i := range xs {
		if xs[i].Side == "client" && xs[i].Latency == nil {
			unanswered[parityKey{xs[i].Client.Addr, xs[i].Server.Addr, xs[i].CorrelationID}] = true
		}
	}
	out := map[parityKey]*exchange.Exchange{}
	for i := range xs {
		k := parityKey{xs[i].Client.Addr, xs[i].Server.Addr, xs[i].CorrelationID}
		if xs[i].Side == "server" && xs[i].Latency != nil && unanswered[k] {
			out[k] = &xs[i]
		}
	}
	return out
}

func find(xs []exchange.Exchange, k parityKey) *exchange.Exchange {
	for i := range xs {
		if (parityKey{xs[i].Client.Addr, xs[i].Server.Addr, xs[i].CorrelationID}) == k {
			return &xs[i]
		}
	}
	return nil
}

func without(xs []exchange.Exchange, drop map[parityKey]*exchange.Exchange) []exchange.Exchange {
	var out []exchange.Exchange
	for _, e := range xs {
		if drop[parityKey{e.Client.Addr, e.Server.Addr, e.CorrelationID}] == nil {
			out = append(out, e)
		}
	}
	return out
}

// syncWriter lets the test read what tcpdump wrote so far.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// parityExchanges are the agent's exchanges with the cluster's broker in
// w, both sides (the views count each once), waiting until the store
// stops growing: the agent decodes what the ring still holds.
func (l *live) parityExchanges(w view.Window) []exchange.Exchange {
	port := ":" + strconv.Itoa(int(l.port()))
	var xs []exchange.Exchange
	for last, i := -1, 0; i < 20; i++ {
		recs, _ := l.st.Query(store.Query{Since: w.From, Until: w.To, Limit: 1 << 20})
		xs = xs[:0]
		for _, r := range recs {
			if strings.HasSuffix(r.Server.Addr, port) {
				xs = append(xs, r.Exchange)
			}
		}
		if len(xs) == last {
			break
		}
		last = len(xs)
		time.Sleep(300 * time.Millisecond)
	}
	return xs
}

// analyzeCapture is `kscope analyze -o jsonl` of the capture, read back as
// exchanges.
func analyzeCapture(t *testing.T, bin, file string, port uint16) []exchange.Exchange {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "analyze", "-o", "jsonl", file)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kscope analyze: %v\n%s", err, stderr.String())
	}
	t.Logf("kscope analyze: %s", strings.TrimSpace(stderr.String()))
	var xs []exchange.Exchange
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var e exchange.Exchange
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("kscope analyze -o jsonl: %v", err)
		}
		// latency_ns is the JSON of Latency (see store.Record).
		if e.LatencyNS != nil {
			d := time.Duration(*e.LatencyNS)
			e.Latency = &d
		}
		if _, p, _ := net.SplitHostPort(e.Server.Addr); p == strconv.Itoa(int(port)) {
			xs = append(xs, e)
		}
	}
	return xs
}

// ovTotals sums the flow edges per topic and per client id: the topic
// rows give rates, which depend on nothing but these and the window.
type ovTotals struct {
	producers, consumers map[string]int // topic -> clients
	in, out              map[string][2]int64
	clients              map[string]string // "producer parity-producer-1" -> its topics
}

func overviewTotals(o view.OverviewView) ovTotals {
	tt := ovTotals{producers: map[string]int{}, consumers: map[string]int{}, in: map[string][2]int64{}, out: map[string][2]int64{}, clients: map[string]string{}}
	for _, r := range o.Topics {
		tt.producers[r.Name], tt.consumers[r.Name] = r.Producers, r.Consumers
	}
	for _, e := range o.Edges {
		if topic, ok := strings.CutPrefix(e.To, view.KindTopic+":"); ok {
			s := tt.in[topic]
			tt.in[topic] = [2]int64{s[0] + e.Records, s[1] + e.Bytes}
		}
		if topic, ok := strings.CutPrefix(e.From, view.KindTopic+":"); ok {
			s := tt.out[topic]
			tt.out[topic] = [2]int64{s[0] + e.Records, s[1] + e.Bytes}
		}
	}
	for _, p := range o.Producers {
		tt.clients["producer "+p.ClientID] = strings.Join(p.Topics, ",") + fmt.Sprintf(" %d records", p.Records)
	}
	for _, c := range o.Consumers {
		tt.clients["consumer "+c.ClientID] = strings.Join(c.Topics, ",") + fmt.Sprintf(" %d records, group %q", c.Records, c.Group)
	}
	return tt
}

func compareOverview(t *testing.T, live, capt view.OverviewView) {
	lt, ct := overviewTotals(live), overviewTotals(capt)
	t.Logf("live: %d exchanges, topics %v in %v out %v; capture: %d exchanges", live.Exchanges, lt.producers, lt.in, lt.out, capt.Exchanges)
	if live.Exchanges != capt.Exchanges {
		t.Errorf("exchanges: live %d, capture %d", live.Exchanges, capt.Exchanges)
	}
	for _, m := range []struct {
		what      string
		live, cap any
	}{
		{"producers per topic", lt.producers, ct.producers},
		{"consumers per topic", lt.consumers, ct.consumers},
		{"records and bytes in per topic", lt.in, ct.in},
		{"records and bytes out per topic", lt.out, ct.out},
		{"clients by client id", lt.clients, ct.clients},
	} {
		if fmt.Sprint(m.live) != fmt.Sprint(m.cap) {
			t.Errorf("%s:\nlive    %v\ncapture %v", m.what, m.live, m.cap)
		}
	}
	if lt.in["parity"][0] != 400 || lt.producers["parity"] != 2 || lt.consumers["parity"] != 2 {
		t.Errorf("live: topic parity with %d producers, %d consumers, %d records in; want 2, 2, 400", lt.producers["parity"], lt.consumers["parity"], lt.in["parity"][0])
	}
	// Requests per API and broker: the same requests, answered or not.
	reqs := func(o view.OverviewView) map[string]string {
		m := map[string]string{}
		for _, r := range o.Latency.ByBroker {
			m[r.API+" "+r.Broker] = fmt.Sprintf("%d requests, %d answered, %d errors", r.Requests, r.Answered, r.Errors)
		}
		return m
	}
	if l, c := reqs(live), reqs(capt); fmt.Sprint(l) != fmt.Sprint(c) {
		t.Errorf("requests per API and broker:\nlive    %v\ncapture %v", l, c)
	}
}

func compareRebalances(t *testing.T, live, capt view.Rebalances) {
	groups := func(v view.Rebalances) []string {
		var out []string
		for _, g := range v.Groups {
			gen := "none"
			if g.Generation != nil {
				gen = strconv.Itoa(int(*g.Generation))
			}
			var ids []string
			for _, m := range g.Members {
				ids = append(ids, m.ClientID)
			}
			sort.Strings(ids)
			out = append(out, fmt.Sprintf("%s %s generation %s, %d rebalances, protocol %s, members %v", g.Group, g.GroupProtocol, gen, g.Rebalances, g.Protocol, ids))
		}
		return out
	}
	rebalances := func(v view.Rebalances) []string {
		var out []string
		for _, r := range v.Rebalances {
			var ids []string
			for _, m := range r.Members {
				ids = append(ids, m.ClientID)
			}
			sort.Strings(ids)
			out = append(out, fmt.Sprintf("%s generation %d complete %v members %v", r.Group, r.Generation, r.Complete, ids))
		}
		return out
	}
	lg, cg := groups(live), groups(capt)
	t.Logf("live groups %v", lg)
	if fmt.Sprint(lg) != fmt.Sprint(cg) {
		t.Errorf("groups:\nlive    %v\ncapture %v", lg, cg)
	}
	if lr, cr := rebalances(live), rebalances(capt); fmt.Sprint(lr) != fmt.Sprint(cr) {
		t.Errorf("rebalances:\nlive    %v\ncapture %v", lr, cr)
	}
	if len(live.Rebalances) < 2 {
		t.Errorf("live: %d rebalances of parity-group, want the first join and the second member's", len(live.Rebalances))
	}
	// The stop-the-world time, measured from the same packets' two ends.
	for i := range min(len(live.Rebalances), len(capt.Rebalances)) {
		l, c := live.Rebalances[i].DelaySeconds, capt.Rebalances[i].DelaySeconds
		if (l == nil) != (c == nil) || l != nil && math.Abs(*l-*c) > parityTolerance {
			t.Errorf("rebalance %d of %s: delay live %v, capture %v", live.Rebalances[i].Generation, live.Rebalances[i].Group, fptr(l), fptr(c))
		}
	}
	if len(live.Events) != len(capt.Events) {
		t.Errorf("rebalance events: live %d, capture %d", len(live.Events), len(capt.Events))
	}
}

// parityTolerance is how far apart times measured by the agent (at the
// syscalls) and by tcpdump (at the loopback device) may be.
const parityTolerance = 0.005

// outlierTolerance bounds the one latency point allowed beyond
// parityTolerance.
const outlierTolerance = 0.025

func fptr(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func compareClients(t *testing.T, live, capt view.ClientsView) {
	lags := func(v view.ClientsView) map[string]string {
		m := map[string]string{}
		for _, c := range v.Consumers {
			m[fmt.Sprintf("%s %s/%d", c.ClientID, c.Topic, c.Partition)] = fmt.Sprintf("group %q fetches %d records %d next %v hw %v lag %v committed %v",
				c.Group, c.Fetches, c.Records, deref(c.NextOffset), deref(c.HighWatermark), deref(c.OffsetLag), deref(c.CommittedOffset))
		}
		return m
	}
	ll, cl := lags(live), lags(capt)
	t.Logf("live consumers: %v", ll)
	if len(ll) == 0 {
		t.Error("live: no consumer lag")
	}
	for k, v := range ll {
		if cl[k] != v {
			t.Errorf("consumer %s:\nlive    %s\ncapture %s", k, v, cl[k])
		}
	}
	for k, v := range cl {
		if _, ok := ll[k]; !ok {
			t.Errorf("consumer %s only in the capture: %s", k, v)
		}
	}
	prods := func(v view.ClientsView) map[string]string {
		m := map[string]string{}
		for _, p := range v.Producers {
			m[p.ClientID+" "+p.Topic] = fmt.Sprintf("%d requests %d records %d bytes acks %s errors %v", p.Requests, p.Records, p.Bytes, p.Acks, p.Errors)
		}
		return m
	}
	if lp, cp := prods(live), prods(capt); fmt.Sprint(lp) != fmt.Sprint(cp) {
		t.Errorf("producers:\nlive    %v\ncapture %v", lp, cp)
	}
}

func compareLatency(t *testing.T, live, capt view.LatencyView) {
	// Series are split by producer, whose label differs (process or
	// host): merge them per topic, partition and consumer client id.
	points := func(v view.LatencyView) map[string][]view.LatencyPoint {
		m := map[string][]view.LatencyPoint{}
		for _, s := range v.Series {
			k := fmt.Sprintf("%s/%d %s", s.Topic, s.Partition, s.ClientID)
			m[k] = append(m[k], s.Points...)
		}
		for _, ps := range m {
			sort.Slice(ps, func(i, j int) bool {
				if !ps[i].Time.Equal(ps[j].Time) {
					return ps[i].Time.Before(ps[j].Time)
				}
				return ps[i].BaseOffset < ps[j].BaseOffset
			})
		}
		return m
	}
	lp, cp := points(live), points(capt)
	if len(lp) == 0 {
		t.Fatal("live: no latency series")
	}
	if live.IndexedRanges != capt.IndexedRanges {
		t.Errorf("offset index: live %d ranges, capture %d", live.IndexedRanges, capt.IndexedRanges)
	}
	// A consumer's process that reads late (a loaded machine: CI runs
	// the packages' tests at once) reads a Fetch response some ms after
	// tcpdump saw it; the agent times the read. One such point passes if
	// it is within outlierTolerance; a systematic difference does not.
	var worst, worstExact float64
	var outliers []string
	near := func(d float64, what string) {
		switch {
		case d <= parityTolerance:
		case d <= outlierTolerance:
			outliers = append(outliers, what)
		default:
			t.Error(what)
		}
	}
	defer func() {
		if len(outliers) > 1 {
			t.Errorf("%d points beyond %.0f ms: %v", len(outliers), parityTolerance*1000, outliers)
		} else if len(outliers) == 1 {
			t.Logf("one point beyond %.0f ms, within %.0f ms: %s", parityTolerance*1000, outlierTolerance*1000, outliers[0])
		}
	}()
	for k, l := range lp {
		c, ok := cp[k]
		if !ok {
			t.Errorf("series %s only live", k)
			continue
		}
		if len(l) != len(c) {
			t.Errorf("series %s: %d points live, %d in the capture", k, len(l), len(c))
			continue
		}
		for i := range l {
			if l[i].BaseOffset != c[i].BaseOffset || l[i].Records != c[i].Records || l[i].TimestampType != c[i].TimestampType {
				t.Errorf("series %s point %d: live offset %d (%d records, %s), capture %d (%d, %s)", k, i, l[i].BaseOffset, l[i].Records, l[i].TimestampType, c[i].BaseOffset, c[i].Records, c[i].TimestampType)
				break
			}
			d := math.Abs(l[i].DelaySeconds - c[i].DelaySeconds)
			worst = max(worst, d)
			le, ce := l[i].ExactDelaySeconds, c[i].ExactDelaySeconds
			what := fmt.Sprintf("series %s offset %d: delay live %.4fs, capture %.4fs", k, l[i].BaseOffset, l[i].DelaySeconds, c[i].DelaySeconds)
			if (le == nil) != (ce == nil) {
				t.Errorf("series %s offset %d: exact delay live %v, capture %v", k, l[i].BaseOffset, fptr(le), fptr(ce))
			} else if le != nil {
				worstExact = max(worstExact, math.Abs(*le-*ce))
				d = max(d, math.Abs(*le-*ce))
				what += fmt.Sprintf("; exact delay live %.4fs, capture %.4fs", *le, *ce)
			}
			near(d, what)
		}
	}
	for k := range cp {
		if _, ok := lp[k]; !ok {
			t.Errorf("series %s only in the capture", k)
		}
	}
	t.Logf("%d series; largest delay difference %.2fms, exact %.2fms", len(lp), worst*1000, worstExact*1000)
}
