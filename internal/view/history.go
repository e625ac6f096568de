package view

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"kscope/internal/inspect"
)

// History views: the same facts as the overview and the lag, over time,
// for charts. Each is computed from what the other views read; none has a
// way of its own.

// RequestHistory is request latency and counts per API and broker, one
// point per step.
type RequestHistory struct {
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	StepSeconds float64   `json:"step_seconds"`
	// ResolutionSeconds is the longest part of the agent's store a point
	// merged (1, 10 or 60): a step is never finer.
	ResolutionSeconds float64         `json:"resolution_seconds"`
	Series            []RequestSeries `json:"series"`
}

// RequestSeries is one API at one broker over time.
type RequestSeries struct {
	API    string         `json:"api"`
	Broker string         `json:"broker"`
	Points []RequestPoint `json:"points"`
}

// RequestPoint is one step: its start, the requests that started in it,
// those with an error, and the latency quantiles of those answered (0
// when none was).
type RequestPoint struct {
	Time     time.Time `json:"time"`
	Requests int64     `json:"requests"`
	Errors   int64     `json:"errors"`
	P50      float64   `json:"p50_seconds"`
	P99      float64   `json:"p99_seconds"`
}

// MaxHistoryPoints bounds the points of a history series: a step finer
// than the window over this many is made coarser.
const MaxHistoryPoints = 360

// HistoryStep is the step a history over w uses when asked for step (0:
// about 60 points), whole seconds, at least min, at most
// MaxHistoryPoints points.
func HistoryStep(w Window, step, min time.Duration) time.Duration {
	span := w.To.Sub(w.From)
	if step <= 0 {
		step = span / 60
	}
	step = max(step, span/MaxHistoryPoints, min, time.Second)
	return step.Truncate(time.Second)
}

// RequestsOverTime builds the request history from one input per step,
// oldest first, each over its step (step returns them: the store merges
// its parts per step).
func RequestsOverTime(w Window, step time.Duration, steps []Input) RequestHistory {
	h := RequestHistory{From: w.From, To: w.To, StepSeconds: step.Seconds(), ResolutionSeconds: 1, Series: []RequestSeries{}}
	type key struct{ api, broker string }
	idx := map[key]int{}
	for i, in := range steps {
		o := Overview(in, OverviewFilter{})
		h.ResolutionSeconds = max(h.ResolutionSeconds, o.ResolutionSeconds)
		for _, r := range o.Latency.ByBroker {
			k := key{r.API, r.Broker}
			j, ok := idx[k]
			if !ok {
				j = len(h.Series)
				idx[k] = j
				h.Series = append(h.Series, RequestSeries{API: r.API, Broker: r.Broker, Points: make([]RequestPoint, len(steps))})
				for n := range steps {
					h.Series[j].Points[n].Time = steps[n].Window.From
				}
			}
			h.Series[j].Points[i] = RequestPoint{Time: in.Window.From, Requests: r.Requests, Errors: r.Errors, P50: r.P50, P99: r.P99}
		}
	}
	slices.SortFunc(h.Series, func(a, b RequestSeries) int {
		return cmp.Or(strings.Compare(a.API, b.API), strings.Compare(a.Broker, b.Broker))
	})
	return h
}

// LagHistory is each group's lag over the cluster's polls, worst groups
// first; a group's partitions only when one group is asked for.
type LagHistory struct {
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	Polls int       `json:"polls"`
	// Total counts the groups that matched; Groups are those from
	// Offset, at most Limit of them.
	Total  int              `json:"total"`
	Offset int              `json:"offset"`
	Groups []GroupLagSeries `json:"groups"`
}

// LagHistoryFilter says which groups, how many and how finely.
type LagHistoryFilter struct {
	Group, Topic string
	// Offset and Limit page the groups (Limit 0: DefaultLagHistoryLimit).
	Offset, Limit int
	// Points bounds each series (0: MaxHistoryPoints): polls beyond it
	// are skipped evenly, the last one always kept.
	Points int
}

// DefaultLagHistoryLimit is a page of groups.
const DefaultLagHistoryLimit = 50

// GroupLagSeries is one group's lag over time and its status now.
type GroupLagSeries struct {
	Group  string `json:"group"`
	State  string `json:"state"`
	Status string `json:"status"`
	Reason string `json:"reason"`
	// Points sum the offset lag and take the worst Append Lag and time
	// lag of the group's partitions at each poll.
	Points     []LagPoint           `json:"points"`
	Partitions []PartitionLagSeries `json:"partitions,omitempty"`
}

// PartitionLagSeries is one partition's lag for its group over time.
type PartitionLagSeries struct {
	Topic     string     `json:"topic"`
	Partition int32      `json:"partition"`
	Status    string     `json:"status"`
	Reason    string     `json:"reason"`
	Owner     *LagOwner  `json:"owner,omitempty"`
	Points    []LagPoint `json:"points"`
}

// LagPoint is the lag at one poll; a time the poll could not tell (no
// batch header read) is null.
type LagPoint struct {
	Time             time.Time `json:"time"`
	OffsetLag        int64     `json:"offset_lag"`
	AppendLagSeconds *float64  `json:"append_lag_seconds"`
	TimeLagSeconds   *float64  `json:"time_lag_seconds"`
}

