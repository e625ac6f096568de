package view

import (
	"runtime"
	"sync"
	"time"

	"kscope/internal/exchange"
	"kscope/internal/store"
)

// OverviewPart is the overview of some exchanges kept as partial state that
// merges exactly: sums, partition sets, latency histograms, and each
// client's group with the time it was named. A live store keeps one per
// part of time (a second, rolled up into longer parts as it ages), fed as
// exchanges are added, so that the overview of a long window merges parts
// instead of reading every exchange again (see OverviewOfParts).
//
// A part counts every exchange added to it: the caller decides which are
// in the window and counts each once (Once).
type OverviewPart struct {
	// a is the part while it counts; nil once compacted, when frozen
	// holds it encoded (see freeze). Add thaws it.
	a      *ovAgg
	frozen []byte
	// dec is the decoder's state for merging frozen parts into this
	// one.
	dec *ovDecoder
	// resolution is the length in seconds of the longest store part
	// merged into this one, which FromStore sets for the overview to
	// say.
	resolution float64
}

// NewOverviewPart returns an empty part.
func NewOverviewPart() *OverviewPart {
	return &OverviewPart{a: newOvAgg(OverviewFilter{})}
}

// Add counts e.
func (p *OverviewPart) Add(e *exchange.Exchange) {
	p.thaw()
	p.a.add(e)
}

// Bytes estimates the memory the part holds.
func (p *OverviewPart) Bytes() int64 {
	if p.a == nil {
		// A large allocation takes whole 8 KiB pages.
		n := int64(cap(p.frozen))
		if n > 32<<10 {
			n = (n + 8<<10 - 1) &^ (8<<10 - 1)
		}
		return n + ovFrozenBytes
	}
	return p.a.size + ovPartBytes
}

// Compact encodes the part (see freeze): the store calls it once a part's
// time is settled. Adding to or merging into the part after still works:
// it is decoded again first.
func (p *OverviewPart) Compact() {
	if p.a == nil {
		return
	}
	p.frozen = freeze(p.a)
	p.a, p.dec = nil, nil
}

// thaw decodes a compacted part to count again.
func (p *OverviewPart) thaw() {
	if p.a != nil {
		return
	}
	a := newOvAgg(OverviewFilter{})
	p.decoder().merge(a, p.frozen)
	a.size = a.estimate()
	p.a, p.frozen = a, nil
}

func (p *OverviewPart) decoder() *ovDecoder {
	if p.dec == nil {
		p.dec = &ovDecoder{strs: make(map[string]string)}
	}
	return p.dec
}

// ovPartBytes is an empty part: its struct and its four maps;
// ovFrozenBytes a compacted one without its encoding.
const (
	ovPartBytes   = 4*48 + 128
	ovFrozenBytes = 64
)

// OverviewOfParts merges parts into the overview of w (see MergeParts).
func OverviewOfParts(w Window, parts []*OverviewPart) OverviewView {
	return MergeParts(parts).Result(w)
}

// MergeParts merges parts into a new part. The parts are only read; their
// order does not matter. Many parts are merged on several CPUs (the
// goroutines end before it returns).
func MergeParts(parts []*OverviewPart) *OverviewPart {
	if len(parts) == 1 && parts[0].a == nil {
		// One compacted part, as each step of a history over parts as
		// long as its steps: its encoding is never changed (Add and
		// Merge replace it), so it is shared, and decoded only as far
		// as the reader needs (Result, or the delays for DelayOverTime).
		return &OverviewPart{frozen: parts[0].frozen}
	}
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

// Merge adds q's counts to p; q, an *OverviewPart, is only read (several
// goroutines may merge it at once).
func (p *OverviewPart) Merge(q store.Partial) {
	qp := q.(*OverviewPart)
	p.thaw()
	if qp.a != nil {
		p.a.merge(qp.a)
	} else {
		p.decoder().merge(p.a, qp.frozen)
	}
}

// Result is the overview of what p counted, with rates over w.
func (p *OverviewPart) Result(w Window) OverviewView {
	a := p.a
	if a == nil {
		a = newOvAgg(OverviewFilter{})
		(&ovDecoder{strs: make(map[string]string)}).merge(a, p.frozen)
	}
	o := a.result(w)
	o.ResolutionSeconds = p.resolution
	return o
}

// Coarsen lowers the precision the part keeps for a part of time of
// length d: a part of a minute or longer keeps its batch delays at
// dlShiftCoarse (see there). The store calls it as it rolls parts up,
// before merging the finer ones into the part.
func (p *OverviewPart) Coarsen(d time.Duration) {
	if d < time.Minute {
		return
	}
	p.thaw()
	p.a.coarsenDelays(dlShiftCoarse)
}
