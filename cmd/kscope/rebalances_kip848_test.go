package main

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"kscope/internal/server"
	"kscope/internal/store"
	"kscope/internal/view"
)

// kip848Want is what the frames of kip848.pcap say (testdata/captures/README.md):
// for each member epoch, the request frame that started it, the request
// frame from which each member owned its whole target, and the partitions
// it gave up and got. Frame numbers are tshark's.
var kip848Want = []struct {
	epoch   int32
	started string // request frame time, UTC
	ended   string
	pauseUS int64
	reason  string
	members []kip848Member
}{
	// Frame 66: member 1 joins and gets all 9; frame 68 reports them owned.
	{1, "21:56:06.948956", "21:56:06.949196", 240, "member joined", []kip848Member{
		{"kip848-consumer-1", "21:56:06.949196", 240, "", "deliveries[0,1,2,3,4,5,6,7,8]"}}},
	// Frame 119: member 2 joins (epoch 2, nothing free); member 1 is
	// told to keep 0-4 at epoch 1 (frame 123) and owns them at frame
	// 139; member 2 gets 5-8 a heartbeat later and owns them at 148.
	{2, "21:56:09.948602", "21:56:10.950631", 1002029, "member joined", []kip848Member{
		{"kip848-consumer-2", "21:56:10.950631", 1002029, "", "deliveries[5,6,7,8]"},
		{"kip848-consumer-1", "21:56:09.954577", 5975, "deliveries[5,6,7,8]", ""}}},
	// Frame 199: member 3 joins; members 2 and 1 give up 8 and 3,4
	// (frames 217, 233); member 3 owns 3,4,8 at frame 245.
	{3, "21:56:12.948590", "21:56:13.949983", 1001393, "member joined", []kip848Member{
		{"kip848-consumer-3", "21:56:13.949983", 1001393, "", "deliveries[3,4,8]"},
		{"kip848-consumer-2", "21:56:12.953320", 4730, "deliveries[8]", ""},
		{"kip848-consumer-1", "21:56:12.957447", 8857, "deliveries[3,4]", ""}}},
	// Frame 307: member 2 leaves (epoch -1); members 3 and 1 own its
	// partitions at frames 338 and 348.
	{4, "21:56:16.947453", "21:56:16.961365", 13912, "member left", []kip848Member{
		{"kip848-consumer-3", "21:56:16.955321", 7868, "", "deliveries[6]"},
		{"kip848-consumer-1", "21:56:16.961365", 13912, "", "deliveries[5,7]"}}},
}

type kip848Member struct {
	clientID          string
	synced            string
	delayUS           int64
	revoked, assigned string
}

const kip848Time = "15:04:05.000000"

// checkKIP848 compares a rebalances view of kip848.pcap with the frames,
// to the microsecond.
func checkKIP848(t *testing.T, v view.Rebalances) {
	t.Helper()
	if len(v.Groups) != 1 || v.Groups[0].Group != "dispatch" || v.Groups[0].GroupProtocol != "consumer" || v.Groups[0].Rebalances != 4 {
		t.Fatalf("groups = %+v, want dispatch, consumer protocol, 4 rebalances", v.Groups)
	}
	if len(v.Rebalances) != len(kip848Want) {
		t.Fatalf("%d rebalances, want %d: %+v", len(v.Rebalances), len(kip848Want), v.Rebalances)
	}
	us := func(s *float64) int64 {
		if s == nil {
			return -1
		}
		return int64(math.Round(*s * 1e6))
	}
	for i, want := range kip848Want {
		rb := v.Rebalances[i]
		if rb.Generation != want.epoch || !rb.Complete || rb.Started == nil || rb.Ended == nil {
			t.Errorf("epoch %d: got %+v, want a complete epoch %d", want.epoch, rb, want.epoch)
			continue
		}
		if got := rb.Started.UTC().Format(kip848Time); got != want.started {
			t.Errorf("epoch %d started %s, want %s", want.epoch, got, want.started)
		}
		if got := rb.Ended.UTC().Format(kip848Time); got != want.ended {
			t.Errorf("epoch %d ended %s, want %s", want.epoch, got, want.ended)
		}
		if got := us(rb.DelaySeconds); got != want.pauseUS {
			t.Errorf("epoch %d: the group's pause %d µs, want %d µs", want.epoch, got, want.pauseUS)
		}
		if !strings.HasPrefix(rb.Reason, want.reason+": ") {
			t.Errorf("epoch %d reason %q, want %s", want.epoch, rb.Reason, want.reason)
		}
		if len(rb.Members) != len(want.members) {
			t.Errorf("epoch %d: %d members, want %d: %+v", want.epoch, len(rb.Members), len(want.members), rb.Members)
			continue
		}
		for j, wm := range want.members {
			m := rb.Members[j]
			synced := "-"
			if m.Synced != nil {
				synced = m.Synced.UTC().Format(kip848Time)
			}
			got := kip848Member{m.ClientID, synced, us(m.DelaySeconds), view.PartitionsText(m.Revoked), view.PartitionsText(m.Assigned)}
			if got != wm {
				t.Errorf("epoch %d member %d = %+v, want %+v", want.epoch, j, got, wm)
			}
		}
	}
}

