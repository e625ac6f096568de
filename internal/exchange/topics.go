package exchange

import (
	"kscope/internal/kafka"
)

// topicList holds the topics of an exchange in request order, with topics
// and partitions that only the response names appended. Responses list
// them in request order (or a subset of it, for incremental fetch
// sessions), so lookups start where the last one matched.
type topicList struct {
	list  []Topic
	keys  []topicKey
	phint []int
	hint  int
}

type topicKey struct {
	name string
	id   [16]byte
}

func (k topicKey) matches(o topicKey) bool {
	if k.name != "" && k.name == o.name {
		return true
	}
	return k.id != [16]byte{} && k.id == o.id
}

// topic returns the index of a topic, named by name or, when name is
// empty, by id; it adds the topic when new.
func (b *builder) topic(name string, id [16]byte) int {
	ts := &b.ts
	k := topicKey{name, id}
	n := len(ts.list)
	for i := range n {
		j := (ts.hint + i) % n
		if ts.keys[j].matches(k) {
			ts.hint = j + 1
			return j
		}
	}
	if ts.list == nil && b.arena != nil {
		ts.list = b.arena.topic[:0]
	}
	ts.list = append(ts.list, b.newTopic(name, id))
	ts.keys = append(ts.keys, k)
	ts.phint = append(ts.phint, 0)
	ts.hint = n + 1
	return n
}

func (b *builder) newTopic(name string, id [16]byte) Topic {
	if name != "" || id == [16]byte{} {
		return Topic{Name: name}
	}
	return Topic{Name: b.topicName(id), ID: kafka.FormatTopicID(id)}
}

// topicName resolves a topic id; an unknown id is shown as itself.
func (b *builder) topicName(id [16]byte) string {
	if b.ids != nil {
		if n, ok := b.ids.Name(b.p.Cluster, id); ok {
			return n
		}
	}
	return kafka.FormatTopicID(id)
}

// partition returns a partition of topic ti, adding it when new. The
// pointer is valid until the next call for the same topic.
func (b *builder) partition(ti int, p int32) *Partition {
	ts := &b.ts
	parts := ts.list[ti].Partitions
	n := len(parts)
	for i := range n {
		j := (ts.phint[ti] + i) % n
		if parts[j].Partition == p {
			ts.phint[ti] = j + 1
			return &parts[j]
		}
	}
	if parts == nil && b.arena != nil && !b.arenaPartition {
		// The first partition of the exchange.
		parts = b.arena.partition[:0]
		b.arenaPartition = true
	}
	ts.list[ti].Partitions = append(parts, Partition{Partition: p})
	ts.phint[ti] = n + 1
	return &ts.list[ti].Partitions[n]
}

// records adds the batch headers of one partition's record data, a single
// batch copied into the exchange's arena.
func (b *builder) records(pp *Partition, rs kafka.RecordSet) {
	if len(rs.Batches) == 1 && b.arena != nil && !b.arenaBatch {
		b.arena.batch[0] = rs.Batches[0]
		rs.Batches = b.arena.batch[:]
		b.arenaBatch = true
	}
	addRecords(pp, rs)
}

// addRecords adds the batch headers of one partition's record data.
func addRecords(pp *Partition, rs kafka.RecordSet) {
	pp.Bytes += int64(rs.Bytes)
	pp.Incomplete = pp.Incomplete || rs.Incomplete
	if pp.Batches == nil {
		pp.Batches = rs.Batches
	} else {
		// Clipped so that the append never writes into the backing
		// array that the record set shares with its neighbours.
		pp.Batches = append(pp.Batches[:len(pp.Batches):len(pp.Batches)], rs.Batches...)
	}
	for i := range rs.Batches {
		bt := &rs.Batches[i]
		if bt.Control {
			// Transaction markers (KIP-98) are not records a
			// consumer sees; the batch list still shows them.
			continue
		}
		pp.Records += int64(bt.Records)
		if !bt.FirstTimestamp.IsZero() && bt.FirstTimestamp.Unix() > 0 && (pp.FirstTimestamp == nil || bt.FirstTimestamp.Before(*pp.FirstTimestamp)) {
			// Into the batch, which the partition keeps: no
			// allocation. Batches are not changed once parsed.
			pp.FirstTimestamp = &bt.FirstTimestamp
		}
		if !bt.MaxTimestamp.IsZero() && bt.MaxTimestamp.Unix() > 0 && (pp.MaxTimestamp == nil || bt.MaxTimestamp.After(*pp.MaxTimestamp)) {
			pp.MaxTimestamp = &bt.MaxTimestamp
		}
		if pp.TimestampType == "" {
			pp.TimestampType = bt.TimestampType
		}
	}
}
