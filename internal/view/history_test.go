package view

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"kscope/internal/exchange"
	"kscope/internal/inspect"
	"kscope/internal/store"
)

// TestLagOverTime: each poll's lag from its own offsets and batch headers
// (the group's sum, its worst Append Lag and time lag), the status as the
// lag view judges it now, partitions only when one group is asked for,
// groups worst first a page at a time, and long histories thinned with
// the last poll kept.
func TestLagOverTime(t *testing.T) {
	// billing commits 10 while the log end goes 20, 40, 60: its lag
	// rises.
	polls := []poll{{0, 20, 10}, {0, 40, 10}, {0, 60, 10}}
	snaps := lagSnapshots(polls)
	// A second group, caught up, on the same partition.
	for i := range snaps {
		snaps[i].Groups = append(snaps[i].Groups, inspect.Group{Group: "audit", State: "Stable", Protocol: "classic",
			Offsets: []inspect.Offset{{Topic: "orders", Partition: 0, Committed: polls[i].hw, LeaderEpoch: -1}}})
	}
	in := Input{Window: Window{From: t0, To: snaps[2].Time}, Cluster: snaps}
	h := LagOverTime(in, LagHistoryFilter{})
	if h.Total != 2 || len(h.Groups) != 2 || h.Groups[0].Group != "billing" || h.Polls != 3 {
		t.Fatalf("groups worst first: %+v", h)
	}
	b := h.Groups[0]
	for i, want := range []int64{10, 30, 50} {
		p := b.Points[i]
		// The record at o was appended at t0+o/10 s: Append Lag is
		// (hw-1 - 9)/10 s; the first unconsumed (10) waits since t0+1s.
		wantAppend := float64(polls[i].hw-1-9) / 10
		wantTime := max(snaps[i].Time.Sub(recordTime(10)).Seconds(), 0)
		if p.OffsetLag != want || p.AppendLagSeconds == nil || *p.AppendLagSeconds != wantAppend || *p.TimeLagSeconds != wantTime || !p.Time.Equal(snaps[i].Time) {
			t.Errorf("billing at poll %d: %+v (append %v, time %v), want lag %d, append %v, time %v", i, p, deref(p.AppendLagSeconds), deref(p.TimeLagSeconds), want, wantAppend, wantTime)
		}
	}
	if b.Status == LagOK || b.Partitions != nil {
		t.Errorf("billing: status %s (%s), partitions %v", b.Status, b.Reason, b.Partitions)
	}
	if a := h.Groups[1]; a.Points[2].OffsetLag != 0 || *a.Points[2].AppendLagSeconds != 0 {
		t.Errorf("audit caught up: %+v", a.Points[2])
	}

	one := LagOverTime(in, LagHistoryFilter{Group: "billing"})
	if len(one.Groups) != 1 || len(one.Groups[0].Partitions) != 2 {
		t.Fatalf("billing's partitions: %+v", one.Groups)
	}
	p0 := one.Groups[0].Partitions[0]
	if p0.Topic != "orders" || p0.Partition != 0 || p0.Points[2].OffsetLag != 50 || p0.Owner == nil || p0.Owner.ClientID != "invoicing-1" {
		t.Errorf("orders/0: %+v", p0)
	}
	// orders/1 was never committed: its points are empty, timed.
	if p1 := one.Groups[0].Partitions[1]; p1.Points[1].OffsetLag != 0 || !p1.Points[1].Time.Equal(snaps[1].Time) {
		t.Errorf("orders/1: %+v", p1.Points)
	}

	if page := LagOverTime(in, LagHistoryFilter{Offset: 1, Limit: 1}); page.Total != 2 || len(page.Groups) != 1 || page.Groups[0].Group != "audit" {
		t.Errorf("the second page of one: %+v", page.Groups)
	}
	thinned := LagOverTime(in, LagHistoryFilter{Points: 2})
	if pts := thinned.Groups[0].Points; len(pts) != 2 || !pts[1].Time.Equal(snaps[2].Time) || !pts[0].Time.Equal(snaps[0].Time) {
		t.Errorf("two points of three: %+v", pts)
	}
}

