package inspect

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/kafka"
)

// The lag needs the append times of a few records per partition: the last
// one (high watermark - 1), and for each group the last it committed
// (committed - 1) and the first it has not consumed (committed); the
// retention the oldest one (log start). kscope
// reads them from the log itself, from the header of the record batch
// that holds each (a Fetch at that offset: the broker answers with whole
// batches from the one that holds it), never from the records. A batch
// never changes once written, so the headers are kept across polls: a
// steady poll reads only the batches of partitions that moved.

// lookupBytes is what one partition's lookup asks for: the batch that
// holds the offset comes whole, or cut after its header (61 bytes), and
// the headers of the batches after it in these bytes come too (often the
// first unconsumed record's, with the last committed's).
const lookupBytes = 16 << 10

// maxCachedBatches bounds the batch headers kept across polls; past it
// the cache starts again, and the next poll reads what it needs.
const maxCachedBatches = 200_000

// batchCache holds batch headers by topic (name and id, so that a topic
// deleted and made again is not mistaken) and partition, each partition's
// by base offset.
type batchCache struct {
	parts map[cacheKey][]Batch
	n     int
}

type cacheKey struct {
	topic, id string
	partition int32
}

func (c *batchCache) find(k cacheKey, o int64) (Batch, bool) {
	bs := c.parts[k]
	i := sort.Search(len(bs), func(i int) bool { return bs[i].LastOffset >= o })
	if i < len(bs) && bs[i].Holds(o) {
		return bs[i], true
	}
	return Batch{}, false
}

func (c *batchCache) add(k cacheKey, b Batch) {
	if c.parts == nil || c.n >= maxCachedBatches {
		c.parts, c.n = make(map[cacheKey][]Batch), 0
	}
	bs := c.parts[k]
	i := sort.Search(len(bs), func(i int) bool { return bs[i].BaseOffset >= b.BaseOffset })
	if i < len(bs) && bs[i].BaseOffset == b.BaseOffset {
		return
	}
	c.parts[k] = slices.Insert(bs, i, b)
	c.n++
}

// wanted is an offset whose batch a partition's snapshot needs.
type wanted struct {
	key    cacheKey
	part   *Partition
	leader int32
	topic  string
	id     [16]byte
	offset int64
}

// lookups finds the batches the lag needs, from the cache or from the
// partitions' leaders, and puts them in the snapshot's partitions.
func (p *poll) lookups(ctx context.Context) {
	ids := map[string][16]byte{}
	for id, name := range p.topicIDs {
		ids[name] = id
	}
	seen := map[cacheKey]map[int64]bool{}
	var missing []wanted
	want := func(t *Topic, pt *Partition, o int64) {
		if o < 0 || o < pt.LogStartOffset || pt.HighWatermark < 0 || o >= pt.HighWatermark {
			return
		}
		k := cacheKey{t.Name, t.ID, pt.Partition}
		if seen[k] == nil {
			seen[k] = map[int64]bool{}
		}
		if seen[k][o] {
			return
		}
		seen[k][o] = true
		if b, ok := p.in.batches.find(k, o); ok {
			pt.addBatch(b)
			return
		}
		missing = append(missing, wanted{key: k, part: pt, leader: pt.Leader, topic: t.Name, id: ids[t.Name], offset: o})
	}
	byName := map[string]*Topic{}
	for i := range p.s.Topics {
		byName[p.s.Topics[i].Name] = &p.s.Topics[i]
	}
	// Only partitions a group committed: first each one's last record,
	// which all its groups' Append Lag needs, then the groups' offsets.
	// Past MaxLookups, the rest waits for the next poll.
	for _, last := range []bool{true, false} {
		for gi := range p.s.Groups {
			for _, o := range p.s.Groups[gi].Offsets {
				t, pt := byName[o.Topic], p.parts[tp{o.Topic, o.Partition}]
				switch {
				case t == nil || pt == nil:
				case last:
					want(t, pt, pt.HighWatermark-1)
				default:
					want(t, pt, o.Committed-1)
					if !pt.hasBatch(o.Committed) {
						want(t, pt, o.Committed)
					}
				}
			}
		}
	}
	// Then the oldest record of every partition retention deletes
	// from: the time its log covers.
	for i := range p.s.Topics {
		t := &p.s.Topics[i]
		if !t.Retention.Deletes() {
			continue
		}
		for j := range t.Partitions {
			pt := &t.Partitions[j]
			want(t, pt, pt.LogStartOffset)
		}
	}
	if len(missing) > p.in.cfg.MaxLookups {
		p.deferred = uint64(len(missing) - p.in.cfg.MaxLookups)
		missing = missing[:p.in.cfg.MaxLookups]
	}
	// One Fetch per leader and round, one offset per partition in each:
	// a partition wanted at several offsets takes several rounds.
	byLeader := map[int32][]wanted{}
	for _, w := range missing {
		byLeader[w.leader] = append(byLeader[w.leader], w)
	}
	var (
		wg sync.WaitGroup
		mu sync.Mutex // guards the cache and the partitions' batches
	)
	for leader, ws := range byLeader {
		wg.Go(func() {
			for len(ws) > 0 {
				var round, rest []wanted
				inRound := map[cacheKey]bool{}
				for _, w := range ws {
					// An earlier round may have brought it.
					mu.Lock()
					b, ok := p.in.batches.find(w.key, w.offset)
					if ok {
						w.part.addBatch(b)
					}
					mu.Unlock()
					switch {
					case ok:
					case inRound[w.key]:
						rest = append(rest, w)
					default:
						inRound[w.key] = true
						round = append(round, w)
					}
				}
				if len(round) > 0 && !p.fetchRound(ctx, leader, round, &mu) {
					return // the leader did not answer: the rest waits for the next poll
				}
				ws = rest
			}
		})
	}
	wg.Wait()
}

