package view

import (
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"kscope/internal/exchange"
	"kscope/internal/store"
)

// delayTraffic is secs seconds of consumers fetching record batches: c1
// and c2 (captured, by client id) and a traced process, on orders/0,
// orders/1 and audit/0, five fetches a second each, batches 1 ms to 5 s
// late and now and then a few ms early (the producer's clock ahead). Each
// fetch also carries what dates no record (a transaction marker, an empty
// batch), and a follower's replica fetch carries batches: none of it may
// count.
func delayTraffic(secs int) []exchange.Exchange {
	var xs []exchange.Exchange
	n := 0
	for s := range secs {
		for k := range 5 {
			for ci, client := range []string{"c1", "c2", "c3"} {
				at := t0.Add(time.Duration(s)*time.Second + time.Duration(k*200+ci)*time.Millisecond)
				e := fetch(client, at)
				if client == "c3" {
					e.Client = exchange.Endpoint{Addr: "10.0.0.3:42000", PID: 77, Process: "billing"}
				}
				arrived := at.Add(*e.Latency)
				for _, tp := range []struct {
					topic string
					p     int32
				}{{"orders", 0}, {"orders", 1}, {"audit", 0}} {
					var bs []exchange.Batch
					for range 1 + n%3 {
						n++
						d := time.Duration(1+(uint32(n)*2654435761>>8)%5000) * time.Millisecond
						if n%17 == 0 {
							d = -3 * time.Millisecond
						}
						bs = append(bs, exchange.Batch{BaseOffset: int64(n), Records: 4, MaxTimestamp: arrived.Add(-d).Truncate(time.Millisecond)})
					}
					bs = append(bs, exchange.Batch{BaseOffset: int64(n), Records: 1, Control: true, MaxTimestamp: arrived.Add(-time.Hour)},
						exchange.Batch{BaseOffset: int64(n), Records: 0, MaxTimestamp: arrived.Add(-time.Hour)})
					e.Topics = append(e.Topics, exchange.Topic{Name: tp.topic, Partitions: []exchange.Partition{{Partition: tp.p, Records: 4, Batches: bs}}})
				}
				xs = append(xs, e)
			}
		}
		r := replica(fetch("broker-2", t0.Add(time.Duration(s)*time.Second+500*time.Millisecond)))
		r.Topics = []exchange.Topic{{Name: "orders", Partitions: []exchange.Partition{{Partition: 0, Records: 4,
			Batches: []exchange.Batch{{Records: 4, MaxTimestamp: t0.Add(-time.Hour)}}}}}}
		xs = append(xs, r)
	}
	return xs
}

// nearestRank is the q-quantile of sorted values as the histograms take
// it.
func nearestRank(sorted []float64, q float64) float64 {
	r := int(math.Ceil(q * float64(len(sorted))))
	return sorted[min(max(r, 1), len(sorted))-1]
}

// The delays a part counts are those the latency view computes for the
// same exchanges: per consumer, topic and partition, the same batches,
// the same largest delay, p50 and p99 within the histogram's 3.2%.
func TestDelayPartMatchesLatency(t *testing.T) {
	for _, tc := range []struct {
		name   string
		length time.Duration // of the store's part
		within float64       // the quantiles' precision
	}{{"second", time.Second, 0.032}, {"minute", time.Minute, 0.25}} {
		t.Run(tc.name, func(t *testing.T) { testDelayPartMatchesLatency(t, tc.length, tc.within) })
	}
}

