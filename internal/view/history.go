package view

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"kscope/internal/inspect"
	"kscope/internal/store"
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
// about 60 points), whole seconds, at most MaxHistoryPoints points.
func HistoryStep(w Window, step time.Duration) time.Duration {
	span := w.To.Sub(w.From)
	if step <= 0 {
		step = span / 60
	}
	step = max(step, span/MaxHistoryPoints, time.Second)
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
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Polls counts the polls the points were computed from (a minute
	// rolled up counts its polls).
	Polls int `json:"polls"`
	// ResolutionSeconds is the coarsest the points were computed at: 60
	// where the agent's store had rolled a minute of polls up into one
	// point (at its last poll's time, each lag the worst of the
	// minute's), else the interval of the polls.
	ResolutionSeconds float64 `json:"resolution_seconds"`
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
	return lagOverTime(in, nil, f)
}

// LagOverStore is the lag history over w from the agent's store: the
// statuses from its recent snapshots as LagOverTime judges them, the
// points from the snapshots it still holds and, before the oldest, from
// its lag series (store.LagSeries: each poll for the last minutes, then
// minutes rolled up), which lasts far longer.
func LagOverStore(st *store.Store, w Window, f LagHistoryFilter) LagHistory {
	in := FromStore(st, w, LagNeeds)
	older := func(groups []string, partitions bool) []store.LagPoll {
		until := in.Window.To
		if len(in.Cluster) > 0 {
			until = in.Cluster[0].Time
		}
		return st.LagSeries(in.Window.From, until, groups, partitions)
	}
	return lagOverTime(in, older, f)
}

// lagSource is one point of a lag history: a full snapshot, or a point of
// the store's lag series.
type lagSource struct {
	at   time.Time
	snap *inspect.Snapshot
	poll *store.LagPoll
}

// lagOverTime is LagOverTime with the points before in's polls read from
// older (nil: none), for the page's groups only.
func lagOverTime(in Input, older func(groups []string, partitions bool) []store.LagPoll, f LagHistoryFilter) LagHistory {
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

	var sources []lagSource
	if older != nil && len(groups) > 0 {
		names := make([]string, len(groups))
		for i, g := range groups {
			names[i] = g.Group
		}
		// A topic filter sums the group's partitions of that topic
		// only: the rows are needed.
		polls := older(names, f.Group != "" || f.Topic != "")
		for i := range polls {
			sources = append(sources, lagSource{at: polls[i].Time, poll: &polls[i]})
			out.Polls += polls[i].Polls
			out.ResolutionSeconds = max(out.ResolutionSeconds, float64(polls[i].Seconds))
		}
	}
	for i := range in.Cluster {
		sources = append(sources, lagSource{at: in.Cluster[i].Time, snap: &in.Cluster[i]})
	}
	if out.ResolutionSeconds == 0 && len(sources) > 1 {
		// Single polls: as fine as they came.
		span := sources[len(sources)-1].at.Sub(sources[0].at)
		out.ResolutionSeconds = (span / time.Duration(len(sources)-1)).Round(time.Second).Seconds()
	}
	sources = thin(sources, f.Points)

	page := make(map[string]int, len(groups))
	wants := make([]map[tp]*PartitionLagSeries, len(groups))
	for gi, g := range groups {
		page[g.Group] = gi
		gs := GroupLagSeries{Group: g.Group, State: g.State, Status: g.Status, Reason: g.Reason, Points: make([]LagPoint, len(sources))}
		if f.Group != "" {
			gs.Partitions = make([]PartitionLagSeries, len(g.Partitions))
			for i, p := range g.Partitions {
				gs.Partitions[i] = PartitionLagSeries{Topic: p.Topic, Partition: p.Partition, Status: p.Status, Reason: p.Reason, Owner: p.Owner,
					Points: make([]LagPoint, len(sources))}
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
	// partition counts a partition's lag at point i in acc (when set)
	// and in its own series.
	partition := func(i, gi int, acc *inspect.GroupLag, p inspect.PartitionLag) {
		if f.Topic != "" && p.Topic != f.Topic {
			return
		}
		if acc != nil {
			acc.Add(p)
		}
		if ps := wants[gi][tp{p.Topic, p.Partition}]; ps != nil {
			ps.Points[i] = lagPoint(sources[i].at, p.OffsetLag, p.AppendLag, p.TimeLag)
		}
	}
	for i, src := range sources {
		for gi := range out.Groups {
			out.Groups[gi].Points[i].Time = src.at
			for _, ps := range wants[gi] {
				ps.Points[i].Time = src.at
			}
		}
		if s := src.snap; s != nil {
			for _, grp := range s.Groups {
				gi, ok := page[grp.Group]
				if !ok {
					continue
				}
				acc := inspect.GroupLag{AppendLag: inspect.UnknownLag, TimeLag: inspect.UnknownLag}
				for _, o := range grp.Offsets {
					if p, ok := s.LagOf(o.Topic, o.Partition, o.Committed); ok {
						partition(i, gi, &acc, p)
					}
				}
				out.Groups[gi].Points[i] = lagPoint(src.at, acc.OffsetLag, acc.AppendLag, acc.TimeLag)
			}
			continue
		}
		for _, g := range src.poll.Groups {
			gi, ok := page[g.Group]
			if !ok {
				continue
			}
			// The series' group values are over all its topics (and
			// over a rolled-up minute, the worst sum, not a sum of
			// the worst): summed again only for one topic.
			acc, sum := g, (*inspect.GroupLag)(nil)
			if f.Topic != "" {
				acc = inspect.GroupLag{AppendLag: inspect.UnknownLag, TimeLag: inspect.UnknownLag}
				sum = &acc
			}
			for _, p := range g.Partitions {
				partition(i, gi, sum, p)
			}
			out.Groups[gi].Points[i] = lagPoint(src.at, acc.OffsetLag, acc.AppendLag, acc.TimeLag)
		}
	}
	return out
}

// lagPoint is a lag at t as the API writes it: in seconds, null when not
// known.
func lagPoint(t time.Time, offset int64, appendLag, timeLag time.Duration) LagPoint {
	p := LagPoint{Time: t, OffsetLag: offset}
	if appendLag != inspect.UnknownLag {
		p.AppendLagSeconds = lagPtr(appendLag.Seconds())
	}
	if timeLag != inspect.UnknownLag {
		p.TimeLagSeconds = lagPtr(timeLag.Seconds())
	}
	return p
}

// thin keeps at most n of xs, evenly, the last always.
func thin[T any](xs []T, n int) []T {
	if len(xs) <= n {
		return xs
	}
	out := make([]T, 0, n)
	for i := range n {
		out = append(out, xs[(len(xs)-1)-(n-1-i)*(len(xs)-1)/(n-1)])
	}
	return out
}

func orZero(f *float64) float64 {
	if f == nil {
		return 0
	}
	return *f
}
