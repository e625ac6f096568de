package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// A consumer that sees a partition's leader epoch go up asks the new
// leader, with OffsetForLeaderEpoch (KIP-320), where the epoch of the last
// record it consumed ended, to find whether the log it read was truncated.
// kfake answers from the epochs of the batches it holds, and when no batch
// was appended since the epoch went up it knows no end for the older
// epoch and answers -1: franz-go takes that for a truncated log and resets
// the consumer, which then reads the partition again from its start. A
// real broker records each epoch's start offset when the epoch begins
// (the leader epoch cache), so the older epoch ends at the log end. The
// model moves leaders, and right after a move, or while acks=all produce
// is refused, no batch has the new epoch: it answers such partitions
// with the log end, which it asks kfake for with ListOffsets.

// offsetForLeaderEpoch is kfake's answer, with the ends kfake does not
// know filled in.
func (r *replication) offsetForLeaderEpoch(kreq kmsg.Request) (kmsg.Response, error, bool) {
	req := kreq.(*kmsg.OffsetForLeaderEpochRequest)
	if marked(req.UnknownTags) {
		return nil, nil, false
	}
	side := *req
	side.Version = max(req.Version, 4) // flexible: the mark is a tag
	side.UnknownTags = mark()
	kresp, err := r.askWith(func(ctx context.Context, s *sideConn) (kmsg.Response, error) {
		kresp, err := s.request(ctx, &side)
		if err != nil {
			return nil, err
		}
		resp := kresp.(*kmsg.OffsetForLeaderEpochResponse)
		ends, err := s.logEnds(ctx, unknownEnds(req, resp))
		if err != nil {
			return nil, err
		}
		fillEnds(req, resp, ends)
		return resp, nil
	})
	if err != nil {
		return nil, err, true
	}
	kresp.SetVersion(req.Version)
	return kresp, nil, true
}

// epochEnd is a partition's log end and current leader epoch.
type epochEnd struct {
	end   int64
	epoch int32
}

// unknownEnds are the partitions kfake answered without an end for an
// epoch that may be an older one, with the epoch the consumer believes
// current.
func unknownEnds(req *kmsg.OffsetForLeaderEpochRequest, resp *kmsg.OffsetForLeaderEpochResponse) map[tp]int32 {
	asked := make(map[tp]kmsg.OffsetForLeaderEpochRequestTopicPartition)
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			asked[tp{t.Topic, p.Partition}] = p
		}
	}
	out := make(map[tp]int32)
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			k := tp{t.Topic, p.Partition}
			if a, ok := asked[k]; ok && p.ErrorCode == 0 && p.EndOffset == -1 && a.LeaderEpoch >= 0 {
				out[k] = a.CurrentLeaderEpoch
			}
		}
	}
	return out
}

// logEnds asks for the log end and current epoch of each partition.
func (s *sideConn) logEnds(ctx context.Context, parts map[tp]int32) (map[tp]epochEnd, error) {
	out := make(map[tp]epochEnd)
	if len(parts) == 0 {
		return out, nil
	}
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = 4 // the first with the leader epoch
	byTopic := make(map[string]int)
	for k, current := range parts {
		i, ok := byTopic[k.topic]
		if !ok {
			i = len(req.Topics)
			byTopic[k.topic] = i
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = k.topic
			req.Topics = append(req.Topics, rt)
		}
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch, rp.Timestamp = k.partition, current, -1
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	kresp, err := s.request(ctx, req)
	if err != nil {
		return nil, err
	}
	for _, t := range kresp.(*kmsg.ListOffsetsResponse).Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode == 0 {
				out[tp{t.Topic, p.Partition}] = epochEnd{p.Offset, p.LeaderEpoch}
			}
		}
	}
	return out, nil
}

// fillEnds answers an epoch older than the current one with the log end:
// no batch came after it, so it ended there.
func fillEnds(req *kmsg.OffsetForLeaderEpochRequest, resp *kmsg.OffsetForLeaderEpochResponse, ends map[tp]epochEnd) {
	asked := make(map[tp]int32)
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			asked[tp{t.Topic, p.Partition}] = p.LeaderEpoch
		}
	}
	for i := range resp.Topics {
		t := &resp.Topics[i]
		for j := range t.Partitions {
			p := &t.Partitions[j]
			k := tp{t.Topic, p.Partition}
			e, ok := ends[k]
			if ok && asked[k] < e.epoch {
				p.LeaderEpoch, p.EndOffset = asked[k], e.end
			}
		}
	}
}
