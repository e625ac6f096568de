package agent

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"kscope/internal/metrics"
)

// Collector exposes the agent's capture and decoder counters on /metrics.
func (a *Agent) Collector() prometheus.Collector { return collector{a} }

type collector struct{ a *Agent }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	metrics.Describe(ch, metrics.CaptureEvents, metrics.CaptureBytes, metrics.CaptureLostBytes, metrics.CaptureLostEvents, metrics.CaptureSkippedBytes, metrics.CaptureRingBytes,
		metrics.CaptureRingDrops, metrics.CaptureRingDropBytes, metrics.CaptureRingWakeups, metrics.CaptureConnections, metrics.DecoderFrames, metrics.DecoderResyncs,
		metrics.DecoderSkippedBytes, metrics.DecoderErrors, metrics.DecoderTruncated, metrics.DecoderKafkaConns, metrics.DecoderUndecided, metrics.DecoderNoResponse, metrics.AgentHeap,
		metrics.AgentOwn)
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.a.Stats()
	ch <- metrics.CaptureEvents.Value(float64(s.Capture.Events))
	ch <- metrics.CaptureBytes.Value(float64(s.Capture.Bytes))
	ch <- metrics.CaptureLostBytes.Value(float64(s.Capture.LostBytes))
	ch <- metrics.CaptureLostEvents.Value(float64(s.Capture.LostEvents))
	ch <- metrics.CaptureSkippedBytes.Value(float64(s.Capture.SkippedBytes))
	ch <- metrics.CaptureRingBytes.Value(float64(s.Capture.RingBytes))
	for cpu, n := range s.Capture.RingDropsPerCPU {
		ch <- metrics.CaptureRingDrops.Value(float64(n), strconv.Itoa(cpu))
	}
	ch <- metrics.CaptureRingDropBytes.Value(float64(s.Capture.RingDropBytes))
	ch <- metrics.CaptureRingWakeups.Value(float64(s.Capture.Wakeups))
	ch <- metrics.CaptureConnections.Value(float64(s.Capture.Connections))
	d := s.Decoder
	ch <- metrics.DecoderFrames.Value(float64(d.Requests), "request")
	ch <- metrics.DecoderFrames.Value(float64(d.Responses), "response")
	ch <- metrics.DecoderFrames.Value(float64(d.SASLTokens), "sasl_token")
	ch <- metrics.DecoderResyncs.Value(float64(d.Resyncs))
	ch <- metrics.DecoderSkippedBytes.Value(float64(d.BytesSkipped))
	ch <- metrics.DecoderErrors.Value(float64(d.DecodeErrors), "decode")
	ch <- metrics.DecoderErrors.Value(float64(d.UnmatchedResponses), "unmatched_response")
	ch <- metrics.DecoderErrors.Value(float64(d.Oversized), "oversized")
	ch <- metrics.DecoderErrors.Value(float64(d.HeadersLost), "header_lost")
	ch <- metrics.DecoderTruncated.Value(float64(d.Truncated))
	ch <- metrics.DecoderKafkaConns.Value(float64(d.KafkaConnections))
	ch <- metrics.DecoderUndecided.Value(float64(d.Undecided))
	ch <- metrics.DecoderNoResponse.Value(float64(d.NoResponse))
	ch <- metrics.AgentHeap.Value(float64(s.MemoryBytes))
	ch <- metrics.AgentOwn.Value(float64(s.Own))
}
