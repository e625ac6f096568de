package store

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"kscope/internal/inspect"
)

// lagPoll is a poll of topic orders (partitions 0 and 1, log end hw) at
// at, with the batch headers bs on partition 0, and group billing
// committed on both partitions and audit on partition 1.
func lagPoll(at time.Time, hw, billing0, billing1, audit int64, bs ...inspect.Batch) inspect.Snapshot {
	parts := []inspect.Partition{
		{Partition: 0, HighWatermark: hw, Batches: bs},
		{Partition: 1, HighWatermark: hw},
	}
	return inspect.Snapshot{Time: at, Topics: []inspect.Topic{{Name: "orders", Partitions: parts}},
		Groups: []inspect.Group{
			{Group: "billing", Offsets: []inspect.Offset{{Topic: "orders", Partition: 1, Committed: billing1}, {Topic: "orders", Partition: 0, Committed: billing0}}},
			{Group: "audit", Offsets: []inspect.Offset{{Topic: "orders", Partition: 1, Committed: audit}, {Topic: "gone", Partition: 0, Committed: 5}}},
		}}
}

func batch(base, last int64, ts time.Time) inspect.Batch {
	return inspect.Batch{BaseOffset: base, LastOffset: last, MaxTimestamp: ts}
}

// sortedLags is lags in name order, partitions in (topic, partition)
// order, as the series returns them.
func sortedLags(lags []inspect.GroupLag) []inspect.GroupLag {
	lags = slices.Clone(lags)
	slices.SortFunc(lags, func(a, b inspect.GroupLag) int { return cmp.Compare(a.Group, b.Group) })
	for i := range lags {
		lags[i].Partitions = slices.Clone(lags[i].Partitions)
		slices.SortFunc(lags[i].Partitions, func(a, b inspect.PartitionLag) int {
			return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
		})
	}
	return lags
}

// The series gives each poll's lags exactly as the poll's snapshot does:
// offset lags, Append Lags and time lags, known or not, whole
// milliseconds or not.
func TestLagSeriesExact(t *testing.T) {
	at := t0.Add(123456789 * time.Nanosecond) // not a whole millisecond
	ms := func(n int64) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	for _, c := range []struct {
		name string
		poll inspect.Snapshot
	}{
		{"caught up", lagPoll(at, 100, 100, 100, 100)},
		{"no batch header read", lagPoll(at, 100, 90, 0, 100)},
		{"millisecond timestamps", lagPoll(at, 100, 90, 50, 0, batch(80, 89, ms(-5000)), batch(90, 99, ms(-1)))},
		{"a timestamp past the poll", lagPoll(at, 100, 90, 50, 0, batch(80, 89, ms(-5000)), batch(90, 99, ms(900)))},
		{"nanosecond timestamps", lagPoll(at, 100, 90, 50, 0, batch(80, 89, t0.Add(-7*time.Nanosecond)), batch(90, 99, t0.Add(3*time.Nanosecond)))},
		{"a day behind", lagPoll(at, 1<<40, 90, 50, 0, batch(80, 89, ms(-86400_000)), batch(90, 90, ms(-86399_999)), batch(1<<40-1, 1<<40-1, ms(-3)))},
		{"transaction markers only", lagPoll(at, 100, 99, 100, 100, inspect.Batch{BaseOffset: 99, LastOffset: 99, MaxTimestamp: ms(0), Control: true})},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := New(Config{})
			s.AddSnapshot(c.poll)
			got := s.LagSeries(time.Time{}, time.Time{}, nil, true)
			want := sortedLags(c.poll.Lags())
			if len(got) != 1 || !got[0].Time.Equal(at) || got[0].Polls != 1 || got[0].Seconds != 0 {
				t.Fatalf("one poll: %+v", got)
			}
			if fmt.Sprint(sortedLags(got[0].Groups)) != fmt.Sprint(want) {
				t.Errorf("series:    %+v\nsnapshot: %+v", sortedLags(got[0].Groups), want)
			}
			// A page of groups, without partitions.
			one := s.LagSeries(time.Time{}, time.Time{}, []string{"billing", "nobody"}, false)
			if g := one[0].Groups; len(g) != 1 || g[0].Group != "billing" || g[0].Partitions != nil || g[0].OffsetLag != want[1].OffsetLag ||
				g[0].AppendLag != want[1].AppendLag || g[0].TimeLag != want[1].TimeLag {
				t.Errorf("billing alone: %+v, want %+v", g, want[1])
			}
		})
	}
}

