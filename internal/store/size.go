package store

import (
	"unsafe"

	"kscope/internal/exchange"
)

// Fixed costs of the estimate. allocOverhead stands for the size-class
// rounding and headers of each heap allocation; slotBytes for the record's
// slot in the ring, counted twice because the ring grows by doubling.
const (
	allocOverhead = 16
	slotBytes     = 2 * int64(unsafe.Sizeof(entry{}))
	// exchangeBytes: an exchange as a struct of its own (a broker-side
	// copy the twins hold).
	exchangeBytes = int64(unsafe.Sizeof(exchange.Exchange{})) + allocOverhead
	topicBytes    = int64(unsafe.Sizeof(exchange.Topic{}))
	partBytes     = int64(unsafe.Sizeof(exchange.Partition{}))
	batchBytes    = int64(unsafe.Sizeof(exchange.Batch{}))
	detailBytes   = int64(unsafe.Sizeof(exchange.Detail{})) + allocOverhead
	memberBytes   = int64(unsafe.Sizeof(exchange.Member{}))
	tpBytes       = int64(unsafe.Sizeof(exchange.TopicPartitions{}))
	strBytes      = int64(unsafe.Sizeof(""))
	// ptrField is one small pointed-to value (*int64, *time.Time...).
	ptrField = 24 + allocOverhead
)

// Size estimates the memory the store takes to keep e after an exchange
// of the same process: its slot, its packed summary and bodies, its
// references, its Detail unless shared (the process names are shared
// then), and what reading it takes (readSize).
func Size(e *exchange.Exchange) int64 {
	var pk exchange.Packer
	pk.Pack(e)
	_, packed := pk.Pack(e)
	return packedSize(e, packed)
}

// packedSize is what the store takes to keep e, packed in bytes beyond
// the Packed value (exchange.Packer.Pack).
func packedSize(e *exchange.Exchange, packed int64) int64 {
	n := slotBytes + packed + readSize(e)
	if d := e.Detail; d != nil && !e.DetailShared() {
		// A Detail shared with earlier exchanges counts with the
		// first: sharing is what keeps it from being one each.
		n += detailSize(d)
	}
	return n
}

// readSize is the memory a view takes to read e: the exchange unpacked
// (its struct, its topics, partitions, batches and offsets; strings and
// bodies are shared) and its entry copied from the ring. A view reads
// every exchange of its window, and a scrape of the lag metrics the whole
// store: counting this in the budget keeps the process within --memory
// while it does, at the price of holding fewer exchanges. Packed, an
// exchange takes half of it or less.
func readSize(e *exchange.Exchange) int64 {
	n := exchangeBytes + int64(unsafe.Sizeof(entry{}))
	if e.LatencyNS != nil {
		n += 8
	}
	if e.Latency != nil {
		n += 8
	}
	n += int64(len(e.Topics)) * topicBytes
	for i := range e.Topics {
		t := &e.Topics[i]
		n += int64(len(t.Partitions)) * partBytes
		for j := range t.Partitions {
			p := &t.Partitions[j]
			n += int64(len(p.Batches))*batchBytes + 8*int64(countPtrs(p.BaseOffset, p.FetchOffset, p.HighWatermark, p.LogStartOffset, p.CommittedOffset, p.Timestamp, p.Offset))
		}
	}
	return n
}

