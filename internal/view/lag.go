package view

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/inspect"
)

// The lag view is consumer lag as the cluster itself tells it: committed
// offsets, log ends and the append times of records read from the log,
// polled by the inspector; so it stays true when every consumer has stopped
// (seed 004's Append Lag), and it is judged over the last polls as Burrow
// judges it. Traffic adds what polls cannot see: when a commit was made,
// and which process holds a partition.
//
// Definitions (per group and partition, at the latest poll):
//   - offset lag = high watermark - committed offset, never negative; 0
//     when the records between are only a transaction's markers;
//   - Append Lag = append time of the last record (high watermark - 1) -
//     append time of the last committed record (committed - 1): it keeps
//     growing while producers produce and nobody commits;
//   - Commit Lag = when the commit was made (the agent saw the
//     OffsetCommit; else the first poll that saw the offset) - append time
//     of the last committed record;
//   - time lag = the window's end (now) - append time of the first record
//     not consumed (the committed offset); 0 when caught up;
//   - time to loss = when retention will delete the first record not
//     consumed: by time, its append time + retention.ms; by size, when
//     what is not consumed outgrows retention.bytes at the rate the log
//     grew between polls. LOST when the committed offset is already below
//     the log start.
//
// A record's append time is its batch's max timestamp (kscope reads batch
// headers only): the broker's time for LogAppendTime topics, the newest
// producer time of the batch for CreateTime ones (TimestampType says
// which).

// Lag statuses, from the best to the worst.
const (
	LagOK     = "OK"
	LagWarn   = "WARN"
	LagRewind = "REWIND"
	LagStall  = "STALL"
	LagStop   = "STOP"
	LagErr    = "ERR"
	LagLost   = "LOST"
)

// LagStatuses are the statuses, from the best to the worst.
var LagStatuses = []string{LagOK, LagWarn, LagRewind, LagStall, LagStop, LagErr, LagLost}

func lagRank(s string) int { return slices.Index(LagStatuses, s) }

// LagWindow is how many of the latest polls a partition's status is
// judged over (Burrow keeps the last 10 commits); minLagPolls how many it
// takes at least. Over two polls a consumer that commits less often than
// they are apart is STOP until it commits: the window is what it is.
const (
	LagWindow   = 10
	minLagPolls = 2
)

// Default Append Lag thresholds.
const (
	DefaultLagWarn  = time.Minute
	DefaultLagError = 10 * time.Minute
)

// LagFilter selects groups and sets the thresholds.
type LagFilter struct {
	Group, Topic string
	// WarnAfter and ErrorAfter are the Append Lag past which a
	// partition is WARN or ERR (DefaultLagWarn and DefaultLagError when
	// zero).
	WarnAfter, ErrorAfter time.Duration
}

// LagNeeds are what the lag view reads: the cluster's snapshots, and the
// traffic that says when commits were made and who fetches.
var LagNeeds = Needs{APIs: apiNames(lagKeys), History: true, Cluster: true}

// LagView is consumer lag per group and partition.
type LagView struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// PolledAt is the latest poll's time; Polls how many polls the
	// statuses are judged over.
	PolledAt  *time.Time   `json:"polled_at"`
	Polls     int          `json:"polls"`
	ClusterID string       `json:"cluster_id,omitempty"`
	Groups    []GroupLag   `json:"groups"`
	Errors    []PollErrors `json:"errors"`
}

// PollErrors is a request a broker did not answer, since the first of the
// latest polls in a row it failed in.
type PollErrors struct {
	Broker  int32     `json:"broker"`
	Request string    `json:"request"`
	Error   string    `json:"error"`
	Since   time.Time `json:"since"`
}

// GroupLag is one consumer group: its worst partition's status, and its
// partitions.
type GroupLag struct {
	Group    string `json:"group"`
	State    string `json:"state"`
	Protocol string `json:"protocol"`
	Members  int    `json:"members"`
	Status   string `json:"status"`
	Reason   string `json:"reason"`
	// OffsetLag sums the partitions' known offset lags.
	OffsetLag           int64          `json:"offset_lag"`
	MaxAppendLagSeconds *float64       `json:"max_append_lag_seconds"`
	MaxTimeLagSeconds   *float64       `json:"max_time_lag_seconds"`
	Partitions          []PartitionLag `json:"partitions"`
	// AsOf is set when the group's coordinator did not answer the last
	// poll: its members and committed offsets are the last known, as of
	// then (the status is ERR, the reason says which broker).
	AsOf *time.Time `json:"as_of,omitempty"`
}