// TestLagOverStore: where the store dropped the snapshots, the points
// come from its lag series, the same as the snapshots' for the polls it
// holds one by one, the worst of each minute's for the minutes it rolled
// up; the answer says so in its resolution. Every filter reads them the
// same way.
func TestLagOverStore(t *testing.T) {
	c := newBigCluster(200, 10)
	const polls = 7 * 12 // 7 minutes: minute 0 is rolled up and its polls dropped
	var snaps []inspect.Snapshot
	for i := range polls {
		snaps = append(snaps, c.poll(i))
	}
	per := SnapshotSizeOf(snaps[0])
	st := store.New(store.Config{SnapshotBytes: 4 * per})
	for _, s := range snaps {
		st.AddSnapshot(s)
	}
	if n := st.Stats().Snapshots; n > 2 {
		t.Fatalf("%d snapshots held of %d: the series is not read", n, polls)
	}
	w := Window{From: t0, To: snaps[polls-1].Time.Add(time.Second)}
	in := Input{Window: w, Cluster: snaps}
	for _, f := range []LagHistoryFilter{
		{Limit: 1000},
		{Group: c.groups[7]},
		{Topic: c.topics[3], Limit: 1000},
		{Group: c.groups[3], Topic: c.topics[3]},
	} {
		t.Run(fmt.Sprintf("group=%s,topic=%s", f.Group, f.Topic), func(t *testing.T) {
			want, got := LagOverTime(in, f), LagOverStore(st, w, f)
			if want.ResolutionSeconds != 5 || got.ResolutionSeconds != 60 || want.Polls != polls || got.Polls != polls || want.Total != got.Total {
				t.Fatalf("from the snapshots: %d polls at %v s, %d groups; from the store: %d polls at %v s, %d groups",
					want.Polls, want.ResolutionSeconds, want.Total, got.Polls, got.ResolutionSeconds, got.Total)
			}
			wantBy := map[string]GroupLagSeries{}
			for _, g := range want.Groups {
				wantBy[g.Group] = g
			}
			for _, g := range got.Groups {
				wg := wantBy[g.Group]
				// One point for minute 0 (at its last poll), then
				// every poll.
				if len(g.Points) != polls-11 || len(wg.Points) != polls {
					t.Fatalf("%s: %d points, want %d", g.Group, len(g.Points), polls-11)
				}
				minute := wg.Points[:12]
				if p := g.Points[0]; !p.Time.Equal(minute[11].Time) || p.OffsetLag != slices.MaxFunc(minute, func(a, b LagPoint) int { return cmp.Compare(a.OffsetLag, b.OffsetLag) }).OffsetLag {
					t.Errorf("%s: minute 0 is %+v, its polls %+v", g.Group, p, minute)
				}
				if fmt.Sprint(points(g.Points[1:])) != fmt.Sprint(points(wg.Points[12:])) {
					t.Errorf("%s: from the series\n%v\nfrom the snapshots\n%v", g.Group, points(g.Points[1:]), points(wg.Points[12:]))
				}
				if len(g.Partitions) != len(wg.Partitions) || (f.Group != "" && len(g.Partitions) == 0) {
					t.Fatalf("%s: %d partitions, want %d", g.Group, len(g.Partitions), len(wg.Partitions))
				}
				for i, p := range g.Partitions {
					if fmt.Sprint(points(p.Points[1:])) != fmt.Sprint(points(wg.Partitions[i].Points[12:])) {
						t.Errorf("%s %s/%d: from the series\n%v\nfrom the snapshots\n%v", g.Group, p.Topic, p.Partition, points(p.Points[1:]), points(wg.Partitions[i].Points[12:]))
					}
				}
			}
		})
	}
}

