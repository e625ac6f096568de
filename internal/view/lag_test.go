package view

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"kscope/internal/exchange"
	"kscope/internal/inspect"
)

// poll is one poll of orders/0 for group billing: the log start and end,
// the committed offset (-1: none), and the batches looked up.
type poll struct {
	start, hw, committed int64
}

// lagSnapshots makes a snapshot per poll, 10 s apart from t0, of one
// partition whose record at offset o was appended at t0 + o/10 seconds
// (one record per batch, CreateTime), retention 1 day and 1 MiB, 100 bytes
// a record.
func lagSnapshots(polls []poll) []inspect.Snapshot {
	var out []inspect.Snapshot
	for i, p := range polls {
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		pt := inspect.Partition{Partition: 0, Leader: 1, Replicas: []int32{1}, ISR: []int32{1},
			LogStartOffset: p.start, HighWatermark: p.hw, LastStableOffset: p.hw, SizeBytes: 100 * (p.hw - p.start)}
		for _, o := range []int64{p.hw - 1, p.committed - 1, p.committed} {
			if o >= p.start && o < p.hw && !hasBatch(&pt, o) {
				pt.Batches = append(pt.Batches, inspect.Batch{BaseOffset: o, LastOffset: o, MaxTimestamp: recordTime(o), TimestampType: "CreateTime"})
			}
		}
		slices.SortFunc(pt.Batches, func(a, b inspect.Batch) int { return int(a.BaseOffset - b.BaseOffset) })
		// orders/1 is assigned, never committed, its log empty.
		empty := inspect.Partition{Partition: 1, Leader: 1, Replicas: []int32{1}, ISR: []int32{1}, SizeBytes: 0}
		s := inspect.Snapshot{Time: at, ClusterID: "c1", Controller: 1,
			Topics: []inspect.Topic{{Name: "orders", Retention: inspect.Retention{Known: true, CleanupPolicy: "delete", Ms: 86400000, Bytes: 1 << 20}, Partitions: []inspect.Partition{pt, empty}}}}
		g := inspect.Group{Group: "billing", State: "Stable", Protocol: "classic",
			Members: []inspect.Member{{MemberID: "m1", ClientID: "invoicing-1", Host: "/10.0.0.3", Assigned: []inspect.TopicPartitions{{Topic: "orders", Partitions: []int32{0, 1}}}}}}
		if p.committed >= 0 {
			g.Offsets = []inspect.Offset{{Topic: "orders", Partition: 0, Committed: p.committed, LeaderEpoch: -1}}
		}
		s.Groups = []inspect.Group{g}
		out = append(out, s)
	}
	return out
}

func recordTime(o int64) time.Time { return t0.Add(time.Duration(o) * 100 * time.Millisecond) }

func lagOf(t *testing.T, polls []poll, xs []exchange.Exchange, f LagFilter) PartitionLag {
	t.Helper()
	snaps := lagSnapshots(polls)
	in := Input{Window: Window{From: t0, To: snaps[len(snaps)-1].Time}, Exchanges: xs, Cluster: snaps}
	v := Lag(in, f)
	if len(v.Groups) != 1 || len(v.Groups[0].Partitions) != 2 {
		t.Fatalf("groups %+v", v.Groups)
	}
	g := v.Groups[0]
	if g.Status != g.Partitions[0].Status && lagRank(g.Partitions[0].Status) > lagRank(g.Partitions[1].Status) {
		t.Errorf("group status %s, its worst partition %s", g.Status, g.Partitions[0].Status)
	}
	return g.Partitions[0]
}

func steady(n int, fn func(i int) poll) []poll {
	var ps []poll
	for i := range n {
		ps = append(ps, fn(i))
	}
	return ps
}

