package inspect

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// Replication tiers, Kafka's own definitions (ReplicaManager and
// Partition, KIP-966), from the mildest. A partition's Tier is the worst
// that holds; InTier says which hold, since, as the broker's counters
// do, a partition at min ISR is under-replicated too.
const (
	TierOK = "ok"
	// TierUnderReplicated: the ISR is smaller than the replicas, not
	// counting those a reassignment is adding.
	TierUnderReplicated = "under-replicated"
	// TierAtMinISR: the ISR is the effective min.insync.replicas (the
	// config, at most the replica count): one more failure and
	// producers with acks=all are refused.
	TierAtMinISR = "at-min-isr"
	// TierUnderMinISR: producers with acks=all are refused now
	// (NOT_ENOUGH_REPLICAS).
	TierUnderMinISR = "under-min-isr"
	// TierOffline: no leader; nobody can produce or consume.
	TierOffline = "offline"
)

// Tiers lists the tiers from the mildest.
var Tiers = []string{TierOK, TierUnderReplicated, TierAtMinISR, TierUnderMinISR, TierOffline}

// InTier reports whether partition p of topic t is in tier.
func InTier(t *Topic, p *Partition, tier string) bool {
	if p.Leader < 0 {
		return tier == TierOffline
	}
	min := t.EffectiveMinISR(p)
	switch tier {
	case TierOK:
		return TierOf(t, p) == TierOK
	case TierUnderReplicated:
		return len(p.ISR) < len(p.Replicas)-len(p.Adding)
	case TierAtMinISR:
		return min > 0 && len(p.ISR) == min
	case TierUnderMinISR:
		return min > 0 && len(p.ISR) < min
	}
	return false
}

// TierOf is the worst tier partition p of topic t is in.
func TierOf(t *Topic, p *Partition) string {
	for i := len(Tiers) - 1; i > 0; i-- {
		if InTier(t, p, Tiers[i]) {
			return Tiers[i]
		}
	}
	return TierOK
}

// Missing are the replicas of p out of its ISR, not counting those a
// reassignment is adding.
func (p *Partition) Missing() []int32 {
	var out []int32
	for _, r := range p.Replicas {
		if !slices.Contains(p.ISR, r) && !slices.Contains(p.Adding, r) {
			out = append(out, r)
		}
	}
	return out
}

// Event is a change one poll found since the last. Between two polls a
// partition's ISR may shrink and expand again, or its leadership move
// and come back, unseen: poll more often to see shorter ones.
type Event struct {
	Time time.Time `json:"time"`
	Kind string    `json:"kind"`
	// Topic and Partition (-1: none) are the partition's, Broker (-1:
	// none) the broker's the event is about.
	Topic     string `json:"topic,omitempty"`
	Partition int32  `json:"partition"`
	Broker    int32  `json:"broker"`
	// Brokers are those that left or joined an ISR.
	Brokers []int32 `json:"brokers,omitempty"`
	// From and To are the value before and after: leaders, tiers,
	// states, configs.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Detail says it in a line.
	Detail string `json:"detail"`
}

// Event kinds.
const (
	EventISRShrink       = "isr-shrink"
	EventISRExpand       = "isr-expand"
	EventLeaderChange    = "leader-change"
	EventUnclean         = "unclean-election-suspected"
	EventTier            = "tier-change"
	EventBrokerGone      = "broker-gone"
	EventBrokerBack      = "broker-back"
	EventController      = "controller-change"
	EventTopicCreated    = "topic-created"
	EventTopicDeleted    = "topic-deleted"
	EventPartitionsAdded = "partitions-added"
	EventConfig          = "config-change"
	EventLogDirOffline   = "log-dir-offline"
	EventLogDirOnline    = "log-dir-online"
)

