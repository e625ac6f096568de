package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"kscope/internal/exchange"
	"kscope/internal/kafka"
	"kscope/internal/server"
	"kscope/internal/store"
	"kscope/internal/view"
)

// TestLatencyAndClientsOnCaptures: in each capture a real producer and a
// real consumer of the same topics were both captured, so every consumed
// topic has a latency series, the exact delay is known (the Produce was
// seen), delays are non-negative and within the capture's length, and each
// consumer ends caught up (the workloads read everything).
func TestLatencyAndClientsOnCaptures(t *testing.T) {
	for _, c := range []struct {
		file     string
		topics   []string
		consumer string
		group    string
		maxDelay float64 // seconds: the capture's length
	}{
		{"kafka-python.pcap", []string{"clicks"}, "kafka-python-consumer", "analytics", 1},
		{"kcat.pcap", []string{"events"}, "kcat-consumer", "kcat-group", 13},
		{"franz-go.pcap", []string{"orders", "payments", "audit"}, "franz-consumer-1", "shipping", 6},
	} {
		t.Run(c.file, func(t *testing.T) {
			res, err := analyze(context.Background(), []string{captures + c.file}, kafka.Options{}, exchange.Filter{}, exchange.Options{})
			if err != nil || len(res.Errors) > 0 {
				t.Fatal(err, res.Errors)
			}
			w := view.WindowOf(res.Exchanges)
			lv := view.Latency(view.Of(res.Exchanges, w), view.LatencyFilter{})
			exact := 0
			for _, topic := range c.topics {
				n := 0
				for _, s := range lv.Series {
					if s.Topic != topic {
						continue
					}
					n++
					for _, p := range s.Points {
						if p.DelaySeconds < 0 || p.DelaySeconds > c.maxDelay {
							t.Errorf("%s/%d %s: delay %.3fs, want within [0, %vs]", s.Topic, s.Partition, s.Consumer, p.DelaySeconds, c.maxDelay)
						}
						if p.TimestampType != "CreateTime" {
							t.Errorf("timestamp type %q", p.TimestampType)
						}
						if p.ExactDelaySeconds != nil {
							exact++
							if d := *p.ExactDelaySeconds; d < 0 || d > c.maxDelay {
								t.Errorf("%s/%d: exact delay %.3fs", s.Topic, s.Partition, d)
							}
						}
					}
				}
				if n == 0 {
					t.Errorf("no latency series for consumed topic %s", topic)
				}
			}
			if exact == 0 {
				t.Error("the producer was captured, yet no delay is exact")
			}
			cv := view.Clients(view.Of(res.Exchanges, w), view.ClientsFilter{Client: c.consumer})
			if len(cv.Consumers) == 0 {
				t.Fatalf("no consumer rows for %s", c.consumer)
			}
			for _, cl := range cv.Consumers {
				if cl.Group != c.group {
					t.Errorf("%s/%d: group %q, want %s", cl.Topic, cl.Partition, cl.Group, c.group)
				}
				if cl.OffsetLag == nil || *cl.OffsetLag != 0 || cl.TimeLagSeconds == nil || *cl.TimeLagSeconds != 0 {
					t.Errorf("%s/%d: lag %v / %v, want 0 / 0: the workload read everything", cl.Topic, cl.Partition, cl.OffsetLag, cl.TimeLagSeconds)
				}
				if cl.CommitLagSeconds == nil || *cl.CommitLagSeconds < 0 || *cl.CommitLagSeconds > c.maxDelay {
					t.Errorf("%s/%d: commit lag %v", cl.Topic, cl.Partition, cl.CommitLagSeconds)
				}
			}
		})
	}
}

// TestLatencyCommandJSONKeys: -o json is the API's JSON with the keys the
// README documents.
func TestLatencyCommandJSONKeys(t *testing.T) {
	for _, c := range []struct {
		cmd  []string
		keys []string
	}{
		{[]string{"latency", "--topic", "clicks"}, []string{`"series"`, `"topic"`, `"partition"`, `"consumer"`, `"producer"`, `"points"`, `"time"`, `"delay_seconds"`, `"timestamp_type"`, `"exact_delay_seconds"`}},
		{[]string{"clients"}, []string{`"consumers"`, `"process"`, `"client_id"`, `"group"`, `"offset_lag"`, `"time_lag_seconds"`, `"commit_lag_seconds"`, `"producers"`, `"records_per_sec"`, `"bytes_per_sec"`, `"acks"`, `"errors"`}},
	} {
		var cmd = latencyCmd()
		if c.cmd[0] == "clients" {
			cmd = clientsCmd()
		}
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetArgs(append(c.cmd[1:], "--pcap", captures+"kafka-python.pcap", "-o", "json"))
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := json.Unmarshal(out.Bytes(), &v); err != nil {
			t.Fatalf("%s -o json: %v", c.cmd[0], err)
		}
		for _, k := range c.keys {
			if !strings.Contains(out.String(), k) {
				t.Errorf("%s -o json lacks %s", c.cmd[0], k)
			}
		}
	}
}

// TestLatencyCommandFromServer: --server asks the agent's API, and -o json
// prints what the API answered.
func TestLatencyCommandFromServer(t *testing.T) {
	res, err := analyze(context.Background(), []string{captures + "kcat.pcap"}, kafka.Options{}, exchange.Filter{}, exchange.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(store.Config{})
	for _, e := range res.Exchanges {
		st.Add(e)
	}
	srv, err := server.New(server.Config{}, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	var out bytes.Buffer
	cmd := latencyCmd()
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--server", ts.URL, "--topic", "events", "--consumer", "kcat-consumer"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "kcat-consumer@127.0.0.1") || !strings.Contains(out.String(), "rdkafka@127.0.0.1") {
		t.Errorf("latency table:\n%s", out.String())
	}
	out.Reset()
	cmd = clientsCmd()
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--server", ts.URL, "--group", "kcat-group", "-o", "json"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	var v view.ClientsView
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Consumers) != 3 {
		t.Errorf("kcat-group: %d consumer rows, want 3 partitions", len(v.Consumers))
	}
}
