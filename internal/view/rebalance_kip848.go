package view

import (
	"strconv"
	"strings"
	"time"

	"kscope/internal/exchange"
)

// kip848Part is a member's part in the epoch it reconciles toward (see the
// comment at the top of rebalance.go).
type kip848Part struct {
	epoch int32
	// round is nil while no member was given the epoch yet: a
	// revocation can come before the epoch's number does.
	round *roundState
	rm    *RebalanceMember
	// prev is what the member was assigned before: revoked and
	// assigned partitions are the difference with its target.
	prev   []exchange.TopicPartitions
	member string
}

// consumerHeartbeat follows a KIP-848 member (see the comment at the top)
// and says what the heartbeat did, for its event.
func (g *groupState) consumerHeartbeat(e *exchange.Exchange, d *exchange.Detail) string {
	if e.MemberID == "" {
		return ""
	}
	m := g.member(e.MemberID, e)
	if d.Subscription != nil {
		m.sub = d.Subscription
	}
	var what []string
	sent := d.RequestMemberEpoch
	joins := sent != nil && *sent == 0
	if joins {
		if !g.everSeen[m.id] || m.left {
			g.joined = append(g.joined, m.id)
		}
		what = append(what, "joins")
		// A (re)joining member owns nothing (KIP-848: its owned
		// partitions must be empty).
		m.owned, m.ownedAt, m.ownedKnown = []exchange.TopicPartitions{}, e.Time, true
		m.epoch, m.assignment, m.left = nil, nil, false
	} else if d.Owned != nil && (!m.ownedKnown || !rbSamePartitions(d.Owned, m.owned)) {
		// The member's acknowledgement: what it owns from this
		// request on.
		m.owned, m.ownedAt, m.ownedKnown = d.Owned, e.Time, true
		what = append(what, "owns "+rbPartitionsOrNone(d.Owned))
	}
	g.everSeen[m.id] = true
	if sent != nil && *sent < 0 || rbAnswered(e) && e.Error == "" && d.MemberEpoch != nil && *d.MemberEpoch < 0 {
		// -1 leaves, -2 leaves for now (static member): either way
		// the coordinator bumps the group epoch.
		if !m.left {
			m.left, m.epoch = true, nil
			g.left = append(g.left, m.id)
			g.trigger(e.Time)
		}
		return joinWhat(append(what, "leaves"))
	}
	if !rbAnswered(e) || e.Error != "" || d.MemberEpoch == nil {
		return joinWhat(what)
	}
	epoch := *d.MemberEpoch
	m.left = false
	if g.gen == nil || epoch > *g.gen {
		// A new group epoch. Its rebalance started at the heartbeat
		// that caused it: a join answered with it, or an earlier
		// leave or revocation. One seen first in the middle of the
		// group's life (capture started late) started unseen.
		if g.gen != nil || joins || g.nextStart != nil {
			g.newRound(epoch, e.Time)
		}
		g.gen = rbInt32(epoch)
	}
	prev := m.assignment
	bumped := m.epoch == nil || epoch > *m.epoch
	switch {
	case bumped && (m.epoch != nil || joins):
		if p := m.part; p == nil || p.epoch != epoch {
			m.part = g.openPart(m, epoch, prev, e.Time)
		}
		what = append(what, "epoch "+strconv.Itoa(int(epoch)))
	case !bumped && d.Assignment != nil && rbRemoves(prev, d.Assignment):
		// Still at the old epoch with fewer partitions: revoke them
		// for the next epoch (KIP-848 UNREVOKED_PARTITIONS).
		if p := m.part; p == nil || p.round != nil && p.epoch <= epoch {
			if *g.gen > epoch {
				m.part = g.openPart(m, *g.gen, prev, e.Time)
			} else {
				// No member was given the next epoch yet: its
				// number comes later.
				m.part = &kip848Part{epoch: -1, prev: prev, member: m.id}
				g.waiting = append(g.waiting, m.part)
				g.trigger(e.Time)
			}
		}
		what = append(what, "revoke "+rbPartitionsText(rbMinus(prev, d.Assignment)))
	}
	if d.Assignment != nil {
		if !rbSamePartitions(prev, d.Assignment) && len(rbMinus(d.Assignment, prev)) > 0 {
			what = append(what, "assigned "+rbPartitionsText(rbMinus(d.Assignment, prev)))
		}
		m.assignment = d.Assignment
	}
	m.epoch = rbInt32(epoch)
	g.reconcile(m)
	return joinWhat(what)
}