// Changes count what the polls saw change since the inspector started.
type Changes struct {
	// ISRShrinks and ISRExpands count, by broker, the times it left or
	// joined a partition's ISR.
	ISRShrinks map[int32]uint64 `json:"isr_shrinks"`
	ISRExpands map[int32]uint64 `json:"isr_expands"`
	// LeaderElections count leader epoch increases, by the broker
	// elected and by topic (the broker's LeaderElectionRateAndTimeMs,
	// as far as polls can see it: a leader that moved and came back
	// between two polls counts through its epoch, not its event).
	LeaderElections        map[int32]uint64  `json:"leader_elections"`
	LeaderElectionsByTopic map[string]uint64 `json:"leader_elections_by_topic"`
	// UncleanSuspected counts new leaders that were not in the last ISR
	// seen.
	UncleanSuspected uint64 `json:"unclean_leader_elections_suspected"`
}

func (c Changes) clone() Changes {
	return Changes{
		ISRShrinks: maps.Clone(c.ISRShrinks), ISRExpands: maps.Clone(c.ISRExpands),
		LeaderElections: maps.Clone(c.LeaderElections), LeaderElectionsByTopic: maps.Clone(c.LeaderElectionsByTopic),
		UncleanSuspected: c.UncleanSuspected,
	}
}

// MaxEventsPerPoll bounds the events one poll keeps (a broker going down
// in a large cluster shrinks thousands of ISRs): past it, the rest are
// counted in Changes but not listed one by one.
const MaxEventsPerPoll = 1000

// goneFor is how long a broker that the cluster stopped listing, and no
// replica names, stays listed as missing.
const goneFor = time.Hour

// track compares s, a poll that a broker answered, with the last one:
// each partition's tier and since when, the brokers missing, the events
// and the counts of changes.
func (in *Inspector) track(s *Snapshot) {
	last := in.last
	t := tracker{s: s}
	if last != nil {
		// The last snapshot is the store's now: its maps are not
		// changed, but copied.
		t.ch = last.Changes.clone()
	}
	for _, m := range []*map[int32]uint64{&t.ch.ISRShrinks, &t.ch.ISRExpands, &t.ch.LeaderElections} {
		if *m == nil {
			*m = map[int32]uint64{}
		}
	}
	if t.ch.LeaderElectionsByTopic == nil {
		t.ch.LeaderElectionsByTopic = map[string]uint64{}
	}
	t.brokers(last)
	t.topics(last)
	s.Changes = t.ch
	s.Events = t.events
}

type tracker struct {
	s      *Snapshot
	ch     Changes
	events []Event
}

func (t *tracker) add(e Event) {
	if len(t.events) >= MaxEventsPerPoll {
		return
	}
	e.Time = t.s.Time
	t.events = append(t.events, e)
}

// brokers adds the missing brokers, keeps since when each is in its
// state, and says which came and went.
func (t *tracker) brokers(last *Snapshot) {
	s := t.s
	known := map[int32]bool{}
	for _, b := range s.Brokers {
		known[b.ID] = true
	}
	prev := map[int32]*Broker{}
	if last != nil {
		for i := range last.Brokers {
			prev[last.Brokers[i].ID] = &last.Brokers[i]
		}
	}
	named := map[int32]bool{}
	for _, tp := range s.Topics {
		for _, p := range tp.Partitions {
			for _, r := range p.Replicas {
				named[r] = true
			}
		}
	}
	for id, b := range prev {
		if known[id] || (!named[id] && b.State == BrokerMissing && s.Time.Sub(b.Since) > goneFor) {
			continue
		}
		m := *b
		m.LogDirs = nil
		if m.State != BrokerMissing {
			m.State, m.Since = BrokerMissing, time.Time{}
		}
		s.Brokers = append(s.Brokers, m)
		known[id] = true
	}
	for id := range named {
		if !known[id] {
			s.Brokers = append(s.Brokers, Broker{ID: id, State: BrokerMissing, Port: -1})
		}
	}
	slices.SortFunc(s.Brokers, func(a, b Broker) int { return int(a.ID - b.ID) })
	for i := range s.Brokers {
		b := &s.Brokers[i]
		p := prev[b.ID]
		if p != nil && p.State == b.State && !p.Since.IsZero() {
			b.Since = p.Since
		} else {
			b.Since = s.Time
		}
		if last == nil {
			continue
		}
		was := BrokerMissing
		if p != nil {
			was = p.State
		}
		switch {
		case was == b.State:
		case b.Up():
			t.add(Event{Kind: EventBrokerBack, Partition: -1, Broker: b.ID, From: was, To: b.State,
				Detail: fmt.Sprintf("broker %d is back (was %s)", b.ID, was)})
		case was == BrokerUp:
			t.add(Event{Kind: EventBrokerGone, Partition: -1, Broker: b.ID, From: was, To: b.State,
				Detail: fmt.Sprintf("broker %d is %s", b.ID, b.State)})
		}
		if p == nil {
			continue
		}
		for _, d := range b.LogDirs {
			i := slices.IndexFunc(p.LogDirs, func(o LogDir) bool { return o.Dir == d.Dir })
			switch {
			case i < 0 || (p.LogDirs[i].Error == "") == (d.Error == ""):
			case d.Error != "":
				t.add(Event{Kind: EventLogDirOffline, Partition: -1, Broker: b.ID, To: d.Dir,
					Detail: fmt.Sprintf("broker %d: log directory %s offline: %s", b.ID, d.Dir, d.Error)})
			default:
				t.add(Event{Kind: EventLogDirOnline, Partition: -1, Broker: b.ID, To: d.Dir,
					Detail: fmt.Sprintf("broker %d: log directory %s back online", b.ID, d.Dir)})
			}
		}
	}
	// Through the broker API a KRaft cluster names a random broker as
	// its controller: a change says nothing there.
	if last != nil && !s.KRaft && last.Controller >= 0 && s.Controller >= 0 && last.Controller != s.Controller {
		t.add(Event{Kind: EventController, Partition: -1, Broker: s.Controller,
			From: fmt.Sprint(last.Controller), To: fmt.Sprint(s.Controller),
			Detail: fmt.Sprintf("controller moved from broker %d to %d", last.Controller, s.Controller)})
	}
}

