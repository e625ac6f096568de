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
	// KIP-848: the member epoch; what the member owns, since the request
	// that first said so (ownedKnown: it said); its part in the epoch it
	// reconciles toward (or last reconciled).
	epoch      *int32
	owned      []exchange.TopicPartitions
	ownedAt    time.Time
	ownedKnown bool
	part       *kip848Part
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
	// prev: KIP-848, what each member was assigned before the epoch.
	prev map[string][]exchange.TopicPartitions
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
	// KIP-848: the first heartbeat since the last epoch began that makes
	// the coordinator bump the group epoch (a leave, a revocation), and
	// the parts of members revoking for an epoch not seen yet.
	nextStart *time.Time
	waiting   []*kip848Part
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
		r = &roundState{gen: gen, members: map[string]*RebalanceMember{}, prev: map[string][]exchange.TopicPartitions{}}
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
			m.left, m.roundStart = true, nil
			g.left = append(g.left, id)
		}
	case kmsg.ConsumerGroupHeartbeat:
		g.protocol = "consumer"
		if ev.Generation == nil {
			ev.Generation = d.MemberEpoch
		}
		ev.Detail = g.consumerHeartbeat(e, d)
	}
	return ev, true
}

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
		if g.protocol == "consumer" {
			r.finishKIP848()
		}
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
