package store_test

import (
	"sync"
	"testing"
	"time"

	"kscope/internal/exchange"
	"kscope/internal/store"
	"kscope/internal/view"
)

// longTraffic is ovTraffic repeated over minutes minutes, then
// stragglers: exchanges whose second was rolled up long before they came
// (a JoinGroup answered after a rebalance, a Produce retried late).
func longTraffic(minutes int) []exchange.Exchange {
	var xs []exchange.Exchange
	for k := range 2 * minutes {
		for _, e := range ovTraffic() {
			e.Time = e.Time.Add(time.Duration(k) * 30 * time.Second)
			xs = append(xs, e)
		}
	}
	var produce exchange.Exchange
	for _, e := range xs {
		if e.Side == "client" && e.API == "Produce" {
			produce = e
			break
		}
	}
	lat := 40 * time.Second
	for _, ago := range []time.Duration{90 * time.Second, 3 * time.Minute, time.Duration(minutes-2) * time.Minute} {
		at := ovT0.Add(time.Duration(minutes)*time.Minute - ago)
		join := produce
		join.Time, join.API, join.APIKey, join.Topics, join.Latency = at, "JoinGroup", 11, nil, &lat
		join.Group, join.CorrelationID = "billing-late", 1<<30
		prod := produce
		prod.Time = at.Add(time.Second)
		prod.CorrelationID = 1<<30 + 1
		xs = append(xs, join, prod)
	}
	return xs
}

// TestRollupOverviewEqual: the overview merged from rolled-up parts (10 s
// and 1 min) is the overview of the exchanges over the same window: the
// same counts, bytes, records, requests, groups and latency quantiles,
// also with exchanges that came after their second was rolled up.
func TestRollupOverviewEqual(t *testing.T) {
	const minutes = 8
	xs := longTraffic(minutes)
	st := store.New(store.Config{})
	view.KeepParts(st)
	for _, e := range xs {
		st.Add(e)
	}
	s := st.Stats()
	if fine := s.Resolutions[0]; fine.From.Before(ovT0.Add(3*time.Minute - time.Second)) {
		t.Errorf("1 s parts from %v, want only the last 5 minutes", fine.From)
	}
	end := ovT0.Add(minutes * time.Minute)
	for _, c := range []struct {
		from, to time.Duration
		res      time.Duration
	}{
		{0, minutes * time.Minute, time.Minute},
		{90 * time.Second, 5*time.Minute + 30*time.Second, time.Minute},
		{20 * time.Second, 110 * time.Second, 10 * time.Second},
		{7 * time.Minute, minutes * time.Minute, 10 * time.Second}, // not settled into a minute yet
	} {
		var (
			got view.OverviewView
			w   view.Window
		)
		st.Parts(ovT0.Add(c.from), ovT0.Add(c.to), 0, func(cv store.Cover) {
			w = view.Window{From: cv.From, To: cv.To}
			if cv.Resolution != c.res {
				t.Errorf("%v-%v: resolution %v, want %v", c.from, c.to, cv.Resolution, c.res)
			}
			got = view.OverviewOfParts(w, overviewParts(cv.Parts))
		})
		if !w.From.Equal(ovT0.Add(c.from)) || !w.To.Equal(ovT0.Add(c.to)) {
			t.Errorf("%v-%v: window %v-%v, want it whole", c.from, c.to, w.From.Sub(ovT0), w.To.Sub(ovT0))
		}
		want := view.Overview(view.Of(xs, w), view.OverviewFilter{})
		if want.Exchanges == 0 {
			t.Fatalf("%v-%v: no traffic", c.from, c.to)
		}
		sameOverview(t, got, want)
	}
	// The API's path says the resolution.
	in := view.FromStore(st, view.Window{From: ovT0, To: end}, view.Needs{Parts: true})
	if o := view.Overview(in, view.OverviewFilter{}); o.ResolutionSeconds != 60 || !o.From.Equal(ovT0) || !o.To.Equal(end) {
		t.Errorf("FromStore: %v-%v at %v s, want the 8 minutes at 60 s", o.From, o.To, o.ResolutionSeconds)
	}
}

// TestRollupEdgeInCoarsePart: where only 1 min parts are held, a window
// whose edges fall inside them is cut to them, and says so.
func TestRollupEdgeInCoarsePart(t *testing.T) {
	st := store.New(store.Config{Resolutions: []store.Resolution{
		{Length: time.Second, Keep: 20 * time.Second},
		{Length: 10 * time.Second, Keep: time.Minute},
		{Length: time.Minute, Keep: time.Hour},
	}})
	view.KeepParts(st)
	xs := longTraffic(6)
	for _, e := range xs {
		st.Add(e)
	}
	w := view.Window{From: ovT0.Add(70*time.Second + 300*time.Millisecond), To: ovT0.Add(150*time.Second + 500*time.Millisecond)}
	in := view.FromStore(st, w, view.Needs{Parts: true})
	o := view.Overview(in, view.OverviewFilter{})
	if !o.From.Equal(ovT0.Add(time.Minute)) || !o.To.Equal(ovT0.Add(2*time.Minute)) || o.ResolutionSeconds != 60 {
		t.Fatalf("window %v-%v at %v s, want 1m-2m at 60 s", o.From.Sub(ovT0), o.To.Sub(ovT0), o.ResolutionSeconds)
	}
	want := view.Overview(view.Of(xs, view.Window{From: o.From, To: o.To}), view.OverviewFilter{})
	want.ResolutionSeconds = 60
	sameOverview(t, o, want)
}

