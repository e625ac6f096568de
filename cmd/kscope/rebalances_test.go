package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"kscope/internal/server"
	"kscope/internal/store"
	"kscope/internal/view"
)

// The rebalances found in real captures are those the traffic holds
// (kscope analyze --api JoinGroup,SyncGroup FILE shows them).
func TestRebalancesCaptures(t *testing.T) {
	type round struct {
		gen     int32
		members int
		// minimum and maximum stop-the-world seconds
		min, max float64
		reason   string
	}
	for _, tc := range []struct {
		file, group string
		gen         int32
		members     int // at the end of the capture
		rounds      []round
		leaves      int
		rip         int // heartbeats answered REBALANCE_IN_PROGRESS
	}{
		// franz-go: consumer-1 alone (gen 1); consumer-2 joins (gen 2,
		// held ~489ms until consumer-1's heartbeat learns of it); the
		// cooperative follow-up (gen 3, ~501ms); consumer-2 leaves
		// (gen 4); then consumer-1 leaves too.
		{"franz-go.pcap", "shipping", 4, 0, []round{
			{1, 1, 0.001, 0.010, "member joined: franz-consumer-1-"},
			{2, 2, 0.480, 0.500, "member joined: franz-consumer-2-"},
			{3, 2, 0.495, 0.510, "members rejoined"},
			{4, 1, 0, 0.002, "member left: franz-consumer-2-"},
		}, 2, 3},
		// kcat: two -G consumers; the second waits ~1.65s for the first
		// to rejoin.
		{"kcat.pcap", "kcat-group", 2, 0, []round{
			{1, 1, 0, 0.005, "member joined: kcat-consumer-"},
			{2, 2, 1.6, 1.7, "member joined: kcat-consumer-"},
		}, 2, 1},
		// kafkajs: the second member's JoinGroup is held ~5s.
		{"kafkajs.pcap", "kafkajs-group", 2, 0, []round{
			{1, 1, 0.005, 0.020, "member joined: kafkajs-demo-"},
			{2, 2, 5.0, 5.1, "member joined: kafkajs-demo-"},
		}, 2, 6},
	} {
		t.Run(tc.file, func(t *testing.T) {
			res := mustAnalyze(t, false, captures+tc.file)
			v := view.RebalancesOf(view.Of(res.Exchanges, view.Window{}), view.RebalanceFilter{})
			if len(v.Groups) != 1 || v.Groups[0].Group != tc.group {
				t.Fatalf("groups = %+v, want %s", v.Groups, tc.group)
			}
			g := v.Groups[0]
			if g.Generation == nil || *g.Generation != tc.gen || len(g.Members) != tc.members || g.Rebalances != len(tc.rounds) || g.ProtocolType != "consumer" || g.Leader == "" {
				t.Errorf("group = %+v", g)
			}
			if len(v.Rebalances) != len(tc.rounds) {
				t.Fatalf("%d rebalances, want %d: %+v", len(v.Rebalances), len(tc.rounds), v.Rebalances)
			}
			for i, want := range tc.rounds {
				rb := v.Rebalances[i]
				if rb.Generation != want.gen || len(rb.Members) != want.members || !rb.Complete || rb.DelaySeconds == nil {
					t.Errorf("rebalance %d = %+v, want generation %d with %d members, complete", i, rb, want.gen, want.members)
					continue
				}
				if d := *rb.DelaySeconds; d < want.min || d > want.max {
					t.Errorf("generation %d stop-the-world %.4fs, want %.3f..%.3f", rb.Generation, d, want.min, want.max)
				}
				if !strings.HasPrefix(rb.Reason, want.reason) {
					t.Errorf("generation %d reason %q, want %q...", rb.Generation, rb.Reason, want.reason)
				}
				// The group waits for its slowest member.
				for _, m := range rb.Members {
					if m.DelaySeconds == nil || *m.DelaySeconds > *rb.DelaySeconds+1e-9 {
						t.Errorf("generation %d member %s delay %v beyond the group's %.4f", rb.Generation, m.MemberID, m.DelaySeconds, *rb.DelaySeconds)
					}
				}
			}
			var leaves, rip int
			for _, e := range v.Events {
				switch {
				case e.API == "LeaveGroup":
					leaves++
				case e.API == "Heartbeat" && e.Error == "REBALANCE_IN_PROGRESS":
					rip++
				}
			}
			if leaves != tc.leaves || rip != tc.rip {
				t.Errorf("%d leaves and %d REBALANCE_IN_PROGRESS heartbeats, want %d and %d", leaves, rip, tc.leaves, tc.rip)
			}
		})
	}
}

// kscope rebalances --pcap prints the tables, and -o json the API's keys.
func TestRebalancesCommand(t *testing.T) {
	var out bytes.Buffer
	o := rebalancesOptions{viewSource: viewSource{pcaps: []string{captures + "franz-go.pcap"}, output: "table"}}
	if err := rebalances(context.Background(), &out, o); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GROUP", "shipping", "cooperative-sticky", "STOP-THE-WORLD", "member left: franz-consumer-2", "REBALANCE_IN_PROGRESS", "assigned audit[2] orders[2] payments[1,2]"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	o.output, o.group = "json", "shipping"
	if err := rebalances(context.Background(), &out, o); err != nil {
		t.Fatal(err)
	}
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
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
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
	out.Reset()
	o.group = "nobody"
	if err := rebalances(context.Background(), &out, o); err != nil || !strings.Contains(out.String(), `"groups": []`) {
		t.Errorf("unknown group: %v\n%s", err, out.String())
	}
}

// kscope rebalances --server renders what the agent's API answers.
func TestRebalancesFromServer(t *testing.T) {
	res := mustAnalyze(t, false, captures+"kcat.pcap")
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
	if err := rebalances(context.Background(), &out, rebalancesOptions{viewSource: viewSource{server: ts.URL, output: "table"}, group: "kcat-group"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kcat-group", "member joined: kcat-consumer-", "1.647s"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	if err := rebalances(context.Background(), &out, rebalancesOptions{viewSource: viewSource{server: "http://127.0.0.1:1", output: "table"}}); err == nil || !strings.Contains(err.Error(), "is `kscope agent` running?") {
		t.Errorf("no agent: %v", err)
	}
}