// Each poll is kept for 5 minutes, whole minutes at a time; each minute
// once complete is one point at its last poll, each lag the worst of its
// polls (a peak between points still shows); a window is answered by
// polls where held and minutes before.
func TestLagSeriesRollup(t *testing.T) {
	s := New(Config{})
	const polls = 12 * 12 // 12 minutes every 5 s
	for i := range polls {
		lag := int64(10)
		if i == 12+3 {
			lag = 500 // a peak in minute 1
		}
		s.AddSnapshot(lagPoll(t0.Add(time.Duration(i)*5*time.Second), 1000, 1000-lag, 1000, 1000))
	}
	got := s.LagSeries(time.Time{}, time.Time{}, []string{"billing"}, true)
	var minutes, fine int
	for i, p := range got {
		if p.Seconds == lagMinute {
			minutes++
			if fine > 0 {
				t.Fatalf("a minute after a poll at %d: %v", i, p.Time)
			}
			continue
		}
		fine++
	}
	// Minutes 0-5 rolled up and their polls dropped (the newest poll is
	// at 11:55: minutes 6-11 are within 5 minutes), minutes 6-11 as polls.
	if minutes != 6 || fine != 6*12 || !got[minutes].Time.Equal(t0.Add(6*time.Minute)) {
		t.Fatalf("%d minutes, %d polls from %v", minutes, fine, got[minutes].Time)
	}
	m1 := got[1]
	if !m1.Time.Equal(t0.Add(time.Minute+55*time.Second)) || m1.Polls != 12 || m1.Groups[0].OffsetLag != 500 || m1.Groups[0].Partitions[0].OffsetLag != 500 {
		t.Errorf("minute 1: at %v, %d polls, %+v", m1.Time, m1.Polls, m1.Groups)
	}
	if m0 := got[0]; m0.Groups[0].OffsetLag != 10 {
		t.Errorf("minute 0: %+v", m0.Groups)
	}
	// A window from 2:30 starts with minute 2's point (at 2:55).
	if w := s.LagSeries(t0.Add(150*time.Second), t0.Add(8*time.Minute), nil, false); !w[0].Time.Equal(t0.Add(2*time.Minute+55*time.Second)) ||
		w[len(w)-1].Time.After(t0.Add(8*time.Minute)) {
		t.Errorf("2:30 to 8:00: %v to %v", w[0].Time, w[len(w)-1].Time)
	}
}

// Under the budget the series drops its finest detail first: the polls
// already rolled up, oldest minute first; then the oldest minutes; never
// the polls of the minute not yet complete.
func TestLagSeriesEvictionOrder(t *testing.T) {
	var ls lagSeries
	for i := range 10 * 12 { // 10 minutes, every 5 s
		p := lagPoll(t0.Add(time.Duration(i)*5*time.Second), 1000, 990, 1000, 1000)
		ls.add(p.Time, p.Lags())
	}
	bytes := ls.bytes
	var order []string
	for ls.evict() {
		if ls.bytes >= bytes {
			t.Fatalf("evicting freed nothing: %d bytes, then %d", bytes, ls.bytes)
		}
		bytes = ls.bytes
		first := "none"
		if len(ls.minutes) > 0 {
			first = ls.minutes[0].at.Sub(t0).String()
		}
		order = append(order, fmt.Sprintf("%d polls from %v, minutes from %s", len(ls.fine), ls.fine[0].at.Sub(t0), first))
	}
	want := []string{
		"60 polls from 5m0s, minutes from 55s",
		"48 polls from 6m0s, minutes from 55s",
		"36 polls from 7m0s, minutes from 55s",
		"24 polls from 8m0s, minutes from 55s",
		"12 polls from 9m0s, minutes from 55s",
		"12 polls from 9m0s, minutes from 1m55s",
	}
	for i := range 7 {
		want = append(want, fmt.Sprintf("12 polls from 9m0s, minutes from %dm55s", i+2))
	}
	want = append(want, "12 polls from 9m0s, minutes from none")
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Errorf("eviction order:\n%s\nwant:\n%s", fmt.Sprint(order), fmt.Sprint(want))
	}
	if ls.bytes <= 0 || len(ls.fine) != 12 {
		t.Errorf("left %d bytes, %d polls", ls.bytes, len(ls.fine))
	}
}

// The snapshots and the series share the snapshots' part of the budget:
// snapshots beyond the newest keepSnapshots go before the series gives up
// any history.
func TestLagSeriesShareBudget(t *testing.T) {
	// 300 groups committed on 10 partitions, polled every 30 s.
	poll := func(i int) inspect.Snapshot {
		s := snapshot(t0.Add(time.Duration(i)*30*time.Second), 1)
		s.Groups = nil
		for g := range 300 {
			grp := inspect.Group{Group: fmt.Sprintf("group-%03d", g)}
			for p := range int32(10) {
				grp.Offsets = append(grp.Offsets, inspect.Offset{Topic: "topic-0", Partition: p, Committed: int64(i % 90)})
			}
			s.Groups = append(s.Groups, grp)
		}
		return s
	}
	per := SnapshotSize(ptr(poll(0)))
	budget := 2*keepSnapshots*per + 1
	s := New(Config{MemoryBytes: 8 * budget})
	firstMinute := t0.Add(30 * time.Second)
	for i := range 1000 {
		s.AddSnapshot(poll(i))
		st := s.Stats()
		if st.SnapshotBytes > st.SnapshotBudget {
			t.Fatalf("after %d polls: %d of %d bytes", i+1, st.SnapshotBytes, st.SnapshotBudget)
		}
		if _, _, _, oldest := s.LagSeriesStats(); oldest.After(firstMinute) && st.Snapshots > keepSnapshots {
			t.Fatalf("after %d polls the series starts at %v with %d snapshots held", i+1, oldest.Sub(t0), st.Snapshots)
		}
	}
	st := s.Stats()
	fine, minutes, bytes, oldest := s.LagSeriesStats()
	if st.Snapshots != keepSnapshots || !oldest.After(firstMinute) || fine < 1 || bytes < st.SnapshotBudget/3 {
		t.Errorf("after 1000 polls: %d snapshots, series of %d polls and %d minutes (%d bytes of %d) from %v", st.Snapshots, fine, minutes, bytes, st.SnapshotBytes, oldest.Sub(t0))
	}
	// The polls already rolled up went first: only the minute not
	// complete yet has its polls.
	t.Logf("%d snapshots of %d bytes, series of %d polls and %d minutes in %d bytes from %v", st.Snapshots, per, fine, minutes, bytes, oldest.Sub(t0))
}