// TestRollupPartsPerStep: a chart asks for parts no longer than its step
// and gets them where they are held, longer ones only where not, each
// time once.
func TestRollupPartsPerStep(t *testing.T) {
	st := store.New(store.Config{Resolutions: []store.Resolution{
		{Length: time.Second, Keep: 20 * time.Second},
		{Length: 10 * time.Second, Keep: 2 * time.Minute},
		{Length: time.Minute, Keep: time.Hour},
	}})
	view.KeepParts(st)
	xs := longTraffic(6)
	for _, e := range xs {
		st.Add(e)
	}
	st.Flush(ovT0.Add(time.Hour))
	var parts []store.Part
	var c store.Cover
	st.Parts(time.Time{}, time.Time{}, 10*time.Second, func(cv store.Cover) { c, parts = cv, cv.Parts })
	newest := st.Stats().Resolutions[1].From // the oldest 10 s part held
	next := c.From
	for _, p := range parts {
		if !p.Start.Equal(next) && p.Start.Before(next) {
			t.Fatalf("part %v overlaps the one before (ends %v)", p.Start.Sub(ovT0), next.Sub(ovT0))
		}
		if want := 10 * time.Second; !p.Start.Before(newest) && p.Length > want {
			t.Errorf("part %v of %v where 10 s parts are held", p.Start.Sub(ovT0), p.Length)
		}
		if p.Start.Before(newest) && p.Length != time.Minute {
			t.Errorf("part %v of %v before the 10 s parts", p.Start.Sub(ovT0), p.Length)
		}
		next = p.Start.Add(p.Length)
	}
	if c.Resolution != time.Minute || !c.From.Equal(ovT0) {
		t.Errorf("cover from %v at %v, want from the start at 1 min", c.From.Sub(ovT0), c.Resolution)
	}
	ps := make([]*view.OverviewPart, len(parts))
	for i, p := range parts {
		ps[i] = p.Partial.(*view.OverviewPart)
	}
	got := view.OverviewOfParts(view.Window{From: c.From, To: c.To}, ps)
	if n := len(view.Once(xs)); got.Exchanges != n {
		t.Errorf("the parts count %d exchanges, want %d", got.Exchanges, n)
	}
}

// TestRollupConcurrent: readers merge parts while the writer adds, rolls
// up and evicts; run with -race.
func TestRollupConcurrent(t *testing.T) {
	st := store.New(store.Config{MemoryBytes: 8 << 20, Resolutions: []store.Resolution{
		{Length: time.Second, Keep: 10 * time.Second},
		{Length: 10 * time.Second, Keep: time.Minute},
		{Length: time.Minute, Keep: time.Hour},
	}})
	view.KeepParts(st)
	xs := longTraffic(3)
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		for _, e := range xs {
			st.Add(e)
		}
	})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				o := view.Overview(view.FromStore(st, view.Window{From: ovT0, To: ovT0.Add(time.Hour)}, view.Needs{Parts: true}), view.OverviewFilter{})
				if o.Exchanges < 0 {
					t.Error("negative count")
				}
				st.Parts(ovT0, time.Time{}, 10*time.Second, func(c store.Cover) {
					view.OverviewOfParts(view.Window{From: c.From, To: c.To}, overviewParts(c.Parts))
				})
				st.Stats()
				st.Aggregates(time.Time{}, time.Time{})
				time.Sleep(time.Millisecond)
			}
		})
	}
	wg.Wait()
	o := view.Overview(view.FromStore(st, view.Window{From: ovT0, To: ovT0.Add(time.Hour)}, view.Needs{Parts: true}), view.OverviewFilter{})
	want := view.Overview(view.Of(xs, view.Window{From: o.From, To: o.To}), view.OverviewFilter{})
	want.ResolutionSeconds = o.ResolutionSeconds
	// The broker-side copies still held count in the parts, not yet in
	// the exchanges' view of the ones already released: compare the
	// producers, whose traffic is client-side.
	if len(o.Producers) != len(want.Producers) {
		t.Fatalf("%d producers, want %d", len(o.Producers), len(want.Producers))
	}
	for i := range o.Producers {
		if o.Producers[i].Records != want.Producers[i].Records || o.Producers[i].Requests != want.Producers[i].Requests {
			t.Errorf("producer %s: %d records %d requests, want %d %d", o.Producers[i].ID, o.Producers[i].Records, o.Producers[i].Requests,
				want.Producers[i].Records, want.Producers[i].Requests)
		}
	}
}

// TestOverviewPartCompact: a compacted part (how the store keeps settled
// parts) answers, merges and counts on as it did before, in a fraction of
// the memory.
func TestOverviewPartCompact(t *testing.T) {
	xs := view.Once(ovTraffic())
	half := len(xs) / 2
	w := view.Window{From: ovT0, To: ovT0.Add(30 * time.Second)}
	mk := func(xs []exchange.Exchange) *view.OverviewPart {
		p := view.NewOverviewPart()
		for i := range xs {
			p.Add(&xs[i])
		}
		return p
	}
	whole := mk(xs).Result(w)

	p := mk(xs)
	before := p.Bytes()
	p.Compact()
	if after := p.Bytes(); after > before/3 {
		t.Errorf("compacted: %d bytes of %d", after, before)
	}
	sameOverview(t, p.Result(w), whole)

	// Merged, compacted or not, in any order.
	a, b := mk(xs[:half]), mk(xs[half:])
	a.Compact()
	acc := view.NewOverviewPart()
	acc.Merge(b)
	acc.Merge(a)
	sameOverview(t, acc.Result(w), whole)

	// Counting on after compacting (an exchange that came late).
	c := mk(xs[:half])
	c.Compact()
	for i := range xs[half:] {
		c.Add(&xs[half+i])
	}
	sameOverview(t, c.Result(w), whole)
	if c.Bytes() <= before/3 {
		t.Errorf("a part counting again says %d bytes, as compacted", c.Bytes())
	}
}
