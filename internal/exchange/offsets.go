package exchange

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *builder) listOffsets(req *kmsg.ListOffsetsRequest, resp *kmsg.ListOffsetsResponse) {
	if req.ReplicaID >= 0 {
		d := b.detail()
		d.Replica, d.ReplicaID = true, ptr(req.ReplicaID)
	}
	if req.Version >= 2 {
		b.detail().IsolationLevel = isolation(req.IsolationLevel)
	}
	for _, t := range req.Topics {
		ti := b.topic(t.Topic, [16]byte{})
		for _, p := range t.Partitions {
			// The query: a time in ms, or -1 latest, -2 earliest,
			// -3 max timestamp (KIP-734)...
			b.partition(ti, p.Partition).Timestamp = b.i64(p.Timestamp)
		}
	}
	if resp == nil {
		return
	}
	for _, t := range resp.Topics {
		ti := b.topic(t.Topic, [16]byte{})
		for _, p := range t.Partitions {
			pp := b.partition(ti, p.Partition)
			pp.Error = ErrorName(p.ErrorCode)
			if p.ErrorCode != 0 {
				continue
			}
			if resp.Version == 0 {
				if len(p.OldStyleOffsets) > 0 {
					pp.Offset = b.i64(p.OldStyleOffsets[0])
				}
			} else {
				pp.Offset = b.i64(p.Offset)
			}
		}
	}
}

func (b *builder) offsetCommit(req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse) {
	b.x.Group = req.Group
	if req.Version >= 1 {
		b.x.Generation, b.x.MemberID = ptr(req.Generation), req.MemberID
	}
	for _, t := range req.Topics {
		ti := b.topic(t.Topic, t.TopicID)
		for _, p := range t.Partitions {
			b.partition(ti, p.Partition).CommittedOffset = b.i64(p.Offset)
		}
	}
	if resp == nil {
		return
	}
	for _, t := range resp.Topics {
		ti := b.topic(t.Topic, t.TopicID)
		for _, p := range t.Partitions {
			b.partition(ti, p.Partition).Error = ErrorName(p.ErrorCode)
		}
	}
}

func (b *builder) offsetFetch(req *kmsg.OffsetFetchRequest, resp *kmsg.OffsetFetchResponse) {
	committed := func(pp *Partition, offset int64, code int16) {
		pp.Error = ErrorName(code)
		// -1: the group has no offset committed for the partition.
		if code == 0 && offset >= 0 {
			pp.CommittedOffset = b.i64(offset)
		}
	}
	if req.Version < 8 {
		b.x.Group = req.Group
		for _, t := range req.Topics {
			ti := b.topic(t.Topic, [16]byte{})
			for _, p := range t.Partitions {
				b.partition(ti, p)
			}
		}
		if resp == nil {
			return
		}
		for _, t := range resp.Topics {
			ti := b.topic(t.Topic, [16]byte{})
			for _, p := range t.Partitions {
				committed(b.partition(ti, p.Partition), p.Offset, p.ErrorCode)
			}
		}
		return
	}
	// v8+ asks for several groups at once (KIP-709). Topics are shown
	// only for a single group, where they cannot be mixed up.
	if len(req.Groups) != 1 {
		if len(req.Groups) > 0 {
			d := b.detail()
			for _, g := range req.Groups {
				d.Groups = append(d.Groups, g.Group)
			}
		}
		if resp != nil {
			for _, g := range resp.Groups {
				b.firstError(g.ErrorCode)
			}
		}
		return
	}
	g := req.Groups[0]
	b.x.Group = g.Group
	if g.MemberID != nil {
		b.x.MemberID = *g.MemberID
		b.detail().MemberEpoch = ptr(g.MemberEpoch)
	}
	for _, t := range g.Topics {
		ti := b.topic(t.Topic, t.TopicID)
		for _, p := range t.Partitions {
			b.partition(ti, p)
		}
	}
	if resp == nil {
		return
	}
	for _, rg := range resp.Groups {
		if rg.Group != g.Group && len(resp.Groups) > 1 {
			continue
		}
		b.firstError(rg.ErrorCode)
		for _, t := range rg.Topics {
			ti := b.topic(t.Topic, t.TopicID)
			for _, p := range t.Partitions {
				committed(b.partition(ti, p.Partition), p.Offset, p.ErrorCode)
			}
		}
	}
}