// topics sets each partition's tier and since when, and finds what
// changed in topics, configs, ISRs and leaders.
func (t *tracker) topics(last *Snapshot) {
	s := t.s
	prev := map[string]*Topic{}
	if last != nil {
		for i := range last.Topics {
			prev[last.Topics[i].Name] = &last.Topics[i]
		}
	}
	for i := range s.Topics {
		tp := &s.Topics[i]
		pt := prev[tp.Name]
		if pt != nil && pt.ID != tp.ID && pt.ID != "" && tp.ID != "" {
			pt = nil // deleted and made again
		}
		switch {
		case last == nil:
		case pt == nil:
			t.add(Event{Kind: EventTopicCreated, Topic: tp.Name, Partition: -1, Broker: -1,
				Detail: fmt.Sprintf("topic %s created, %d partitions", tp.Name, len(tp.Partitions))})
		default:
			if len(pt.Partitions) != len(tp.Partitions) {
				t.add(Event{Kind: EventPartitionsAdded, Topic: tp.Name, Partition: -1, Broker: -1,
					From: fmt.Sprint(len(pt.Partitions)), To: fmt.Sprint(len(tp.Partitions)),
					Detail: fmt.Sprintf("topic %s: %d partitions, was %d", tp.Name, len(tp.Partitions), len(pt.Partitions))})
			}
			t.configs(pt, tp)
		}
		for j := range tp.Partitions {
			p := &tp.Partitions[j]
			p.Tier, p.TierSince = TierOf(tp, p), s.Time
			var pp *Partition
			if pt != nil {
				k, ok := slices.BinarySearchFunc(pt.Partitions, p.Partition, func(a Partition, n int32) int { return int(a.Partition - n) })
				if ok {
					pp = &pt.Partitions[k]
				}
			}
			if pp == nil {
				continue
			}
			if pp.Tier == p.Tier && !pp.TierSince.IsZero() {
				p.TierSince = pp.TierSince
			}
			t.partition(tp.Name, pp, p)
		}
	}
	if last == nil {
		return
	}
	for name := range prev {
		if !slices.ContainsFunc(s.Topics, func(tp Topic) bool { return tp.Name == name }) {
			t.add(Event{Kind: EventTopicDeleted, Topic: name, Partition: -1, Broker: -1, Detail: "topic " + name + " deleted"})
		}
	}
}

