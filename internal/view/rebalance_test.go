package view

import (
	"fmt"
	"math"
	"testing"
	"time"

	"kscope/internal/exchange"
)

var rbT0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// rbX builds a group exchange at ms milliseconds after rbT0, answered after
// lat milliseconds (negative: no response).
func rbX(ms float64, lat float64, api string, key int16, member string, gen int32, errName string, d *exchange.Detail) exchange.Exchange {
	e := exchange.Exchange{
		Time: rbT0.Add(time.Duration(ms * float64(time.Millisecond))), API: api, APIKey: key,
		Group: "g", MemberID: member, Error: errName, Detail: d, ClientID: member + "-client",
		Client: exchange.Endpoint{Addr: "10.0.0.1:4000"}, Server: exchange.Endpoint{Addr: "10.0.0.9:9092"},
	}
	if gen != -99 {
		e.Generation = &gen
	}
	if lat >= 0 {
		l := time.Duration(lat * float64(time.Millisecond))
		e.Latency = &l
	}
	return e
}

func rbNear(t *testing.T, what string, got *float64, want float64) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: none, want %.3fs", what, want)
		return
	}
	if math.Abs(*got-want) > 1e-6 {
		t.Errorf("%s = %.6fs, want %.6fs", what, *got, want)
	}
}

func rbTP(topic string, ps ...int32) []exchange.TopicPartitions {
	return []exchange.TopicPartitions{{Topic: topic, Partitions: ps}}
}

