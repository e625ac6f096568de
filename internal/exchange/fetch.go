package exchange

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func isolation(level int8) string {
	switch level {
	case 0:
		return "read_uncommitted"
	case 1:
		return "read_committed"
	}
	return "unknown(" + strconv.Itoa(int(level)) + ")"
}

func (b *builder) fetch(req *kmsg.FetchRequest, resp *kmsg.FetchResponse) {
	d := b.detail()
	d.MaxWaitMS, d.MinBytes = ptr(req.MaxWaitMillis), ptr(req.MinBytes)
	// A broker fetching as a follower sets its id (v0-v14) or its
	// ReplicaState (v15+, KIP-903); consumers send -1.
	replica := req.ReplicaID
	if req.Version >= 15 {
		replica = req.ReplicaState.ID
	}
	if replica >= 0 {
		d.Replica, d.ReplicaID = true, ptr(replica)
	}
	if req.Version >= 4 {
		d.IsolationLevel = isolation(req.IsolationLevel)
	}
	if req.Version >= 7 {
		d.SessionID = ptr(req.SessionID)
		if resp != nil && resp.SessionID != 0 {
			d.SessionID = ptr(resp.SessionID)
		}
	}
	for _, t := range req.Topics {
		ti := b.topic(t.Topic, t.TopicID)
		for _, p := range t.Partitions {
			b.partition(ti, p.Partition).FetchOffset = b.i64(p.FetchOffset)
		}
	}
	if resp == nil {
		return
	}
	for _, t := range resp.Topics {
		ti := b.topic(t.Topic, t.TopicID)
		for _, p := range t.Partitions {
			pp := b.partition(ti, p.Partition)
			pp.Error = ErrorName(p.ErrorCode)
			if p.HighWatermark >= 0 {
				pp.HighWatermark = b.i64(p.HighWatermark)
			}
			if resp.Version >= 5 && p.LogStartOffset >= 0 {
				pp.LogStartOffset = b.i64(p.LogStartOffset)
			}
		}
	}
	for _, rs := range b.p.Resp.Records {
		if rs.Topic >= len(resp.Topics) || rs.Partition >= len(resp.Topics[rs.Topic].Partitions) {
			continue
		}
		t := &resp.Topics[rs.Topic]
		pp := b.partition(b.topic(t.Topic, t.TopicID), t.Partitions[rs.Partition].Partition)
		b.records(pp, rs)
		if len(pp.Batches) > 0 && pp.BaseOffset == nil {
			pp.BaseOffset = b.i64(pp.Batches[0].BaseOffset)
		}
		if at := t.Partitions[rs.Partition].AbortedTransactions; req.IsolationLevel == 1 && len(at) > 0 {
			n := abortedRecords(rs.Batches, at)
			pp.Records -= n
			pp.AbortedRecords += n
		}
	}
}

// abortedRecords counts the records of batches that belong to aborted
// transactions, which a read_committed consumer drops, as Kafka's consumer
// does (KIP-98): a transaction of producer P listed as aborted from
// offset F covers P's transactional batches from F on, up to P's next
// control batch, its abort marker. The list is short (the aborted
// transactions overlapping the fetched range), so it is searched, not
// indexed.
func abortedRecords(batches []Batch, aborted []kmsg.FetchResponseTopicPartitionAbortedTransaction) int64 {
	// started[i]: aborted transaction i has been reached; ongoing are
	// the producers inside one.
	var (
		startedBits uint64
		startedMore []bool
		ongoingArr  [4]int64
		n           int64
	)
	if len(aborted) > 64 {
		startedMore = make([]bool, len(aborted))
	}
	started := func(i int) bool {
		if startedMore != nil {
			return startedMore[i]
		}
		return startedBits&(1<<uint(i)) != 0
	}
	start := func(i int) {
		if startedMore != nil {
			startedMore[i] = true
			return
		}
		startedBits |= 1 << uint(i)
	}
	ongoing := ongoingArr[:0]
	in := func(pid int64) int {
		for i, p := range ongoing {
			if p == pid {
				return i
			}
		}
		return -1
	}
	for bi := range batches {
		b := &batches[bi]
		last := b.BaseOffset + int64(b.LastOffsetDelta)
		for i := range aborted {
			if !started(i) && aborted[i].FirstOffset <= last {
				start(i)
				if in(aborted[i].ProducerID) < 0 {
					ongoing = append(ongoing, aborted[i].ProducerID)
				}
			}
		}
		if !b.Transactional || len(ongoing) == 0 {
			continue
		}
		i := in(b.ProducerID)
		switch {
		case i < 0:
		case b.Control:
			ongoing = append(ongoing[:i], ongoing[i+1:]...)
		default:
			n += int64(b.Records)
		}
	}
	return n
}
