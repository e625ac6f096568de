// Package offline runs kscope's pipeline over capture files (pcap, pcapng):
// TCP reassembly, the Kafka decoder and exchange building, all in memory,
// with the counters of each stage. It is what `kscope analyze` prints and
// what the views read with --pcap (view.Of); the live pipeline over eBPF is
// package agent.
//
// It never keeps record data or SASL secrets (package exchange removes
// them) and never stops at a bad file: what could be read is kept, and the
// file's error is reported beside it.
package offline

import (
	"context"
	"errors"
	"sort"
	"strings"

	"kscope/internal/capture"
	"kscope/internal/capture/pcap"
	"kscope/internal/exchange"
	"kscope/internal/kafka"
)

// Options configure an analysis. The zero value decodes with the
// defaults, keeps every exchange and renders no bodies.
type Options struct {
	Decoder kafka.Options
	// Filter keeps only the exchanges it matches.
	Filter exchange.Filter
	Build  exchange.Options
	// fresh: every message in memory of its own (the decoder reuses
	// none), for the test that compares.
	fresh bool
}

// Analysis is what the files held.
type Analysis struct {
	Files []string `json:"files"`
	// Exchanges are those Filter matched, by request time.
	Exchanges []exchange.Exchange `json:"exchanges"`
	Matched   int                 `json:"matched"`
	Decoder   kafka.Stats         `json:"decoder"`
	Capture   pcap.Stats          `json:"capture"`
	// Errors are the files that could not be read to their end.
	Errors []string `json:"errors,omitempty"`
}

// Err is the files' errors as one, nil when every file was read to its
// end.
func (a *Analysis) Err() error {
	if len(a.Errors) == 0 {
		return nil
	}
	return errors.New(strings.Join(a.Errors, "\n"))
}

// Analyze decodes files one after the other with one decoder (so topic ids
// learned from one file name topics in the next). It fails only when ctx
// ends; a file that cannot be read is in Analysis.Errors.
func Analyze(ctx context.Context, files []string, opts Options) (*Analysis, error) {
	a := &Analysis{Files: files}
	err := a.run(ctx, opts, func(e *exchange.Exchange) { a.Exchanges = append(a.Exchanges, *e) }, nil, nil)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(a.Exchanges, func(i, j int) bool { return a.Exchanges[i].Time.Before(a.Exchanges[j].Time) })
	a.Matched = len(a.Exchanges)
	return a, nil
}

// run decodes a.Files into a's counters, giving keep each exchange Filter
// matches as it is built. wrap, when not nil, stands between each file's
// reader and the decoder; fileDone is called after each file's flush.
func (a *Analysis) run(ctx context.Context, opts Options, keep func(*exchange.Exchange), wrap func(*kafka.Decoder, capture.Source) capture.Source, fileDone func()) error {
	ids := &kafka.TopicIDs{}
	dopts := opts.Decoder
	// The callback keeps nothing of a pair but its exchange.
	dopts.ReuseMessages = !opts.fresh
	// A file holds what it holds: no memory limit to keep to.
	dopts.GrowAhead = true
	dec := kafka.NewDecoder(dopts, ids, func(p kafka.Pair) {
		e := exchange.Build(p, ids, opts.Build)
		if opts.Filter.Match(&e) {
			keep(&e)
		}
	})
	for _, name := range a.Files {
		// A bad file is reported and the others still decoded; what
		// came before a corrupt record is kept.
		r, err := pcap.Open(name, pcap.Options{})
		if err != nil {
			a.Errors = append(a.Errors, err.Error())
			continue
		}
		var src capture.Source = r
		if wrap != nil {
			src = wrap(dec, r)
		}
		err = dec.Run(ctx, src)
		st := r.Stats()
		r.Close()
		dec.Flush()
		a.Capture.Add(st)
		if fileDone != nil {
			fileDone()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			a.Errors = append(a.Errors, err.Error())
		}
	}
	a.Decoder = dec.Stats()
	return nil
}
