package view

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"kscope/internal/exchange"
)

// The rebalances view follows consumer groups through their rebalances,
// from the group APIs alone: JoinGroup, SyncGroup, Heartbeat and
// LeaveGroup for the classic protocol, ConsumerGroupHeartbeat for the
// KIP-848 one.
//
// Classic protocol. A member's round starts with its first JoinGroup
// request after it last completed a SyncGroup (or joined the group): a
// JoinGroup answered MEMBER_ID_REQUIRED (KIP-394) starts the round, and
// the retry that follows belongs to it. The round ends with the member's
// SyncGroup response for the generation its JoinGroup response named.
// Delay per member and generation = that JoinGroup request to that
// SyncGroup response: the time the member could not consume. A group's
// stop-the-world time per generation = the first JoinGroup request of any
// member's round to the last SyncGroup response of that generation.
//
// KIP-848 protocol (ConsumerGroupHeartbeat). A rebalance is a group
// epoch. The coordinator bumps the group epoch when a member joins (member
// epoch 0), leaves (-1, -2) or changes its subscription, computes each
// member's target assignment, and moves each member toward it at its next
// heartbeats: a member that must give partitions up is first told so at
// its old epoch, with a smaller assignment (UNREVOKED_PARTITIONS); it
// acknowledges by reporting what it owns (Topics of its next request),
// and only then gets the new epoch, with the partitions that are free;
// those another member still holds come later at the same epoch
// (UNRELEASED_PARTITIONS). An epoch's rebalance starts at the heartbeat
// that caused it: the request of the first heartbeat answered with the
// epoch, or an earlier leave or revocation since the previous epoch
// began. A member reaches its target at the first request from which it
// owns exactly what it was last assigned, at the epoch (a partition it
// still must revoke counts as not owned: it is not at the epoch yet);
// partitions given later at the same epoch open its part again. Delay
// per member and epoch = the epoch's start to that request (zero when
// the member owned its target already); the group's pause = the epoch's
// start to the last member reaching its target, counting the members of
// the epoch that did not leave. Revoked and assigned partitions are the
// member's target less what it was assigned before the epoch, and the
// reverse. An epoch first seen in the middle of the group's life
// (capture started late) started unseen: it is no rebalance.

// RebalanceFilter selects groups; empty matches all.
type RebalanceFilter struct {
	Group string
}

// Rebalances is the rebalances view.
type Rebalances struct {
	// From and To are the window the view covers.
	From       time.Time        `json:"from"`
	To         time.Time        `json:"to"`
	Groups     []RebalanceGroup `json:"groups"`
	Rebalances []Rebalance      `json:"rebalances"`
	Events     []RebalanceEvent `json:"events"`
}

// RebalanceGroup is a consumer group as last seen.
type RebalanceGroup struct {
	Group string `json:"group"`
	// Protocol is "classic" (JoinGroup/SyncGroup) or "consumer"
	// (KIP-848 ConsumerGroupHeartbeat).
	GroupProtocol string `json:"group_protocol"`
	// Generation is the last generation (classic) or the highest member
	// epoch (KIP-848) seen; nil when none was.
	Generation   *int32 `json:"generation"`
	ProtocolType string `json:"protocol_type,omitempty"`
	// Protocol is the assignor the coordinator chose (classic).
	Protocol string `json:"protocol,omitempty"`
	Leader   string `json:"leader,omitempty"`
	// Members are the members of the last generation that have not
	// left.
	Members []RebalanceGroupMember `json:"members"`
	// Rebalances counts the rebalances of the group in the window.
	Rebalances int `json:"rebalances"`
	// LastRebalanceSeconds is the stop-the-world time of the last
	// complete rebalance.
	LastRebalanceSeconds *float64 `json:"last_rebalance_seconds,omitempty"`
}

// RebalanceGroupMember is one member of a group.
type RebalanceGroupMember struct {
	MemberID   string `json:"member_id"`
	InstanceID string `json:"instance_id,omitempty"`
	Client
	Subscription []string                   `json:"subscription,omitempty"`
	Assignment   []exchange.TopicPartitions `json:"assignment,omitempty"`
	// Epoch: KIP-848 member epoch.
	Epoch *int32 `json:"epoch,omitempty"`
}

// Rebalance is one generation of a group (one member epoch for KIP-848).
type Rebalance struct {
	Group         string `json:"group"`
	GroupProtocol string `json:"group_protocol"`
	Generation    int32  `json:"generation"`
	// Started is the first JoinGroup request of the round (first epoch
	// bump for KIP-848); Ended the last SyncGroup response of the
	// generation (last reconciliation); nil when not seen.
	Started *time.Time `json:"started"`
	Ended   *time.Time `json:"ended"`
	// DelaySeconds is Ended - Started: the group's stop-the-world time.
	// Nil when either end was not seen.
	DelaySeconds *float64 `json:"delay_seconds"`
	// Complete: every member that joined the generation synced (or
	// reconciled).
	Complete bool              `json:"complete"`
	Leader   string            `json:"leader,omitempty"`
	Members  []RebalanceMember `json:"members"`
	// Reason is what the traffic shows started it: members that joined
	// or left, a member that rejoined.
	Reason string `json:"reason"`
}

