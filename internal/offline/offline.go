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
	ids := &kafka.TopicIDs{}
	dopts := opts.Decoder
	// The callback keeps nothing of a pair but its exchange.
	dopts.ReuseMessages = !opts.fresh
	dec := kafka.NewDecoder(dopts, ids, func(p kafka.Pair) {
		e := exchange.Build(p, ids, opts.Build)
		if opts.Filter.Match(&e) {
			a.Exchanges = append(a.Exchanges, e)
		}
	})
	for _, name := range files {
		// A bad file is reported and the others still decoded; what
		// came before a corrupt record is kept.
		r, err := pcap.Open(name, pcap.Options{})
		if err != nil {
			a.Errors = append(a.Errors, err.Error())
			continue
		}
		err = dec.Run(ctx, r)
		st := r.Stats()
		r.Close()
		dec.Flush()
		a.Capture.Add(st)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			a.Errors = append(a.Errors, err.Error())
		}
	}
	a.Decoder = dec.Stats()
	sort.SliceStable(a.Exchanges, func(i, j int) bool { return a.Exchanges[i].Time.Before(a.Exchanges[j].Time) })
	a.Matched = len(a.Exchanges)
	return a, nil
}
