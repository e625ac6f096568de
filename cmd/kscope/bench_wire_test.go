package main

import (
	"context"
	"encoding/json"
	"net"
	"os/exec"
	"strings"
	"testing"

	"kscope/internal/loadgen"
)

func serveWire(t *testing.T, s loadgen.Shape) string {
	t.Helper()
	srv, err := loadgen.NewServer(s)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

func decodeWireReport(t *testing.T, out string) wireReport {
	t.Helper()
	var r wireReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	return r
}

func checkWireReport(t *testing.T, r wireReport, want map[string]int64) {
	t.Helper()
	var total int64
	for _, k := range r.Kinds {
		if k.Sent != want[k.Kind] || k.Answered != want[k.Kind] {
			t.Errorf("%s: sent %d, answered %d; want %d", k.Kind, k.Sent, k.Answered, want[k.Kind])
		}
		total += want[k.Kind]
	}
	if r.Sent != total || r.Answered != total || r.Rate <= 0 || r.Latency["p99"] <= 0 {
		t.Errorf("sent %d, answered %d, rate %.0f, p99 %.0fµs; want %d", r.Sent, r.Answered, r.Rate, r.Latency["p99"], total)
	}
}

func TestBenchWireRun(t *testing.T) {
	addr := serveWire(t, loadgen.Shape{BatchBytes: 512, Partitions: 3})
	out := mustRun(t, benchWireRunCmd(), "--server", addr, "--exchanges", "2000", "--rate", "20000", "--connections", "2",
		"--mix", "produce=1,heartbeat=1", "--batch-bytes", "512", "--partitions-per-request", "3", "-o", "json")
	r := decodeWireReport(t, out)
	checkWireReport(t, r, map[string]int64{"produce": 1000, "heartbeat": 1000})
	if r.ServerPID != 0 || r.BatchBytes != 512 || r.Partitions != 3 {
		t.Errorf("report %+v", r)
	}

	table := mustRun(t, benchWireRunCmd(), "--server", addr, "--exchanges", "100", "--mix", "fetch=1", "--batch-bytes", "512", "--partitions-per-request", "3")
	words := strings.Join(strings.Fields(table), " ")
	for _, want := range []string{"fetch 100 100", "total 100 100", "exchanges/s over", "latency p50"} {
		if !strings.Contains(words, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

func TestBenchWireMismatchedShape(t *testing.T) {
	// A server of another shape answers with responses of other sizes:
	// run says so rather than count them.
	addr := serveWire(t, loadgen.Shape{BatchBytes: 100, Partitions: 1})
	_, err := run(t, benchWireRunCmd(), "--server", addr, "--exchanges", "10", "--mix", "fetch=1", "--batch-bytes", "200")
	if err == nil || !strings.Contains(err.Error(), "fetch response of") {
		t.Errorf("err %v, want a fetch response of the wrong size", err)
	}
}

func TestBenchWireLoopbackOnly(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--server", "10.1.2.3:9092", "--exchanges", "1"},
		{"serve", "--listen", "0.0.0.0:0"},
	} {
		_, err := run(t, benchWireCmd(), args...)
		if err == nil || !strings.Contains(err.Error(), "not a loopback address") {
			t.Errorf("%v: err %v, want not a loopback address", args, err)
		}
	}
}

// TestBenchWireProcesses runs kscope bench wire run as a user does: it
// starts its server as a process of its own, whose pid it reports.
func TestBenchWireProcesses(t *testing.T) {
	bin := kscopeBinary(t)
	out, err := exec.Command(bin, "bench", "wire", "run", "--exchanges", "3000", "--rate", "0", "--batch-bytes", "100", "-o", "json").Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	r := decodeWireReport(t, string(out))
	checkWireReport(t, r, map[string]int64{"produce": 1500, "fetch": 900, "metadata": 300, "heartbeat": 300})
	if r.ServerPID == 0 || r.ServerPID == r.ClientPID {
		t.Errorf("client pid %d, server pid %d: want two processes", r.ClientPID, r.ServerPID)
	}
}
