package kafka

import (
	"io"
	"os"
	"testing"

	"kscope/internal/capture"
	"kscope/internal/capture/pcap"
)

// BenchmarkCapture decodes a real capture, read into memory first so that
// only the decoder is measured. The file is named by KSCOPE_BENCH_PCAP
// (scripts/bench-analyze.sh makes a clean and a mid-stream one); without it
// the benchmark is skipped.
//
//	KSCOPE_BENCH_PCAP=/tmp/mid.pcap go test -run XXX -bench Capture -cpuprofile cpu.out ./internal/kafka
func BenchmarkCapture(b *testing.B) {
	name := os.Getenv("KSCOPE_BENCH_PCAP")
	if name == "" {
		b.Skip("KSCOPE_BENCH_PCAP names no capture")
	}
	r, err := pcap.Open(name, pcap.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var chunks []capture.Chunk
	var size int64
	for {
		ch, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		ch.Data = append([]byte(nil), ch.Data...)
		size += int64(len(ch.Data))
		chunks = append(chunks, ch)
	}
	r.Close()
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		exchanges := 0
		d := NewDecoder(Options{}, nil, func(Pair) { exchanges++ })
		for _, ch := range chunks {
			if ch.Conn != nil {
				d.Feed(ch)
			}
		}
		d.Flush()
		b.ReportMetric(float64(exchanges), "exchanges")
	}
}
