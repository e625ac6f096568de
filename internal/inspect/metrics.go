package inspect

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"kscope/internal/metrics"
)

// Collector exposes the inspector's own health on /metrics.
func (in *Inspector) Collector() prometheus.Collector { return collector{in} }

type collector struct{ in *Inspector }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	metrics.Describe(ch, metrics.InspectorPolls, metrics.InspectorErrors, metrics.InspectorLast, metrics.InspectorSeconds, metrics.InspectorDefer)
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.in.Stats()
	ch <- metrics.InspectorPolls.Value(float64(s.Polls))
	for b, n := range s.Errors {
		ch <- metrics.InspectorErrors.Value(float64(n), strconv.Itoa(int(b)))
	}
	if !s.LastPoll.IsZero() {
		ch <- metrics.InspectorLast.Value(float64(s.LastPoll.UnixNano()) / 1e9)
		ch <- metrics.InspectorSeconds.Value(s.LastSeconds)
	}
	ch <- metrics.InspectorDefer.Value(float64(s.Deferred))
}
