package view

import (
	"fmt"
	"testing"
	"time"

	"kscope/internal/exchange"
	"kscope/internal/inspect"
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
		if got := HistoryStep(w, c.asked, 0); got != c.want {
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
