package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"kscope/internal/capture/ebpf"
	"kscope/internal/exchange"
	"kscope/internal/store"
	"kscope/internal/testenv"
)

// TestHeadersOnlyExact: the kernel copying headers only (the default)
// tells the same story as copying every byte, on the same traffic. Two
// agents trace the cluster's port at once, one with CopyRecords; real
// clients that frame and batch differently (franz-go with multi-partition
// Produce and Fetch, zstd and uncompressed; kcat with 16 KiB batches;
// kafka-python) produce and consume. Every exchange of one agent must be in
// the other with the same topics, partitions, records, bytes and batch
// headers, and the headers-only ring must have carried less than a quarter
// of the bytes (kafka-python's small batches leave little to skip). The
// full copy runs on the syscall tracepoints, the headers-only agent on the
// raw sys_exit (the default): the two hooks must see the same syscalls.
func TestHeadersOnlyExact(t *testing.T) {
	kcat := testenv.Command(t, "kcat", "kcat")
	py := testenv.Python(t, "kafka")
	c := startCluster(t, "exact-plain", "exact-zstd", "exact-kcat", "exact-py")
	full := startAgent(t, c, ebpf.Options{CopyRecords: true, RingBytes: 64 << 20, MaxBytesPerSyscall: ebpf.MaxBytesPerSyscallLimit, Hook: ebpf.HookTracepoints})
	walk := startAgent(t, c, ebpf.Options{RingBytes: 64 << 20})

	value := bytes.Repeat([]byte("0123456789abcdef"), 64) // 1 KiB
	produceGo := func(topic string, codec kgo.CompressionCodec) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.ClientID("exact-go"),
			kgo.ProducerBatchCompression(codec), kgo.ProducerLinger(20*time.Millisecond), kgo.ProducerBatchMaxBytes(64<<10))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		var recs []*kgo.Record
		for i := range 3000 {
			recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint(i % 7)), Value: value})
		}
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	consumeGo := func(n int, topics ...string) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.ClientID("exact-go-consumer"),
			kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(256<<10))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for got := 0; got < n; {
			fs := cl.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				t.Fatalf("consumed %d of %d: %v", got, n, err)
			}
			got += fs.NumRecords()
		}
	}
	produceGo("exact-plain", kgo.NoCompression())
	produceGo("exact-zstd", kgo.ZstdCompression())
	consumeGo(6000, "exact-plain", "exact-zstd")

	var in strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&in, "%d-%s\n", i, value[:500])
	}
	run(t, in.String(), kcat, "-b", c.Addrs()[0], "-P", "-t", "exact-kcat", "-X", "batch.size=16384", "-X", "linger.ms=20", "-X", "client.id=exact-kcat")
	run(t, "", kcat, "-b", c.Addrs()[0], "-C", "-t", "exact-kcat", "-e", "-q", "-X", "client.id=exact-kcat-consumer")

	pyProd := testenv.StartReady(t, py, lagClients, c.Addrs()[0], "produce", "exact-py", "500")
	pyCons := testenv.StartReady(t, py, lagClients, c.Addrs()[0], "consume", "exact-py", "exact", "500", "0")
	time.Sleep(4 * time.Second)
	for _, p := range []*exec.Cmd{pyProd, pyCons} {
		p.Process.Kill()
		p.Wait()
	}
	// Both agents read their rings out: wait until neither store grows,
	// and past the sweeps of exited processes (the Python clients were
	// killed: their connections end at the second sweep that finds them
	// gone, 5 to 10 s later).
	time.Sleep(11 * time.Second)
	a, b := settled(t, full, walk, time.Time{})
	t.Logf("full copy: %d exchanges; headers only: %d", len(a), len(b))
	if len(a) < 100 {
		t.Fatalf("only %d exchanges traced", len(a))
	}
	var diffs, records int
	for k, ea := range a {
		eb, ok := b[k]
		if !ok {
			diffs++
			if diffs < 10 {
				t.Errorf("%s: only in the full copy: %s", k, ea)
			}
			continue
		}
		if ea != eb {
			diffs++
			if diffs < 10 {
				t.Errorf("%s differs:\nfull copy:    %s\nheaders only: %s", k, ea, eb)
			}
		}
		records += strings.Count(ea, `"records"`)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			diffs++
			if diffs < 10 {
				t.Errorf("%s: only in headers only: %s", k, b[k])
			}
		}
	}
	if diffs > 0 {
		t.Errorf("%d of %d exchanges differ", diffs, len(a))
	}
	sa, sb := full.ag.cfg.Source.(*ebpf.Source).Stats(), walk.ag.cfg.Source.(*ebpf.Source).Stats()
	t.Logf("ring bytes: full copy %d (%.0f per exchange), headers only %d (%.0f per exchange, %d record bytes skipped)",
		sa.RingBytes, float64(sa.RingBytes)/float64(len(a)), sb.RingBytes, float64(sb.RingBytes)/float64(len(b)), sb.Skipped)
	if sb.RingBytes*4 > sa.RingBytes {
		t.Errorf("headers only carried %d ring bytes, the full copy %d: want less than a quarter", sb.RingBytes, sa.RingBytes)
	}
	if sa.LostBytes+sb.LostBytes > 0 {
		t.Errorf("bytes lost: full copy %d, headers only %d", sa.LostBytes, sb.LostBytes)
	}
}

