package view

import (
	"fmt"
	"testing"
	"time"

	"kscope/internal/exchange"
	"kscope/internal/inspect"
	"kscope/internal/store"
)

// TestFromStoreCarriesCluster: the store's cluster snapshots of the
// window reach a view that asks for them, beside the exchanges.
func TestFromStoreCarriesCluster(t *testing.T) {
	st := store.New(store.Config{})
	for s := range 30 {
		st.Add(produce("order", t0.Add(time.Duration(s)*time.Second), "orders", 0, int64(10*s), 10))
	}
	for s := 0; s < 30; s += 10 {
		st.AddSnapshot(inspect.Snapshot{Time: t0.Add(time.Duration(s) * time.Second), Controller: 1})
	}
	w := Window{From: t0.Add(5 * time.Second), To: t0.Add(25 * time.Second)}
	in := FromStore(st, w, Needs{APIs: []string{"Produce"}, Cluster: true})
	if len(in.Cluster) != 2 || !in.Cluster[0].Time.Equal(t0.Add(10*time.Second)) {
		t.Errorf("snapshots %+v, want those at 10s and 20s", in.Cluster)
	}
	if len(in.Exchanges) != 20 || in.Window != w {
		t.Errorf("%d exchanges over %v, want 20 over %v", len(in.Exchanges), in.Window, w)
	}
	if in := FromStore(st, w, Needs{}); in.Cluster != nil {
		t.Errorf("snapshots given to a view that did not ask: %d", len(in.Cluster))
	}
}

// TestFromStoreWindow: a window starts no earlier than what the store
// knows of (its first exchange; the oldest held once it evicted), so that
// rates are over what was counted; History reads before the window.
func TestFromStoreWindow(t *testing.T) {
	st := store.New(store.Config{})
	for s := range 30 {
		st.Add(produce("order", t0.Add(time.Duration(s)*time.Second), "orders", 0, int64(10*s), 10))
	}
	in := FromStore(st, Window{From: t0.Add(-time.Hour), To: t0.Add(30 * time.Second)}, ClientsNeeds)
	if !in.Window.From.Equal(t0) {
		t.Errorf("window starts %v, want the first exchange %v", in.Window.From, t0)
	}
	v := Clients(in, ClientsFilter{})
	if len(v.Producers) != 1 || v.Producers[0].RecordsPerSec != 10 {
		t.Errorf("producers %+v, want 10 records/s over the 30 s watched", v.Producers)
	}
	in = FromStore(st, Window{From: t0.Add(20 * time.Second), To: t0.Add(30 * time.Second)}, ClientsNeeds)
	if len(in.Exchanges) != 30 {
		t.Errorf("History read %d exchanges, want all 30 held", len(in.Exchanges))
	}

	// Nothing watched: an empty window at its end, not one from year 1.
	if in := FromStore(store.New(store.Config{}), Window{To: t0}, ClientsNeeds); !in.Window.From.Equal(t0) || len(in.Exchanges) != 0 {
		t.Errorf("empty store: window %v, %d exchanges", in.Window, len(in.Exchanges))
	}

	// A store that dropped its oldest exchanges counts from the oldest
	// it holds.
	small := store.New(store.Config{MemoryBytes: 64 << 10})
	var last exchange.Exchange
	for s := range 600 {
		last = produce("order", t0.Add(time.Duration(s)*time.Second), "orders", 0, int64(10*s), 10)
		small.Add(last)
	}
	stats := small.Stats()
	if stats.Evicted == 0 {
		t.Fatal("the small store evicted nothing")
	}
	in = FromStore(small, Window{From: t0, To: last.Time.Add(time.Second)}, ClientsNeeds)
	if !in.Window.From.Equal(stats.Oldest) {
		t.Errorf("window starts %v, want the oldest held %v", in.Window.From, stats.Oldest)
	}
	v = Clients(in, ClientsFilter{})
	if len(v.Producers) != 1 || v.Producers[0].RecordsPerSec < 9.5 || v.Producers[0].RecordsPerSec > 10.5 {
		t.Errorf("producers %+v, want about 10 records/s over what is held", v.Producers)
	}
}

// since and until take RFC 3339 or a duration before a reference time.
func TestParseTime(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"5m", now.Add(-5 * time.Minute)},
		{"-90s", now.Add(-90 * time.Second)},
		{"2026-01-01T00:00:00Z", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"2026-01-01T00:00:00.5+01:00", time.Date(2025, 12, 31, 23, 0, 0, 5e8, time.UTC)},
		{"", time.Time{}},
	} {
		got, err := ParseTime(tc.in, now)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("%q: %v %v, want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestNeedsAnd(t *testing.T) {
	a := Needs{APIs: []string{"Produce", "Fetch"}, Parts: true}
	b := Needs{APIs: []string{"Fetch", "OffsetCommit"}, History: true, Parts: true}
	got := a.And(b)
	if fmt.Sprint(got.APIs) != "[Produce Fetch OffsetCommit]" || !got.History || !got.Parts || got.Cluster {
		t.Errorf("%+v", got)
	}
	if got := a.And(Needs{Cluster: true}); got.APIs != nil || got.Parts || !got.Cluster {
		t.Errorf("with a view that reads every API: %+v", got)
	}
}

// TestStoreSteps: a chart over parts rolled up into minutes gets a point a
// minute, aligned to them and cut to the minutes whole (the window's
// edges fall inside two), every point counting its minute: none empty,
// none counted twice.
func TestStoreSteps(t *testing.T) {
	st := store.New(store.Config{Resolutions: []store.Resolution{
		{Length: time.Second, Keep: 20 * time.Second},
		{Length: 10 * time.Second, Keep: time.Minute},
		{Length: time.Minute, Keep: time.Hour},
	}})
	KeepParts(st)
	const secs = 8 * 60
	for s := range secs {
		for i := range 10 {
			st.Add(produce("order", t0.Add(time.Duration(s)*time.Second+time.Duration(i)*100*time.Millisecond), "orders", 0, int64(10*i), 10))
		}
	}
	w := Window{From: t0.Add(30 * time.Second), To: t0.Add(6*time.Minute + 30*time.Second)}
	ws, step := StoreSteps(st, w, 10*time.Second)
	if step != time.Minute || len(ws) != 6 || !ws[0].From.Equal(t0) || !ws[5].To.Equal(t0.Add(6*time.Minute)) {
		t.Fatalf("step %v, %d windows from %v: want 1 min points aligned to the minutes", step, len(ws), ws[0].From)
	}
	total := 0
	for _, sw := range ws {
		o := Overview(FromStore(st, sw, Needs{Parts: true}), OverviewFilter{})
		if o.Exchanges != 600 {
			t.Errorf("point %v-%v: %d exchanges over %v-%v, want a whole minute of 600", sw.From.Sub(t0), sw.To.Sub(t0), o.Exchanges, o.From.Sub(t0), o.To.Sub(t0))
		}
		total += o.Exchanges
	}
	if total != 6*600 {
		t.Errorf("the points count %d exchanges, want each of the 6 minutes once", total)
	}
	// Where 10 s parts are held, 10 s points.
	last := t0.Add(secs * time.Second)
	if ws, step := StoreSteps(st, Window{From: last.Add(-50 * time.Second), To: last}, 10*time.Second); step != 10*time.Second || len(ws) != 5 {
		t.Errorf("the last 50 s: step %v, %d windows, want 5 of 10 s", step, len(ws))
	}
}
