package loadgen

import (
	"math/bits"
	"time"
)

// Histogram counts latencies in log-linear buckets: exact below 32 ns, then
// 16 buckets per power of two (within 6%), as HdrHistogram does with fewer
// digits. Not safe for concurrent use: each connection keeps its own.
type Histogram struct {
	counts [1024]uint64
	n      uint64
	max    time.Duration
}

func bucket(ns uint64) int {
	if ns < 32 {
		return int(ns)
	}
	l := bits.Len64(ns)
	return (l-5)*16 + int(ns>>(l-5))
}

// bucketValue is the middle of bucket i.
func bucketValue(i int) time.Duration {
	if i < 32 {
		return time.Duration(i)
	}
	shift := i/16 - 1
	low := uint64(i%16+16) << shift
	return time.Duration(low + (uint64(1)<<shift)/2)
}

// Add counts one latency.
func (h *Histogram) Add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucket(uint64(d))]++
	h.n++
	h.max = max(h.max, d)
}

// Merge adds o's counts.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// Count is the number of latencies counted.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest latency counted.
func (h *Histogram) Max() time.Duration { return h.max }

// Quantile is the latency below which q of them fall (q in 0..1).
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n-1)) + 1
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(bucketValue(i), h.max)
		}
	}
	return h.max
}