// PartitionLag is one group's lag on one partition. What kscope could not
// learn is null, never estimated.
type PartitionLag struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// CommittedOffset is null when the group has committed nothing for
	// the partition (it is assigned, or was).
	CommittedOffset   *int64     `json:"committed_offset"`
	LogStartOffset    *int64     `json:"log_start_offset"`
	HighWatermark     *int64     `json:"high_watermark"`
	OffsetLag         *int64     `json:"offset_lag"`
	AppendLagSeconds  *float64   `json:"append_lag_seconds"`
	CommitLagSeconds  *float64   `json:"commit_lag_seconds"`
	TimeLagSeconds    *float64   `json:"time_lag_seconds"`
	TimeToLossSeconds *float64   `json:"time_to_loss_seconds"`
	TimestampType     string     `json:"timestamp_type,omitempty"`
	LastCommit        *time.Time `json:"last_commit"`
	Status            string     `json:"status"`
	Reason            string     `json:"reason"`
	Owner             *LagOwner  `json:"owner,omitempty"`
}

// LagOwner is who holds a partition: the group member it is assigned to,
// and the traced process that fetches it, when the agent saw one.
type LagOwner struct {
	MemberID string `json:"member_id,omitempty"`
	ClientID string `json:"client_id,omitempty"`
	Host     string `json:"host,omitempty"`
	Process  string `json:"process,omitempty"`
}

