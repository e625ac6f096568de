package view

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

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
// KIP-848 protocol. The coordinator bumps a member's epoch in a
// ConsumerGroupHeartbeat response and sends the partitions assigned to it
// (Assignment; absent when unchanged). The member reconciles (revokes and
// takes partitions) and reports what it owns in the Topics of a later
// heartbeat request (Owned; absent when unchanged). A member's
// reconciliation starts at the request of the heartbeat whose response
// bumped its epoch (for a joining member, its epoch-0 join), and ends at
// the first later heartbeat request whose owned partitions are exactly
// the assignment last sent; when the bump already assigns what the member
// owns, it ends at that response. Partitions that another member had to
// release first come later at the same epoch: they reopen the member's
// part of that epoch, from its start. A bump that comes before the member
// reconciled the previous one keeps the first start: the member was not
// stable in between. The epochs of a group's members form its rebalances:
// generation = member epoch, delay = first start to last reconciliation.

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

// memberState is what the view knows of one member.
type memberState struct {
	id         string
	instanceID string
	client     Client
	sub        []string
	assignment []exchange.TopicPartitions
	// roundStart is the first JoinGroup request of the member's open
	// round; nil when none is open.
	roundStart *time.Time
	left       bool
	gen        int32 // last generation joined, -1 none
	// KIP-848
	epoch     *int32
	owned     []exchange.TopicPartitions
	pending   *time.Time // start of the open reconciliation
	pendingAt int32      // epoch the open reconciliation aims at
}

// roundState is one generation of a group.
type roundState struct {
	gen     int32
	started *time.Time
	ended   *time.Time
	leader  string
	members map[string]*RebalanceMember
	order   []string
	reasons []string
}

func (r *roundState) member(m *memberState) *RebalanceMember {
	rm := r.members[m.id]
	if rm == nil {
		rm = &RebalanceMember{MemberID: m.id, Client: m.client}
		r.members[m.id] = rm
		r.order = append(r.order, m.id)
	}
	return rm
}

type groupState struct {
	name          string
	protocol      string // classic or consumer
	gen           *int32
	protocolType  string
	assignor      string
	leader        string
	members       map[string]*memberState
	rounds        map[int32]*roundState
	roundOrder    []int32
	joined, left  []string // since the last round began: for its reason
	everSeen      map[string]bool
	lastMembers   []string // the leader's JoinGroup member list
	lastMembersAt int32
}

func newGroupState(name string) *groupState {
	return &groupState{name: name, members: map[string]*memberState{}, rounds: map[int32]*roundState{}, everSeen: map[string]bool{}}
}

func (g *groupState) member(id string, e *exchange.Exchange) *memberState {
	m := g.members[id]
	if m == nil {
		m = &memberState{id: id, gen: -1}
		g.members[id] = m
	}
	if e != nil {
		// A member's requests may come on several connections; keep the
		// first naming.
		if m.client == (Client{}) {
			m.client = rbClient(e)
		}
	}
	return m
}

func (g *groupState) round(gen int32) *roundState {
	r := g.rounds[gen]
	if r == nil {
		r = &roundState{gen: gen, members: map[string]*RebalanceMember{}}
		g.rounds[gen] = r
		g.roundOrder = append(g.roundOrder, gen)
		var reasons []string
		for _, id := range g.joined {
			reasons = append(reasons, "member joined: "+id)
		}
		for _, id := range g.left {
			reasons = append(reasons, "member left: "+id)
		}
		g.joined, g.left = nil, nil
		r.reasons = reasons
	}
	return r
}

