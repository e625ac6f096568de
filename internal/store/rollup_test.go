package store

import (
	"fmt"
	"testing"
	"time"

	"kscope/internal/exchange"
)

// rollupTraffic adds one Produce every 100 ms for secs seconds from t0,
// each of its own topic of 5, and returns the newest exchange's time.
func rollupTraffic(s *Store, from, secs int) time.Time {
	var last time.Time
	for i := from * 10; i < (from+secs)*10; i++ {
		e := fake(i, "Produce", fmt.Sprintf("topic-%d", i%5), 0)
		e.Request = exchange.Body{}
		e.Time = t0.Add(time.Duration(i) * 100 * time.Millisecond)
		s.Add(e)
		last = e.Time
	}
	return last
}

// sumRequests sums the Produce requests of the aggregates held in
// [since, until) and the length of the parts they came from.
func sumRequests(s *Store, since, until time.Time) (requests uint64, seconds int, longest int) {
	for _, sec := range s.Aggregates(since, until) {
		requests += sec.APIs["Produce"].Requests
		seconds += sec.Seconds
		longest = max(longest, sec.Seconds)
	}
	return requests, seconds, longest
}

// TestRollupKeepsCounts: as seconds age they are rolled up into 10 s,
// then 1 min parts whose sums are those of the seconds, and a window
// reads each time once at the finest resolution held.
func TestRollupKeepsCounts(t *testing.T) {
	s := New(Config{MemoryBytes: 64 << 20})
	last := rollupTraffic(s, 0, 20*60)
	st := s.Stats()
	if st.SecondsEvicted != 0 || st.Seconds != 20*60 {
		t.Fatalf("%d seconds held, %d evicted: want all 1200 held", st.Seconds, st.SecondsEvicted)
	}
	// 1 s parts for the last 5 minutes, 10 s parts for the 20 (not an
	// hour old yet), 1 min parts for the 20, but for what is not
	// settled and rolled up yet.
	want := []struct{ parts, from int }{{300, 15 * 60}, {119, 0}, {19, 0}}
	for i, r := range st.Resolutions {
		if r.Parts != want[i].parts || !r.From.Equal(t0.Add(time.Duration(want[i].from)*time.Second)) {
			t.Errorf("%d s parts: %d from %v, want %d from %v", r.Seconds, r.Parts, r.From.Sub(t0), want[i].parts, time.Duration(want[i].from)*time.Second)
		}
	}
	for _, c := range []struct {
		since, until  time.Duration
		requests      uint64
		seconds, part int
	}{
		{0, 20 * time.Minute, 12000, 1200, 1},
		// Before the last 5 minutes only 10 s and 1 min parts are
		// held: the window is cut to whole 10 s parts, from the one
		// holding its start to the last that ends by its end.
		{65 * time.Second, 2 * time.Minute, 600, 60, 10},
		{63 * time.Second, 2*time.Minute + 17*time.Second, 700, 70, 10},
		{15 * time.Minute, 16 * time.Minute, 600, 60, 1},
	} {
		req, secs, _ := sumRequests(s, t0.Add(c.since), t0.Add(c.until))
		if req != c.requests || secs != c.seconds {
			t.Errorf("%v-%v: %d requests over %d s, want %d over %d", c.since, c.until, req, secs, c.requests, c.seconds)
		}
	}
	if got := s.Aggregates(time.Time{}, time.Time{}); !got[len(got)-1].Time.Equal(last.Truncate(time.Second)) || got[len(got)-1].Seconds != 1 {
		t.Errorf("the newest part is %v of %d s, want the second of %v", got[len(got)-1].Time, got[len(got)-1].Seconds, last)
	}
	// The sums of a 1 min part are those of its seconds.
	fine := New(Config{MemoryBytes: 64 << 20, Resolutions: []Resolution{{Length: time.Second, Keep: time.Hour}}})
	rollupTraffic(fine, 0, 20*60)
	minute := s.Aggregates(t0.Add(2*time.Minute), t0.Add(3*time.Minute))
	secs := fine.Aggregates(t0.Add(2*time.Minute), t0.Add(3*time.Minute))
	if len(minute) != 6 || len(secs) != 60 {
		t.Fatalf("%d parts of the rolled up store, %d seconds of the other", len(minute), len(secs))
	}
	sum := func(ss []Second) map[string]Agg {
		out := map[string]Agg{}
		for _, sec := range ss {
			for _, m := range []map[string]Agg{sec.APIs, sec.Topics} {
				for k, v := range m {
					a := out[k]
					mergeAgg(&a, &v)
					out[k] = a
				}
			}
		}
		return out
	}
	if a, b := sum(minute), sum(secs); fmt.Sprint(a) != fmt.Sprint(b) || a["topic-3"].Requests != 120 {
		t.Errorf("rolled up %v\nseconds %v", a, b)
	}
}