// kscope rebalances --pcap on three franz-go members of a KIP-848 group:
// each member's delay and the group's pause per epoch are those of the
// frames, in -o json and in the table, whose heartbeat rows name their
// epoch.
func TestRebalancesKIP848Capture(t *testing.T) {
	pcap := captures + "kip848.pcap"
	var v view.Rebalances
	if err := json.Unmarshal([]byte(mustRun(t, rebalancesCmd(), "--pcap", pcap, "-o", "json")), &v); err != nil {
		t.Fatal(err)
	}
	checkKIP848(t, v)

	out := mustRun(t, rebalancesCmd(), "--pcap", pcap)
	for _, want := range []string{
		"dispatch  consumer  4",
		"REVOKED", "ASSIGNED",
		"1.002s", "deliveries[5,6,7,8]",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	heartbeats := 0
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || f[2] != "ConsumerGroupHeartbeat" {
			continue
		}
		heartbeats++
		// TIME GROUP API MEMBER CLIENT-ID GENERATION ...
		if f[5] == "-" {
			t.Errorf("a heartbeat row without its epoch: %s", line)
		}
	}
	if heartbeats != 40 {
		t.Errorf("%d heartbeat rows, want the capture's 40", heartbeats)
	}
	// The revocation at the old epoch and the acknowledgement that
	// moves member 1 to epoch 2 (frames 123 and 139).
	for _, want := range []string{
		"21:56:09.953251  dispatch  ConsumerGroupHeartbeat",
		"kip848-consumer-1  1           181µs    -      revoke deliveries[5,6,7,8]",
		"kip848-consumer-1  2           137µs    -      owns deliveries[0,1,2,3,4]; epoch 2",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("events lack %q:\n%s", want, out)
		}
	}
}

// The agent's API (what the web page reads) carries the same figures and
// the partitions each member revoked and got.
func TestRebalancesKIP848API(t *testing.T) {
	st := store.New(store.Config{})
	for _, e := range captureExchanges(t, captures+"kip848.pcap") {
		st.Add(e)
	}
	srv, err := server.New(server.Config{}, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/api/v1/rebalances?group=dispatch")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	for _, want := range []string{`"revoked": [`, `"assigned": [`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the API's answer lacks %s", want)
		}
	}
	var v view.Rebalances
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	checkKIP848(t, v)
}

// kscope analyze's table names each heartbeat's member epoch.
func TestAnalyzeKIP848Epochs(t *testing.T) {
	out := mustRun(t, analyzeCmd(), "--api", "ConsumerGroupHeartbeat", captures+"kip848.pcap")
	for _, want := range []string{"group dispatch epoch 1", "group dispatch epoch 4"} {
		if !strings.Contains(out, want) {
			t.Errorf("analyze lacks %q:\n%s", want, out)
		}
	}
}