// TestLagHistoryLastsAnHour: an hour of polls of a large cluster (2,000
// groups on 50 topics of 20 partitions, every 5 s) in the default budget:
// the Consumers page's chart still starts with the first minute.
func TestLagHistoryLastsAnHour(t *testing.T) {
	if testing.Short() {
		t.Skip("720 polls of a large cluster")
	}
	c := newBigCluster(bigGroups, bigTopics)
	st, last := c.hour()
	h := LagOverStore(st, Window{From: t0, To: last.Add(time.Second)}, LagHistoryFilter{})
	first := c.poll(11).Time // the first minute's last poll
	if h.Total != bigGroups || len(h.Groups) == 0 || !h.Groups[0].Points[0].Time.Equal(first) || h.ResolutionSeconds != 60 || h.Polls != 720 {
		t.Fatalf("%d groups, %d polls at %v s, the first point at %v, want %v", h.Total, h.Polls, h.ResolutionSeconds, h.Groups[0].Points[0].Time.Sub(t0), first.Sub(t0))
	}
	if st := st.Stats(); st.SnapshotBytes > st.SnapshotBudget || st.SnapshotBudget != store.DefaultMemoryBytes/8 {
		t.Errorf("%d bytes held of %d", st.SnapshotBytes, st.SnapshotBudget)
	}
}

// points is ps as text, times and lags.
func points(ps []LagPoint) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = fmt.Sprintf("%s %d %s %s", p.Time.Format(time.RFC3339Nano), p.OffsetLag, deref(p.AppendLagSeconds), deref(p.TimeLagSeconds))
	}
	return out
}

func deref(f *float64) string {
	if f == nil {
		return "nil"
	}
	return fmt.Sprint(*f)
}

// TestHistoryStep: about 60 points by default, never more than
// MaxHistoryPoints, whole seconds.
func TestHistoryStep(t *testing.T) {
	w := Window{From: t0, To: t0.Add(time.Hour)}
	for _, c := range []struct {
		asked, want time.Duration
	}{{0, time.Minute}, {time.Second, 10 * time.Second}, {90 * time.Second, 90 * time.Second}, {1500 * time.Millisecond, 10 * time.Second}} {
		if got := HistoryStep(w, c.asked); got != c.want {
			t.Errorf("step %v over an hour: %v, want %v", c.asked, got, c.want)
		}
	}
}

// TestRequestsOverTime: one point per step per API and broker, with the
// step's requests, errors and quantiles, and zero points where a series
// had no request.
func TestRequestsOverTime(t *testing.T) {
	xs := []exchange.Exchange{
		ovX(1*time.Second, "Produce", "10.0.0.9:5000", "10.0.0.1:9092", "order", 2*time.Millisecond, ovTT{"orders", []ovPart{{p: 0, records: 1, bytes: 10}}}),
		ovX(2*time.Second, "Produce", "10.0.0.9:5000", "10.0.0.1:9092", "order", 4*time.Millisecond, ovTT{"orders", []ovPart{{p: 0, records: 1, bytes: 10, err: "NOT_ENOUGH_REPLICAS"}}}),
		ovX(12*time.Second, "Fetch", "10.0.0.9:5001", "10.0.0.1:9093", "reader", 100*time.Millisecond, ovTT{"orders", []ovPart{{p: 0, records: 2, bytes: 20}}}),
	}
	w := Window{From: ovT0, To: ovT0.Add(20 * time.Second)}
	step := 10 * time.Second
	var steps []Input
	for at := w.From; at.Before(w.To); at = at.Add(step) {
		steps = append(steps, Input{Window: Window{From: at, To: at.Add(step)}, Exchanges: xs})
	}
	h := RequestsOverTime(w, step, steps)
	if len(h.Series) != 2 || h.StepSeconds != 10 {
		t.Fatalf("series: %+v", h)
	}
	fetch, produce := h.Series[0], h.Series[1]
	if fetch.API != "Fetch" || fetch.Broker != "10.0.0.1:9093" || fetch.Points[0].Requests != 0 || fetch.Points[1].Requests != 1 || !fetch.Points[0].Time.Equal(ovT0) {
		t.Errorf("Fetch: %+v", fetch)
	}
	if p := produce.Points[0]; produce.API != "Produce" || p.Requests != 2 || p.Errors != 1 || p.P99 < 0.0039 || p.P99 > 0.0041 || p.P50 > 0.0021 {
		t.Errorf("Produce: %+v", produce.Points)
	}
}
