package view

import (
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/exchange"
	"kscope/internal/inspect"
	"kscope/internal/store"
)

// Input is what a view is computed from. Each source fills in what it
// has: a capture file its exchanges (Of); the agent's store its exchanges,
// the overview's parts and the cluster inspector's snapshots
// (FromStore). A view reads what it needs and never where it came from,
// so there is one way of computing each view, whatever the source.
type Input struct {
	// Window is the time the view covers: exchanges whose request
	// started in [From, To) count, and rates are per second of it.
	Window Window
	// Exchanges are the traffic, oldest first: those in Window and, for
	// a view whose Needs say History, earlier ones. A view counts each
	// exchange once (Once) and only those in Window.
	Exchanges []exchange.Exchange
	// Overview, when set, is the overview already summed over Window
	// (merged from the store's parts): the overview reads it
	// instead of Exchanges.
	Overview *OverviewPart
	// Cluster are the cluster snapshots taken in Window, oldest first;
	// none when no inspector polls a cluster.
	Cluster []inspect.Snapshot
}

// Needs says what a view reads, so that a source gives it no more.
type Needs struct {
	// APIs names the APIs of the exchanges read; nil: every API.
	APIs []string
	// History asks for the exchanges before the window too (those the
	// store holds): the offset index learns offsets from every Produce,
	// and a consumer's group from its last group request.
	History bool
	// Parts lets the overview's parts stand for the
	// exchanges.
	Parts bool
	// Cluster asks for the cluster snapshots of the window.
	Cluster bool
	// Transactional asks only for the exchanges that name a
	// transactional id (exchange.Filter.Transactional).
	Transactional bool
}

// What each view reads.
var (
	// lagKeys are what the latency and clients views read: Produce feeds
	// the offset index, Fetch and OffsetCommit give lag, the group
	// requests name each consumer's group.
	lagKeys = append([]kmsg.Key{kmsg.Produce, kmsg.Fetch}, ownGroupKeys...)

	ClientsNeeds    = Needs{APIs: apiNames(append(slices.Clone(lagKeys), kmsg.ListOffsets, kmsg.EndTxn)), History: true, Cluster: true}
	LatencyNeeds    = Needs{APIs: apiNames(lagKeys), History: true}
	RebalancesNeeds = Needs{APIs: RebalanceAPIs}
)

// And is what two views read together: one input for both.
func (n Needs) And(o Needs) Needs {
	apis := n.APIs
	if apis != nil && o.APIs != nil {
		apis = slices.Clone(n.APIs)
		for _, a := range o.APIs {
			if !slices.Contains(apis, a) {
				apis = append(apis, a)
			}
		}
	} else {
		apis = nil // one of them reads every API
	}
	return Needs{APIs: apis, History: n.History || o.History, Parts: n.Parts && o.Parts, Cluster: n.Cluster || o.Cluster,
		Transactional: n.Transactional && o.Transactional}
}

// Needs is what the overview reads with this filter: a topic filter
// changes which exchanges count for brokers and clients, which
// sums per part of time cannot undo.
func (f OverviewFilter) Needs() Needs {
	return Needs{Parts: len(f.Topics) == 0}
}

// Of is the input of the exchanges xs over w: a capture file, every
// exchange at hand. A zero w is the span of xs.
func Of(xs []exchange.Exchange, w Window) Input {
	if w.From.IsZero() && w.To.IsZero() {
		w = WindowOf(xs)
	}
	return Input{Window: w, Exchanges: xs}
}

// KeepParts makes the store keep the overview's parts, from now on, so
// that FromStore answers the overview of a long window by merging parts of
// it (seconds, rolled up into longer parts as they age).
func KeepParts(st *store.Store) {
	st.KeepPartials(func() store.Partial { return NewOverviewPart() })
}

