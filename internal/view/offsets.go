package view

import (
	"net"
	"sort"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/exchange"
)

// Bounds of an OffsetIndex: it answers for recent offsets only.
const (
	// DefaultRangesPerPartition is how many produced offset ranges an
	// index keeps per partition; the lowest offsets go first.
	DefaultRangesPerPartition = 4096
	// MaxIndexPartitions caps the partitions an index tracks; a Produce
	// to a partition beyond it is not indexed (and counted).
	MaxIndexPartitions = 100000
)

// OffsetTime is what an index knows of one produced offset.
type OffsetTime struct {
	// Produced is when the Produce request carrying the record started.
	Produced time.Time
	// Appended is when the broker appended it: the LogAppendTime of the
	// Produce response when the topic uses it, else when the response
	// arrived (the broker answers after the append, so this is at most
	// the response latency late).
	Appended time.Time
	// LogAppendTime says Appended is the broker's own LogAppendTime.
	LogAppendTime bool
	// Producer is the process (or client id) that produced it.
	Producer string
	ClientID string
}

// offsetRange is [base, end) produced by one Produce request.
type offsetRange struct {
	base, end int64
	at        OffsetTime
}

type topicPartition struct {
	topic     string
	partition int32
}

// OffsetIndex maps the offsets of a partition to when they were produced
// and appended, learned from the Produce exchanges seen: a Produce
// response gives the base offset of what the request appended, the
// request's batches give the record count. It answers only for offsets in
// a range it saw, never by interpolating between ranges: a guess made
// from neighbouring points goes wild when a consumer reprocesses old data
// or when producers pause, and a wrong time lag is worse than none.
//
// An OffsetIndex is not safe for concurrent use.
type OffsetIndex struct {
	perPartition int
	parts        map[topicPartition][]offsetRange
	// Dropped counts ranges evicted to stay in bounds, Untracked the
	// Produce partitions not indexed because too many partitions were.
	Dropped, Untracked int
}

// NewOffsetIndex returns an empty index keeping at most perPartition
// ranges for each partition (DefaultRangesPerPartition when <= 0).
func NewOffsetIndex(perPartition int) *OffsetIndex {
	if perPartition <= 0 {
		perPartition = DefaultRangesPerPartition
	}
	return &OffsetIndex{perPartition: perPartition, parts: make(map[topicPartition][]offsetRange)}
}

// BuildOffsetIndex indexes the Produce exchanges of xs (each once).
func BuildOffsetIndex(xs []exchange.Exchange) *OffsetIndex {
	ix := NewOffsetIndex(0)
	for i := range xs {
		ix.Add(&xs[i])
	}
	return ix
}

// Add indexes e when it is a Produce that was answered without error for
// a partition. Other exchanges are ignored.
func (ix *OffsetIndex) Add(e *exchange.Exchange) {
	if !e.Is(kmsg.Produce) || e.Latency == nil {
		return
	}
	answered := e.Time.Add(*e.Latency)
	producer := procKey(e)
	for _, t := range e.Topics {
		for _, p := range t.Partitions {
			// Records counts the request's batches; a partition whose
			// data was cut by a capture hole has no trustworthy count.
			if p.Error != "" || p.BaseOffset == nil || *p.BaseOffset < 0 || p.Records <= 0 || p.Incomplete {
				continue
			}
			at := OffsetTime{Produced: e.Time, Appended: answered, Producer: producer, ClientID: e.ClientID}
			if p.LogAppendTime != nil && p.LogAppendTime.UnixMilli() >= 0 {
				at.Appended, at.LogAppendTime = *p.LogAppendTime, true
			}
			ix.add(topicPartition{t.Name, p.Partition}, offsetRange{base: *p.BaseOffset, end: *p.BaseOffset + p.Records, at: at})
		}
	}
}

func (ix *OffsetIndex) add(tp topicPartition, r offsetRange) {
	rs, ok := ix.parts[tp]
	if !ok && len(ix.parts) >= MaxIndexPartitions {
		ix.Untracked++
		return
	}
	// A range overlapping known ones replaces them: the partition was
	// truncated (unclean leader election) or the topic recreated, and
	// the older times no longer describe these offsets.
	i := sort.Search(len(rs), func(i int) bool { return rs[i].end > r.base })
	j := i
	for j < len(rs) && rs[j].base < r.end {
		j++
	}
	rs = append(rs[:i], append([]offsetRange{r}, rs[j:]...)...)
	if n := len(rs) - ix.perPartition; n > 0 {
		ix.Dropped += n
		rs = append(rs[:0:0], rs[n:]...)
	}
	ix.parts[tp] = rs
}

// Lookup returns what the index knows of offset in the topic's partition;
// false when no Produce seen covered it.
func (ix *OffsetIndex) Lookup(topic string, partition int32, offset int64) (OffsetTime, bool) {
	rs := ix.parts[topicPartition{topic, partition}]
	i := sort.Search(len(rs), func(i int) bool { return rs[i].end > offset })
	if i < len(rs) && rs[i].base <= offset {
		return rs[i].at, true
	}
	return OffsetTime{}, false
}

// Ranges is the number of ranges held, over all partitions.
func (ix *OffsetIndex) Ranges() int {
	n := 0
	for _, rs := range ix.parts {
		n += len(rs)
	}
	return n
}

// procKey names the client process of e for grouping: "comm[pid]" when
// the agent traced it, else the client id at the client's host. Client
// ports are left out: one process opens a connection per broker.
func procKey(e *exchange.Exchange) string {
	if e.Client.PID != 0 {
		return procComm(&e.Client)
	}
	host := procHost(e.Client.Addr)
	if e.ClientID == "" {
		return host
	}
	if host == "" {
		return e.ClientID
	}
	return e.ClientID + "@" + host
}

// procComm is "comm[pid]" of a traced endpoint.
func procComm(ep *exchange.Endpoint) string {
	if ep.Process == "" {
		return "pid " + strconv.FormatUint(uint64(ep.PID), 10)
	}
	return ep.Process + "[" + strconv.FormatUint(uint64(ep.PID), 10) + "]"
}

// procHost is the host of a host:port address.
func procHost(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
