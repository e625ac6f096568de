package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"kscope/internal/broker"
	"kscope/internal/capture/ebpf"
	"kscope/internal/testenv"
)

// pss is a process's proportional set size now (smaps_rollup), in bytes:
// resident memory, each page shared with other processes (the binary's
// code, when a test runs it twice) divided among them.
func pss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Pss:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no Pss in smaps_rollup of %d", pid)
}

// peakRSS is a process's peak resident memory (VmHWM), in bytes.
func peakRSS(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, sc.Err()
}

// TestAgentMemoryBurst: kscope agent --memory 16MiB traces a burst (40,000
// one-record produces, then 200 MB of 1 KB records in 16 KiB batches,
// producer and broker both traced) and its whole process stays within
// --memory plus a bounded overhead: the store's budget, the Go runtime's
// limit above it (HeapOverhead), its code, and the ring buffer. Before the
// twins' memory was counted in the budget and the runtime's limit followed
// --memory, the same burst peaked at 191 MB; before the agent mapped the
// ring once, at --memory + 49-50 MiB.
func TestAgentMemoryBurst(t *testing.T) {
	testenv.Root(t)
	const budget = 16 << 20
	// The bound: the store's budget, the Go runtime's limit above it, the
	// ring, and 36 MiB for the code (about 19 MiB resident), the
	// runtime's own and a busy machine's lag in collecting. On an idle
	// machine the peak is about --memory + 41 MiB (the target is 48);
	// the bound has room for a loaded CI machine, and catches the ring
	// mapped twice again (+8 MiB) or a regression to what it was before
	// (191 MB). It is there to catch, not to measure.
	bound := int64(budget + HeapOverhead + 36<<20 + ebpf.DefaultRingBytes)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cluster, err := broker.StartCluster(ctx, broker.Config{Brokers: 1, Port: 0, Partitions: 4, Topics: []string{"burst"}})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	bin := kscopeBinary(t)
	agentAddr, ag := startAgent(t, "--memory", "16MiB", "--port", strconv.Itoa(int(cluster.Ports()[0])))

	// The peak, read every 100 ms too: VmHWM is the kernel's own, the
	// samples say when it was reached.
	var mu sync.Mutex
	var samples []int64
	var peakPSS int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if n, err := peakRSS(ag.Process.Pid); err == nil {
				mu.Lock()
				samples = append(samples, n)
				mu.Unlock()
			}
			if n, err := pss(ag.Process.Pid); err == nil {
				mu.Lock()
				peakPSS = max(peakPSS, n)
				mu.Unlock()
			}
		}
	}()
	// Prometheus scrapes it every second meanwhile: the lag metrics read
	// the store's last 5 minutes, which is all of it.
	scrapes := 0
	scraped := make(chan struct{})
	go func() {
		defer close(scraped)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
			if resp, err := http.Get("http://" + agentAddr + "/metrics"); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				scrapes++
			}
		}
	}()
	boot := cluster.Addrs()[0]
	for _, args := range [][]string{
		{"--sync", "--bytes", "4000000", "--record-size", "100"},
		{"--bytes", "200000000", "--record-size", "1000"},
	} {
		out, err := exec.CommandContext(ctx, bin, append([]string{"bench", "traffic", "--bootstrap", boot, "--topic", "burst"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("kscope bench traffic %v: %v\n%s", args, err, out)
		}
		t.Logf("%s", strings.TrimSpace(string(out)))
	}
	time.Sleep(3 * time.Second)
	close(stop)
	<-done
	<-scraped
	peak, err := peakRSS(ag.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	var stats struct {
		Store struct {
			Bytes       int64  `json:"bytes"`
			BudgetBytes int64  `json:"budget_bytes"`
			Evicted     uint64 `json:"evicted"`
			TwinsEarly  uint64 `json:"twins_early"`
		} `json:"store"`
	}
	getJSON(t, "http://"+agentAddr+"/api/v1/stats", &stats)
	t.Logf("peak RSS %.1f MiB, peak PSS %.1f MiB sampled every 100 ms (bound %.1f MiB: --memory %d MiB + %d MiB); store %d of %d bytes, %d evicted, %d twins let go early; %d scrapes of /metrics",
		float64(peak)/(1<<20), float64(peakPSS)/(1<<20), float64(bound)/(1<<20), budget>>20, (bound-budget)>>20, stats.Store.Bytes, stats.Store.BudgetBytes, stats.Store.Evicted, stats.Store.TwinsEarly, scrapes)
	if peak > bound {
		t.Errorf("peak RSS %d bytes, over --memory + %d MiB", peak, (bound-budget)>>20)
	}
	if stats.Store.Bytes > stats.Store.BudgetBytes || stats.Store.Evicted == 0 {
		t.Errorf("the store holds %d bytes of %d, %d evicted: the burst did not fill it, or it went over", stats.Store.Bytes, stats.Store.BudgetBytes, stats.Store.Evicted)
	}
}
