package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"kscope/internal/view"
)

func runOverview(t *testing.T, args ...string) string {
	t.Helper()
	cmd := overviewCmd()
	var out bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("kscope overview %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// TestOverviewCaptures: on real clients' captures, the topics they used
// show with the producers and consumers that used them.
func TestOverviewCaptures(t *testing.T) {
	tests := []struct {
		file      string
		topics    []string
		producers []string // client ids
		consumer  string
		group     string
	}{
		{"franz-go.pcap", []string{"audit", "orders", "payments"}, []string{"franz-producer-lz4", "franz-producer-zstd"}, "franz-consumer-1", "shipping"},
		{"kcat.pcap", []string{"events"}, []string{"rdkafka"}, "kcat-consumer", "kcat-group"},
		{"kafkajs.pcap", []string{"js-events", "js-orders"}, nil, "", "kafkajs-group"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var o view.OverviewView
			if err := json.Unmarshal([]byte(runOverview(t, "--pcap", captures+tt.file, "-o", "json")), &o); err != nil {
				t.Fatal(err)
			}
			for _, name := range tt.topics {
				var tr *view.TopicRow
				for i := range o.Topics {
					if o.Topics[i].Name == name {
						tr = &o.Topics[i]
					}
				}
				if tr == nil {
					t.Errorf("topic %s missing from %+v", name, o.Topics)
					continue
				}
				if tr.Producers == 0 || tr.Consumers == 0 || tr.BytesInPerSec <= 0 || tr.BytesOutPerSec <= 0 || tr.Partitions == 0 {
					t.Errorf("topic %+v: want producers, consumers, bytes in and out", *tr)
				}
			}
			ids := map[string]bool{}
			for _, p := range o.Producers {
				ids[p.ClientID] = true
			}
			for _, id := range tt.producers {
				if !ids[id] {
					t.Errorf("producer %s missing from %+v", id, o.Producers)
				}
			}
			found := false
			for _, c := range o.Consumers {
				if (tt.consumer == "" || c.ClientID == tt.consumer) && c.Group == tt.group {
					found = true
				}
			}
			if !found {
				t.Errorf("no consumer %q in group %s: %+v", tt.consumer, tt.group, o.Consumers)
			}
		})
	}
}

// TestOverviewCaptureEqualsStore: the view of a capture file is the view
// of an agent's store holding the same exchanges over the same window.
func TestOverviewCaptureEqualsStore(t *testing.T) {
	for _, file := range []string{"franz-go.pcap", "kcat.pcap"} {
		t.Run(file, func(t *testing.T) {
			res := mustAnalyze(t, false, captures+file)
			_, url := fakeAgent(t, "", res.Exchanges...)
			w := view.WindowOf(res.Exchanges)
			fromFile := runOverview(t, "--pcap", captures+file, "-o", "json")
			fromAgent := runOverview(t, "--server", url, "--since", w.From.Format(time.RFC3339Nano), "--until", w.To.Format(time.RFC3339Nano), "-o", "json")
			if fromFile != fromAgent {
				t.Errorf("capture and agent views differ:\n%s\n---\n%s", fromFile, fromAgent)
			}
		})
	}
}

// TestOverviewTable: the table shows the flow as producer -> topic ->
// consumer lines and the latency rows.
func TestOverviewTable(t *testing.T) {
	out := runOverview(t, "--pcap", captures+"kcat.pcap")
	for _, want := range []string{
		"127.0.0.1 (rdkafka) -> events",
		"events -> 127.0.0.1 (kcat-consumer) group kcat-group",
		"TOPIC", "BROKER", "PRODUCER", "CONSUMER",
		"Fetch (empty long-poll)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table has no %q:\n%s", want, out)
		}
	}
}

func TestOverviewDeadAgent(t *testing.T) {
	cmd := overviewCmd()
	var out bytes.Buffer
	cmd.SetArgs([]string{"--server", "http://127.0.0.1:1"})
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	err := cmd.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(err.Error(), "cannot reach kscope agent") {
		t.Errorf("err = %v, want one line saying the agent cannot be reached", err)
	}
}