// Lag computes the lag view of in: the latest snapshot's offsets, judged
// over the last LagWindow snapshots, with commit times and owners from
// the traffic.
func Lag(in Input, f LagFilter) LagView {
	if f.WarnAfter <= 0 {
		f.WarnAfter = DefaultLagWarn
	}
	if f.ErrorAfter <= 0 {
		f.ErrorAfter = DefaultLagError
	}
	out := LagView{From: in.Window.From, To: in.Window.To, Groups: []GroupLag{}, Errors: []PollErrors{}}
	if len(in.Cluster) == 0 {
		return out
	}
	hist := in.Cluster[max(0, len(in.Cluster)-LagWindow):]
	last := &hist[len(hist)-1]
	now := in.Window.To
	if now.Before(last.Time) {
		now = last.Time
	}
	out.PolledAt, out.Polls, out.ClusterID = &last.Time, len(hist), last.ClusterID
	out.Errors = pollErrors(in.Cluster)

	tr := lagTraffic(in)
	parts := partitionsOf(hist)
	for gi := range last.Groups {
		g := &last.Groups[gi]
		if f.Group != "" && g.Group != f.Group {
			continue
		}
		gl := GroupLag{Group: g.Group, State: g.State, Protocol: g.Protocol, Members: len(g.Members), Status: LagOK, Partitions: []PartitionLag{}}
		members := assignedTo(g)
		committed := map[tp]int64{}
		for _, o := range g.Offsets {
			committed[tp{o.Topic, o.Partition}] = o.Committed
		}
		// Every partition with a commit, and every one assigned.
		keys := make([]tp, 0, len(committed)+len(members))
		for k := range committed {
			keys = append(keys, k)
		}
		for k := range members {
			if _, ok := committed[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.SortFunc(keys, func(a, b tp) int {
			return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
		})
		for _, k := range keys {
			if f.Topic != "" && k.topic != f.Topic {
				continue
			}
			pl := PartitionLag{Topic: k.topic, Partition: k.partition, Status: LagOK}
			// The owner is the member the partition is assigned to,
			// named by the process that fetches it for the group; a
			// partition no member holds (an Empty group) has none,
			// whoever fetched it last.
			if m, ok := members[k]; ok {
				pl.Owner = &LagOwner{MemberID: m.MemberID, ClientID: m.ClientID, Host: m.Host, Process: tr.owner[lagKey{g.Group, k.topic, k.partition}]}
			}
			c, has := committed[k]
			pt := parts.at(len(hist)-1, k)
			judgePartition(&pl, g.Group, k, c, has, pt, hist, parts, tr, now, f)
			gl.Partitions = append(gl.Partitions, pl)
			if pl.OffsetLag != nil {
				gl.OffsetLag += *pl.OffsetLag
			}
			gl.MaxAppendLagSeconds = maxPtr(gl.MaxAppendLagSeconds, pl.AppendLagSeconds)
			gl.MaxTimeLagSeconds = maxPtr(gl.MaxTimeLagSeconds, pl.TimeLagSeconds)
			if lagRank(pl.Status) > lagRank(gl.Status) {
				gl.Status = pl.Status
				gl.Reason = fmt.Sprintf("%s/%d: %s", pl.Topic, pl.Partition, pl.Reason)
			}
		}
		if len(gl.Partitions) == 0 && f.Topic != "" {
			continue
		}
		if g.Error != "" && lagRank(gl.Status) < lagRank(LagErr) {
			gl.Status, gl.Reason = LagErr, g.Error
			if g.AsOf != nil {
				gl.AsOf = g.AsOf
				gl.Reason += fmt.Sprintf("; members and offsets as of %s ago", roundDur(now.Sub(*g.AsOf)))
			} else {
				gl.Reason += "; its members or offsets are not known"
			}
		}
		if gl.Status == LagOK {
			gl.Reason = groupOKReason(&gl)
		}
		out.Groups = append(out.Groups, gl)
	}
	return out
}

// judgePartition fills pl from the partition's offsets at the latest poll
// and its history.
func judgePartition(pl *PartitionLag, group string, k tp, c int64, has bool, pt *inspect.Partition, hist []inspect.Snapshot, parts partitionHistory,
	tr *lagFromTraffic, now time.Time, f LagFilter) {
	if pt == nil || pt.HighWatermark < 0 {
		// Not OK: an offline partition must not read as a healthy one.
		pl.Status, pl.Reason = LagErr, "the partition's log end is not known (its leader did not answer)"
		if pt == nil {
			pl.Reason = "the partition is not in the cluster's metadata"
		}
		if has {
			pl.CommittedOffset = lagPtr(c)
		}
		return
	}
	hw, start := pt.HighWatermark, pt.LogStartOffset
	pl.HighWatermark = lagPtr(hw)
	if start >= 0 {
		pl.LogStartOffset = lagPtr(start)
	}
	if !has {
		pl.Reason = "nothing committed"
		return
	}
	pl.CommittedOffset = lagPtr(c)
	lag := pt.OffsetLag(c)
	pl.OffsetLag = lagPtr(lag)

	// A batch without a timestamp (-1: converted from an old format, or
	// its producer set none) gives no time.
	appended := func(o int64) (inspect.Batch, bool) {
		b, ok := parts.batch(k, o)
		return b, ok && !b.MaxTimestamp.IsZero()
	}
	latest, haveLatest := appended(hw - 1)
	if haveLatest {
		pl.TimestampType = latest.TimestampType
	}
	lastCommitted, haveLastCommitted := appended(c - 1)
	if lag == 0 {
		pl.AppendLagSeconds, pl.TimeLagSeconds = lagPtr(0.0), lagPtr(0.0)
	} else {
		if haveLatest && haveLastCommitted {
			pl.AppendLagSeconds = lagPtr(max(latest.MaxTimestamp.Sub(lastCommitted.MaxTimestamp).Seconds(), 0))
		}
		if next, ok := appended(c); ok {
			pl.TimeLagSeconds = lagPtr(max(now.Sub(next.MaxTimestamp).Seconds(), 0))
		}
	}
	commitAt, exact := tr.commitAt(group, k, c)
	if !exact {
		commitAt = parts.firstSeen(group, k, c, hist)
	}
	pl.LastCommit = lagPtr(commitAt)
	if haveLastCommitted {
		pl.CommitLagSeconds = lagPtr(max(commitAt.Sub(lastCommitted.MaxTimestamp).Seconds(), 0))
	}
	pl.TimeToLossSeconds = timeToLoss(pl, parts.topic(len(hist)-1, k.topic), pt, c, parts.growth(k, hist), appended, now)

	// The status: LOST first, then Burrow's rules over the window, then
	// the Append Lag thresholds.
	switch {
	case start >= 0 && c < start:
		pl.Status = LagLost
		pl.Reason = fmt.Sprintf("committed offset %d is below the log start %d: %d records were deleted before the group consumed them", c, start, start-c)
		return
	case lag == 0:
		pl.Reason = "caught up"
		return
	}
	// Judged as of the latest poll: polls that stopped do not say that
	// commits did.
	pl.Status, pl.Reason = burrow(group, k, hist, parts, commitAt, exact, hist[len(hist)-1].Time)
	if pl.AppendLagSeconds != nil && lagRank(pl.Status) < lagRank(LagErr) {
		a := time.Duration(*pl.AppendLagSeconds * float64(time.Second))
		switch {
		case a >= f.ErrorAfter:
			pl.Status, pl.Reason = LagErr, fmt.Sprintf("Append Lag %s is past %s", roundDur(a), f.ErrorAfter)
		case a >= f.WarnAfter && pl.Status == LagOK:
			pl.Status, pl.Reason = LagWarn, fmt.Sprintf("Append Lag %s is past %s", roundDur(a), f.WarnAfter)
		}
	}
}

// burrow judges a lagging partition over the window of polls, by Burrow's
// rules: STOP when no commit came for longer than the window spans;
// REWIND when the committed offset went back; OK when the lag was zero at
// some poll; STALL when the offset did not move; WARN when the lag grew at
// every poll; else OK.
func burrow(group string, k tp, hist []inspect.Snapshot, parts partitionHistory, lastCommit time.Time, exact bool, now time.Time) (string, string) {
	type entry struct {
		at          time.Time
		offset, lag int64
	}
	var es []entry
	for i := range hist {
		c, ok := parts.committed(i, group, k)
		pt := parts.at(i, k)
		if !ok || pt == nil || pt.HighWatermark < 0 {
			continue
		}
		es = append(es, entry{hist[i].Time, c, pt.OffsetLag(c)})
	}
	if len(es) < minLagPolls {
		return LagOK, fmt.Sprintf("lagging; %d polls so far, the status needs %d", len(es), minLagPolls)
	}
	span := es[len(es)-1].at.Sub(es[0].at)
	// A commit the polls saw first at a poll was made then or before: no
	// later commit came, when the offset stayed.
	if since := now.Sub(lastCommit); since >= span {
		// Seen by the polls only, the commit was made then or before.
		atLeast := ""
		if !exact {
			atLeast = "at least "
		}
		return LagStop, fmt.Sprintf("no commit for %s%s, longer than the %d polls span (%s), while %d records wait", atLeast, roundDur(since), len(es), roundDur(span), es[len(es)-1].lag)
	}
	for i := 1; i < len(es); i++ {
		if es[i].offset < es[i-1].offset {
			return LagRewind, fmt.Sprintf("the committed offset went back from %d to %d", es[i-1].offset, es[i].offset)
		}
	}
	for _, e := range es {
		if e.lag == 0 {
			return LagOK, "caught up at a recent poll"
		}
	}
	moved := false
	for _, e := range es[1:] {
		if e.offset != es[0].offset {
			moved = true
		}
	}
	if !moved {
		return LagStall, fmt.Sprintf("commits stay at offset %d while %d records wait", es[0].offset, es[len(es)-1].lag)
	}
	// Burrow: the offset moves, but the lag never fell.
	falling := false
	for i := 1; i < len(es); i++ {
		falling = falling || es[i].lag < es[i-1].lag
	}
	if !falling {
		return LagWarn, fmt.Sprintf("the lag did not fall at any of the last %d polls: %d, then %d", len(es), es[0].lag, es[len(es)-1].lag)
	}
	return LagOK, "consuming, the lag falls at times"
}

// timeToLoss is how long until retention deletes the first record not
// consumed (committed offset c): nil when nothing waits, or no limit
// applies, or what it needs is not known.
func timeToLoss(pl *PartitionLag, t *inspect.Topic, pt *inspect.Partition, c int64, growth float64, appended func(int64) (inspect.Batch, bool), now time.Time) *float64 {
	if pl.OffsetLag == nil || *pl.OffsetLag == 0 || t == nil || !t.Retention.Deletes() {
		return nil
	}
	if pt.LogStartOffset >= 0 && c < pt.LogStartOffset {
		return lagPtr(0.0)
	}
	var best *float64
	if ms := t.Retention.Ms; ms >= 0 {
		if next, ok := appended(c); ok {
			best = lagPtr(max(next.MaxTimestamp.Add(time.Duration(ms)*time.Millisecond).Sub(now).Seconds(), 0))
		}
	}
	// By size: the bytes from c to the log end, at the log's mean bytes
	// per record, against retention.bytes; the log grows by growth
	// records a second.
	if limit := t.Retention.Bytes; limit >= 0 && pt.SizeBytes > 0 && pt.HighWatermark > pt.LogStartOffset && pt.LogStartOffset >= 0 {
		perRecord := float64(pt.SizeBytes) / float64(pt.HighWatermark-pt.LogStartOffset)
		waiting := perRecord * float64(pt.HighWatermark-c)
		var s float64
		switch {
		case waiting >= float64(limit):
			s = 0
		case growth > 0:
			s = (float64(limit) - waiting) / (growth * perRecord)
		default:
			s = -1 // not growing: size will not cut it
		}
		if s >= 0 && (best == nil || s < *best) {
			best = lagPtr(s)
		}
	}
	return best
}

// groupOKReason says why an OK group is OK.
func groupOKReason(g *GroupLag) string {
	if len(g.Partitions) == 0 {
		return "no partition committed or assigned"
	}
	if g.OffsetLag == 0 {
		return "caught up on every partition"
	}
	return "consuming, the lag falls at times"
}

// pollErrors are the latest poll's errors, each since the first poll of
// the run of polls that had it.
func pollErrors(snaps []inspect.Snapshot) []PollErrors {
	last := &snaps[len(snaps)-1]
	out := []PollErrors{}
	for _, e := range last.Errors {
		since := last.Time
		for i := len(snaps) - 2; i >= 0; i-- {
			if !slices.ContainsFunc(snaps[i].Errors, func(x inspect.Error) bool { return x.Broker == e.Broker && x.Request == e.Request }) {
				break
			}
			since = snaps[i].Time
		}
		out = append(out, PollErrors{Broker: e.Broker, Request: e.Request, Error: e.Error, Since: since})
	}
	return out
}

type tp struct {
	topic     string
	partition int32
}

type lagKey struct {
	group, topic string
	partition    int32
}

// assignedTo maps each partition assigned in g to its member.
func assignedTo(g *inspect.Group) map[tp]*inspect.Member {
	out := map[tp]*inspect.Member{}
	for i := range g.Members {
		m := &g.Members[i]
		for _, a := range m.Assigned {
			for _, p := range a.Partitions {
				out[tp{a.Topic, p}] = m
			}
		}
	}
	return out
}

// partitionHistory indexes the partitions and committed offsets of each
// snapshot of a window: the lag of 1,000 groups on 100 partitions each
// looks them up millions of times.
type partitionHistory struct {
	parts  []map[tp]*inspect.Partition
	topics []map[string]*inspect.Topic
	// offsets are each group's, by topic and partition.
	offsets []map[string][]inspect.Offset
}

func partitionsOf(hist []inspect.Snapshot) partitionHistory {
	h := partitionHistory{parts: make([]map[tp]*inspect.Partition, len(hist)), topics: make([]map[string]*inspect.Topic, len(hist)),
		offsets: make([]map[string][]inspect.Offset, len(hist))}
	for i := range hist {
		h.parts[i] = map[tp]*inspect.Partition{}
		h.topics[i] = map[string]*inspect.Topic{}
		h.offsets[i] = make(map[string][]inspect.Offset, len(hist[i].Groups))
		for ti := range hist[i].Topics {
			t := &hist[i].Topics[ti]
			h.topics[i][t.Name] = t
			for pi := range t.Partitions {
				h.parts[i][tp{t.Name, t.Partitions[pi].Partition}] = &t.Partitions[pi]
			}
		}
		for gi := range hist[i].Groups {
			g := &hist[i].Groups[gi]
			os := g.Offsets
			if !slices.IsSortedFunc(os, compareOffsets) { // the inspector sorts them
				os = slices.SortedFunc(slices.Values(os), compareOffsets)
			}
			h.offsets[i][g.Group] = os
		}
	}
	return h
}

func compareOffsets(a, b inspect.Offset) int {
	return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
}

// offset is group's committed offset for k at poll i.
func (h partitionHistory) offset(i int, group string, k tp) (inspect.Offset, bool) {
	os := h.offsets[i][group]
	j, ok := slices.BinarySearchFunc(os, inspect.Offset{Topic: k.topic, Partition: k.partition}, compareOffsets)
	if !ok {
		return inspect.Offset{}, false
	}
	return os[j], true
}

// committed is group's committed offset for k at poll i.
func (h partitionHistory) committed(i int, group string, k tp) (int64, bool) {
	o, ok := h.offset(i, group, k)
	return o.Committed, ok
}

func (h partitionHistory) at(i int, k tp) *inspect.Partition { return h.parts[i][k] }

func (h partitionHistory) topic(i int, name string) *inspect.Topic { return h.topics[i][name] }

// batch finds the batch holding offset o in any poll of the window (a
// batch never changes once written), the newest first.
func (h partitionHistory) batch(k tp, o int64) (inspect.Batch, bool) {
	for i := len(h.parts) - 1; i >= 0; i-- {
		if pt := h.parts[i][k]; pt != nil {
			if b, ok := pt.BatchAt(o); ok {
				return b, true
			}
		}
	}
	return inspect.Batch{}, false
}

// firstSeen is the time of the first poll, in the latest run of polls
// that saw group committed at c, that saw it.
func (h partitionHistory) firstSeen(group string, k tp, c int64, hist []inspect.Snapshot) time.Time {
	// The inspector keeps it across polls, beyond the window.
	if o, ok := h.offset(len(hist)-1, group, k); ok && o.Committed == c && !o.SeenSince.IsZero() {
		return o.SeenSince
	}
	at := hist[len(hist)-1].Time
	for i := len(hist) - 1; i >= 0; i-- {
		o, ok := h.committed(i, group, k)
		if !ok || o != c {
			break
		}
		at = hist[i].Time
	}
	return at
}

// growth is the records a second the partition's log grew over the window.
func (h partitionHistory) growth(k tp, hist []inspect.Snapshot) float64 {
	first, last := -1, -1
	for i := range hist {
		if pt := h.parts[i][k]; pt != nil && pt.HighWatermark >= 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 || last == first {
		return 0
	}
	secs := hist[last].Time.Sub(hist[first].Time).Seconds()
	if secs <= 0 {
		return 0
	}
	return float64(h.parts[last][k].HighWatermark-h.parts[first][k].HighWatermark) / secs
}

// lagFromTraffic is what the traffic tells the lag view: the commits the
// agent saw, and which process fetches each group's partitions.
type lagFromTraffic struct {
	commits map[lagKey][]seenCommit
	owner   map[lagKey]string
}

type seenCommit struct {
	offset int64
	at     time.Time
}

func lagTraffic(in Input) *lagFromTraffic {
	tr := &lagFromTraffic{commits: map[lagKey][]seenCommit{}, owner: map[lagKey]string{}}
	if len(in.Exchanges) == 0 {
		return tr
	}
	for i := range in.Exchanges {
		e := &in.Exchanges[i]
		if !e.Is(kmsg.OffsetCommit) || e.Group == "" || e.Error != "" {
			continue
		}
		for _, t := range e.Topics {
			for _, p := range t.Partitions {
				if p.Error != "" || p.CommittedOffset == nil {
					continue
				}
				k := lagKey{e.Group, t.Name, p.Partition}
				tr.commits[k] = append(tr.commits[k], seenCommit{*p.CommittedOffset, e.Time})
			}
		}
	}
	for _, c := range Clients(in, ClientsFilter{}).Consumers {
		if c.Group != "" {
			tr.owner[lagKey{c.Group, c.Topic, c.Partition}] = c.Process
		}
	}
	return tr
}

// commitAt is when the agent last saw group commit offset c for the
// partition.
func (tr *lagFromTraffic) commitAt(group string, k tp, c int64) (time.Time, bool) {
	var at time.Time
	for _, sc := range tr.commits[lagKey{group, k.topic, k.partition}] {
		if sc.offset == c && sc.at.After(at) {
			at = sc.at
		}
	}
	return at, !at.IsZero()
}

func maxPtr(a, b *float64) *float64 {
	switch {
	case b == nil:
		return a
	case a == nil || *b > *a:
		return lagPtr(*b)
	}
	return a
}

// roundDur is a duration as a person reads it in a reason.
func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}