// structSize estimates the memory e holds as Go structs: its struct, its
// bodies and its summary's slices, by capacity (what was allocated, not
// what is used). Strings shared with other exchanges (API and error
// names) are counted anyway: the estimate errs on the high side. It walks
// the exchange once without allocating.
func structSize(e *exchange.Exchange) int64 {
	n := exchangeBytes
	n += e.Request.Size() + e.Response.Size() + 2*allocOverhead
	n += int64(len(e.ClientID) + len(e.Error) + len(e.NoResponse) + len(e.Group) + len(e.MemberID))
	n += endpointSize(&e.Client) + endpointSize(&e.Server)
	if e.LatencyNS != nil {
		n += 2 * ptrField // Latency and LatencyNS
	}
	if e.Generation != nil {
		n += ptrField
	}
	n += int64(cap(e.Topics))*topicBytes + allocOverhead
	for i := range e.Topics {
		t := &e.Topics[i]
		n += int64(len(t.Name)+len(t.ID)) + int64(cap(t.Partitions))*partBytes + allocOverhead
		for j := range t.Partitions {
			p := &t.Partitions[j]
			n += int64(len(p.Error)+len(p.TimestampType)) + int64(cap(p.Batches))*batchBytes
			n += ptrField * int64(countPtrs(p.BaseOffset, p.FetchOffset, p.HighWatermark, p.LogStartOffset, p.CommittedOffset, p.Timestamp, p.Offset))
			// FirstTimestamp and MaxTimestamp point into the
			// batches.
			if p.LogAppendTime != nil {
				n += ptrField
			}
			for k := range p.Batches {
				b := &p.Batches[k]
				n += int64(len(b.TimestampType) + len(b.Compression))
			}
		}
	}
	if d := e.Detail; d != nil && !e.DetailShared() {
		// A Detail shared with earlier exchanges counts with the
		// first: sharing is what keeps it from being one each.
		n += detailSize(d)
	}
	return n
}

func endpointSize(ep *exchange.Endpoint) int64 {
	return int64(len(ep.Addr) + len(ep.Process) + len(ep.Cmdline) + len(ep.Container) + len(ep.Pod))
}

func countPtrs(ps ...*int64) int {
	n := 0
	for _, p := range ps {
		if p != nil {
			n++
		}
	}
	return n
}

func detailSize(d *exchange.Detail) int64 {
	n := detailBytes
	// Every pointer field of Detail counted as set: a handful of words.
	n += 10 * ptrField
	n += int64(len(d.TransactionalID) + len(d.IsolationLevel) + len(d.ProtocolType) + len(d.Protocol) + len(d.Leader) +
		len(d.SubscriptionRegex) + len(d.CoordinatorType) + len(d.Coordinator) + len(d.ClusterID) + len(d.ClientSoftware) +
		len(d.Mechanism) + len(d.User) + len(d.DecodeError))
	n += stringsSize(d.Protocols) + stringsSize(d.Subscription) + stringsSize(d.CoordinatorKeys) + stringsSize(d.Groups)
	n += tpsSize(d.Owned) + tpsSize(d.Assignment)
	n += membersSize(d.Members)
	for i := range d.Coordinators {
		c := &d.Coordinators[i]
		n += int64(len(c.Key) + len(c.Addr) + len(c.Error))
	}
	n += int64(cap(d.Coordinators))*int64(unsafe.Sizeof(exchange.Coordinator{})) + allocOverhead
	for i := range d.Brokers {
		b := &d.Brokers[i]
		n += int64(len(b.Addr) + len(b.Rack))
	}
	n += int64(cap(d.Brokers))*int64(unsafe.Sizeof(exchange.Broker{})) + allocOverhead
	for k, v := range d.TopicErrors {
		// Go maps cost about twice their key and value headers.
		n += int64(len(k)+len(v)) + 4*strBytes
	}
	for i := range d.Described {
		g := &d.Described[i]
		n += int64(len(g.Group)+len(g.Error)+len(g.State)+len(g.ProtocolType)+len(g.Protocol)) + membersSize(g.Members)
	}
	n += int64(cap(d.Described))*int64(unsafe.Sizeof(exchange.GroupDescription{})) + allocOverhead
	return n
}

func stringsSize(ss []string) int64 {
	n := int64(cap(ss))*strBytes + allocOverhead
	for _, s := range ss {
		n += int64(len(s))
	}
	return n
}

func tpsSize(tps []exchange.TopicPartitions) int64 {
	n := int64(cap(tps))*tpBytes + allocOverhead
	for i := range tps {
		n += int64(len(tps[i].Topic)) + int64(cap(tps[i].Partitions))*4 + allocOverhead
	}
	return n
}

func membersSize(ms []exchange.Member) int64 {
	n := int64(cap(ms))*memberBytes + allocOverhead
	for i := range ms {
		m := &ms[i]
		n += int64(len(m.MemberID)+len(m.InstanceID)+len(m.ClientID)+len(m.ClientHost)+len(m.Reason)+len(m.Error)) +
			stringsSize(m.Subscription) + tpsSize(m.Assignment)
	}
	return n
}