// fetchRound reads the batches that hold round's offsets from leader;
// false when the leader did not answer.
func (p *poll) fetchRound(ctx context.Context, leader int32, round []wanted, mu *sync.Mutex) bool {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = 0
	req.MinBytes = 0
	req.MaxBytes = int32(min(len(round)*lookupBytes, 50<<20))
	req.IsolationLevel = 0 // transaction markers too
	req.SessionEpoch = -1  // no fetch session
	topics := map[string]int{}
	for _, w := range round {
		i, ok := topics[w.topic]
		if !ok {
			i = len(req.Topics)
			topics[w.topic] = i
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic, rt.TopicID = w.topic, w.id
			req.Topics = append(req.Topics, rt)
		}
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = w.part.Partition
		rp.FetchOffset = w.offset
		rp.CurrentLeaderEpoch = -1
		rp.LogStartOffset = -1
		rp.PartitionMaxBytes = lookupBytes
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	tctx, cancel := p.timeout(ctx)
	defer cancel()
	kresp, err := p.in.cl.Broker(int(leader)).Request(tctx, req)
	if err != nil {
		p.fail(leader, "Fetch", err)
		return false
	}
	resp := kresp.(*kmsg.FetchResponse)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		p.fail(leader, "Fetch", err)
		return false
	}
	byPart := make(map[tp]wanted, len(round))
	for _, w := range round {
		byPart[tp{w.topic, w.part.Partition}] = w
	}
	mu.Lock()
	defer mu.Unlock()
	for _, t := range resp.Topics {
		name := t.Topic
		if name == "" {
			name = p.topicIDs[t.TopicID]
		}
		for _, rp := range t.Partitions {
			w, ok := byPart[tp{name, rp.Partition}]
			if !ok {
				continue
			}
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				// Out of range: retention deleted it since the
				// offsets were read; nothing to look up.
				if err != kerr.OffsetOutOfRange {
					mu.Unlock()
					p.fail(leader, "Fetch", fmt.Errorf("%s/%d: %w", name, rp.Partition, err))
					mu.Lock()
				}
				continue
			}
			for _, b := range batchHeaders(rp.RecordBatches) {
				p.in.batches.add(w.key, b)
				if b.Holds(w.offset) {
					w.part.addBatch(b)
				}
			}
		}
	}
	return true
}

// batchHeaders reads the batch headers of record data, the last one also
// when the data ends inside it.
func batchHeaders(data []byte) []Batch {
	kbs, complete := kafka.ParseBatches(data)
	var n int
	out := make([]Batch, 0, len(kbs)+1)
	for _, kb := range kbs {
		n += int(kb.Bytes)
		if kb.Magic == 2 {
			out = append(out, fromKafka(kb))
		}
	}
	if !complete {
		if kb, ok := kafka.BatchHeader(data[n:]); ok {
			out = append(out, fromKafka(kb))
		}
	}
	return out
}

func fromKafka(b kafka.Batch) Batch {
	return Batch{
		BaseOffset: b.BaseOffset, LastOffset: b.BaseOffset + int64(b.LastOffsetDelta),
		MaxTimestamp: b.MaxTimestamp, TimestampType: b.TimestampType, Control: b.Control,
	}
}

func (pt *Partition) hasBatch(o int64) bool {
	_, ok := pt.BatchAt(o)
	return ok
}

// addBatch keeps b in the partition's snapshot, once, by base offset.
func (pt *Partition) addBatch(b Batch) {
	i := sort.Search(len(pt.Batches), func(i int) bool { return pt.Batches[i].BaseOffset >= b.BaseOffset })
	if i < len(pt.Batches) && pt.Batches[i].BaseOffset == b.BaseOffset {
		return
	}
	pt.Batches = slices.Insert(pt.Batches, i, b)
}
