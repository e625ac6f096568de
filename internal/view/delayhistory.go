package view

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"kscope/internal/exchange"
)

// DelayHistory is the producer -> consumer delay over time: per consumer,
// topic and partition, one point per step, summed from the overview's
// parts (see OverviewPart), so that it lasts as long as they do, where
// the latency view (Latency) has every batch but only while the store
// holds the exchanges.
type DelayHistory struct {
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	StepSeconds float64   `json:"step_seconds"`
	// ResolutionSeconds is the longest part of the agent's store a point
	// merged (1, 10 or 60): a step is never finer.
	ResolutionSeconds float64       `json:"resolution_seconds"`
	Series            []DelaySeries `json:"series"`
	// DroppedSeries counts the series left out beyond MaxDelaySeries:
	// those whose largest delay was the smallest.
	DroppedSeries int `json:"dropped_series,omitempty"`
}

// DelaySeries is one consumer's delay on one partition over time.
type DelaySeries struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Consumer is the consumer as the latency view labels it:
	// "comm[pid]" for a traced process, else "client-id@host".
	Consumer string       `json:"consumer"`
	ClientID string       `json:"client_id"`
	Points   []DelayPoint `json:"points"`
}

// DelayPoint is one step: its start, the record batches fetched in it
// (by requests that started in it), and their delays as the latency view
// computes each (fetch response arrival minus the batch's max timestamp).
// The quantiles are within 3.2% (and never above the max, which is
// exact); all are 0 when no batch was fetched.
type DelayPoint struct {
	Time    time.Time `json:"time"`
	Batches int64     `json:"batches"`
	P50     float64   `json:"p50_seconds"`
	P99     float64   `json:"p99_seconds"`
	Max     float64   `json:"max_seconds"`
}

// DelayHistoryFilter selects delay series; empty fields match all.
type DelayHistoryFilter struct {
	Topic string
	// Consumer matches as LatencyFilter's: a label, command name, pid
	// or client id.
	Consumer string
}

// MaxDelaySeries bounds the series of a delay history: a consumer of
// every partition of many topics makes thousands.
const MaxDelaySeries = 500

// DelayOverTime builds the delay history from one input per step, oldest
// first, each over its step (StoreSteps cuts them): the merged parts of
// the step, or its exchanges, counted the same way.
func DelayOverTime(w Window, step time.Duration, steps []Input, f DelayHistoryFilter) DelayHistory {
	h := DelayHistory{From: w.From, To: w.To, StepSeconds: step.Seconds(), ResolutionSeconds: 1, Series: []DelaySeries{}}
	type key struct {
		client    ovClientKey
		topic     string
		partition int32
	}
	idx := map[key]int{}
	worst := []time.Duration{}
	for i, in := range steps {
		p := in.Overview
		if p == nil {
			p = NewOverviewPart()
			xs := Once(in.Exchanges)
			for j := range xs {
				if inWindow(in.Window, xs[j].Time) {
					p.Add(&xs[j])
				}
			}
		}
		h.ResolutionSeconds = max(h.ResolutionSeconds, p.resolution)
		a := p.counting()
		for ck, c := range a.clients {
			if c.cons == nil {
				continue
			}
			label := delayConsumer(&c.c)
			if f.Consumer != "" && !delayConsumerIs(f.Consumer, label, &c.c) {
				continue
			}
			for t, ed := range c.cons.edges {
				if f.Topic != "" && t.name != f.Topic {
					continue
				}
				for di := range ed.delays {
					d := &ed.delays[di]
					if d.batches == 0 {
						continue
					}
					k := key{ck, t.name, d.partition}
					j, ok := idx[k]
					if !ok {
						j = len(h.Series)
						idx[k] = j
						s := DelaySeries{Topic: t.name, Partition: d.partition, Consumer: label, ClientID: c.c.ClientID, Points: make([]DelayPoint, len(steps))}
						for n := range steps {
							s.Points[n].Time = steps[n].Window.From
						}
						h.Series = append(h.Series, s)
						worst = append(worst, d.max)
					}
					worst[j] = max(worst[j], d.max)
					h.Series[j].Points[i] = DelayPoint{Time: in.Window.From, Batches: d.batches,
						P50: d.quantile(0.50), P99: d.quantile(0.99), Max: d.max.Seconds()}
				}
			}
		}
	}
	if n := len(h.Series) - MaxDelaySeries; n > 0 {
		order := make([]int, len(h.Series))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(worst[b], worst[a]) })
		kept := make([]DelaySeries, 0, MaxDelaySeries)
		for _, i := range order[:MaxDelaySeries] {
			kept = append(kept, h.Series[i])
		}
		h.Series, h.DroppedSeries = kept, n
	}
	slices.SortFunc(h.Series, func(a, b DelaySeries) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition),
			strings.Compare(a.Consumer, b.Consumer), strings.Compare(a.ClientID, b.ClientID))
	})
	return h
}

// counting is p's counts as they are added: p's own, or those of a
// compacted p decoded anew (p is only read).
func (p *OverviewPart) counting() *ovAgg {
	if p.a != nil {
		return p.a
	}
	a := newOvAgg(OverviewFilter{})
	(&ovDecoder{strs: make(map[string]string)}).merge(a, p.frozen)
	return a
}

// delayConsumer labels a consumer as the latency view does (procKey).
func delayConsumer(c *Client) string {
	switch {
	case c.PID != 0 && strings.HasPrefix(c.Process, "["):
		return "pid " + strconv.FormatUint(uint64(c.PID), 10) // no command name
	case c.Process != "":
		return c.Process
	case c.ClientID == "":
		return c.Host
	case c.Host == "":
		return c.ClientID
	}
	return c.ClientID + "@" + c.Host
}

// delayConsumerIs matches want against a consumer as the latency view's
// filter does (matchesProc).
func delayConsumerIs(want, label string, c *Client) bool {
	ep := exchange.Endpoint{PID: c.PID}
	if i := strings.LastIndexByte(c.Process, '['); i > 0 {
		ep.Process = c.Process[:i]
	}
	return matchesProc(want, label, &ep, c.ClientID)
}
