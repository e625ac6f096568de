package inspect

import (
	"fmt"
	"testing"
	"time"
)

// Partition.Lag: a group's lag on a partition at a poll, from the poll's
// log end and the batch headers it read, as the lag views and the store's
// lag series both use it.
func TestPartitionLag(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 0, 500, time.UTC)
	ts := func(sec int) time.Time { return at.Add(time.Duration(sec) * time.Second) }
	// Records 0-9, 10-19 and 20-29 were appended at -30 s, -20 s and
	// -10 s.
	batches := []Batch{{0, 9, ts(-30), "CreateTime", false}, {10, 19, ts(-20), "CreateTime", false}, {20, 29, ts(-10), "CreateTime", false}}
	for _, c := range []struct {
		name      string
		hw, c     int64
		batches   []Batch
		offset    int64
		app, time time.Duration
	}{
		{"caught up: no time is needed", 30, 30, nil, 0, 0, 0},
		{"committed past the log end (read apart)", 30, 31, nil, 0, 0, 0},
		{"behind, headers read", 30, 15, batches, 15, 10 * time.Second, 20 * time.Second},
		{"behind, committed on a batch boundary", 30, 10, batches, 20, 20 * time.Second, 20 * time.Second},
		{"behind, no header read", 30, 15, nil, 15, UnknownLag, UnknownLag},
		{"behind, the first unconsumed header only", 30, 15, batches[1:2], 15, UnknownLag, 20 * time.Second},
		{"a timestamp after the poll", 30, 15, []Batch{{10, 19, ts(5), "CreateTime", false}, {20, 29, ts(10), "CreateTime", false}}, 15, 5 * time.Second, 0},
		{"transaction markers only", 31, 30, append(batches[:3:3], Batch{30, 30, ts(-1), "CreateTime", true}), 0, 0, 0},
	} {
		p := Partition{HighWatermark: c.hw, Batches: c.batches}
		got := p.Lag(at, c.c)
		if got.OffsetLag != c.offset || got.AppendLag != c.app || got.TimeLag != c.time {
			t.Errorf("%s: %+v, want offset lag %d, Append Lag %v, time lag %v", c.name, got, c.offset, c.app, c.time)
		}
	}
}

// Snapshot.Lags: every group's lag at a poll, summed and worst over its
// partitions, leaving out what the poll did not list or learn.
func TestSnapshotLags(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	s := Snapshot{Time: at, Topics: []Topic{
		{Name: "a", Partitions: []Partition{{Partition: 0, HighWatermark: 100, Batches: []Batch{{BaseOffset: 89, LastOffset: 99, MaxTimestamp: at.Add(-time.Second)}}}}},
		{Name: "b", Partitions: []Partition{{Partition: 0, HighWatermark: 50}, {Partition: 1, HighWatermark: -1}}},
	}, Groups: []Group{{Group: "g", Offsets: []Offset{
		{Topic: "a", Partition: 0, Committed: 90}, {Topic: "b", Partition: 0, Committed: 20},
		{Topic: "b", Partition: 1, Committed: 5}, {Topic: "c", Partition: 0, Committed: 5},
	}}, {Group: "empty"}}}
	got := fmt.Sprint(s.Lags())
	want := fmt.Sprint([]GroupLag{
		{Group: "g", OffsetLag: 40, AppendLag: 0, TimeLag: time.Second, Partitions: []PartitionLag{
			{Topic: "a", Partition: 0, OffsetLag: 10, AppendLag: 0, TimeLag: time.Second},
			{Topic: "b", Partition: 0, OffsetLag: 30, AppendLag: UnknownLag, TimeLag: UnknownLag},
		}},
		{Group: "empty", OffsetLag: 0, AppendLag: UnknownLag, TimeLag: UnknownLag, Partitions: []PartitionLag{}},
	})
	if got != want {
		t.Errorf("lags:\n%s\nwant:\n%s", got, want)
	}
}