// A first member joins (MEMBER_ID_REQUIRED, then generation 1), a second
// joins with the same retry; the first learns of it from a heartbeat
// answered REBALANCE_IN_PROGRESS; both sync generation 2; the second
// leaves and the first rejoins alone in generation 3.
func TestRebalancesClassic(t *testing.T) {
	lead := &exchange.Detail{ProtocolType: "consumer", Protocol: "range", Leader: "a", Members: []exchange.Member{{MemberID: "a"}, {MemberID: "b"}}}
	xs := []exchange.Exchange{
		rbX(0, 1, "JoinGroup", 11, "a", -1, "MEMBER_ID_REQUIRED", &exchange.Detail{ProtocolType: "consumer"}),
		rbX(2, 3, "JoinGroup", 11, "a", 1, "", &exchange.Detail{ProtocolType: "consumer", Protocol: "range", Leader: "a", Members: []exchange.Member{{MemberID: "a"}}}),
		rbX(6, 4, "SyncGroup", 14, "a", 1, "", &exchange.Detail{Assignment: rbTP("orders", 0, 1), Members: []exchange.Member{{MemberID: "a", Assignment: rbTP("orders", 0, 1)}}}),
		// b: a retry, then a JoinGroup held until a rejoins.
		rbX(100, 1, "JoinGroup", 11, "b", -1, "MEMBER_ID_REQUIRED", nil),
		rbX(102, 400, "JoinGroup", 11, "b", 2, "", &exchange.Detail{Leader: "a"}),
		rbX(300, 1, "Heartbeat", 12, "a", 1, "REBALANCE_IN_PROGRESS", nil),
		rbX(301, 1, "Heartbeat", 12, "a", 1, "", nil), // an ordinary heartbeat is no event
		rbX(500, 2, "JoinGroup", 11, "a", 2, "", lead),
		rbX(505, 5, "SyncGroup", 14, "b", 2, "", &exchange.Detail{Assignment: rbTP("orders", 1)}),
		rbX(506, 3, "SyncGroup", 14, "a", 2, "", &exchange.Detail{Assignment: rbTP("orders", 0), Members: []exchange.Member{{MemberID: "a", Assignment: rbTP("orders", 0)}, {MemberID: "b", Assignment: rbTP("orders", 1)}}}),
		rbX(700, 1, "LeaveGroup", 13, "b", -99, "", &exchange.Detail{Members: []exchange.Member{{MemberID: "b", Reason: "shutting down"}}}),
		rbX(900, 1, "Heartbeat", 12, "a", 2, "REBALANCE_IN_PROGRESS", nil),
		rbX(902, 1, "JoinGroup", 11, "a", 3, "", &exchange.Detail{Leader: "a", Members: []exchange.Member{{MemberID: "a"}}}),
		rbX(904, 1, "SyncGroup", 14, "a", 3, "", &exchange.Detail{Assignment: rbTP("orders", 0, 1)}),
		// Another group is filtered out.
		{Time: rbT0, API: "JoinGroup", APIKey: 11, Group: "other", MemberID: "x"},
	}
	v := RebalancesOf(Of(xs, Window{}), RebalanceFilter{Group: "g"})
	if len(v.Groups) != 1 {
		t.Fatalf("groups = %+v, want g only", v.Groups)
	}
	g := v.Groups[0]
	if g.Generation == nil || *g.Generation != 3 || g.Leader != "a" || g.Protocol != "range" || g.ProtocolType != "consumer" || g.Rebalances != 3 {
		t.Errorf("group = %+v, want generation 3, leader a, range, consumer, 3 rebalances", g)
	}
	if len(g.Members) != 1 || g.Members[0].MemberID != "a" || g.Members[0].ClientID != "a-client" || g.Members[0].Host != "10.0.0.1" || rbPartitionsText(g.Members[0].Assignment) != "orders[0,1]" {
		t.Errorf("members = %+v, want a with orders[0,1]", g.Members)
	}
	if len(v.Rebalances) != 3 {
		t.Fatalf("rebalances = %+v, want 3", v.Rebalances)
	}
	r1, r2, r3 := v.Rebalances[0], v.Rebalances[1], v.Rebalances[2]
	// Generation 1: a's MEMBER_ID_REQUIRED join at 0 to its sync response at 10.
	rbNear(t, "gen 1 stop-the-world", r1.DelaySeconds, 0.010)
	// Generation 2: b's first join at 100 to the last sync response at 510.
	if r2.Generation != 2 || !r2.Complete || len(r2.Members) != 2 {
		t.Fatalf("gen 2 = %+v", r2)
	}
	rbNear(t, "gen 2 stop-the-world", r2.DelaySeconds, 0.410)
	for _, m := range r2.Members {
		switch m.MemberID {
		case "b":
			rbNear(t, "gen 2 delay of b", m.DelaySeconds, 0.410) // 100 -> 510
			if rbPartitionsText(m.Assignment) != "orders[1]" {
				t.Errorf("b assigned %v, want orders[1]", m.Assignment)
			}
		case "a":
			rbNear(t, "gen 2 delay of a", m.DelaySeconds, 0.009) // 500 -> 509
		}
	}
	if r2.Reason != "member joined: b" {
		t.Errorf("gen 2 reason %q, want member joined: b", r2.Reason)
	}
	rbNear(t, "gen 3 stop-the-world", r3.DelaySeconds, 0.003)
	if r3.Reason != "member left: b" {
		t.Errorf("gen 3 reason %q, want member left: b", r3.Reason)
	}
	rbNear(t, "last rebalance", g.LastRebalanceSeconds, 0.003)
	// Events: every join, sync and leave, and the two heartbeats
	// answered REBALANCE_IN_PROGRESS; not the ordinary one.
	if n := len(v.Events); n != 13 {
		t.Errorf("%d events, want 13: %+v", n, v.Events)
	}
	for _, e := range v.Events {
		if e.API == "Heartbeat" && e.Error != "REBALANCE_IN_PROGRESS" {
			t.Errorf("ordinary heartbeat listed: %+v", e)
		}
	}
}

// A round that never ends (the member's SyncGroup is not seen) is
// incomplete, with no stop-the-world time.
func TestRebalancesIncomplete(t *testing.T) {
	xs := []exchange.Exchange{
		rbX(0, 1, "JoinGroup", 11, "a", 1, "", &exchange.Detail{Leader: "a"}),
		rbX(5, -1, "SyncGroup", 14, "a", 1, "", nil),
	}
	v := RebalancesOf(Of(xs, Window{}), RebalanceFilter{})
	if len(v.Rebalances) != 1 || v.Rebalances[0].Complete || v.Rebalances[0].DelaySeconds != nil {
		t.Errorf("rebalances = %+v, want one incomplete", v.Rebalances)
	}
}

