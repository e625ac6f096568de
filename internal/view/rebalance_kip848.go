package view

import (
	"strconv"
	"time"

	"kscope/internal/exchange"
)

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
