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
			b.partition(ti, p.Partition).FetchOffset = ptr(p.FetchOffset)
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
				pp.HighWatermark = ptr(p.HighWatermark)
			}
			if resp.Version >= 5 && p.LogStartOffset >= 0 {
				pp.LogStartOffset = ptr(p.LogStartOffset)
			}
		}
	}
	for _, rs := range b.p.Resp.Records {
		if rs.Topic >= len(resp.Topics) || rs.Partition >= len(resp.Topics[rs.Topic].Partitions) {
			continue
		}
		t := &resp.Topics[rs.Topic]
		pp := b.partition(b.topic(t.Topic, t.TopicID), t.Partitions[rs.Partition].Partition)
		addRecords(pp, rs)
		if len(pp.Batches) > 0 && pp.BaseOffset == nil {
			pp.BaseOffset = ptr(pp.Batches[0].BaseOffset)
		}
	}
}