func joinWhat(what []string) string { return strings.Join(what, "; ") }

// trigger notes a heartbeat that makes the coordinator bump the group
// epoch: the rebalance of the next epoch seen starts there at the latest.
func (g *groupState) trigger(t time.Time) {
	if g.nextStart == nil || t.Before(*g.nextStart) {
		g.nextStart = rbTime(t)
	}
}

// newRound starts the rebalance of a new group epoch, first seen in a
// heartbeat sent at t.
func (g *groupState) newRound(epoch int32, t time.Time) {
	r := g.round(epoch)
	if g.nextStart != nil && g.nextStart.Before(t) {
		t = *g.nextStart
	}
	r.started, g.nextStart = rbTime(t), nil
	for _, p := range g.waiting {
		p.epoch, p.round = epoch, r
		p.rm = r.member(g.members[p.member])
		r.prev[p.member] = p.prev
	}
	g.waiting = nil
}

// openPart opens m's part in epoch, a rebalance that a heartbeat sent at
// t shows.
func (g *groupState) openPart(m *memberState, epoch int32, prev []exchange.TopicPartitions, t time.Time) *kip848Part {
	r := g.rounds[epoch]
	if r == nil {
		r = g.round(epoch)
		r.started = rbTime(t)
	}
	rm := r.member(m)
	if _, ok := r.prev[m.id]; !ok {
		r.prev[m.id] = prev
	}
	return &kip848Part{epoch: epoch, round: r, rm: rm, prev: prev, member: m.id}
}

// reconcile marks m's part done when, at its epoch, the member owns
// exactly what it was last assigned: from the request that first said
// so, or from the epoch's start when it owned it already. Partitions
// given later at the same epoch (another member released them) open it
// again.
func (g *groupState) reconcile(m *memberState) {
	p := m.part
	if p == nil || p.round == nil || m.epoch == nil || *m.epoch != p.epoch {
		return
	}
	p.rm.Assignment = m.assignment
	if !m.ownedKnown || !rbSamePartitions(m.owned, m.assignment) {
		p.rm.Synced = nil
		return
	}
	if p.rm.Synced != nil {
		return
	}
	t := m.ownedAt
	if p.round.started != nil && t.Before(*p.round.started) {
		t = *p.round.started
	}
	p.rm.Synced = rbTime(t)
}

// finishKIP848 fills what a KIP-848 rebalance shows once all is read:
// each member's delay from the epoch's start, the partitions it gave up
// and got, and the group's pause up to the last member at its target.
func (r *roundState) finishKIP848() {
	r.ended = nil
	for _, id := range r.order {
		rm := r.members[id]
		rm.Joined = r.started
		rm.DelaySeconds = nil
		if rm.Synced != nil {
			rm.DelaySeconds = rbSeconds(rm.Joined, rm.Synced)
			if r.ended == nil || rm.Synced.After(*r.ended) {
				r.ended = rm.Synced
			}
		}
		prev := r.prev[id]
		rm.Revoked = rbMinus(prev, rm.Assignment)
		rm.Assigned = rbMinus(rm.Assignment, prev)
	}
}

// rbRemoves says whether b lacks a partition of a.
func rbRemoves(a, b []exchange.TopicPartitions) bool { return len(rbMinus(a, b)) > 0 }

// rbMinus is the partitions of a not in b, in a's order; nil when none.
func rbMinus(a, b []exchange.TopicPartitions) []exchange.TopicPartitions {
	in := map[string]bool{}
	for _, tp := range b {
		for _, p := range tp.Partitions {
			in[tp.Topic+"\x00"+strconv.Itoa(int(p))] = true
		}
	}
	var out []exchange.TopicPartitions
	for _, tp := range a {
		var ps []int32
		for _, p := range tp.Partitions {
			if !in[tp.Topic+"\x00"+strconv.Itoa(int(p))] {
				ps = append(ps, p)
			}
		}
		if len(ps) > 0 {
			out = append(out, exchange.TopicPartitions{Topic: tp.Topic, Partitions: ps})
		}
	}
	return out
}

func rbPartitionsOrNone(tps []exchange.TopicPartitions) string {
	if s := rbPartitionsText(tps); s != "" {
		return s
	}
	return "none"
}

// rbSamePartitions compares two assignments as sets.
func rbSamePartitions(a, b []exchange.TopicPartitions) bool {
	return len(rbMinus(a, b)) == 0 && len(rbMinus(b, a)) == 0
}
