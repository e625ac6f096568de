package view

import (
	"math/bits"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/exchange"
)

// Request latency rows name the API; two kinds of Fetch are told apart from
// it, so that neither inflates the latency of consumers that get records.
const (
	// APIFetchEmptyLongPoll: a consumer Fetch whose response carried no
	// records and came after (nearly) the request's max_wait_ms: the
	// broker waited for data that did not come. Its latency is the
	// consumer's configured wait, not the broker's speed.
	APIFetchEmptyLongPoll = "Fetch (empty long-poll)"
	// APIFetchReplication: a follower broker's replica fetch.
	APIFetchReplication = "Fetch (replication)"
)

// rlLongPollShare is how close to max_wait_ms an empty Fetch must take to be
// counted as a long-poll that waited it out.
const rlLongPollShare = 0.8

// LatencyRow is the latency and error rate of one API, overall or for one
// broker or one client. Quantiles are in seconds, over the requests that
// got a response, and within 2% of the exact value.
type LatencyRow struct {
	API    string  `json:"api"`
	Broker string  `json:"broker,omitempty"`
	Client *Client `json:"client,omitempty"`
	// Requests counts the requests sent; Answered those with a response
	// (acks=0 Produce requests get none).
	Requests       int64   `json:"requests"`
	Answered       int64   `json:"answered"`
	RequestsPerSec float64 `json:"requests_per_sec"`
	P50            float64 `json:"p50_seconds"`
	P90            float64 `json:"p90_seconds"`
	P99            float64 `json:"p99_seconds"`
	Max            float64 `json:"max_seconds"`
	// Errors counts requests with an error (top-level or in any
	// partition); ErrorsByCode counts them by Kafka error name.
	Errors       int64            `json:"errors"`
	ErrorRate    float64          `json:"error_rate"`
	ErrorsByCode map[string]int64 `json:"errors_by_code,omitempty"`
}

// RequestLatency is request latency per API, per API and broker, and per
// API and client.
type RequestLatency struct {
	ByAPI    []LatencyRow `json:"by_api"`
	ByBroker []LatencyRow `json:"by_broker"`
	ByClient []LatencyRow `json:"by_client"`
}

// rlAPI is the row an exchange's latency belongs to.
func rlAPI(e *exchange.Exchange, records int64) string {
	if !e.Is(kmsg.Fetch) {
		return e.API
	}
	if IsReplication(e) {
		return APIFetchReplication
	}
	lat, ok := rlLatency(e)
	if records == 0 && ok && e.Detail != nil && e.Detail.MaxWaitMS != nil && *e.Detail.MaxWaitMS > 0 &&
		float64(lat) >= rlLongPollShare*float64(time.Duration(*e.Detail.MaxWaitMS)*time.Millisecond) {
		return APIFetchEmptyLongPoll
	}
	return e.API
}

// rlLatency is e's latency: Latency, or LatencyNS for an exchange read
// back from JSON.
func rlLatency(e *exchange.Exchange) (time.Duration, bool) {
	switch {
	case e.Latency != nil:
		return *e.Latency, true
	case e.LatencyNS != nil:
		return time.Duration(*e.LatencyNS), true
	}
	return 0, false
}

// Histogram buckets: values below 1<<rlSubBits nanoseconds are exact; above,
// each power of two is cut in 1<<rlSubBits buckets, so a bucket spans at
// most 1/32 of its value and its middle is within 1.6% of any value in
// it. A histogram is fixed-size whatever the traffic.
const (
	rlSubBits = 5
	rlMaxExp  = 43 // 2^43 ns: 2.4 hours; longer is clamped
	rlBuckets = (rlMaxExp - rlSubBits + 1) << rlSubBits
)

// rlStats accumulates one row. Its histogram starts sparse (the few
// buckets used, in order) and turns dense past rlSparseMax buckets: the
// store keeps one per second, API and client, most with a handful of
// requests, and a dense one is 5 KB (a busy row's histogram uses a few
// hundred buckets at most).
type rlStats struct {
	requests, answered, errors int64
	errorsByCode               map[string]int64
	min, max                   time.Duration
	sparse                     []rlBin
	counts                     *[rlBuckets]uint32
}

type rlBin struct {
	b uint16
	n uint32
}

const (
	rlSparseMax = 512 // 4 KB of bins: about a dense histogram's size
	rlDenseSize = rlBuckets * 4
	rlBinSize   = 8
)

// count adds n to bucket b; it returns the bytes the histogram grew by.
func (s *rlStats) count(b int, n uint32) int64 {
	if s.counts != nil {
		s.counts[b] += n
		return 0
	}
	i := sort.Search(len(s.sparse), func(i int) bool { return int(s.sparse[i].b) >= b })
	if i < len(s.sparse) && int(s.sparse[i].b) == b {
		s.sparse[i].n += n
		return 0
	}
	if len(s.sparse) == rlSparseMax {
		s.counts = new([rlBuckets]uint32)
		for _, x := range s.sparse {
			s.counts[x.b] += x.n
		}
		grew := rlDenseSize - int64(cap(s.sparse))*rlBinSize
		s.sparse = nil
		s.counts[b] += n
		return grew
	}
	c := cap(s.sparse)
	s.sparse = append(s.sparse, rlBin{})
	copy(s.sparse[i+1:], s.sparse[i:])
	s.sparse[i] = rlBin{uint16(b), n}
	return int64(cap(s.sparse)-c) * rlBinSize
}

