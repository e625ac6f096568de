package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// No output of kscope analyze shows a SASL password, whatever the capture
// and the format; the PLAIN user name is shown.
func TestNoSecretInAnyOutput(t *testing.T) {
	files, _ := filepath.Glob(captures + "*.pcap")
	if len(files) == 0 {
		t.Fatal("no captures")
	}
	for _, f := range files {
		for _, format := range []string{"table", "jsonl", "json"} {
			out := mustRun(t, analyzeCmd(), "-o", format, f)
			if strings.Contains(out, saslPassword) {
				t.Errorf("%s -o %s shows the SASL password", filepath.Base(f), format)
			}
			if filepath.Base(f) == "sasl-plain.pcap" && format != "table" && !strings.Contains(out, `"user":`) {
				t.Errorf("sasl-plain.pcap -o %s: the PLAIN user name is not shown", format)
			}
		}
	}
}

// A file that is not a capture is an error that names it, after what the
// other files held is printed; a capture without Kafka says so.
func TestAnalyzeSaysWhatItFound(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.pcap")
	if err := os.WriteFile(text, []byte("this is not a capture file at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, analyzeCmd(), captures+"kcat.pcap", text)
	if err == nil || !strings.Contains(err.Error(), "notes.pcap") {
		t.Errorf("err = %v, want one naming notes.pcap", err)
	}
	if !strings.Contains(out, "Produce v") || !strings.Contains(out, "exchanges shown") {
		t.Errorf("kcat.pcap's exchanges not printed beside the error:\n%s", out)
	}
	empty := filepath.Join(dir, "empty.pcap")
	f, err := os.Create(empty)
	if err != nil {
		t.Fatal(err)
	}
	pcapgo.NewWriter(f).WriteFileHeader(65535, layers.LinkTypeEthernet)
	f.Close()
	if out := mustRun(t, analyzeCmd(), empty); !strings.Contains(out, "no Kafka traffic found in 0 TCP connections (0 packets)") {
		t.Errorf("no Kafka, and no line saying so:\n%s", out)
	}
	if _, err := run(t, analyzeCmd(), "-o", "yaml", captures+"kcat.pcap"); err == nil || !strings.Contains(err.Error(), "use table, jsonl or json") {
		t.Errorf("-o yaml: %v", err)
	}
}
