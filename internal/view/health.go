package view

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"kscope/internal/inspect"
)

// HealthNeeds is what the health view reads: the cluster's polls, and the
// traffic's per-second parts for what each broker and topic serves.
var HealthNeeds = Needs{Parts: true, Cluster: true}

// HealthFilter narrows the partitions and retention tables.
type HealthFilter struct {
	// Tier keeps the partitions in this tier (a partition at min ISR is
	// under-replicated too, as the brokers count it); empty: those not
	// ok. All keeps every partition.
	Tier  string
	All   bool
	Topic string
}

// HealthView is the cluster's safety, as the inspector's last poll saw
// it, with what changed over the window's polls. Other tools read its
// JSON: fields are only ever added.
type HealthView struct {
	// AsOf is the last poll's time; Polls the polls in the window.
	AsOf      time.Time `json:"as_of"`
	Polls     int       `json:"polls"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	ClusterID string    `json:"cluster_id,omitempty"`
	// Controller is the controller as the brokers name it;
	// ControllerNote says when that is not the active controller
	// (KRaft).
	Controller     int32  `json:"controller"`
	ControllerNote string `json:"controller_note,omitempty"`
	KRaft          bool   `json:"kraft"`
	// Traffic says the brokers' and topics' rates come from the traced
	// traffic (an agent); without, the retention rates come from the
	// growth of the logs between polls.
	Traffic    bool              `json:"traffic"`
	Summary    HealthSummary     `json:"summary"`
	Findings   []Finding         `json:"findings"`
	Brokers    []BrokerHealth    `json:"brokers"`
	Partitions []PartitionHealth `json:"partitions"`
	Racks      RackHealth        `json:"racks"`
	Retention  []TopicRetention  `json:"retention"`
	Elections  Elections         `json:"elections"`
	// Events are the changes the window's polls saw, newest first
	// (at most MaxHealthEvents; EventsTotal counts them all).
	Events      []inspect.Event `json:"events"`
	EventsTotal int             `json:"events_total"`
	// Errors are what the last poll could not learn.
	Errors []inspect.Error `json:"errors,omitempty"`
}

// MaxHealthEvents bounds the events a health view lists.
const MaxHealthEvents = 500

// HealthSummary is the one-screen answer.
type HealthSummary struct {
	Brokers   int `json:"brokers"`
	BrokersUp int `json:"brokers_up"`
	Topics    int `json:"topics"`
	// Partitions counts every partition; ByTier those in each tier,
	// counted as the brokers count them (a partition at min ISR is
	// under-replicated too; "ok" counts those in no other).
	Partitions int            `json:"partitions"`
	ByTier     map[string]int `json:"by_tier"`
	// Worst is the worst tier of any partition.
	Worst              string `json:"worst"`
	OfflineLogDirs     int    `json:"offline_log_dirs"`
	NotPreferredLeader int    `json:"partitions_not_preferred_leader"`
	RackConflicts      int    `json:"partitions_rack_conflict"`
	// LeaderImbalancePct is the most any broker's leader count is off
	// the mean of the brokers up, in percent.
	LeaderImbalancePct float64 `json:"leader_imbalance_pct"`
}

// Finding is one thing an operator should know, worst first.
type Finding struct {
	// Severity is "page" (act now: data at risk or producers refused),
	// "warning" (one more failure from trouble) or "info".
	Severity string `json:"severity"`
	Kind     string `json:"kind"`
	// What names the broker, topic and partitions; Do what to do.
	What      string `json:"what"`
	Do        string `json:"do"`
	Broker    *int32 `json:"broker,omitempty"`
	Topic     string `json:"topic,omitempty"`
	Partition *int32 `json:"partition,omitempty"`
	// Count is how many partitions (or brokers) it is about.
	Count int `json:"count"`
}

// Finding severities, from the worst.
var Severities = []string{"page", "warning", "info"}

// BrokerHealth is one broker's row.
type BrokerHealth struct {
	ID    int32     `json:"id"`
	Host  string    `json:"host,omitempty"`
	Port  int32     `json:"port"`
	Rack  string    `json:"rack,omitempty"`
	State string    `json:"state"`
	Since time.Time `json:"since"`
	// Controller says the cluster names it controller.
	Controller bool `json:"controller,omitempty"`
	// Leaders and Replicas count the partitions it leads and holds;
	// Preferred those it is the preferred leader of, and
	// PreferredNotLeading those of them it does not lead.
	Leaders             int `json:"leaders"`
	Replicas            int `json:"replicas"`
	Preferred           int `json:"preferred"`
	PreferredNotLeading int `json:"preferred_not_leading"`
	// LeaderSkewPct is how far its leader count is off the mean of the
	// brokers up, in percent (+ more, - fewer).
	LeaderSkewPct float64 `json:"leader_skew_pct"`
	// Bytes sums its replicas' sizes on disk, -1 when not learned.
	Bytes          int64            `json:"bytes"`
	LogDirs        []inspect.LogDir `json:"log_dirs,omitempty"`
	OfflineLogDirs int              `json:"offline_log_dirs"`
	// Elections counts the leader elections that made it leader in the
	// window.
	Elections uint64 `json:"elections"`
	// ProduceBytesPerSec and FetchBytesPerSec are what clients wrote to
	// and read from it, from the traffic (nil without, or when the
	// traffic did not reach it at the address it advertises).
	ProduceBytesPerSec *float64 `json:"produce_bytes_per_sec,omitempty"`
	FetchBytesPerSec   *float64 `json:"fetch_bytes_per_sec,omitempty"`
}

// PartitionHealth is one partition's replication.
type PartitionHealth struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Tier is the worst tier it is in, InTiers all of them.
	Tier    string   `json:"tier"`
	InTiers []string `json:"in_tiers"`
	Leader  int32    `json:"leader"`
	Epoch   int32    `json:"leader_epoch"`
	// Replicas are the assigned replicas, the preferred leader first;
	// Missing those out of the ISR.
	Replicas []int32 `json:"replicas"`
	ISR      []int32 `json:"isr"`
	Missing  []int32 `json:"missing"`
	Adding   []int32 `json:"adding,omitempty"`
	Removing []int32 `json:"removing,omitempty"`
	// MinISR is the effective min.insync.replicas (0: not learned).
	MinISR int `json:"min_insync_replicas"`
	// Since is the first poll that saw it in its tier.
	Since time.Time `json:"since"`
	// NotPreferred says its leader is not its preferred replica.
	NotPreferred bool `json:"not_preferred_leader,omitempty"`
}

// RackHealth says which partitions a rack failure would cost two copies.
type RackHealth struct {
	// Racks are the brokers of each rack.
	Racks map[string][]int32 `json:"racks"`
	// NoRack are the brokers that have none.
	NoRack []int32 `json:"no_rack"`
	// Conflicts are partitions with two or more replicas in one rack
	// (at most MaxRackConflicts; ConflictsTotal counts them all).
	Conflicts      []RackConflict `json:"conflicts"`
	ConflictsTotal int            `json:"conflicts_total"`
}

// MaxRackConflicts bounds the rack conflicts listed.
const MaxRackConflicts = 1000

// RackConflict is a partition with replicas sharing a rack.
type RackConflict struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Rack      string  `json:"rack"`
	Brokers   []int32 `json:"brokers"`
}

// TopicRetention is how long a topic's log really covers, against what
// its configs say.
type TopicRetention struct {
	Topic         string `json:"topic"`
	CleanupPolicy string `json:"cleanup_policy"`
	// RetentionMs is retention.ms (-1: no limit), RetentionBytes
	// retention.bytes per partition (-1: no limit), each with where it
	// is set: "topic", "broker" or "default".
	RetentionMs    int64  `json:"retention_ms"`
	MsSource       string `json:"retention_ms_source"`
	RetentionBytes int64  `json:"retention_bytes"`
	BytesSource    string `json:"retention_bytes_source"`
	// Limits is "both", "time-only", "size-only" or "none".
	Limits     string `json:"limits"`
	Partitions int    `json:"partitions"`
	// SizeBytes sums the partitions' sizes; MaxSizePct is the fullest
	// partition's size against retention.bytes (above 100: deleting by
	// size).
	SizeBytes  int64    `json:"size_bytes"`
	MaxSizePct *float64 `json:"max_size_pct,omitempty"`
	// CoveredSeconds is the least time any partition's log covers
	// (now - its oldest batch's timestamp).
	CoveredSeconds *float64 `json:"covered_seconds,omitempty"`
	// ProduceBytesPerSec is what producers write to it; RateSource
	// "traffic" or "log growth".
	ProduceBytesPerSec *float64 `json:"produce_bytes_per_sec,omitempty"`
	RateSource         string   `json:"rate_source,omitempty"`
	// SizeLimitCoversSeconds is the time retention.bytes holds at that
	// rate, per partition; SizeDeletionInSeconds how long until
	// size-based deletion starts cutting into retention.ms (0: it
	// does now). Nil when the size limit does not bite first.
	SizeLimitCoversSeconds *float64             `json:"size_limit_covers_seconds,omitempty"`
	SizeDeletionInSeconds  *float64             `json:"size_deletion_in_seconds,omitempty"`
	PartitionRows          []PartitionRetention `json:"partition_rows,omitempty"`
}

// PartitionRetention is one partition's share of its topic's retention.
type PartitionRetention struct {
	Partition      int32      `json:"partition"`
	SizeBytes      int64      `json:"size_bytes"`
	SizePct        *float64   `json:"size_pct,omitempty"`
	Oldest         *time.Time `json:"oldest,omitempty"`
	CoveredSeconds *float64   `json:"covered_seconds,omitempty"`
}

// Elections are the leader elections the window's polls saw, by the
// broker elected and by topic (leader epoch increases).
type Elections struct {
	Total      uint64            `json:"total"`
	PerMinute  *float64          `json:"per_minute,omitempty"`
	ByBroker   map[string]uint64 `json:"by_broker"`
	ByTopic    map[string]uint64 `json:"by_topic"`
	Unclean    uint64            `json:"unclean_suspected"`
	ISRShrinks uint64            `json:"isr_shrinks"`
	ISRExpands uint64            `json:"isr_expands"`
}

// LeaderSkewWarn is the leader skew, in percent of the mean, past which
// a broker leads too many or too few partitions (Kafka's own rebalancer
// acts on 10% of a broker's preferred partitions not led by it).
const LeaderSkewWarn = 25.0

// Health computes the cluster's safety from in.Cluster (the last poll,
// and the window's for events and elections) and, when there is
// traffic, what each broker and topic serves.
func Health(in Input, f HealthFilter) HealthView {
	v := HealthView{From: in.Window.From, To: in.Window.To, Controller: -1, Polls: len(in.Cluster),
		Findings: []Finding{}, Brokers: []BrokerHealth{}, Partitions: []PartitionHealth{}, Retention: []TopicRetention{},
		Events: []inspect.Event{}, Racks: RackHealth{Racks: map[string][]int32{}, NoRack: []int32{}, Conflicts: []RackConflict{}},
		Summary:   HealthSummary{ByTier: map[string]int{}},
		Elections: Elections{ByBroker: map[string]uint64{}, ByTopic: map[string]uint64{}}}
	if len(in.Cluster) == 0 {
		return v
	}
	first, last := &in.Cluster[0], &in.Cluster[len(in.Cluster)-1]
	v.AsOf, v.ClusterID, v.Controller, v.KRaft, v.Errors = last.Time, last.ClusterID, last.Controller, last.KRaft, last.Errors
	if v.KRaft {
		v.ControllerNote = "KRaft: the brokers name a random live broker as controller; the active controller is known only on the controllers' listener"
	}
	var traffic *OverviewView
	if in.Overview != nil || len(in.Exchanges) > 0 {
		o := Overview(in, OverviewFilter{})
		traffic, v.Traffic = &o, true
	}
	h := healthAgg{v: &v, last: last, f: f}
	h.brokers(traffic)
	h.partitions()
	h.retention(in.Cluster, traffic)
	h.elections(first, last, in.Window)
	h.events(in.Cluster)
	h.findings()
	return v
}

type healthAgg struct {
	v    *HealthView
	last *inspect.Snapshot
	f    HealthFilter
	// brokers by id, into v.Brokers.
	brokers_ map[int32]*BrokerHealth
}

func (h *healthAgg) brokers(traffic *OverviewView) {
	v, s := h.v, h.last
	for _, b := range s.Brokers {
		row := BrokerHealth{ID: b.ID, Host: b.Host, Port: b.Port, Rack: b.Rack, State: b.State, Since: b.Since,
			Controller: b.ID == s.Controller, LogDirs: b.LogDirs, Bytes: -1}
		for _, d := range b.LogDirs {
			if d.Error != "" {
				row.OfflineLogDirs++
				continue
			}
			row.Bytes = max(row.Bytes, 0) + d.Bytes
		}
		if traffic != nil && b.Host != "" {
			// The traffic names brokers by the address connected to:
			// a broker whose advertised name is not that address, or
			// that nobody talked to, shows no rate rather than 0.
			addr := net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
			if i := slices.IndexFunc(traffic.Brokers, func(r BrokerRow) bool { return r.Broker == addr }); i >= 0 {
				in, out := traffic.Brokers[i].BytesInPerSec, traffic.Brokers[i].BytesOutPerSec
				row.ProduceBytesPerSec, row.FetchBytesPerSec = &in, &out
			}
		}
		v.Brokers = append(v.Brokers, row)
		v.Summary.Brokers++
		if b.Up() {
			v.Summary.BrokersUp++
		}
		v.Summary.OfflineLogDirs += row.OfflineLogDirs
		if b.Rack == "" {
			v.Racks.NoRack = append(v.Racks.NoRack, b.ID)
		} else {
			v.Racks.Racks[b.Rack] = append(v.Racks.Racks[b.Rack], b.ID)
		}
	}
	h.brokers_ = map[int32]*BrokerHealth{}
	for i := range v.Brokers {
		h.brokers_[v.Brokers[i].ID] = &v.Brokers[i]
	}
}

func (h *healthAgg) partitions() {
	v, s := h.v, h.last
	rack := map[int32]string{}
	for _, b := range s.Brokers {
		if b.Rack != "" {
			rack[b.ID] = b.Rack
		}
	}
	if h.f.All {
		n := 0
		for ti := range s.Topics {
			n += len(s.Topics[ti].Partitions)
		}
		v.Partitions = make([]PartitionHealth, 0, n)
	}
	for ti := range s.Topics {
		t := &s.Topics[ti]
		v.Summary.Topics++
		for pi := range t.Partitions {
			p := &t.Partitions[pi]
			v.Summary.Partitions++
			tier := p.Tier
			if tier == "" {
				tier = inspect.TierOf(t, p)
			}
			if slices.Index(inspect.Tiers, tier) > slices.Index(inspect.Tiers, v.Summary.Worst) {
				v.Summary.Worst = tier
			}
			var in []string
			for _, x := range inspect.Tiers {
				if inspect.InTier(t, p, x) {
					in = append(in, x)
					v.Summary.ByTier[x]++
				}
			}
			notPreferred := p.Leader >= 0 && len(p.Replicas) > 0 && p.Leader != p.Replicas[0]
			if notPreferred {
				v.Summary.NotPreferredLeader++
			}
			if b := h.brokers_[p.Leader]; b != nil {
				b.Leaders++
			}
			for i, r := range p.Replicas {
				if b := h.brokers_[r]; b != nil {
					b.Replicas++
					if i == 0 {
						b.Preferred++
						if notPreferred {
							b.PreferredNotLeading++
						}
					}
				}
			}
			// Racks: the first rack two replicas share (a partition
			// has a few replicas: no map needed).
		racks:
			for i, r := range p.Replicas {
				rk, ok := rack[r]
				if !ok {
					continue
				}
				for _, o := range p.Replicas[i+1:] {
					if rack[o] != rk {
						continue
					}
					v.Racks.ConflictsTotal++
					if len(v.Racks.Conflicts) < MaxRackConflicts {
						var bs []int32
						for _, x := range p.Replicas {
							if rack[x] == rk {
								bs = append(bs, x)
							}
						}
						v.Racks.Conflicts = append(v.Racks.Conflicts, RackConflict{Topic: t.Name, Partition: p.Partition, Rack: rk, Brokers: bs})
					}
					break racks
				}
			}
			keep := h.f.All
			switch {
			case h.f.Topic != "" && h.f.Topic != t.Name:
				keep = false
			case h.f.Tier != "":
				keep = slices.Contains(in, h.f.Tier)
			case !keep:
				keep = tier != inspect.TierOK
			}
			if !keep {
				continue
			}
			missing := p.Missing()
			if missing == nil {
				missing = []int32{}
			}
			v.Partitions = append(v.Partitions, PartitionHealth{
				Topic: t.Name, Partition: p.Partition, Tier: tier, InTiers: in, Leader: p.Leader, Epoch: p.LeaderEpoch,
				Replicas: nonNilIDs(p.Replicas), ISR: nonNilIDs(p.ISR), Missing: missing, Adding: p.Adding, Removing: p.Removing,
				MinISR: t.EffectiveMinISR(p), Since: p.TierSince, NotPreferred: notPreferred,
			})
		}
	}
	v.Summary.RackConflicts = v.Racks.ConflictsTotal
	if v.Summary.Worst == "" {
		v.Summary.Worst = inspect.TierOK
	}
	// Worst first: tier, then since (oldest first), then name.
	slices.SortFunc(v.Partitions, func(a, b PartitionHealth) int {
		return cmp.Or(cmp.Compare(slices.Index(inspect.Tiers, b.Tier), slices.Index(inspect.Tiers, a.Tier)),
			a.Since.Compare(b.Since), strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	// Leader balance among the brokers up.
	up, leaders := 0, 0
	for _, b := range v.Brokers {
		if b.State == inspect.BrokerUp {
			up++
			leaders += b.Leaders
		}
	}
	if up > 0 && leaders > 0 {
		mean := float64(leaders) / float64(up)
		for i := range v.Brokers {
			b := &v.Brokers[i]
			if b.State != inspect.BrokerUp {
				continue
			}
			b.LeaderSkewPct = (float64(b.Leaders) - mean) / mean * 100
			v.Summary.LeaderImbalancePct = max(v.Summary.LeaderImbalancePct, math.Abs(b.LeaderSkewPct))
		}
	}
}

func nonNilIDs(ids []int32) []int32 {
	if ids == nil {
		return []int32{}
	}
	return ids
}

// retention computes each topic's coverage; the rates come from the
// traffic, else from the logs' growth between the window's first and
// last polls (where nothing was deleted meanwhile).
func (h *healthAgg) retention(polls []inspect.Snapshot, traffic *OverviewView) {
	v, s := h.v, h.last
	first := &polls[0]
	grown := map[string]float64{} // bytes/s by topic
	if traffic == nil && first != s {
		secs := s.Time.Sub(first.Time).Seconds()
		for ti := range s.Topics {
			t := &s.Topics[ti]
			var was *inspect.Topic
			for i := range first.Topics {
				if first.Topics[i].Name == t.Name {
					was = &first.Topics[i]
				}
			}
			if was == nil || secs <= 0 {
				continue
			}
			var sum float64
			ok := true
			for pi := range t.Partitions {
				p := &t.Partitions[pi]
				i := slices.IndexFunc(was.Partitions, func(o inspect.Partition) bool { return o.Partition == p.Partition })
				if i < 0 || p.SizeBytes < 0 || was.Partitions[i].SizeBytes < 0 || was.Partitions[i].LogStartOffset != p.LogStartOffset {
					ok = false
					break
				}
				sum += float64(p.SizeBytes - was.Partitions[i].SizeBytes)
			}
			if ok {
				grown[t.Name] = max(sum, 0) / secs
			}
		}
	}
	for ti := range s.Topics {
		t := &s.Topics[ti]
		if t.Internal || (h.f.Topic != "" && h.f.Topic != t.Name) {
			continue
		}
		r := t.Retention
		row := TopicRetention{Topic: t.Name, CleanupPolicy: r.CleanupPolicy, RetentionMs: r.Ms, MsSource: r.MsSource,
			RetentionBytes: r.Bytes, BytesSource: r.BytesSource, Partitions: len(t.Partitions)}
		switch {
		case !r.Known:
			row.Limits = ""
		case !r.Deletes():
			row.Limits = "none"
		case r.Ms > 0 && r.Bytes > 0:
			row.Limits = "both"
		case r.Ms > 0:
			row.Limits = "time-only"
		case r.Bytes > 0:
			row.Limits = "size-only"
		default:
			row.Limits = "none"
		}
		var maxSize int64 = -1
		for pi := range t.Partitions {
			p := &t.Partitions[pi]
			pr := PartitionRetention{Partition: p.Partition, SizeBytes: p.SizeBytes}
			if p.SizeBytes >= 0 {
				row.SizeBytes += p.SizeBytes
				maxSize = max(maxSize, p.SizeBytes)
				if r.Bytes > 0 {
					pct := float64(p.SizeBytes) / float64(r.Bytes) * 100
					pr.SizePct = &pct
					if row.MaxSizePct == nil || pct > *row.MaxSizePct {
						row.MaxSizePct = &pct
					}
				}
			}
			if p.LogStartOffset >= 0 && p.HighWatermark > p.LogStartOffset {
				if b, ok := p.BatchAt(p.LogStartOffset); ok && !b.MaxTimestamp.IsZero() {
					at := b.MaxTimestamp
					covered := max(s.Time.Sub(at).Seconds(), 0)
					pr.Oldest, pr.CoveredSeconds = &at, &covered
					if row.CoveredSeconds == nil || covered < *row.CoveredSeconds {
						row.CoveredSeconds = &covered
					}
				}
			}
			row.PartitionRows = append(row.PartitionRows, pr)
		}
		var rate float64
		if traffic != nil {
			for _, tr := range traffic.Topics {
				if tr.Name == t.Name {
					rate = tr.BytesInPerSec
				}
			}
			row.ProduceBytesPerSec, row.RateSource = &rate, "traffic"
		} else if g, ok := grown[t.Name]; ok {
			rate = g
			row.ProduceBytesPerSec, row.RateSource = &rate, "log growth"
		}
		// Per partition, as if the rate spread evenly: the fullest
		// partition is the one that reaches the limit first.
		if r.Deletes() && r.Bytes > 0 && rate > 0 && len(t.Partitions) > 0 {
			per := rate / float64(len(t.Partitions))
			covers := float64(r.Bytes) / per
			row.SizeLimitCoversSeconds = &covers
			if r.Ms <= 0 || covers < float64(r.Ms)/1000 {
				in := 0.0
				if maxSize >= 0 && maxSize < r.Bytes {
					in = float64(r.Bytes-maxSize) / per
				}
				row.SizeDeletionInSeconds = &in
			}
		}
		v.Retention = append(v.Retention, row)
	}
}

// elections are the changes counted between the window's first and last
// polls.
func (h *healthAgg) elections(first, last *inspect.Snapshot, w Window) {
	e := &h.v.Elections
	a, b := first.Changes, last.Changes
	for id, n := range b.LeaderElections {
		if d := n - a.LeaderElections[id]; d > 0 {
			e.ByBroker[strconv.Itoa(int(id))] = d
			e.Total += d
			if br := h.brokers_[id]; br != nil {
				br.Elections = d
			}
		}
	}
	for t, n := range b.LeaderElectionsByTopic {
		if d := n - a.LeaderElectionsByTopic[t]; d > 0 {
			e.ByTopic[t] = d
		}
	}
	for _, n := range b.ISRShrinks {
		e.ISRShrinks += n
	}
	for _, n := range a.ISRShrinks {
		e.ISRShrinks -= n
	}
	for _, n := range b.ISRExpands {
		e.ISRExpands += n
	}
	for _, n := range a.ISRExpands {
		e.ISRExpands -= n
	}
	e.Unclean = b.UncleanSuspected - a.UncleanSuspected
	if secs := last.Time.Sub(first.Time).Seconds(); secs > 0 {
		pm := float64(e.Total) / secs * 60
		e.PerMinute = &pm
	}
}

func (h *healthAgg) events(polls []inspect.Snapshot) {
	v := h.v
	// The first poll's events happened before the window's span of
	// polls, but are in the window: they count.
	for i := len(polls) - 1; i >= 0; i-- {
		evs := polls[i].Events
		for j := len(evs) - 1; j >= 0; j-- {
			if h.f.Topic != "" && evs[j].Topic != "" && evs[j].Topic != h.f.Topic {
				continue
			}
			v.EventsTotal++
			if len(v.Events) < MaxHealthEvents {
				v.Events = append(v.Events, evs[j])
			}
		}
	}
}

// findings lists what an operator should know, worst first.
func (h *healthAgg) findings() {
	v, s := h.v, h.last
	add := func(f Finding) { v.Findings = append(v.Findings, f) }
	i32 := func(x int32) *int32 { return &x }

	// Replication tiers: one finding per tier, naming the worst
	// partitions and the brokers they miss.
	tierFinding := map[string]struct{ sev, what, do string }{
		inspect.TierOffline: {"page", "offline (no leader): nobody can produce to or consume from them",
			"bring back a broker among their replicas; if none of the last ISR can come back, only an unclean leader election brings them back, losing the records only the ISR had"},
		inspect.TierUnderMinISR: {"page", "under min.insync.replicas: producers with acks=all are refused (NOT_ENOUGH_REPLICAS) now",
			"bring the missing brokers back; lowering min.insync.replicas keeps producers going at the cost of durability"},
		inspect.TierAtMinISR: {"warning", "at min.insync.replicas: one more broker lost and producers with acks=all are refused",
			"bring the missing brokers back before restarting or stopping any other"},
		inspect.TierUnderReplicated: {"warning", "under-replicated: one copy or more missing",
			"find why the missing brokers fell out of the ISR (down, slow disk, network); do not restart the brokers still in sync meanwhile"},
	}
	for i := len(inspect.Tiers) - 1; i > 0; i-- {
		tier := inspect.Tiers[i]
		n := v.Summary.ByTier[tier]
		if n == 0 {
			continue
		}
		tf := tierFinding[tier]
		var examples []string
		missing := map[int32]int{}
		var firstTopic string
		var firstPart *int32
		for ti := range s.Topics {
			t := &s.Topics[ti]
			for pi := range t.Partitions {
				p := &t.Partitions[pi]
				if !inspect.InTier(t, p, tier) {
					continue
				}
				for _, m := range p.Missing() {
					missing[m]++
				}
				if len(examples) < 3 {
					examples = append(examples, fmt.Sprintf("%s/%d (ISR %v of %v)", t.Name, p.Partition, p.ISR, p.Replicas))
				}
				if firstPart == nil {
					firstTopic, firstPart = t.Name, i32(p.Partition)
				}
			}
		}
		what := fmt.Sprintf("%d partition%s %s: %s", n, plural(n), tf.what, strings.Join(examples, ", "))
		if n > len(examples) {
			what += ", ..."
		}
		if len(missing) > 0 {
			var ms []string
			for _, id := range slices.Sorted(maps.Keys(missing)) {
				ms = append(ms, fmt.Sprintf("broker %d (%d)", id, missing[id]))
			}
			what += "; missing from the ISR: " + strings.Join(ms, ", ")
		}
		f := Finding{Severity: tf.sev, Kind: tier, What: what, Do: tf.do, Count: n, Topic: firstTopic, Partition: firstPart}
		if len(missing) == 1 {
			for id := range missing {
				f.Broker = i32(id)
			}
		}
		add(f)
	}
	for _, e := range v.Events {
		if e.Kind == inspect.EventUnclean {
			add(Finding{Severity: "page", Kind: "unclean-election", What: e.Detail + " (" + e.Time.Format(time.TimeOnly) + ")",
				Do:     "check unclean.leader.election.enable and what the producers of this partition lost; compare offsets with the consumers' commits",
				Broker: i32(e.Broker), Topic: e.Topic, Partition: i32(e.Partition), Count: 1})
		}
	}
	for _, b := range v.Brokers {
		switch b.State {
		case inspect.BrokerMissing, inspect.BrokerFenced:
			where := ""
			if b.Host != "" {
				where = fmt.Sprintf(" (%s:%d", b.Host, b.Port)
				if b.Rack != "" {
					where += ", rack " + b.Rack
				}
				where += ")"
			}
			add(Finding{Severity: "warning", Kind: "broker-" + b.State, Broker: i32(b.ID), Count: 1,
				What: fmt.Sprintf("broker %d%s is %s since %s; %d replicas are assigned to it", b.ID, where, b.State, b.Since.Format(time.TimeOnly), b.Replicas),
				Do:   "bring it back, or reassign its replicas if it is gone for good"})
		}
		for _, d := range b.LogDirs {
			if d.Error != "" {
				add(Finding{Severity: "warning", Kind: "log-dir-offline", Broker: i32(b.ID), Count: 1,
					What: fmt.Sprintf("broker %d: log directory %s is offline (%s): its replicas there are offline", b.ID, d.Dir, d.Error),
					Do:   "replace the disk and restart the broker; its replicas are fetched again from the leaders"})
			}
		}
	}
	if n := v.Racks.ConflictsTotal; n > 0 {
		c := v.Racks.Conflicts[0]
		what := fmt.Sprintf("%d partition%s two or more replicas in one rack: losing rack %s costs %s/%d %d copies (brokers %s)",
			n, plural(n)+map[bool]string{true: " has", false: " have"}[n == 1], c.Rack, c.Topic, c.Partition, len(c.Brokers), joinIDs(c.Brokers))
		do := "spread each partition's replicas over racks (then reassign them): one rack failure must not cost two copies"
		if len(v.Racks.Racks) == 1 && len(v.Racks.NoRack) == 0 {
			what = fmt.Sprintf("every broker is in rack %s: losing it loses every copy of all %d partitions", c.Rack, n)
			do = "run brokers in more racks (zones) than a partition has replicas, and set broker.rack on each"
		}
		add(Finding{Severity: "warning", Kind: "rack-conflict", Count: n, Topic: c.Topic, Partition: i32(c.Partition), What: what, Do: do})
	}
	if len(v.Racks.Racks) > 0 && len(v.Racks.NoRack) > 0 {
		add(Finding{Severity: "info", Kind: "no-rack", Count: len(v.Racks.NoRack),
			What: fmt.Sprintf("brokers %v have no rack while others do: Kafka cannot place their replicas apart", v.Racks.NoRack),
			Do:   "set broker.rack on every broker"})
	} else if len(v.Racks.Racks) == 0 && len(v.Brokers) > 1 {
		add(Finding{Severity: "info", Kind: "no-rack", Count: len(v.Racks.NoRack),
			What: "no broker has a rack: nothing keeps a partition's replicas out of one failure domain",
			Do:   "set broker.rack to each broker's rack, zone or data centre"})
	}
	worst := BrokerHealth{}
	for _, b := range v.Brokers {
		if math.Abs(b.LeaderSkewPct) > math.Abs(worst.LeaderSkewPct) {
			worst = b
		}
	}
	// A skew of one or two leaders is no imbalance, whatever its
	// percentage on a small cluster.
	if mean := float64(worst.Leaders) / (1 + worst.LeaderSkewPct/100); math.Abs(worst.LeaderSkewPct) > LeaderSkewWarn && math.Abs(float64(worst.Leaders)-mean) > 2 {
		add(Finding{Severity: "info", Kind: "leader-imbalance", Broker: i32(worst.ID), Count: worst.Leaders,
			What: fmt.Sprintf("broker %d leads %d partitions, %+.0f%% off the mean: leaders do the most work (produce, fetch, replication)", worst.ID, worst.Leaders, worst.LeaderSkewPct),
			Do:   "run a preferred leader election (kafka-leader-election --election-type PREFERRED), or reassign if the preferred replicas themselves are lopsided"})
	}
	if n := v.Summary.NotPreferredLeader; n > 0 {
		add(Finding{Severity: "info", Kind: "not-preferred-leader", Count: n,
			What: fmt.Sprintf("%d partition%s not led by the preferred replica", n, plural(n)+areIs(n)),
			Do:   "a preferred leader election moves them back (auto.leader.rebalance.enable does it every leader.imbalance.check.interval.seconds)"})
	}
	var timeOnly []string
	for _, r := range v.Retention {
		switch r.Limits {
		case "size-only":
			add(Finding{Severity: "warning", Kind: "retention-size-only", Topic: r.Topic, Count: 1,
				What: fmt.Sprintf("topic %s is kept by size only (retention.bytes %s per partition, retention.ms unlimited): more traffic means less time kept", r.Topic, Bytes(r.RetentionBytes)),
				Do:   "set retention.ms too, to the time its consumers need to be able to replay"})
		case "time-only":
			timeOnly = append(timeOnly, r.Topic)
		}
		if r.SizeDeletionInSeconds != nil && r.RetentionMs > 0 {
			what := fmt.Sprintf("topic %s: at %s/s, retention.bytes (%s per partition) holds %s, less than retention.ms %s",
				r.Topic, Bytes(int64(*r.ProduceBytesPerSec)), Bytes(r.RetentionBytes), Seconds(*r.SizeLimitCoversSeconds), Seconds(float64(r.RetentionMs)/1000))
			if *r.SizeDeletionInSeconds == 0 {
				what += ": deleting by size now"
			} else {
				what += fmt.Sprintf(": size-based deletion starts in %s", Seconds(*r.SizeDeletionInSeconds))
			}
			if r.CoveredSeconds != nil {
				what += fmt.Sprintf(" (the log covers %s)", Seconds(*r.CoveredSeconds))
			}
			add(Finding{Severity: "warning", Kind: "retention-by-size", Topic: r.Topic, Count: 1, What: what,
				Do: "raise retention.bytes (kscope retention bump " + r.Topic + " --bytes ...), or add partitions or disk"})
		}
	}
	if n := len(timeOnly); n > 0 {
		ex := timeOnly[:min(n, 3)]
		what := fmt.Sprintf("%d topic%s kept by time only (retention.bytes unlimited): %s", n, plural(n)+areIs(n), strings.Join(ex, ", "))
		if n > len(ex) {
			what += ", ..."
		}
		add(Finding{Severity: "info", Kind: "retention-time-only", Count: n, What: what + ": a traffic surge fills the disk",
			Do: "set retention.bytes too, above what retention.ms holds at peak traffic"})
	}
	failed := map[int32][]string{}
	for _, e := range s.Errors {
		failed[e.Broker] = append(failed[e.Broker], e.Request+": "+e.Error)
	}
	for _, id := range slices.Sorted(maps.Keys(failed)) {
		who := fmt.Sprintf("broker %d", id)
		if id < 0 {
			who = "the cluster"
		}
		msgs := failed[id]
		what := fmt.Sprintf("%s did not answer kscope: %s", who, strings.Join(msgs[:min(len(msgs), 2)], "; "))
		if len(msgs) > 2 {
			what += fmt.Sprintf(" (and %d more)", len(msgs)-2)
		}
		f := Finding{Severity: "warning", Kind: "inspector-error", Count: len(msgs), What: what,
			Do: "check the broker and kscope's access to it (network, TLS, SASL, ACLs: Describe on the cluster and topics, DescribeConfigs)"}
		if id >= 0 {
			f.Broker = i32(id)
		}
		add(f)
	}
	slices.SortStableFunc(v.Findings, func(a, b Finding) int {
		return cmp.Compare(slices.Index(Severities, a.Severity), slices.Index(Severities, b.Severity))
	})
}

func areIs(n int) string {
	if n == 1 {
		return " is"
	}
	return " are"
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Bytes says n bytes as a person reads it: 1.5 GiB.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Seconds says a duration in seconds as a person reads it: 2h30m, 45s.
func Seconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%.1fd", d.Hours()/24)
	case d >= time.Hour:
		return d.Truncate(time.Minute).String()
	case d >= time.Minute:
		return d.Truncate(time.Second).String()
	}
	return d.Truncate(100 * time.Millisecond).String()
}

func joinIDs(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(int(id))
	}
	return strings.Join(s, ",")
}