// TestLagStatuses: Burrow's rules over the window of polls, LOST, and the
// Append Lag thresholds.
func TestLagStatuses(t *testing.T) {
	commit := func(at time.Time, o int64) exchange.Exchange {
		return exchange.Exchange{Time: at, Latency: dur(time.Millisecond), APIKey: 8, API: "OffsetCommit", Group: "billing", ClientID: "invoicing-1",
			Client: exchange.Endpoint{Addr: "10.0.0.3:4000"}, Server: exchange.Endpoint{Addr: "10.0.0.9:9092"},
			Topics: []exchange.Topic{{Name: "orders", Partitions: []exchange.Partition{{Partition: 0, CommittedOffset: lagPtr(o)}}}}}
	}
	for _, c := range []struct {
		name   string
		polls  []poll
		xs     []exchange.Exchange
		f      LagFilter
		status string
		reason string
	}{
		{"caught up", steady(5, func(i int) poll { return poll{0, int64(100 + 10*i), int64(100 + 10*i)} }), nil, LagFilter{}, LagOK, "caught up"},
		{"consuming, lag falling", steady(5, func(i int) poll { return poll{0, 200, int64(150 + 10*i)} }), nil, LagFilter{}, LagOK, "falls at times"},
		{"lag growing at each poll", steady(5, func(i int) poll { return poll{0, int64(200 + 20*i), int64(100 + 10*i)} }), nil, LagFilter{}, LagWarn, "did not fall at any of the last 5 polls: 100, then 140"},
		{"lag flat, offset moving (Burrow: WARN)", steady(5, func(i int) poll { return poll{0, int64(200 + 10*i), int64(100 + 10*i)} }), nil, LagFilter{}, LagWarn, "did not fall"},
		{"lag up and down", []poll{{0, 200, 100}, {0, 220, 110}, {0, 230, 140}, {0, 260, 150}}, nil, LagFilter{}, LagOK, "falls at times"},
		{"nobody commits", steady(5, func(i int) poll { return poll{0, int64(200 + 10*i), 100} }), nil, LagFilter{}, LagStop, "no commit for at least 40s"},
		{"commits stuck at one offset", steady(5, func(i int) poll { return poll{0, int64(200 + 10*i), 100} }),
			[]exchange.Exchange{commit(t0.Add(39*time.Second), 100)}, LagFilter{}, LagStall, "stay at offset 100"},
		{"offset went back", []poll{{0, 300, 200}, {0, 310, 210}, {0, 320, 150}, {0, 330, 160}}, nil, LagFilter{}, LagRewind, "from 210 to 150"},
		{"below the log start", steady(3, func(i int) poll { return poll{120, 300, 100} }), nil, LagFilter{}, LagLost, "20 records were deleted"},
		{"one poll", []poll{{0, 130, 100}}, nil, LagFilter{}, LagOK, "1 polls so far, the status needs 2"},
		{"append lag past the warning", steady(5, func(i int) poll { return poll{0, 200, int64(50 + 10*i)} }), nil,
			LagFilter{WarnAfter: 5 * time.Second, ErrorAfter: time.Hour}, LagWarn, "Append Lag 11s is past 5s"},
		{"append lag past the error", steady(5, func(i int) poll { return poll{0, 1000, int64(50 + 10*i)} }), nil,
			LagFilter{WarnAfter: 5 * time.Second, ErrorAfter: time.Minute}, LagErr, "Append Lag 1m31s is past 1m0s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := lagOf(t, c.polls, c.xs, c.f)
			if p.Status != c.status || !strings.Contains(p.Reason, c.reason) {
				t.Errorf("%s: %s, want %s with %q", p.Status, p.Reason, c.status, c.reason)
			}
		})
	}
}

