package view

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/exchange"
	"kscope/internal/inspect"
)

// Where the log end a consumer's lag is measured against came from
// (ConsumerLag.HighWatermarkSource).
const (
	EndOwnFetch    = "own fetch"
	EndOtherFetch  = "other fetch"
	EndProduce     = "produce"
	EndListOffsets = "list offsets"
	EndCluster     = "cluster"
)

// logEnd is the freshest log end known for a partition.
type logEnd struct {
	offset int64
	at     time.Time
	source string
	// by is the process whose fetch told it.
	by string
}

// logEnds are the freshest log ends of the partitions, learned from every
// source: fetch responses (consumers' and followers': each carries the
// leader's high watermark), Produce responses (the base offset plus the
// records appended), read_uncommitted ListOffsets answers for the latest
// offset, and the cluster inspector's polls.
type logEnds map[topicPartition]logEnd

// see keeps what is newer, or as new and further.
func (l logEnds) see(k topicPartition, offset int64, at time.Time, source, by string) {
	old, ok := l[k]
	if !ok || at.After(old.at) || (at.Equal(old.at) && offset > old.offset) {
		l[k] = logEnd{offset, at, source, by}
	}
}

// logEndsOf learns the log ends from xs (each once) and snaps, up to
// until.
func logEndsOf(xs []exchange.Exchange, snaps []inspect.Snapshot, until time.Time) logEnds {
	l := logEnds{}
	for i := range xs {
		e := &xs[i]
		if e.Latency == nil {
			continue
		}
		arrived := e.Time.Add(*e.Latency)
		if !until.IsZero() && !arrived.Before(until) {
			continue
		}
		switch {
		case e.Is(kmsg.Fetch):
			by := procKey(e)
			for _, t := range e.Topics {
				for _, p := range t.Partitions {
					if p.Error == "" && p.HighWatermark != nil && *p.HighWatermark >= 0 {
						l.see(topicPartition{t.Name, p.Partition}, *p.HighWatermark, arrived, EndOwnFetch, by)
					}
				}
			}
		case e.Is(kmsg.Produce):
			// With acks=all the high watermark is past the records
			// when the answer comes; with acks=1 (or 0) it follows
			// once the followers have them, milliseconds later: the
			// log end is taken as theirs all the same.
			for _, t := range e.Topics {
				for _, p := range t.Partitions {
					if p.Error == "" && p.BaseOffset != nil && *p.BaseOffset >= 0 {
						l.see(topicPartition{t.Name, p.Partition}, *p.BaseOffset+p.Records, arrived, EndProduce, "")
					}
				}
			}
		case e.Is(kmsg.ListOffsets):
			for _, t := range e.Topics {
				for _, p := range t.Partitions {
					// Timestamp -1 asks for the latest offset: the high
					// watermark read uncommitted (read_committed gets the
					// last stable offset, below it while a transaction is
					// open).
					if e.Detail != nil && e.Detail.IsolationLevel == "read_committed" {
						continue
					}
					if p.Error == "" && p.Timestamp != nil && *p.Timestamp == -1 && p.Offset != nil && *p.Offset >= 0 {
						l.see(topicPartition{t.Name, p.Partition}, *p.Offset, arrived, EndListOffsets, "")
					}
				}
			}
		}
	}
	for i := range snaps {
		s := &snaps[i]
		if !until.IsZero() && !s.Time.Before(until) {
			continue
		}
		for _, t := range s.Topics {
			for _, p := range t.Partitions {
				if p.HighWatermark >= 0 {
					l.see(topicPartition{t.Name, p.Partition}, p.HighWatermark, s.Time, EndCluster, "")
				}
			}
		}
	}
	return l
}

// appendedAt is when offset o of the partition was appended: from the
// Produce the agent saw, else from a batch header the inspector read.
func appendedAt(ix *OffsetIndex, snaps []inspect.Snapshot, k topicPartition, o int64) (time.Time, bool) {
	if at, ok := ix.Lookup(k.topic, k.partition, o); ok {
		return at.Appended, true
	}
	for i := len(snaps) - 1; i >= 0; i-- {
		for _, t := range snaps[i].Topics {
			if t.Name != k.topic {
				continue
			}
			for j := range t.Partitions {
				if t.Partitions[j].Partition != k.partition {
					continue
				}
				if b, ok := t.Partitions[j].BatchAt(o); ok && !b.MaxTimestamp.IsZero() {
					return b.MaxTimestamp, true
				}
			}
		}
	}
	return time.Time{}, false
}