// TestRollupEvictsFinestFirst: under the budget, parts already rolled up
// go first, the finest first, and time is lost only when the coarsest
// must go, oldest first.
func TestRollupEvictsFinestFirst(t *testing.T) {
	const budget = 60 << 10
	s := New(Config{MemoryBytes: 1 << 20, AggregateBytes: budget})
	rollupTraffic(s, 0, 20*60)
	st := s.Stats()
	if st.AggregateBytes > budget {
		t.Fatalf("aggregates %d bytes, budget %d", st.AggregateBytes, budget)
	}
	fine, mid, coarse := st.Resolutions[0], st.Resolutions[1], st.Resolutions[2]
	t.Logf("%+v", st.Resolutions)
	// The 1 s parts left are those not rolled up yet (the 10 s part
	// in progress and the seconds settling); the oldest 10 s parts went
	// before any 1 min part.
	if fine.Parts > 10+int(settleSeconds) || mid.Parts == 0 || mid.Parts >= 119 || !coarse.From.Equal(t0) || st.SecondsEvicted != 0 {
		t.Errorf("want few 1 s parts, some 10 s parts, 1 min parts from the start and nothing lost: %+v, %d seconds evicted", st.Resolutions, st.SecondsEvicted)
	}
	if req, secs, _ := sumRequests(s, time.Time{}, time.Time{}); req != 12000 || secs != 1200 {
		t.Errorf("%d requests over %d s, want all 12000 over 1200 s", req, secs)
	}

	// Three more hours: the 1 min parts no longer fit, the oldest go.
	last := rollupTraffic(s, 20*60, 3*3600)
	st = s.Stats()
	coarse = st.Resolutions[2]
	if st.SecondsEvicted == 0 || !coarse.From.After(t0) || st.AggregateBytes > budget {
		t.Fatalf("want the oldest minutes evicted within budget: %+v, %d seconds evicted, %d bytes", st.Resolutions, st.SecondsEvicted, st.AggregateBytes)
	}
	got := s.Aggregates(time.Time{}, time.Time{})
	if !got[0].Time.Equal(coarse.From) || got[0].Seconds != 60 {
		t.Errorf("the oldest part read is %v of %d s, want the oldest minute held %v", got[0].Time, got[0].Seconds, coarse.From)
	}
	held := int(last.Truncate(time.Second).Sub(coarse.From)/time.Second) + 1
	if req, secs, _ := sumRequests(s, time.Time{}, time.Time{}); secs != held || req != uint64(10*held) || st.Seconds != held {
		t.Errorf("%d requests over %d s (stats: %d), want %d over the %d s since the oldest minute", req, secs, st.Seconds, 10*held, held)
	}
	// A window from before what is held starts with it.
	if _, _, longest := sumRequests(s, t0, coarse.From.Add(10*time.Minute)); longest != 60 {
		t.Errorf("the oldest 10 minutes read at %d s, want 60", longest)
	}
}

// TestRollupAges: the coarsest parts go once older than their Keep,
// counted apart from those the budget took.
func TestRollupAges(t *testing.T) {
	s := New(Config{MemoryBytes: 64 << 20, Resolutions: []Resolution{
		{Length: time.Second, Keep: 30 * time.Second},
		{Length: 10 * time.Second, Keep: 2 * time.Minute},
	}})
	rollupTraffic(s, 0, 5*60)
	st := s.Stats()
	if st.SecondsExpired == 0 || st.SecondsEvicted != 0 || st.Resolutions[1].From.Before(t0.Add(3*time.Minute-10*time.Second)) {
		t.Errorf("want the 10 s parts of the last 2 minutes, the older expired: %+v, %d expired, %d evicted", st.Resolutions, st.SecondsExpired, st.SecondsEvicted)
	}
	if st.Resolutions[0].Parts != 30 {
		t.Errorf("%d parts of 1 s, want 30", st.Resolutions[0].Parts)
	}
}

func TestResolutionsChecked(t *testing.T) {
	for _, rs := range [][]Resolution{
		{{Length: 2 * time.Second, Keep: time.Minute}},
		{{Length: time.Second, Keep: time.Minute}, {Length: 10 * time.Second, Keep: time.Hour}, {Length: 15 * time.Second, Keep: time.Hour}},
		{{Length: time.Second, Keep: time.Minute}, {Length: 1500 * time.Millisecond, Keep: time.Hour}},
	} {
		if err := checkResolutions(rs); err == nil {
			t.Errorf("%v accepted", rs)
		}
	}
	if err := checkResolutions(DefaultResolutions); err != nil {
		t.Error(err)
	}
}