func testDelayPartMatchesLatency(t *testing.T, length time.Duration, within float64) {
	xs := delayTraffic(20)
	w := WindowOf(xs)
	part := NewOverviewPart()
	part.Coarsen(length)
	for i := range xs {
		part.Add(&xs[i])
	}
	h := DelayOverTime(w, w.To.Sub(w.From), []Input{{Window: w, Overview: part}}, DelayHistoryFilter{})
	lat := Latency(Of(xs, w), LatencyFilter{})
	// The latency view's delays per series, a minute's partitions of a
	// topic together.
	type key struct {
		topic              string
		partition          int32
		consumer, clientID string
	}
	delays := map[key][]float64{}
	for _, ls := range lat.Series {
		k := key{ls.Topic, ls.Partition, ls.Consumer, ls.ClientID}
		if length >= time.Minute {
			k.partition = -1
		}
		for _, p := range ls.Points {
			delays[k] = append(delays[k], p.DelaySeconds)
		}
	}
	if want := map[time.Duration]int{time.Second: 9, time.Minute: 6}[length]; len(lat.Series) != 9 || len(h.Series) != want || len(delays) != want {
		t.Fatalf("%d latency series, %d delay series: want 3 consumers × 3 partitions, %d series", len(lat.Series), len(h.Series), want)
	}
	for _, ds := range h.Series {
		ds2 := delays[key{ds.Topic, ds.Partition, ds.Consumer, ds.ClientID}]
		if len(ds2) == 0 || len(ds.Points) != 1 {
			t.Fatalf("series %s/%d %s (%s): not in the latency view", ds.Topic, ds.Partition, ds.Consumer, ds.ClientID)
		}
		slices.Sort(ds2)
		p := ds.Points[0]
		if p.Batches != int64(len(ds2)) || p.Max != ds2[len(ds2)-1] {
			t.Errorf("%s/%d %s: %d batches, max %v s; the latency view: %d, %v s", ds.Topic, ds.Partition, ds.Consumer, p.Batches, p.Max, len(ds2), ds2[len(ds2)-1])
		}
		for _, q := range []struct {
			q   float64
			got float64
		}{{0.50, p.P50}, {0.99, p.P99}} {
			if want := nearestRank(ds2, q.q); math.Abs(q.got-want) > within*want {
				t.Errorf("%s/%d %s: p%v %v s, the latency view's %v s", ds.Topic, ds.Partition, ds.Consumer, q.q*100, q.got, want)
			}
		}
	}
	// From the exchanges (a step the parts do not cover): the same, at
	// the precision of seconds.
	if got := DelayOverTime(w, w.To.Sub(w.From), []Input{Of(xs, w)}, DelayHistoryFilter{}); length == time.Second && !reflect.DeepEqual(got, h) {
		t.Errorf("from the exchanges:\n%+v\nfrom the part:\n%+v", got, h)
	}
	// Filters match consumers as the latency view's do.
	// and so do a compacted part's (whose delays are read alone).
	frozen := MergeParts([]*OverviewPart{part})
	frozen.Compact()
	if got := DelayOverTime(w, w.To.Sub(w.From), []Input{{Window: w, Overview: frozen}}, DelayHistoryFilter{}); !reflect.DeepEqual(got, h) {
		t.Errorf("compacted:\n%+v\nwant:\n%+v", got, h)
	}
	for _, f := range []DelayHistoryFilter{{Consumer: "c2"}, {Consumer: "billing"}, {Consumer: "77"}, {Topic: "audit"}, {Topic: "audit", Consumer: "c1"}} {
		got := DelayOverTime(w, w.To.Sub(w.From), []Input{{Window: w, Overview: part}}, f)
		if fz := DelayOverTime(w, w.To.Sub(w.From), []Input{{Window: w, Overview: frozen}}, f); !reflect.DeepEqual(fz, got) {
			t.Errorf("filter %+v: compacted %+v, want %+v", f, fz, got)
		}
		want := map[key]bool{}
		for _, ls := range Latency(Of(xs, w), LatencyFilter{Topic: f.Topic, Consumer: f.Consumer}).Series {
			k := key{ls.Topic, ls.Partition, ls.Consumer, ls.ClientID}
			if length >= time.Minute {
				k.partition = -1
			}
			want[k] = true
		}
		if len(got.Series) == 0 || len(got.Series) != len(want) {
			t.Errorf("filter %+v: %d series, the latency view %d", f, len(got.Series), len(want))
		}
	}
}