// KIP-848, the paths the kip848.pcap capture has not: a revocation that
// comes before any member was given the new epoch (a subscription change),
// a member giving up all it owns (an empty owned list, not an unchanged
// one), and a member whose target does not change (no delay). The member
// epochs come from the heartbeats' requests and responses.
func TestRebalancesKIP848(t *testing.T) {
	cgh := func(ms, lat float64, member string, sent, epoch int32, owned, assigned []exchange.TopicPartitions) exchange.Exchange {
		return rbX(ms, lat, "ConsumerGroupHeartbeat", 68, member, -99, "", &exchange.Detail{RequestMemberEpoch: &sent, MemberEpoch: &epoch, Owned: owned, Assignment: assigned})
	}
	none := []exchange.TopicPartitions{}
	xs := []exchange.Exchange{
		cgh(0, 2, "a", 0, 1, none, rbTP("orders", 0, 1)),
		cgh(10, 1, "a", 1, 1, rbTP("orders", 0, 1), nil), // a owns its target at 10
		// b joins: epoch 2, nothing free yet; a must give up 1 first.
		cgh(1000, 2, "b", 0, 2, none, none),
		cgh(1100, 1, "a", 1, 1, nil, rbTP("orders", 0)), // revoke 1, still at epoch 1
		cgh(1150, 1, "a", 1, 2, rbTP("orders", 0), nil), // acknowledged: epoch 2
		cgh(1200, 1, "b", 2, 2, nil, rbTP("orders", 1)), // 1 is free now
		cgh(1300, 1, "b", 2, 2, rbTP("orders", 1), nil), // b at its target: the pause ends
		// a must give up everything before anyone has epoch 3.
		cgh(2000, 1, "a", 2, 2, nil, none),
		cgh(2050, 1, "a", 2, 3, none, nil), // owns none: epoch 3, started at 2000
		cgh(2100, 1, "b", 2, 3, nil, rbTP("orders", 0, 1)),
		cgh(2200, 1, "b", 3, 3, rbTP("orders", 0, 1), nil),
		// a leaves; b's target (all) does not change: no delay.
		cgh(3000, 1, "a", -1, -1, nil, nil),
		cgh(3500, 1, "b", 3, 4, nil, nil),
	}
	v := RebalancesOf(Of(xs, Window{}), RebalanceFilter{})
	if len(v.Groups) != 1 || v.Groups[0].GroupProtocol != "consumer" || *v.Groups[0].Generation != 4 || len(v.Groups[0].Members) != 1 {
		t.Fatalf("groups = %+v", v.Groups)
	}
	type member struct {
		id                string
		delay             float64
		revoked, assigned string
	}
	for i, want := range []struct {
		epoch   int32
		pause   float64
		reason  string
		members []member
	}{
		{1, 0.010, "member joined: a", []member{{"a", 0.010, "", "orders[0,1]"}}},
		{2, 0.300, "member joined: b", []member{{"b", 0.300, "", "orders[1]"}, {"a", 0.150, "orders[1]", ""}}},
		{3, 0.200, "members rejoined", []member{{"a", 0.050, "orders[0]", ""}, {"b", 0.200, "", "orders[0]"}}},
		{4, 0, "member left: a", []member{{"b", 0, "", ""}}},
	} {
		if i >= len(v.Rebalances) {
			t.Fatalf("%d rebalances, want 4: %+v", len(v.Rebalances), v.Rebalances)
		}
		r := v.Rebalances[i]
		if r.Generation != want.epoch || !r.Complete || r.Reason != want.reason || len(r.Members) != len(want.members) {
			t.Errorf("epoch %d = %+v, want complete, reason %q, %d members", want.epoch, r, want.reason, len(want.members))
			continue
		}
		rbNear(t, fmt.Sprintf("epoch %d pause", want.epoch), r.DelaySeconds, want.pause)
		for j, wm := range want.members {
			m := r.Members[j]
			rbNear(t, fmt.Sprintf("epoch %d delay of %s", want.epoch, m.MemberID), m.DelaySeconds, wm.delay)
			if m.MemberID != wm.id || rbPartitionsText(m.Revoked) != wm.revoked || rbPartitionsText(m.Assigned) != wm.assigned {
				t.Errorf("epoch %d member %d = %s revoked %q assigned %q, want %s revoked %q assigned %q", want.epoch, j,
					m.MemberID, rbPartitionsText(m.Revoked), rbPartitionsText(m.Assigned), wm.id, wm.revoked, wm.assigned)
			}
		}
	}
	// Every heartbeat row names its member epoch.
	for _, e := range v.Events {
		if e.Generation == nil {
			t.Errorf("heartbeat without an epoch: %+v", e)
		}
	}
}
