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

// DelaySeries is one consumer's delay on one partition over time, or on
// all the partitions of the topic together (Partition -1) where the
// history reaches back into parts of a minute or longer, which count
// them together (see dlShiftCoarse).
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
// exact), 25% where the history reaches back into parts of a minute or
// longer (ResolutionSeconds 60); all are 0 when no batch was fetched.
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
	// Where a step counted the partitions of a topic together (a part
	// of a minute or longer: see dlShiftCoarse), every step does, so
	// that each series is one over the whole range.
	parts := make([]*OverviewPart, len(steps))
	together := false
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
		parts[i] = p
		together = together || p.delayShift() >= dlShiftCoarse
	}
	type summed struct {
		c     Client
		label string
		d     ovDelay
	}
	var sums map[key]*summed
	for i, in := range steps {
		p := parts[i]
		h.ResolutionSeconds = max(h.ResolutionSeconds, p.resolution)
		point := func(k key, c *Client, label string, d *ovDelay) {
			j, ok := idx[k]
			if !ok {
				j = len(h.Series)
				idx[k] = j
				s := DelaySeries{Topic: k.topic, Partition: k.partition, Consumer: label, ClientID: c.ClientID, Points: make([]DelayPoint, len(steps))}
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
		clear(sums)
		add := func(ck ovClientKey, c *Client, label, topic string, d *ovDelay) {
			if d.batches == 0 || f.Topic != "" && topic != f.Topic {
				return
			}
			k := key{ck, topic, d.partition}
			if !together {
				point(k, c, label, d)
				return
			}
			k.partition = dlAllPartitions
			if sums == nil {
				sums = make(map[key]*summed)
			}
			sum := sums[k]
			if sum == nil {
				sum = &summed{c: *c, label: label, d: ovDelay{partition: dlAllPartitions, shift: dlShiftCoarse}}
				sums[k] = sum
			}
			sum.d.merge(d)
		}
		var clients map[ovClientKey]*ovClient
		if p.a != nil {
			clients = p.a.clients
		} else {
			// A compacted part: read its delays alone.
			var (
				ck    ovClientKey
				label string
			)
			scanDelays(p.frozen, func(c *Client) bool {
				label = delayConsumer(c)
				ck = ovClientKey{ovWho(c), c.ClientID}
				return f.Consumer == "" || delayConsumerIs(f.Consumer, label, c)
			}, func(c *Client, topic string, d *ovDelay) {
				add(ck, c, label, topic, d)
			})
		}
		for ck, c := range clients {
			if c.cons == nil {
				continue
			}
			label := delayConsumer(&c.c)
			if f.Consumer != "" && !delayConsumerIs(f.Consumer, label, &c.c) {
				continue
			}
			for t, ed := range c.cons.edges {
				for di := range ed.delays {
					add(ck, &c.c, label, t.name, &ed.delays[di])
				}
			}
		}
		for k, sum := range sums {
			point(k, &sum.c, sum.label, &sum.d)
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

// delayShift is the precision of p's delays (ovAgg.dlShift).
func (p *OverviewPart) delayShift() uint8 {
	if p.a != nil {
		return p.a.dlShift
	}
	if len(p.frozen) == 0 {
		return dlShift
	}
	r := &ovReader{b: p.frozen}
	for n := r.uint(); n > 0; n-- {
		r.i += int(r.uint())
	}
	r.int() // exchanges
	return uint8(r.uint())
}

// scanDelays reads the consumers' delays of the encoded part b (see
// freeze) and skips the rest, so that a history of many parts decodes
// no more than it charts: client is called for each client (its fields
// valid until the next call), and delay for each delay of its consumer
// role if client returned true (d and its bins valid during the call).
func scanDelays(b []byte, client func(c *Client) bool, delay func(c *Client, topic string, d *ovDelay)) {
	if len(b) == 0 {
		return
	}
	r := &ovReader{b: b}
	// The strings are made as they are needed: most are not.
	type span struct{ at, n int }
	n := int(r.uint())
	spans := make([]span, n)
	strs := make([]string, n)
	for i := range spans {
		l := int(r.uint())
		spans[i] = span{r.i, l}
		r.i += l
	}
	str := func() string {
		i := r.uint()
		if strs[i] == "" && spans[i].n > 0 {
			strs[i] = string(b[spans[i].at : spans[i].at+spans[i].n])
		}
		return strs[i]
	}
	skipCodes := func() {
		for m := r.uint(); m > 0; m-- {
			r.uint()
			r.int()
		}
	}
	skipLat := func() {
		for m := r.uint(); m > 0; m-- {
			r.uint() // API
			r.int()
			r.int()
			r.int()
			skipCodes()
			r.int()
			r.int()
			for k := r.uint(); k > 0; k-- {
				r.uint()
				r.uint()
			}
		}
	}
	var bins []rlBin
	skipDelays := func() {
		for m := r.uint(); m > 0; m-- {
			var o ovDelay
			o.partition, o.batches, o.max = int32(r.int()), r.int(), time.Duration(r.int())
			bins = readDelayBins(r, &o, bins[:0])
		}
	}
	r.int()  // exchanges
	r.uint() // delays' precision
	topics := make([]uint64, r.uint())
	for i := range topics {
		topics[i] = r.uint()
		for m := r.uint(); m > 0; m-- {
			r.uint()
		}
		r.int()
		r.int()
	}
	topic := func(i uint64) string {
		j := topics[i]
		if strs[j] == "" && spans[j].n > 0 {
			strs[j] = string(b[spans[j].at : spans[j].at+spans[j].n])
		}
		return strs[j]
	}
	for m := r.uint(); m > 0; m-- { // brokers
		r.uint()
		for range 7 {
			r.int()
		}
		for k := r.uint(); k > 0; k-- {
			r.uint()
		}
		skipLat()
	}
	var c Client
	for m := r.uint(); m > 0; m-- {
		c = Client{Process: str(), PID: uint32(r.uint()), Pod: str(), Host: str(), ClientID: str()}
		if r.uint() != 0 { // a group: when it was named
			r.int()
		}
		// The producer role.
		if k := r.uint(); k > 0 {
			r.int()
			r.int()
			skipCodes()
			for ; k > 1; k-- {
				r.uint()
				r.int()
				r.int()
				r.int()
				skipDelays()
			}
		}
		// The consumer role.
		if k := r.uint(); k > 0 {
			want := client(&c)
			r.int()
			r.int()
			skipCodes()
			for ; k > 1; k-- {
				t := r.uint()
				r.int()
				r.int()
				r.int()
				if !want {
					skipDelays()
					continue
				}
				name := topic(t)
				for j := r.uint(); j > 0; j-- {
					var o ovDelay
					o.partition, o.batches, o.max = int32(r.int()), r.int(), time.Duration(r.int())
					bins = readDelayBins(r, &o, bins[:0])
					delay(&c, name, &o)
				}
			}
		}
		skipTxn(r)
		skipLat()
	}
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
