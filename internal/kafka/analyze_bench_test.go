package kafka_test

import (
	"context"
	"os"
	"testing"

	"kscope/internal/offline"
)

// BenchmarkAnalyze runs what `kscope analyze` runs on the capture named by
// KSCOPE_BENCH_PCAP (reading, reassembly, decoding, exchanges), to see the
// decoder's share of it.
func BenchmarkAnalyze(b *testing.B) {
	name := os.Getenv("KSCOPE_BENCH_PCAP")
	if name == "" {
		b.Skip("KSCOPE_BENCH_PCAP names no capture")
	}
	st, err := os.Stat(name)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		a, err := offline.Analyze(context.Background(), []string{name}, offline.Options{})
		if err != nil || a.Err() != nil {
			b.Fatal(err, a.Err())
		}
	}
}
