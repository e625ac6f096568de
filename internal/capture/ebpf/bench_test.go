//go:build linux && (amd64 || arm64)

package ebpf

import (
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	cebpf "github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"kscope/internal/loadgen"
	"kscope/internal/testenv"
)

// BenchmarkSource measures what the source sustains: loopback TCP writes
// of a given size in this process, both ends traced, drained by a consumer
// that only counts. It reports ring events and payload MB per second and
// the events the kernel dropped for a full ring (want 0).
func BenchmarkSource(b *testing.B) {
	for _, size := range []int{512, 4 << 10, 16 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("write=%d", size), func(b *testing.B) { benchSource(b, size) })
	}
}

func benchSource(b *testing.B, size int) {
	testenv.Root(b)
	src, err := Open(Options{PIDs: []uint32{uint32(os.Getpid())}, RingBytes: 32 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	t := &testing.T{}
	client, server := pair(t, nil)
	defer client.Close()
	defer server.Close()

	want := uint64(2 * b.N * size) // written by one end, read by the other
	got := make(chan uint64, 1)
	go func() {
		var n uint64
		for n < want {
			ch, err := src.Next()
			if err != nil {
				break
			}
			n += uint64(len(ch.Data) + max(int(ch.Lost), 0))
		}
		got <- n
	}()
	go io.Copy(io.Discard, server)

	buf := make([]byte, size)
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if _, err := client.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	var n uint64
	select {
	case n = <-got:
	case <-time.After(3 * time.Second): // lost bytes still pending in the kernel
	}
	elapsed := time.Since(start)
	b.StopTimer()
	st := src.Stats()
	b.ReportMetric(float64(st.Events)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(st.Bytes)/elapsed.Seconds()/1e6, "captured_MB/s")
	b.ReportMetric(float64(st.RingDrops), "drops")
	if n < want && st.RingDrops == 0 {
		b.Errorf("captured %d of %d bytes without ring drops", n, want)
	}
}

// BenchmarkUntraced is the same traffic without tracing: the traced
// application's cost is the difference in ns/op with BenchmarkSource.
func BenchmarkUntraced(b *testing.B) {
	for _, size := range []int{512, 4 << 10, 16 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("write=%d", size), func(b *testing.B) {
			t := &testing.T{}
			client, server := pair(t, nil)
			defer client.Close()
			defer server.Close()
			go io.Copy(io.Discard, server)
			buf := make([]byte, size)
			b.SetBytes(int64(size))
			for range b.N {
				if _, err := client.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTracedProduce measures what tracing costs an application per
// Produce exchange, at each batch size: a client writes a Produce v9
// request (one partition, one record batch) and reads the response, a
// server reads the request and writes the response, both ends in this
// process and traced. ns/op is the application's time per exchange (the
// BPF programs run in its syscalls); ring_B/op what the ring carried per
// exchange (both ends). "headers" is the default, "copy" CopyRecords,
// "untraced" the floor.
func BenchmarkTracedProduce(b *testing.B) {
	for _, batch := range []int{100, 1 << 10, 16 << 10, 64 << 10} {
		for _, mode := range []string{"untraced", "headers", "copy"} {
			b.Run(fmt.Sprintf("batch=%d/%s", batch, mode), func(b *testing.B) { benchProduce(b, batch, mode) })
		}
	}
}

func benchProduce(b *testing.B, batch int, mode string) {
	exs, err := loadgen.Exchanges(loadgen.Shape{BatchBytes: batch, Partitions: 1})
	if err != nil {
		b.Fatal(err)
	}
	ex := exs[loadgen.Produce]
	var src *Source
	if mode != "untraced" {
		testenv.Root(b)
		// The programs' own run time (kernel.bpf_stats_enabled while
		// this is open).
		stats, err := cebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
		if err != nil {
			b.Fatal(err)
		}
		defer stats.Close()
		// On the syscall tracepoints, the programs' run time is that of
		// the traced syscalls alone; on the raw sys_exit it would add
		// every other syscall of the machine. The work per syscall is
		// the same code on both.
		src, err = Open(Options{PIDs: []uint32{uint32(os.Getpid())}, RingBytes: 32 << 20, CopyRecords: mode == "copy",
			MaxBytesPerSyscall: MaxBytesPerSyscallLimit, Hook: HookTracepoints})
		if err != nil {
			b.Fatal(err)
		}
		defer src.Close()
		go func() {
			for {
				if _, err := src.Next(); err != nil {
					return
				}
			}
		}()
	}
	t := &testing.T{}
	client, server := pair(t, nil) // after Open: the walker sees them start
	defer client.Close()
	defer server.Close()
	go func() {
		req := make([]byte, len(ex.Request.Bytes))
		for {
			if _, err := io.ReadFull(server, req); err != nil {
				return
			}
			if _, err := server.Write(ex.Response.Bytes); err != nil {
				return
			}
		}
	}()
	resp := make([]byte, len(ex.Response.Bytes))
	var run0 time.Duration
	if src != nil {
		run0 = programsRunTime(src)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := client.Write(ex.Request.Bytes); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(client, resp); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if src != nil {
		time.Sleep(100 * time.Millisecond)
		st := src.Stats()
		b.ReportMetric(float64(st.RingBytes)/float64(b.N), "ring_B/op")
		b.ReportMetric(float64(programsRunTime(src)-run0)/float64(b.N), "bpf_ns/op")
		b.ReportMetric(float64(st.RingDrops), "drops")
	}
}

// programsRunTime is the time the source's programs have run so far, all
// CPUs (counted while BPF stats are enabled).
func programsRunTime(src *Source) time.Duration {
	var total time.Duration
	progs := []*cebpf.Program{src.objs.SysExit}
	for _, x := range src.objs.exits() {
		progs = append(progs, x.prog)
	}
	for _, p := range progs {
		if p == nil {
			continue // not loaded: the other hook's
		}
		if st, err := p.Stats(); err == nil {
			total += st.Runtime
		}
	}
	return total
}

// BenchmarkSyscallCost measures what the programs cost syscalls of a
// process that moves no Kafka traffic, the whole machine traced: a
// getppid, which no program traces (on the raw sys_exit the program runs
// and returns at its first compares; on the syscall tracepoints none
// runs), and a write to /dev/null, which both hooks follow as far as
// finding the file is no socket. hook=none attaches nothing.
func BenchmarkSyscallCost(b *testing.B) {
	testenv.Root(b)
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devnull.Close()
	one := []byte{0}
	calls := map[string]func(){
		"getppid":       func() { unix.Getppid() },
		"write-devnull": func() { unix.Write(int(devnull.Fd()), one) },
	}
	for _, call := range []string{"getppid", "write-devnull"} {
		for _, hook := range []Hook{"none", HookTracepoints, HookRaw} {
			b.Run(fmt.Sprintf("%s/hook=%s", call, hook), func(b *testing.B) {
				if hook != "none" {
					src, err := Open(Options{Hook: hook})
					if err != nil {
						b.Fatal(err)
					}
					defer func() {
						b.StopTimer() // detaching waits for RCU
						src.Close()
					}()
				}
				f := calls[call]
				b.ResetTimer()
				for range b.N {
					f()
				}
			})
		}
	}
}
