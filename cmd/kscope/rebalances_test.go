package main

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"kscope/internal/server"
	"kscope/internal/store"
)

// kscope rebalances --pcap prints the tables, and -o json the API's keys.
func TestRebalancesCommand(t *testing.T) {
	pcap := captures + "franz-go.pcap"
	out := mustRun(t, rebalancesCmd(), "--pcap", pcap)
	for _, want := range []string{"GROUP", "shipping", "cooperative-sticky", "STOP-THE-WORLD", "member left: franz-consumer-2"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	out = mustRun(t, rebalancesCmd(), "--pcap", pcap, "-o", "json", "--group", "shipping")
	var v struct {
		Groups []struct {
			Group        string `json:"group"`
			Generation   *int32 `json:"generation"`
			ProtocolType string `json:"protocol_type"`
			Protocol     string `json:"protocol"`
			Leader       string `json:"leader"`
			Members      []any  `json:"members"`
		} `json:"groups"`
		Rebalances []struct {
			Group        string     `json:"group"`
			Generation   int32      `json:"generation"`
			DelaySeconds *float64   `json:"delay_seconds"`
			Members      []struct{} `json:"members"`
			Started      *string    `json:"started"`
			Ended        *string    `json:"ended"`
			Reason       string     `json:"reason"`
		} `json:"rebalances"`
		Events []map[string]any `json:"events"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Groups) != 1 || v.Groups[0].Group != "shipping" || *v.Groups[0].Generation != 4 || v.Groups[0].Protocol != "cooperative-sticky" || v.Groups[0].Members == nil {
		t.Errorf("groups = %+v", v.Groups)
	}
	if len(v.Rebalances) != 4 || v.Rebalances[1].DelaySeconds == nil || v.Rebalances[1].Started == nil || v.Rebalances[1].Ended == nil || len(v.Rebalances[1].Members) != 2 {
		t.Errorf("rebalances = %+v", v.Rebalances)
	}
	if len(v.Events) != 19 {
		t.Errorf("%d events, want 19", len(v.Events))
	}
	if out, err := run(t, rebalancesCmd(), "--pcap", pcap, "-o", "json", "--group", "nobody"); err != nil || !strings.Contains(out, `"groups": []`) {
		t.Errorf("unknown group: %v\n%s", err, out)
	}
}

// kscope rebalances --server renders what the agent's API answers.
func TestRebalancesFromServer(t *testing.T) {
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
	out := mustRun(t, rebalancesCmd(), "--server", ts.URL, "--group", "kcat-group")
	for _, want := range []string{"kcat-group", "member joined: kcat-consumer-", "1.647s"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if _, err := run(t, rebalancesCmd(), "--server", "http://127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "is `kscope agent` running?") {
		t.Errorf("no agent: %v", err)
	}
}
