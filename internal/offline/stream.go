package offline

import (
	"container/heap"
	"context"
	"errors"
	"time"

	"kscope/internal/capture"
	"kscope/internal/exchange"
	"kscope/internal/kafka"
)

// reorderSlack is how far before the newest packet's time an exchange
// Stream holds may still be preceded by one to come, beyond what the
// decoder knows to be open: packets a capture wrote out of time order
// (a retransmission, reassembly filling a gap, interfaces merged).
const reorderSlack = time.Second

// Stream is Analyze for output that need not hold the exchanges: each
// gets the exchanges Filter matches in request time order, as soon as
// none still to come can be earlier (kafka.Decoder.Oldest, and
// reorderSlack behind the newest packet), and the Analysis returned has
// Matched but no Exchanges. It holds the exchanges of about the last
// second of capture time, more while a request waits for its response (a
// fetch's long poll), where Analyze holds a whole capture's: a few KB an
// exchange, several times a capture of small requests. The order is
// Analyze's, except that an exchange whose first packet the file holds
// over reorderSlack out of time order comes when it is complete. Several
// files are held and sorted together, as Analyze does: captures taken on
// several hosts at once overlap in time. each's error stops the analysis
// and is returned.
func Stream(ctx context.Context, files []string, opts Options, each func(*exchange.Exchange) error) (*Analysis, error) {
	a, _, err := stream(ctx, files, opts, each)
	return a, err
}

// stream is Stream, which also returns the most exchanges it held at once.
func stream(ctx context.Context, files []string, opts Options, each func(*exchange.Exchange) error) (*Analysis, int, error) {
	if len(files) > 1 {
		a, err := Analyze(ctx, files, opts)
		if err != nil {
			return nil, 0, err
		}
		for i := range a.Exchanges {
			if err := each(&a.Exchanges[i]); err != nil {
				return nil, len(a.Exchanges), err
			}
		}
		held := len(a.Exchanges)
		a.Exchanges = nil
		return a, held, nil
	}
	a := &Analysis{Files: files}
	o := &ordered{each: each}
	keep := func(e *exchange.Exchange) {
		a.Matched++
		o.seq++
		heap.Push(&o.held, held{x: e, seq: o.seq})
		o.peak = max(o.peak, len(o.held))
	}
	wrap := func(dec *kafka.Decoder, src capture.Source) capture.Source {
		o.src, o.dec, o.last = src, dec, time.Time{}
		return o
	}
	// Next returns errStopped once each has failed, which ends the
	// decoding of every file: each's error is the one returned.
	err := a.run(ctx, opts, keep, wrap, func() { o.release(time.Time{}) })
	if o.err != nil {
		return nil, o.peak, o.err
	}
	if err != nil {
		return nil, o.peak, err
	}
	return a, o.peak, nil
}

// errStopped ends a file's decoding once each failed.
var errStopped = errors.New("output failed")

// ordered is the source Stream's decoder reads: before each chunk it
// passes on the exchanges that nothing to come can precede.
type ordered struct {
	src  capture.Source
	dec  *kafka.Decoder
	each func(*exchange.Exchange) error
	err  error
	held heldHeap
	seq  uint64
	// last is the time of the newest chunk read from src; n counts
	// chunks, and the decoder is looked at when it reaches next: every
	// 64 chunks, or as many as it has connections, which Oldest walks
	// (a capture of thousands of idle connections would otherwise
	// cost a walk of them all every 64 packets).
	last    time.Time
	n, next int
	peak    int
}

func (o *ordered) Next() (capture.Chunk, error) {
	if o.err != nil {
		return capture.Chunk{}, errStopped
	}
	o.n++
	if o.n >= o.next && len(o.held) > 0 && !o.last.IsZero() {
		o.next = o.n + max(64, o.dec.Open())
		w := o.last.Add(-reorderSlack)
		if old := o.dec.Oldest(); !old.IsZero() && old.Before(w) {
			w = old
		}
		o.release(w)
	}
	ch, err := o.src.Next()
	if err == nil && ch.Time.After(o.last) {
		o.last = ch.Time
	}
	return ch, err
}

func (o *ordered) Close() error { return o.src.Close() }

// release passes on, in order, the exchanges held from before w (all of
// them when w is zero).
func (o *ordered) release(w time.Time) {
	for len(o.held) > 0 && o.err == nil {
		if !w.IsZero() && !o.held[0].x.Time.Before(w) {
			return
		}
		h := heap.Pop(&o.held).(held)
		o.err = o.each(h.x)
	}
}

// held is an exchange waiting for its turn; seq keeps the order of
// exchanges of the same time as they were built (Analyze's stable sort).
type held struct {
	x   *exchange.Exchange
	seq uint64
}

type heldHeap []held

func (h heldHeap) Len() int { return len(h) }
func (h heldHeap) Less(i, j int) bool {
	if ti, tj := h[i].x.Time, h[j].x.Time; !ti.Equal(tj) {
		return ti.Before(tj)
	}
	return h[i].seq < h[j].seq
}
func (h heldHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *heldHeap) Push(x any)   { *h = append(*h, x.(held)) }
func (h *heldHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = held{}
	*h = old[:len(old)-1]
	return x
}
