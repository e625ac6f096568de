package kafka_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kscope/internal/kafka"
	"kscope/internal/offline"
)

var update = flag.Bool("update", false, "rewrite testdata/analyze from the captures")

// TestCapturesUnchanged decodes every capture of testdata/captures as
// `kscope analyze -o jsonl` does, and compares the exchanges and the
// decoder's counters with those recorded in testdata/analyze: a change to
// framing or resynchronisation must not alter what a user sees of them.
// After a change that should, rewrite them with -update and read the diff.
func TestCapturesUnchanged(t *testing.T) {
	files, err := filepath.Glob("../../testdata/captures/*.pcap")
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".pcap")
		t.Run(name, func(t *testing.T) {
			a, err := offline.Analyze(context.Background(), []string{file}, offline.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var lines bytes.Buffer
			enc := json.NewEncoder(&lines)
			for i := range a.Exchanges {
				if err := enc.Encode(&a.Exchanges[i]); err != nil {
					t.Fatal(err)
				}
			}
			stats, err := json.Marshal(a.Decoder)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "analyze", name)
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden+".jsonl", lines.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden+".stats.json", append(stats, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden + ".jsonl")
			if err != nil {
				t.Fatal(err)
			}
			if got := lines.Bytes(); !bytes.Equal(got, want) {
				gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
				for i := 0; i < min(len(gl), len(wl)); i++ {
					if gl[i] != wl[i] {
						t.Fatalf("exchange %d differs:\n got %s\nwant %s", i+1, gl[i], wl[i])
					}
				}
				t.Fatalf("%d exchanges, want %d", len(gl)-1, len(wl)-1)
			}
			// Counters added since the recording read as zero.
			raw, err := os.ReadFile(golden + ".stats.json")
			if err != nil {
				t.Fatal(err)
			}
			var ws kafka.Stats
			if err := json.Unmarshal(raw, &ws); err != nil {
				t.Fatal(err)
			}
			if a.Decoder != ws {
				t.Errorf("decoder counters\n got %+v\nwant %+v", a.Decoder, ws)
			}
		})
	}
}