func (g *groupState) add(e *exchange.Exchange) (RebalanceEvent, bool) {
	ev := RebalanceEvent{Time: e.Time, Group: e.Group, API: e.API, MemberID: e.MemberID, Client: rbClient(e), Generation: e.Generation, Error: e.Error}
	if t := rbEnd(e); t != nil {
		ev.LatencySeconds = rbSeconds(&e.Time, t)
	}
	d := e.Detail
	if d == nil {
		d = &exchange.Detail{}
	}
	switch kmsg.Key(e.APIKey) {
	case kmsg.JoinGroup:
		g.protocol = "classic"
		if e.MemberID == "" {
			return ev, true
		}
		m := g.member(e.MemberID, e)
		m.left = false
		if d.Subscription != nil {
			m.sub = d.Subscription
		}
		if m.roundStart == nil {
			m.roundStart = rbTime(e.Time)
			if !g.everSeen[m.id] && (e.Error == "MEMBER_ID_REQUIRED" || m.gen < 0) {
				g.joined = append(g.joined, m.id)
			}
		}
		g.everSeen[m.id] = true
		if !rbAnswered(e) || e.Error != "" || e.Generation == nil || *e.Generation < 0 {
			return ev, true
		}
		gen := *e.Generation
		m.gen = gen
		g.gen = rbInt32(gen)
		g.protocolType = cmp.Or(d.ProtocolType, g.protocolType)
		g.assignor = cmp.Or(d.Protocol, g.assignor)
		g.leader = cmp.Or(d.Leader, g.leader)
		r := g.round(gen)
		r.leader = cmp.Or(d.Leader, r.leader)
		rm := r.member(m)
		if rm.Joined == nil {
			rm.Joined = m.roundStart
		}
		if r.started == nil || m.roundStart.Before(*r.started) {
			r.started = m.roundStart
		}
		if len(d.Members) > 0 {
			ids := make([]string, 0, len(d.Members))
			for _, mm := range d.Members {
				ids = append(ids, mm.MemberID)
				ms := g.member(mm.MemberID, nil)
				ms.instanceID = cmp.Or(mm.InstanceID, ms.instanceID)
				if mm.Subscription != nil {
					ms.sub = mm.Subscription
				}
			}
			g.lastMembers, g.lastMembersAt = ids, gen
			ev.Detail = "leader of " + strconv.Itoa(len(d.Members)) + " members"
		}
	case kmsg.SyncGroup:
		g.protocol = "classic"
		if e.MemberID == "" || e.Generation == nil {
			return ev, true
		}
		m := g.member(e.MemberID, e)
		gen := *e.Generation
		g.protocolType = cmp.Or(d.ProtocolType, g.protocolType)
		g.assignor = cmp.Or(d.Protocol, g.assignor)
		r := g.round(gen)
		// The leader's request carries everyone's assignment.
		for _, mm := range d.Members {
			ms := g.member(mm.MemberID, nil)
			if mm.Assignment != nil {
				ms.assignment = mm.Assignment
				r.member(ms).Assignment = mm.Assignment
			}
		}
		if !rbAnswered(e) || e.Error != "" {
			// REBALANCE_IN_PROGRESS: the member rejoins; its round
			// stays open.
			return ev, true
		}
		if d.Assignment != nil {
			m.assignment = d.Assignment
		}
		rm := r.member(m)
		if d.Assignment != nil {
			rm.Assignment = d.Assignment
		}
		rm.Synced = rbEnd(e)
		if rm.Joined == nil {
			rm.Joined = m.roundStart
		}
		rm.DelaySeconds = rbSeconds(rm.Joined, rm.Synced)
		if r.ended == nil || rm.Synced.After(*r.ended) {
			r.ended = rm.Synced
		}
		m.roundStart = nil
		if len(m.assignment) > 0 {
			ev.Detail = "assigned " + rbPartitionsText(m.assignment)
		}
	case kmsg.Heartbeat:
		if e.Error != "REBALANCE_IN_PROGRESS" {
			return ev, false
		}
	case kmsg.LeaveGroup:
		ids := []string{}
		for _, mm := range d.Members {
			ids = append(ids, mm.MemberID)
			if mm.Reason != "" {
				ev.Detail = mm.Reason
			}
		}
		if len(ids) == 0 && e.MemberID != "" {
			ids = append(ids, e.MemberID)
		}
		for _, id := range ids {
			m := g.member(id, nil)
			if id == e.MemberID && m.client == (Client{}) {
				m.client = rbClient(e)
			}
			m.left, m.roundStart, m.pending = true, nil, nil
			g.left = append(g.left, id)
		}
	case kmsg.ConsumerGroupHeartbeat:
		g.protocol = "consumer"
		g.consumerHeartbeat(e, d)
	}
	return ev, true
}

// consumerHeartbeat follows a KIP-848 member (see the comment at the top).
func (g *groupState) consumerHeartbeat(e *exchange.Exchange, d *exchange.Detail) {
	if e.MemberID == "" {
		return
	}
	m := g.member(e.MemberID, e)
	if d.Subscription != nil {
		m.sub = d.Subscription
	}
	if len(d.Owned) > 0 {
		m.owned = d.Owned
	}
	// The request reports what the member owns: reconciled when it is
	// what it was last given.
	if m.pending != nil && len(d.Owned) > 0 && rbSamePartitions(d.Owned, m.assignment) {
		g.reconciled(m, e.Time)
	}
	if !rbAnswered(e) || e.Error != "" || d.MemberEpoch == nil {
		return
	}
	epoch := *d.MemberEpoch
	if epoch < 0 {
		// -1 / -2 answer a leave (KIP-848).
		m.left, m.pending, m.epoch = true, nil, nil
		g.left = append(g.left, m.id)
		return
	}
	bumped := m.epoch == nil || epoch > *m.epoch
	if m.epoch == nil && !g.everSeen[m.id] {
		g.joined = append(g.joined, m.id)
	}
	g.everSeen[m.id] = true
	m.left = false
	if d.Assignment != nil {
		m.assignment = d.Assignment
	}
	m.epoch = rbInt32(epoch)
	if g.gen == nil || epoch > *g.gen {
		g.gen = rbInt32(epoch)
	}
	if !bumped {
		// Partitions another member released come at the same epoch:
		// the member's part of that epoch is open again, from its start.
		if d.Assignment != nil && m.pending == nil && !rbSamePartitions(m.owned, d.Assignment) {
			if r := g.rounds[epoch]; r != nil && r.members[m.id] != nil && r.members[m.id].Joined != nil {
				m.pending, m.pendingAt = r.members[m.id].Joined, epoch
				r.members[m.id].Assignment = d.Assignment
			}
		}
		return
	}
	if m.pending == nil {
		m.pending = rbTime(e.Time)
	}
	m.pendingAt = epoch
	r := g.round(epoch)
	rm := r.member(m)
	rm.Joined = m.pending
	if r.started == nil || m.pending.Before(*r.started) {
		r.started = m.pending
	}
	if d.Assignment != nil {
		rm.Assignment = d.Assignment
	}
	if rbSamePartitions(m.owned, m.assignment) {
		g.reconciled(m, *rbEnd(e))
	}
}