// RebalanceMember is one member's part in a rebalance.
type RebalanceMember struct {
	MemberID string `json:"member_id"`
	Client
	// Joined is the member's first JoinGroup request of the round
	// (KIP-848: the heartbeat that bumped its epoch); Synced its
	// SyncGroup response (KIP-848: the heartbeat reporting the
	// assignment owned).
	Joined       *time.Time                 `json:"joined"`
	Synced       *time.Time                 `json:"synced"`
	DelaySeconds *float64                   `json:"delay_seconds"`
	Assignment   []exchange.TopicPartitions `json:"assignment,omitempty"`
	// Revoked and Assigned: KIP-848, the partitions the member gave up
	// and got in this epoch (Assignment less what it had before, and
	// the reverse).
	Revoked  []exchange.TopicPartitions `json:"revoked,omitempty"`
	Assigned []exchange.TopicPartitions `json:"assigned,omitempty"`
}

// RebalanceEvent is one group exchange that matters to rebalancing.
type RebalanceEvent struct {
	Time     time.Time `json:"time"`
	Group    string    `json:"group"`
	API      string    `json:"api"`
	MemberID string    `json:"member_id,omitempty"`
	Client
	Generation     *int32   `json:"generation,omitempty"`
	Error          string   `json:"error,omitempty"`
	LatencySeconds *float64 `json:"latency_seconds,omitempty"`
	// Detail says what happened: "leader, 2 members", "assigned
	// orders[0,1]", a leave reason.
	Detail string `json:"detail,omitempty"`
}

// RebalancesOf builds the view from the exchanges of in: each counts once
// (Once), in its window when it is not zero.
func RebalancesOf(in Input, f RebalanceFilter) Rebalances {
	w := in.Window
	xs := Once(in.Exchanges)
	var sel []*exchange.Exchange
	for i := range xs {
		e := &xs[i]
		if !isMembership(e) || e.Group == "" {
			continue
		}
		if f.Group != "" && e.Group != f.Group {
			continue
		}
		if !w.From.IsZero() && e.Time.Before(w.From) || !w.To.IsZero() && !e.Time.Before(w.To) {
			continue
		}
		sel = append(sel, e)
	}
	slices.SortStableFunc(sel, func(a, b *exchange.Exchange) int { return a.Time.Compare(b.Time) })
	if w.From.IsZero() && w.To.IsZero() {
		w = WindowOf(xs)
	}
	out := Rebalances{From: w.From, To: w.To, Groups: []RebalanceGroup{}, Rebalances: []Rebalance{}, Events: []RebalanceEvent{}}
	groups := make(map[string]*groupState)
	var order []string
	for _, e := range sel {
		g := groups[e.Group]
		if g == nil {
			g = newGroupState(e.Group)
			groups[e.Group] = g
			order = append(order, e.Group)
		}
		if ev, ok := g.add(e); ok {
			out.Events = append(out.Events, ev)
		}
	}
	slices.Sort(order)
	for _, name := range order {
		grp, rbs := groups[name].result()
		out.Groups = append(out.Groups, grp)
		out.Rebalances = append(out.Rebalances, rbs...)
	}
	slices.SortStableFunc(out.Rebalances, func(a, b Rebalance) int {
		return cmp.Or(rbCmpTime(a.Started, b.Started), cmp.Compare(a.Group, b.Group), cmp.Compare(a.Generation, b.Generation))
	})
	return out
}

// RebalanceAPIs are the APIs the view reads, for a store query: the
// membership APIs (see membershipKeys).
var RebalanceAPIs = apiNames(membershipKeys)

func rbCmpTime(a, b *time.Time) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	return a.Compare(*b)
}

// rbClient names the client of e.
func rbClient(e *exchange.Exchange) Client {
	c := Client{ClientID: e.ClientID}
	if p := e.Client; p.PID != 0 {
		c.Process = p.Process + "[" + strconv.FormatUint(uint64(p.PID), 10) + "]"
		c.PID, c.Pod = p.PID, p.Pod
		return c
	}
	c.Host = e.Client.Addr
	if i := strings.LastIndexByte(c.Host, ':'); i >= 0 {
		c.Host = strings.Trim(c.Host[:i], "[]")
	}
	return c
}

func rbEnd(e *exchange.Exchange) *time.Time {
	if e.Latency == nil {
		if e.LatencyNS == nil {
			return nil
		}
		t := e.Time.Add(time.Duration(*e.LatencyNS))
		return &t
	}
	t := e.Time.Add(*e.Latency)
	return &t
}

func rbAnswered(e *exchange.Exchange) bool { return rbEnd(e) != nil }

func rbSeconds(a, b *time.Time) *float64 {
	if a == nil || b == nil {
		return nil
	}
	s := b.Sub(*a).Seconds()
	return &s
}

func rbTime(t time.Time) *time.Time { return &t }

func rbInt32(v int32) *int32 { return &v }

// rbPartitionsText renders orders[0,1] audit[2].
func rbPartitionsText(tps []exchange.TopicPartitions) string {
	var b strings.Builder
	for i, tp := range tps {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(tp.Topic)
		b.WriteByte('[')
		for j, p := range tp.Partitions {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(int(p)))
		}
		b.WriteByte(']')
	}
	return b.String()
}

// PartitionsText renders an assignment as orders[0,1] audit[2].
func PartitionsText(tps []exchange.TopicPartitions) string { return rbPartitionsText(tps) }