// Parts merge and compact without changing a delay: one part per second,
// half of them compacted, merged, are the part of all the seconds.
func TestDelayMergeCompact(t *testing.T) {
	xs := delayTraffic(20)
	w := WindowOf(xs)
	whole := NewOverviewPart()
	var secs []*OverviewPart
	for i := range xs {
		whole.Add(&xs[i])
		s := int(xs[i].Time.Sub(t0) / time.Second)
		for len(secs) <= s {
			secs = append(secs, NewOverviewPart())
		}
		secs[s].Add(&xs[i])
	}
	for i, p := range secs {
		if i%2 == 0 {
			p.Compact()
		}
	}
	history := func(p *OverviewPart) DelayHistory {
		return DelayOverTime(w, time.Minute, []Input{{Window: w, Overview: p}}, DelayHistoryFilter{})
	}
	want := history(whole)
	if got := history(MergeParts(secs)); !reflect.DeepEqual(got, want) {
		t.Errorf("merged seconds:\n%+v\nthe whole part:\n%+v", got, want)
	}
	// Compacted, and compacted parts merged into a compacted one.
	whole.Compact()
	if got := history(whole); !reflect.DeepEqual(got, want) {
		t.Errorf("compacted:\n%+v\nwant:\n%+v", got, want)
	}
	acc := NewOverviewPart()
	acc.Compact()
	for _, p := range secs {
		acc.Merge(p)
		acc.Compact()
	}
	if got := history(acc); !reflect.DeepEqual(got, want) {
		t.Errorf("merged compacted:\n%+v\nwant:\n%+v", got, want)
	}
	// A minute's part, coarser, is the seconds merged into it as the
	// store rolls them up, and minutes merge exactly with each other.
	coarse := func(ps ...*OverviewPart) *OverviewPart {
		p := NewOverviewPart()
		p.Coarsen(time.Minute)
		for _, q := range ps {
			p.Merge(q)
		}
		p.Compact()
		return p
	}
	whole = NewOverviewPart()
	whole.Coarsen(time.Minute)
	for i := range xs {
		whole.Add(&xs[i])
	}
	want = history(whole)
	if reflect.DeepEqual(want, history(acc)) {
		t.Fatalf("a minute's delays as precise as a second's")
	}
	if got := history(coarse(secs...)); !reflect.DeepEqual(got, want) {
		t.Errorf("seconds rolled up:\n%+v\nwant:\n%+v", got, want)
	}
	if got := history(MergeParts([]*OverviewPart{coarse(secs[:7]...), coarse(secs[7:]...)})); !reflect.DeepEqual(got, want) {
		t.Errorf("minutes merged:\n%+v\nwant:\n%+v", got, want)
	}
	// A second merged into a minute counts at the minute's precision.
	if got := history(MergeParts([]*OverviewPart{coarse(secs[:7]...), MergeParts(secs[7:])})); !reflect.DeepEqual(got, want) {
		t.Errorf("a minute and seconds merged:\n%+v\nwant:\n%+v", got, want)
	}
}

// Over the store, seconds rolled up into minutes keep every delay at the
// minutes' precision: each minute's point is what its exchanges say,
// counted as a minute's part counts them (Coarsen), and the history says
// it was computed at 1 min.
func TestDelayHistoryRollup(t *testing.T) {
	st := store.New(store.Config{Resolutions: []store.Resolution{
		{Length: time.Second, Keep: 20 * time.Second},
		{Length: 10 * time.Second, Keep: time.Minute},
		{Length: time.Minute, Keep: time.Hour},
	}})
	KeepParts(st)
	xs := delayTraffic(6 * 60)
	for _, e := range xs {
		st.Add(e)
	}
	w := Window{From: t0, To: t0.Add(4 * time.Minute)}
	ws, step := StoreSteps(st, w, 10*time.Second)
	if step != time.Minute || len(ws) != 4 {
		t.Fatalf("step %v, %d windows: want 4 of 1 min", step, len(ws))
	}
	steps := make([]Input, len(ws))
	exact := make([]Input, len(ws))
	for i, sw := range ws {
		steps[i] = FromStore(st, sw, Needs{Parts: true})
		if steps[i].Overview == nil {
			t.Fatalf("step %d read from the exchanges, want the parts", i)
		}
		p := NewOverviewPart()
		p.Coarsen(time.Minute)
		for _, e := range Of(xs, sw).Exchanges {
			if inWindow(sw, e.Time) {
				p.Add(&e)
			}
		}
		exact[i] = Input{Window: sw, Overview: p}
	}
	got := DelayOverTime(w, step, steps, DelayHistoryFilter{})
	want := DelayOverTime(w, step, exact, DelayHistoryFilter{})
	if got.ResolutionSeconds != 60 {
		t.Errorf("resolution %v s, want 60", got.ResolutionSeconds)
	}
	want.ResolutionSeconds = got.ResolutionSeconds
	if !reflect.DeepEqual(got, want) {
		t.Errorf("from minutes rolled up:\n%+v\nfrom the exchanges:\n%+v", got, want)
	}
	last := Latency(Of(xs, ws[3]), LatencyFilter{})
	// A minute counts the partitions of a topic together: audit has one.
	if len(got.Series) != 6 || len(last.Series) != 9 || got.Series[0].Points[3].Batches != int64(len(last.Series[0].Points)) {
		t.Errorf("%d series, the first's last minute %d batches; the latency view: %d series", len(got.Series), got.Series[0].Points[3].Batches, len(last.Series))
	}
}