// LagOverTime computes the lag history of in's polls: the statuses as the
// lag view judges them now, the points from each poll's own offsets and
// batch headers.
func LagOverTime(in Input, f LagHistoryFilter) LagHistory {
	if f.Limit <= 0 {
		f.Limit = DefaultLagHistoryLimit
	}
	if f.Points <= 0 {
		f.Points = MaxHistoryPoints
	}
	out := LagHistory{From: in.Window.From, To: in.Window.To, Polls: len(in.Cluster), Offset: f.Offset, Groups: []GroupLagSeries{}}
	now := Lag(in, LagFilter{Group: f.Group, Topic: f.Topic})
	groups := now.Groups
	slices.SortStableFunc(groups, func(a, b GroupLag) int {
		return cmp.Or(cmp.Compare(lagRank(b.Status), lagRank(a.Status)), cmp.Compare(orZero(b.MaxAppendLagSeconds), orZero(a.MaxAppendLagSeconds)),
			cmp.Compare(b.OffsetLag, a.OffsetLag), strings.Compare(a.Group, b.Group))
	})
	out.Total = len(groups)
	groups = groups[min(f.Offset, len(groups)):]
	groups = groups[:min(f.Limit, len(groups))]
	polls := thin(in.Cluster, f.Points)
	page := make(map[string]int, len(groups))
	wants := make([]map[tp]*PartitionLagSeries, len(groups))
	for gi, g := range groups {
		page[g.Group] = gi
		gs := GroupLagSeries{Group: g.Group, State: g.State, Status: g.Status, Reason: g.Reason, Points: make([]LagPoint, len(polls))}
		if f.Group != "" {
			gs.Partitions = make([]PartitionLagSeries, len(g.Partitions))
			for i, p := range g.Partitions {
				gs.Partitions[i] = PartitionLagSeries{Topic: p.Topic, Partition: p.Partition, Status: p.Status, Reason: p.Reason, Owner: p.Owner,
					Points: make([]LagPoint, len(polls))}
			}
		}
		out.Groups = append(out.Groups, gs)
	}
	for gi := range out.Groups {
		want := map[tp]*PartitionLagSeries{}
		for i := range out.Groups[gi].Partitions {
			p := &out.Groups[gi].Partitions[i]
			want[tp{p.Topic, p.Partition}] = p
		}
		wants[gi] = want
	}
	for i := range polls {
		s := &polls[i]
		for gi := range out.Groups {
			out.Groups[gi].Points[i].Time = s.Time
			for _, ps := range wants[gi] {
				ps.Points[i].Time = s.Time
			}
		}
		for _, grp := range s.Groups {
			gi, ok := page[grp.Group]
			if !ok {
				continue
			}
			gp := &out.Groups[gi].Points[i]
			for _, o := range grp.Offsets {
				if f.Topic != "" && o.Topic != f.Topic {
					continue
				}
				pt := snapshotPartition(s, o.Topic, o.Partition)
				if pt == nil || pt.HighWatermark < 0 {
					continue
				}
				p := lagAt(s.Time, pt, o.Committed)
				gp.OffsetLag += p.OffsetLag
				gp.AppendLagSeconds = maxPtr(gp.AppendLagSeconds, p.AppendLagSeconds)
				gp.TimeLagSeconds = maxPtr(gp.TimeLagSeconds, p.TimeLagSeconds)
				if ps := wants[gi][tp{o.Topic, o.Partition}]; ps != nil {
					ps.Points[i] = p
				}
			}
		}
	}
	return out
}

// lagAt is a partition's lag at one poll, from that poll's offsets and
// the batch headers it read.
func lagAt(at time.Time, pt *inspect.Partition, c int64) LagPoint {
	p := LagPoint{Time: at, OffsetLag: offsetLag(pt, c)}
	if p.OffsetLag == 0 {
		zero := 0.0
		p.AppendLagSeconds, p.TimeLagSeconds = &zero, &zero
		return p
	}
	latest, ok1 := pt.BatchAt(pt.HighWatermark - 1)
	committed, ok2 := pt.BatchAt(c - 1)
	if ok1 && ok2 && !latest.MaxTimestamp.IsZero() && !committed.MaxTimestamp.IsZero() {
		p.AppendLagSeconds = lagPtr(max(latest.MaxTimestamp.Sub(committed.MaxTimestamp).Seconds(), 0))
	}
	if next, ok := pt.BatchAt(c); ok && !next.MaxTimestamp.IsZero() {
		p.TimeLagSeconds = lagPtr(max(at.Sub(next.MaxTimestamp).Seconds(), 0))
	}
	return p
}

// thin keeps at most n of polls, evenly, the last always.
func thin(polls []inspect.Snapshot, n int) []inspect.Snapshot {
	if len(polls) <= n {
		return polls
	}
	out := make([]inspect.Snapshot, 0, n)
	for i := range n {
		out = append(out, polls[(len(polls)-1)-(n-1-i)*(len(polls)-1)/(n-1)])
	}
	return out
}

func snapshotPartition(s *inspect.Snapshot, topic string, p int32) *inspect.Partition {
	i, ok := slices.BinarySearchFunc(s.Topics, topic, func(t inspect.Topic, name string) int { return strings.Compare(t.Name, name) })
	if !ok {
		return nil
	}
	ps := s.Topics[i].Partitions
	j, ok := slices.BinarySearchFunc(ps, p, func(x inspect.Partition, n int32) int { return cmp.Compare(x.Partition, n) })
	if !ok {
		return nil
	}
	return &ps[j]
}

func orZero(f *float64) float64 {
	if f == nil {
		return 0
	}
	return *f
}