// configs says which of a topic's watched configs changed.
func (t *tracker) configs(was, now *Topic) {
	if !was.Retention.Known || !now.Retention.Known {
		return
	}
	for _, c := range []struct {
		key      string
		old, new string
	}{
		{cfgRetentionMs, fmt.Sprint(was.Retention.Ms), fmt.Sprint(now.Retention.Ms)},
		{cfgRetentionBytes, fmt.Sprint(was.Retention.Bytes), fmt.Sprint(now.Retention.Bytes)},
		{cfgCleanupPolicy, was.Retention.CleanupPolicy, now.Retention.CleanupPolicy},
		{cfgMinISR, fmt.Sprint(was.MinISR), fmt.Sprint(now.MinISR)},
	} {
		if c.old != c.new {
			t.add(Event{Kind: EventConfig, Topic: now.Name, Partition: -1, Broker: -1, From: c.old, To: c.new,
				Detail: fmt.Sprintf("topic %s: %s %s, was %s", now.Name, c.key, c.new, c.old)})
		}
	}
}

// partition finds what changed in one partition between two polls.
func (t *tracker) partition(topic string, was, now *Partition) {
	at := fmt.Sprintf("%s/%d", topic, now.Partition)
	ev := func(e Event) {
		e.Topic, e.Partition = topic, now.Partition
		t.add(e)
	}
	left, joined := diff(was.ISR, now.ISR), diff(now.ISR, was.ISR)
	if len(left) > 0 {
		for _, b := range left {
			t.ch.ISRShrinks[b]++
		}
		ev(Event{Kind: EventISRShrink, Broker: now.Leader, Brokers: left,
			Detail: fmt.Sprintf("%s: broker %s left the ISR, now %v", at, ids(left), now.ISR)})
	}
	if len(joined) > 0 {
		for _, b := range joined {
			t.ch.ISRExpands[b]++
		}
		ev(Event{Kind: EventISRExpand, Broker: now.Leader, Brokers: joined,
			Detail: fmt.Sprintf("%s: broker %s joined the ISR, now %v", at, ids(joined), now.ISR)})
	}
	elections := 0
	if was.LeaderEpoch >= 0 && now.LeaderEpoch > was.LeaderEpoch {
		elections = int(now.LeaderEpoch - was.LeaderEpoch)
	} else if now.Leader != was.Leader && now.Leader >= 0 {
		elections = 1 // no epochs (Metadata before v7)
	}
	if elections > 0 && now.Leader >= 0 {
		t.ch.LeaderElections[now.Leader] += uint64(elections)
		t.ch.LeaderElectionsByTopic[topic] += uint64(elections)
	}
	if now.Leader != was.Leader {
		ev(Event{Kind: EventLeaderChange, Broker: now.Leader, From: fmt.Sprint(was.Leader), To: fmt.Sprint(now.Leader),
			Detail: fmt.Sprintf("%s: leader %s, was %s (epoch %d)", at, leaderName(now.Leader), leaderName(was.Leader), now.LeaderEpoch)})
		// Unclean: elected from outside the last ISR seen; with
		// unclean.leader.election.enable, records the old ISR had may
		// be gone.
		if now.Leader >= 0 && len(was.ISR) > 0 && !slices.Contains(was.ISR, now.Leader) {
			t.ch.UncleanSuspected++
			ev(Event{Kind: EventUnclean, Broker: now.Leader, From: fmt.Sprint(was.ISR), To: fmt.Sprint(now.Leader),
				Detail: fmt.Sprintf("%s: broker %d became leader but was not in the last ISR seen %v: unclean leader election suspected, records may be lost", at, now.Leader, was.ISR)})
		}
	}
	if now.Tier != was.Tier && was.Tier != "" {
		ev(Event{Kind: EventTier, Broker: now.Leader, From: was.Tier, To: now.Tier,
			Detail: fmt.Sprintf("%s: %s, was %s", at, now.Tier, was.Tier)})
	}
}

// diff is what a holds that b does not.
func diff(a, b []int32) []int32 {
	var out []int32
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func ids(b []int32) string {
	if len(b) == 1 {
		return fmt.Sprint(b[0])
	}
	return fmt.Sprint(b)
}

func leaderName(id int32) string {
	if id < 0 {
		return "none"
	}
	return fmt.Sprint(id)
}
