package ebpf

import (
	"fmt"
	"io"
	"os"
	"testing"
	"time"

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