// TestLagFigures: offset lag, Append Lag, Commit Lag, time lag and time to
// loss of one partition, each by its definition.
func TestLagFigures(t *testing.T) {
	// At the last poll (t0+40s): log [0, 240), committed 100 (first seen at
	// t0+30s), record o appended at t0 + o/10 s.
	polls := []poll{{0, 200, 90}, {0, 210, 95}, {0, 220, 98}, {0, 230, 100}, {0, 240, 100}}
	p := lagOf(t, polls, nil, LagFilter{})
	check := func(name string, got *float64, want float64) {
		t.Helper()
		if got == nil || math.Abs(*got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if p.OffsetLag == nil || *p.OffsetLag != 140 || *p.CommittedOffset != 100 || *p.HighWatermark != 240 {
		t.Errorf("offsets: committed %v, high watermark %v, lag %v", p.CommittedOffset, p.HighWatermark, p.OffsetLag)
	}
	check("append lag", p.AppendLagSeconds, 23.9-9.9) // last record at 23.9 s, last committed at 9.9 s
	check("time lag", p.TimeLagSeconds, 40-10)        // now (40 s), the first unconsumed record at 10 s
	check("commit lag", p.CommitLagSeconds, 30-9.9)   // seen committed at the 30 s poll
	if p.LastCommit == nil || !p.LastCommit.Equal(t0.Add(30*time.Second)) {
		t.Errorf("last commit %v, want the poll at 30 s that first saw offset 100", p.LastCommit)
	}
	// By size: 100 B a record, 140 records waiting (14,000 B) of a 1 MiB
	// limit, the log growing 1 record/s (40 records in 40 s); by time
	// (record 100 appended at 10 s, + 1 day - now) it is later.
	check("time to loss", p.TimeToLossSeconds, (1<<20-14000)/(1.0*100))
	if p.TimestampType != "CreateTime" || p.Owner == nil || p.Owner.MemberID != "m1" || p.Owner.ClientID != "invoicing-1" {
		t.Errorf("type %q, owner %+v", p.TimestampType, p.Owner)
	}

	// A partition assigned but never committed: said, with no made-up lag.
	v := Lag(Input{Window: Window{To: t0.Add(time.Minute)}, Cluster: lagSnapshots(polls)}, LagFilter{})
	q := v.Groups[0].Partitions[1]
	if q.Partition != 1 || q.CommittedOffset != nil || q.OffsetLag != nil || q.Reason != "nothing committed" || q.Status != LagOK {
		t.Errorf("assigned, never committed: %+v", q)
	}
	// Its leader not answering: ERR, not OK.
	snaps := lagSnapshots(polls)
	snaps[len(snaps)-1].Topics[0].Partitions[1].HighWatermark = -1
	v = Lag(Input{Window: Window{To: t0.Add(time.Minute)}, Cluster: snaps}, LagFilter{})
	if q := v.Groups[0].Partitions[1]; q.Status != LagErr || !strings.Contains(q.Reason, "leader did not answer") {
		t.Errorf("log end unknown: %s (%s)", q.Status, q.Reason)
	}
}

// TestLagTransactionMarker: a lag of 1 that is only a transaction's commit
// marker is no lag.
func TestLagTransactionMarker(t *testing.T) {
	snaps := lagSnapshots([]poll{{0, 101, 100}, {0, 101, 100}})
	for i := range snaps {
		pt := &snaps[i].Topics[0].Partitions[0]
		for j := range pt.Batches {
			if pt.Batches[j].BaseOffset == 100 {
				pt.Batches[j].Control = true
			}
		}
	}
	v := Lag(Input{Window: Window{To: snaps[1].Time}, Cluster: snaps}, LagFilter{})
	p := v.Groups[0].Partitions[0]
	if p.OffsetLag == nil || *p.OffsetLag != 0 || p.Status != LagOK {
		t.Errorf("lag %v, status %s: want 0 and OK", p.OffsetLag, p.Status)
	}
}

// TestLagOwnerAndCommitFromTraffic: the process that fetches a group's
// partition owns it; a commit the agent saw dates it.
func TestLagOwnerAndCommitFromTraffic(t *testing.T) {
	polls := steady(4, func(i int) poll { return poll{0, int64(200 + 10*i), int64(150 + 10*i)} })
	xs := []exchange.Exchange{
		{Time: t0.Add(25 * time.Second), Latency: dur(time.Millisecond), APIKey: 12, API: "Heartbeat", Group: "billing", ClientID: "invoicing-1",
			Client: exchange.Endpoint{Addr: "10.0.0.3:4000", PID: 77, Process: "invoicing"}, Server: exchange.Endpoint{Addr: "10.0.0.9:9092"}},
		fetch("invoicing-1", t0.Add(26*time.Second), fetchPart{"orders", 0, 170, 10, t0, 220}),
		{Time: t0.Add(27 * time.Second), Latency: dur(time.Millisecond), APIKey: 8, API: "OffsetCommit", Group: "billing", ClientID: "invoicing-1",
			Client: exchange.Endpoint{Addr: "10.0.0.3:4000", PID: 77, Process: "invoicing"}, Server: exchange.Endpoint{Addr: "10.0.0.9:9092"},
			Topics: []exchange.Topic{{Name: "orders", Partitions: []exchange.Partition{{Partition: 0, CommittedOffset: lagPtr(int64(180))}}}}},
	}
	xs[1].Client = xs[0].Client
	p := lagOf(t, polls, xs, LagFilter{})
	if p.Owner == nil || p.Owner.Process != "invoicing[77]" || p.Owner.MemberID != "m1" {
		t.Errorf("owner %+v, want member m1, process invoicing[77]", p.Owner)
	}
	if p.LastCommit == nil || !p.LastCommit.Equal(t0.Add(27*time.Second)) {
		t.Errorf("last commit %v, want the OffsetCommit the agent saw at 27 s", p.LastCommit)
	}
	// The group emptied: nobody holds the partition, whoever fetched it.
	snaps := lagSnapshots(polls)
	for i := range snaps {
		snaps[i].Groups[0].Members, snaps[i].Groups[0].State = nil, "Empty"
	}
	v := Lag(Input{Window: Window{From: t0, To: snaps[len(snaps)-1].Time}, Exchanges: xs, Cluster: snaps}, LagFilter{})
	if o := v.Groups[0].Partitions[0].Owner; o != nil {
		t.Errorf("an Empty group's partition has owner %+v", o)
	}
}

// TestLagErrorsSince: a broker that did not answer is reported with the
// first poll of the run it failed in.
func TestLagErrorsSince(t *testing.T) {
	snaps := lagSnapshots(steady(4, func(i int) poll { return poll{0, 100, 100} }))
	for i := 1; i < 4; i++ {
		snaps[i].Errors = []inspect.Error{{Broker: 2, Request: "ApiVersions", Error: "no answer within the request timeout"}}
	}
	v := Lag(Input{Window: Window{To: snaps[3].Time}, Cluster: snaps}, LagFilter{})
	if len(v.Errors) != 1 || v.Errors[0].Broker != 2 || !v.Errors[0].Since.Equal(snaps[1].Time) {
		t.Errorf("errors %+v, want broker 2 since the second poll", v.Errors)
	}
}

// TestLagCoordinatorNotAnswering: a group whose coordinator did not
// answer the last poll is ERR, says which and as of when its offsets are.
func TestLagCoordinatorNotAnswering(t *testing.T) {
	snaps := lagSnapshots(steady(3, func(i int) poll { return poll{0, 100, 100} }))
	asOf := snaps[1].Time
	snaps[2].Groups[0].Error, snaps[2].Groups[0].AsOf = "coordinator 2 did not answer the poll", &asOf
	v := Lag(Input{Window: Window{To: snaps[2].Time}, Cluster: snaps}, LagFilter{})
	g := v.Groups[0]
	if g.Status != LagErr || g.AsOf == nil || !g.AsOf.Equal(asOf) || g.Reason != "coordinator 2 did not answer the poll; members and offsets as of 10s ago" {
		t.Errorf("group %s (%s), as of %v", g.Status, g.Reason, g.AsOf)
	}
	if p := g.Partitions[0]; p.OffsetLag == nil || *p.OffsetLag != 0 {
		t.Errorf("orders/0 lag %v: the last known offsets still count", p.OffsetLag)
	}
}

// TestLagCommitSeenSince: an offset that stayed longer than the window
// dates from the first poll that saw it, kept by the inspector, not from
// the window's oldest poll.
func TestLagCommitSeenSince(t *testing.T) {
	snaps := lagSnapshots(steady(30, func(i int) poll { return poll{0, int64(200 + 10*i), 100} }))
	for i := range snaps {
		snaps[i].Groups[0].Offsets[0].SeenSince = t0
	}
	v := Lag(Input{Window: Window{To: snaps[29].Time}, Cluster: snaps}, LagFilter{})
	p := v.Groups[0].Partitions[0]
	if p.LastCommit == nil || !p.LastCommit.Equal(t0) || p.Status != LagStop || !strings.Contains(p.Reason, "no commit for at least 4m50s") {
		t.Errorf("last commit %v, %s (%s); want t0, STOP for at least 4m50s", p.LastCommit, p.Status, p.Reason)
	}
}

// TestLagNoTimestamp: batches without a timestamp (-1) give no times,
// not centuries.
func TestLagNoTimestamp(t *testing.T) {
	snaps := lagSnapshots(steady(3, func(i int) poll { return poll{0, int64(200 + 10*i), int64(100 + 10*i)} }))
	for i := range snaps {
		for j := range snaps[i].Topics[0].Partitions[0].Batches {
			snaps[i].Topics[0].Partitions[0].Batches[j].MaxTimestamp = time.Time{}
		}
	}
	v := Lag(Input{Window: Window{To: snaps[2].Time}, Cluster: snaps}, LagFilter{})
	p := v.Groups[0].Partitions[0]
	if p.AppendLagSeconds != nil || p.TimeLagSeconds != nil || p.CommitLagSeconds != nil || *p.OffsetLag != 100 || p.Status == LagErr {
		t.Errorf("no timestamps: %+v", p)
	}
}

// FuzzLag: on random histories of offsets, lag is never negative nor NaN,
// statuses are known ones, LOST exactly when the commit is below the log
// start, and a caught-up partition is OK.
func FuzzLag(f *testing.F) {
	f.Add(uint64(1), 5)
	f.Add(uint64(42), 10)
	f.Add(uint64(7), 1)
	f.Fuzz(func(t *testing.T, seed uint64, n int) {
		n = 1 + abs(n)%15
		r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		var polls []poll
		start, hw, c := int64(0), int64(r.IntN(1000)), int64(0)
		for range n {
			start += int64(r.IntN(20))
			hw = max(hw+int64(r.IntN(50)), start)
			switch r.IntN(4) {
			case 0: // rewind
				c = max(c-int64(r.IntN(100)), 0)
			case 1: // still
			default:
				c = min(c+int64(r.IntN(60)), hw)
			}
			polls = append(polls, poll{start, hw, c})
		}
		snaps := lagSnapshots(polls)
		v := Lag(Input{Window: Window{To: snaps[len(snaps)-1].Time.Add(time.Duration(r.IntN(100)) * time.Second)}, Cluster: snaps}, LagFilter{})
		for _, g := range v.Groups {
			if lagRank(g.Status) < 0 || g.OffsetLag < 0 {
				t.Fatalf("group %+v", g)
			}
			for _, p := range g.Partitions {
				if lagRank(p.Status) < 0 || p.Reason == "" {
					t.Fatalf("status %q reason %q", p.Status, p.Reason)
				}
				if p.OffsetLag != nil && *p.OffsetLag < 0 {
					t.Fatalf("negative lag %d", *p.OffsetLag)
				}
				for _, x := range []*float64{p.AppendLagSeconds, p.CommitLagSeconds, p.TimeLagSeconds, p.TimeToLossSeconds} {
					if x != nil && (math.IsNaN(*x) || math.IsInf(*x, 0) || *x < 0) {
						t.Fatalf("figure %v in %+v", *x, p)
					}
				}
				if p.CommittedOffset == nil {
					continue
				}
				lost := *p.CommittedOffset < *p.LogStartOffset
				if lost != (p.Status == LagLost) {
					t.Fatalf("committed %d, log start %d: status %s", *p.CommittedOffset, *p.LogStartOffset, p.Status)
				}
				if !lost && *p.OffsetLag == 0 && p.Status != LagOK {
					t.Fatalf("caught up yet %s: %s", p.Status, p.Reason)
				}
				// The rules over the window: REWIND when an offset went
				// back; STALL and STOP (no traffic: a commit dates from
				// the poll that saw it) when none moved.
				window := polls[max(0, len(polls)-LagWindow):]
				back, moved := false, false
				for i := 1; i < len(window); i++ {
					back = back || window[i].committed < window[i-1].committed
					moved = moved || window[i].committed != window[0].committed
				}
				switch p.Status {
				case LagRewind:
					if !back {
						t.Fatalf("REWIND without an offset going back: %+v", window)
					}
				case LagStall, LagStop:
					if moved {
						t.Fatalf("%s though the offset moved: %+v", p.Status, window)
					}
				}
				if len(window) >= minLagPolls && !moved && *p.OffsetLag > 0 && !lost && p.Status != LagStop && p.Status != LagErr {
					t.Fatalf("lagging, no commit in the window, yet %s: %s", p.Status, p.Reason)
				}
			}
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func hasBatch(pt *inspect.Partition, o int64) bool {
	_, ok := pt.BatchAt(o)
	return ok
}