// FromStore reads what n asks for over w from the agent's store. A zero
// To is now. The window starts no earlier than what the store knows of:
// nothing was watched before its first exchange, and the exchanges it
// dropped are not there to count (a zero From starts there), so that
// rates are over what was counted.
//
// With n.Parts and parts kept (KeepParts), the overview is merged from
// them over whole parts: the window is cut to them (it starts with the
// part holding its start and ends with the last part that ends by its
// end: the second still being filled is left out), and the overview says
// the longest part's length. Where
// the parts no longer cover its start (evicted), the exchanges are read
// instead if the store still holds them all; else the window starts where
// the parts do.
func FromStore(st *store.Store, w Window, n Needs) Input {
	if w.To.IsZero() {
		w.To = time.Now()
	}
	stats := st.Stats()
	if first := stats.FirstSeen; !first.IsZero() && first.After(w.From) && first.Before(w.To) {
		w.From = first
	}
	if w.From.IsZero() {
		w.From = w.To // nothing watched yet, or only after the window
	}
	in := Input{Window: w}
	if n.Parts {
		if part, pw, ok := storeParts(st, w, stats); ok {
			in.Window, in.Overview = pw, part
		}
	}
	if in.Overview == nil {
		in.Window, in.Exchanges = storeExchanges(st, w, n, stats)
	}
	if n.Cluster {
		in.Cluster = st.Snapshots(in.Window.From, in.Window.To)
	}
	return in
}

// storeExchanges reads the exchanges n asks for over w, which starts no
// earlier than the oldest exchange held when the store dropped some.
func storeExchanges(st *store.Store, w Window, n Needs, stats store.Stats) (Window, []exchange.Exchange) {
	if stats.Evicted > 0 && stats.Oldest.After(w.From) && stats.Oldest.Before(w.To) {
		w.From = stats.Oldest
	}
	q := store.Query{Filter: exchange.Filter{APIs: n.APIs, Transactional: n.Transactional}, Until: w.To}
	if !n.History {
		q.Since = w.From
	}
	return w, st.Exchanges(q)
}

// storeParts merges the store's parts over the whole parts of w; false
// when the exchanges answer better (no parts kept, or they were evicted
// where the exchanges are still held).
func storeParts(st *store.Store, w Window, stats store.Stats) (*OverviewPart, Window, bool) {
	var (
		acc *OverviewPart
		c   store.Cover
	)
	ok := st.Parts(w.From, w.To, 0, func(cv store.Cover) {
		c = cv
		parts := make([]*OverviewPart, len(cv.Parts))
		for i, p := range cv.Parts {
			parts[i] = p.Partial.(*OverviewPart)
		}
		acc = MergeParts(parts)
	})
	if !ok {
		return nil, w, false
	}
	held := stats.FirstSeen // what the exchanges cover from
	if stats.Evicted > 0 {
		held = stats.Oldest
	}
	if c.Whole.After(w.From) && held.Before(c.Whole) {
		// The exchanges go back further than the parts.
		return nil, w, false
	}
	acc.resolution = c.Resolution.Seconds()
	if !c.To.After(c.From) {
		// No whole part in the window: nothing counted over it.
		return acc, w, true
	}
	return acc, Window{From: c.From.In(w.From.Location()), To: c.To.In(w.To.Location())}, true
}

// StoreSteps cuts w into the windows of a chart of points step apart over
// the agent's store, each to be read with FromStore. The step is made a
// multiple of the parts a window merges, and no finer than the coarsest
// part held over w (10 s points asked over an hour whose older half is
// held in 1 min parts are 1 min points); the windows are aligned to it and
// cut to whole parts as FromStore cuts w, so that every part counts whole
// in one window: a point is never empty for its part being counted in the
// next. It returns the windows, oldest first, and the step.
func StoreSteps(st *store.Store, w Window, step time.Duration) ([]Window, time.Duration) {
	step = max(step.Truncate(time.Second), time.Second)
	for _, r := range st.Stats().Resolutions {
		if l := time.Duration(r.Seconds) * time.Second; l <= step {
			step = (step + l - 1) / l * l
		}
	}
	st.Parts(w.From, w.To, step, func(c store.Cover) {
		step = max(step, c.Resolution)
		if c.To.After(c.From) {
			w = Window{From: c.From.In(w.From.Location()), To: c.To.In(w.To.Location())}
		}
	})
	var ws []Window
	for t := w.From; t.Before(w.To); {
		end := time.Unix(0, (t.UnixNano()/int64(step)+1)*int64(step)).In(t.Location())
		if end.After(w.To) {
			end = w.To
		}
		ws = append(ws, Window{From: t, To: end})
		t = end
	}
	return ws, step
}