func (g *groupState) reconciled(m *memberState, t time.Time) {
	r := g.rounds[m.pendingAt]
	if r == nil {
		m.pending = nil
		return
	}
	rm := r.member(m)
	rm.Synced = rbTime(t)
	rm.DelaySeconds = rbSeconds(rm.Joined, rm.Synced)
	if r.ended == nil || t.After(*r.ended) {
		r.ended = rm.Synced
	}
	m.pending = nil
}

// rbSamePartitions compares two assignments as sets.
func rbSamePartitions(a, b []exchange.TopicPartitions) bool {
	set := func(tps []exchange.TopicPartitions) map[string]bool {
		s := map[string]bool{}
		for _, tp := range tps {
			for _, p := range tp.Partitions {
				s[tp.Topic+"\x00"+strconv.Itoa(int(p))] = true
			}
		}
		return s
	}
	sa, sb := set(a), set(b)
	if len(sa) != len(sb) {
		return false
	}
	for k := range sa {
		if !sb[k] {
			return false
		}
	}
	return true
}

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

func (g *groupState) result() (RebalanceGroup, []Rebalance) {
	grp := RebalanceGroup{Group: g.name, GroupProtocol: g.protocol, Generation: g.gen, ProtocolType: g.protocolType, Protocol: g.assignor, Leader: g.leader, Members: []RebalanceGroupMember{}}
	if g.protocol == "consumer" {
		grp.ProtocolType = cmp.Or(grp.ProtocolType, "consumer")
	}
	// Current members: those of the last generation (the leader's list
	// when seen, else those that joined it), less those that left.
	var ids []string
	if g.gen != nil {
		if g.protocol == "classic" {
			if r := g.rounds[*g.gen]; r != nil {
				ids = append(ids, r.order...)
			}
			if g.lastMembersAt == *g.gen {
				for _, id := range g.lastMembers {
					if !slices.Contains(ids, id) {
						ids = append(ids, id)
					}
				}
			}
		} else {
			for id, m := range g.members {
				if m.epoch != nil {
					ids = append(ids, id)
				}
			}
			slices.Sort(ids)
		}
	}
	for _, id := range ids {
		m := g.members[id]
		if m == nil || m.left {
			continue
		}
		grp.Members = append(grp.Members, RebalanceGroupMember{MemberID: id, InstanceID: m.instanceID, Client: m.client, Subscription: m.sub, Assignment: m.assignment, Epoch: m.epoch})
	}
	var rbs []Rebalance
	for _, gen := range g.roundOrder {
		r := g.rounds[gen]
		rb := Rebalance{Group: g.name, GroupProtocol: g.protocol, Generation: gen, Started: r.started, Ended: r.ended, Leader: r.leader, Members: []RebalanceMember{}, Complete: true}
		for _, id := range r.order {
			rm := *r.members[id]
			if rm.Joined != nil && rm.Synced == nil {
				if m := g.members[id]; m == nil || !m.left {
					rb.Complete = false
				}
			}
			rb.Members = append(rb.Members, rm)
		}
		if r.started == nil || r.ended == nil {
			rb.Complete = false
		}
		if rb.Complete {
			rb.DelaySeconds = rbSeconds(r.started, r.ended)
		}
		rb.Reason = strings.Join(r.reasons, "; ")
		if rb.Reason == "" {
			rb.Reason = "members rejoined"
		}
		rbs = append(rbs, rb)
		if rb.DelaySeconds != nil {
			grp.LastRebalanceSeconds = rb.DelaySeconds
		}
	}
	grp.Rebalances = len(rbs)
	return grp, rbs
}