func rlBucket(ns uint64) int {
	if ns < 1<<rlSubBits {
		return int(ns)
	}
	exp := bits.Len64(ns) - 1 // ns in [2^exp, 2^(exp+1))
	if exp >= rlMaxExp {
		return rlBuckets - 1
	}
	sub := int(ns>>(exp-rlSubBits)) & (1<<rlSubBits - 1)
	return (exp-rlSubBits+1)<<rlSubBits + sub
}

// rlBucketMid is the middle of bucket b, in nanoseconds.
func rlBucketMid(b int) float64 {
	if b < 1<<rlSubBits {
		return float64(b)
	}
	exp := b>>rlSubBits + rlSubBits - 1
	sub := b & (1<<rlSubBits - 1)
	lo := uint64(1)<<exp + uint64(sub)<<(exp-rlSubBits)
	return float64(lo) + float64(uint64(1)<<(exp-rlSubBits))/2
}

// add counts one request; codes are its distinct error names. It returns
// the bytes s grew by.
func (s *rlStats) add(e *exchange.Exchange, codes []string) int64 {
	var grew int64
	s.requests++
	if len(codes) > 0 {
		s.errors++
		if s.errorsByCode == nil {
			s.errorsByCode = make(map[string]int64)
		}
		for _, c := range codes {
			if _, ok := s.errorsByCode[c]; !ok {
				grew += ovMapEntryBytes
			}
			s.errorsByCode[c]++
		}
	}
	d, ok := rlLatency(e)
	if !ok {
		return grew
	}
	d = max(d, 0)
	if s.answered == 0 {
		s.min = d
	}
	s.answered++
	s.min, s.max = min(s.min, d), max(s.max, d)
	return grew + s.count(rlBucket(uint64(d)), 1)
}

// merge adds o's counts to s; o is not changed.
func (s *rlStats) merge(o *rlStats) {
	s.requests += o.requests
	s.errors += o.errors
	for c, n := range o.errorsByCode {
		if s.errorsByCode == nil {
			s.errorsByCode = make(map[string]int64)
		}
		s.errorsByCode[c] += n
	}
	if o.answered == 0 {
		return
	}
	if s.answered == 0 {
		s.min = o.min
	}
	s.answered += o.answered
	s.min, s.max = min(s.min, o.min), max(s.max, o.max)
	// s gathers many: dense at once, so that each bin adds in place.
	if s.counts == nil {
		s.counts = new([rlBuckets]uint32)
		for _, x := range s.sparse {
			s.counts[x.b] += x.n
		}
		s.sparse = nil
	}
	if o.counts != nil {
		for i, n := range o.counts {
			s.counts[i] += n
		}
		return
	}
	for _, x := range o.sparse {
		s.counts[x.b] += x.n
	}
}

// quantile is the q-quantile in seconds (the nearest-rank value's bucket
// middle, kept within the observed min and max).
func (s *rlStats) quantile(q float64) float64 {
	if s.answered == 0 {
		return 0
	}
	rank := int64(q*float64(s.answered) + 0.999999)
	rank = min(max(rank, 1), s.answered)
	var seen int64
	at := func(b int) float64 {
		return min(max(rlBucketMid(b), float64(s.min)), float64(s.max)) / 1e9
	}
	if s.counts == nil {
		for _, x := range s.sparse {
			seen += int64(x.n)
			if seen >= rank {
				return at(int(x.b))
			}
		}
		return s.max.Seconds()
	}
	for b, n := range s.counts {
		seen += int64(n)
		if seen >= rank {
			return at(b)
		}
	}
	return s.max.Seconds()
}

func (s *rlStats) row(api string, secs float64) LatencyRow {
	r := LatencyRow{
		API:            api,
		Requests:       s.requests,
		Answered:       s.answered,
		RequestsPerSec: float64(s.requests) / secs,
		P50:            s.quantile(0.50),
		P90:            s.quantile(0.90),
		P99:            s.quantile(0.99),
		Max:            s.max.Seconds(),
		Errors:         s.errors,
		ErrorsByCode:   s.errorsByCode,
	}
	if s.requests > 0 {
		r.ErrorRate = float64(s.errors) / float64(s.requests)
	}
	return r
}

// rlSet holds the rows of one subject (all, a broker, a client) by
// API row name.
type rlSet map[string]*rlStats

func (ls rlSet) get(api string) *rlStats {
	s := ls[api]
	if s == nil {
		s = &rlStats{}
		ls[api] = s
	}
	return s
}

func (ls rlSet) merge(o rlSet) {
	for api, st := range o {
		ls.get(api).merge(st)
	}
}

func (ls rlSet) rows(secs float64, fill func(*LatencyRow)) []LatencyRow {
	out := make([]LatencyRow, 0, len(ls))
	for api, s := range ls {
		r := s.row(api, secs)
		if fill != nil {
			fill(&r)
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].API < out[j].API })
	return out
}

// rlErrorCodes appends the distinct error names of e: top-level and per
// partition.
func rlErrorCodes(dst []string, e *exchange.Exchange) []string {
	dst = dst[:0]
	addCode := func(c string) {
		if c == "" {
			return
		}
		for _, d := range dst {
			if d == c {
				return
			}
		}
		dst = append(dst, c)
	}
	addCode(e.Error)
	for ti := range e.Topics {
		for pi := range e.Topics[ti].Partitions {
			addCode(e.Topics[ti].Partitions[pi].Error)
		}
	}
	return dst
}
