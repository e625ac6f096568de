package main

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"kscope/internal/server"
	"kscope/internal/store"
	"kscope/internal/view"
)

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
	st := store.New(store.Config{})
	for _, e := range captureExchanges(t, captures+"kcat.pcap") {
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
