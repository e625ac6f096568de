package view

import (
	"runtime"
	"sync"

	"kscope/internal/exchange"
)

// OverviewPart is the overview of some exchanges kept as partial state that
// merges exactly: sums, partition sets, latency histograms, and each
// client's group with the time it was named. A live store keeps one per
// second, fed as exchanges are added, so that the overview of a long window
// merges seconds instead of reading every exchange again (see
// OverviewOfParts).
//
// A part counts every exchange added to it: the caller decides which are
// in the window and counts each once (Once).
type OverviewPart struct {
	a *ovAgg
}

// NewOverviewPart returns an empty part.
func NewOverviewPart() *OverviewPart {
	return &OverviewPart{a: newOvAgg(OverviewFilter{})}
}

// Add counts e.
func (p *OverviewPart) Add(e *exchange.Exchange) { p.a.add(e) }

// Bytes estimates the memory the part holds.
func (p *OverviewPart) Bytes() int64 { return p.a.size + ovPartBytes }

// Compact drops what only speeds up Add (per-connection lookups): the
// store calls it once a second is no longer the newest. Adding to the part
// after still works.
func (p *OverviewPart) Compact() {
	for _, c := range p.a.conns {
		p.a.size -= ovConnBytes + int64(len(c.topics))*ovConnTopicSize
		if c.topicMap != nil {
			p.a.size -= int64(len(c.topicMap)-len(c.topics)) * ovConnTopicSize
		}
	}
	p.a.conns = nil
}

// ovPartBytes is an empty part: its struct and its four maps.
const ovPartBytes = 4*48 + 128

// OverviewOfParts merges parts into the overview of w (see MergeParts).
func OverviewOfParts(w Window, parts []*OverviewPart) OverviewView {
	return MergeParts(parts).Result(w)
}

// MergeParts merges parts into a new part. The parts are only read; their
// order does not matter. Many parts are merged on several CPUs (the
// goroutines end before it returns).
func MergeParts(parts []*OverviewPart) *OverviewPart {
	n := 1
	if len(parts) >= 64 {
		n = min(runtime.GOMAXPROCS(0), len(parts)/32)
	}
	accs := make([]*OverviewPart, n)
	var wg sync.WaitGroup
	for i := range n {
		lo, hi := len(parts)*i/n, len(parts)*(i+1)/n
		wg.Go(func() {
			acc := NewOverviewPart()
			for _, p := range parts[lo:hi] {
				acc.Merge(p)
			}
			accs[i] = acc
		})
	}
	wg.Wait()
	for _, acc := range accs[1:] {
		accs[0].Merge(acc)
	}
	return accs[0]
}

// Merge adds q's counts to p; q is not changed.
func (p *OverviewPart) Merge(q *OverviewPart) { p.a.merge(q.a) }

// Result is the overview of what p counted, with rates over w.
func (p *OverviewPart) Result(w Window) OverviewView { return p.a.result(w) }
