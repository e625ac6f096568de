package exchange

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *builder) produce(req *kmsg.ProduceRequest, resp *kmsg.ProduceResponse) {
	d := b.detail()
	d.Acks, d.TimeoutMS = ptr(req.Acks), ptr(req.TimeoutMillis)
	if req.TransactionID != nil {
		d.TransactionalID = *req.TransactionID
	}
	for _, t := range req.Topics {
		ti := b.topic(t.Topic, t.TopicID)
		for _, p := range t.Partitions {
			b.partition(ti, p.Partition)
		}
	}
	for _, rs := range b.p.Req.Records {
		if rs.Topic >= len(req.Topics) || rs.Partition >= len(req.Topics[rs.Topic].Partitions) {
			continue
		}
		t := &req.Topics[rs.Topic]
		b.records(b.partition(b.topic(t.Topic, t.TopicID), t.Partitions[rs.Partition].Partition), rs)
	}
	if resp == nil {
		return
	}
	for _, t := range resp.Topics {
		ti := b.topic(t.Topic, t.TopicID)
		for _, p := range t.Partitions {
			pp := b.partition(ti, p.Partition)
			pp.Error = ErrorName(p.ErrorCode)
			if p.ErrorCode == 0 {
				pp.BaseOffset = b.i64(p.BaseOffset)
			}
			// LogAppendTime is -1 unless the topic uses
			// message.timestamp.type=LogAppendTime (v2+).
			if resp.Version >= 2 && p.LogAppendTime != -1 {
				pp.LogAppendTime = ptr(time.UnixMilli(p.LogAppendTime).UTC())
			}
			if resp.Version >= 5 && p.LogStartOffset != -1 {
				pp.LogStartOffset = b.i64(p.LogStartOffset)
			}
		}
	}
}