// settled waits until neither agent's store has grown for three seconds
// (an agent copying every byte may be far behind its ring), and returns
// both agents' exchanges since since.
func settled(t *testing.T, full, walk *live, since time.Time) (a, b map[string]string) {
	t.Helper()
	for i, last, same := 0, -1, 0; i < 60 && same < 3; i++ {
		time.Sleep(time.Second)
		a, b = exactKeysSince(t, full, since), exactKeysSince(t, walk, since)
		if n := len(a) + len(b); n == last {
			same++
		} else {
			last, same = n, 0
		}
	}
	return a, b
}

// exactKeysSince indexes an agent's exchanges that started after since
// by who asked what: client and server addresses, side, correlation id;
// the value is what the views count (topics, partitions, records, bytes,
// batches, details, sizes).
func exactKeysSince(t *testing.T, l *live, since time.Time) map[string]string {
	t.Helper()
	recs, _ := l.st.Query(store.Query{Limit: 1 << 20})
	out := make(map[string]string, len(recs))
	for _, r := range recs {
		e := r.Exchange
		if e.Time.Before(since) {
			continue
		}
		k := fmt.Sprintf("%s %s->%s %s corr %d", e.Side, e.Client.Addr, e.Server.Addr, e.API, e.CorrelationID)
		v := struct {
			API           string
			Version       int16
			Error         string
			NoResponse    string
			Topics        []exchange.Topic
			Detail        *exchange.Detail
			Req, Resp     int
			Truncated     bool
			ClientID      string
			Group, Member string
		}{e.API, e.APIVersion, e.Error, e.NoResponse, e.Topics, e.Detail, e.RequestBytes, e.ResponseBytes, e.Truncated, e.ClientID, e.Group, e.MemberID}
		j, _ := json.Marshal(v)
		out[k] = string(j)
	}
	return out
}

// TestHeadersOnlyMidStream: connections open before the agent started
// are joined in mid-stream, where the kernel cannot know where frames
// start; once the decoder has found them, it tells the kernel, which
// then copies headers only. A franz-go producer and consumer connect
// first; two agents (one copying every byte) then trace them: the
// headers-only one skips record bytes on those connections, and both
// agree on every exchange from a second after they started.
func TestHeadersOnlyMidStream(t *testing.T) {
	c := startCluster(t, "midstream")
	value := bytes.Repeat([]byte("0123456789abcdef"), 64)
	prod, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.ClientID("midstream-producer"),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerLinger(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	cons, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.ClientID("midstream-consumer"),
		kgo.ConsumeTopics("midstream"), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	produce := func(n int) {
		var recs []*kgo.Record
		for range n {
			recs = append(recs, &kgo.Record{Topic: "midstream", Value: value})
		}
		if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil && ctx.Err() == nil {
			t.Error(err)
		}
	}
	produce(100) // the connections are open before the agents start
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			cons.PollFetches(ctx)
		}
	}()

	full := startAgent(t, c, ebpf.Options{CopyRecords: true, RingBytes: 64 << 20, MaxBytesPerSyscall: ebpf.MaxBytesPerSyscallLimit})
	walk := startAgent(t, c, ebpf.Options{RingBytes: 64 << 20})
	since := time.Now().Add(time.Second)
	for time.Since(since) < 3*time.Second {
		produce(200)
	}
	cancel()
	<-done
	cons.Close() // it fetches in the background until closed
	prod.Close()
	a, b := settled(t, full, walk, since)
	// Each agent stamps a syscall with its own clock read, microseconds
	// apart: an exchange that started right at since may be inside the
	// window for one and not the other. Just before it is not missing.
	edge := since.Add(-10 * time.Millisecond)
	aEdge, bEdge := exactKeysSince(t, full, edge), exactKeysSince(t, walk, edge)
	diffs := 0
	for k, ea := range a {
		if _, ok := b[k]; !ok && bEdge[k] == ea {
			continue
		}
		if eb := b[k]; ea != eb {
			diffs++
			if diffs < 5 {
				t.Errorf("%s:\nfull copy:    %s\nheaders only: %s", k, ea, eb)
			}
		}
	}
	for k, eb := range b {
		if _, ok := a[k]; !ok && aEdge[k] != eb {
			diffs++
			if diffs < 5 {
				t.Errorf("%s: only in headers only", k)
			}
		}
	}
	sa, sb := full.ag.cfg.Source.(*ebpf.Source).Stats(), walk.ag.cfg.Source.(*ebpf.Source).Stats()
	t.Logf("%d exchanges compared, %d differ; ring bytes: full copy %d, headers only %d (%d record bytes skipped)", len(a), diffs, sa.RingBytes, sb.RingBytes, sb.Skipped)
	if diffs > 0 {
		for _, l := range []*live{full, walk} {
			t.Logf("source %+v\ndecoder %+v\nstore %+v", l.ag.cfg.Source.(*ebpf.Source).Stats(), l.ag.Stats(), l.st.Stats())
		}
	}
	if len(a) < 20 {
		t.Fatalf("only %d exchanges traced", len(a))
	}
	if sb.Skipped == 0 {
		t.Error("the headers-only agent skipped nothing on connections joined in mid-stream")
	}
}
