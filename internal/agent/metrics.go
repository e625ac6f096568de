package agent

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector exposes the agent's capture and decoder counters on /metrics.
func (a *Agent) Collector() prometheus.Collector { return collector{a} }

type collector struct{ a *Agent }

var (
	descEvents      = prometheus.NewDesc("kscope_capture_events_total", "Events read from the kernel ring buffer.", nil, nil)
	descBytes       = prometheus.NewDesc("kscope_capture_bytes_total", "Payload bytes captured from traced sockets.", nil, nil)
	descLostBytes   = prometheus.NewDesc("kscope_capture_lost_bytes_total", "Bytes known to be missed (per-syscall limit, full ring, sendfile).", nil, nil)
	descLostEvents  = prometheus.NewDesc("kscope_capture_lost_events_total", "Chunks that came after missed bytes.", nil, nil)
	descRingDrops   = prometheus.NewDesc("kscope_capture_ring_drops_total", "Events dropped because the ring buffer was full, per CPU.", []string{"cpu"}, nil)
	descConns       = prometheus.NewDesc("kscope_capture_connections", "Traced TCP connections open now.", nil, nil)
	descFrames      = prometheus.NewDesc("kscope_decoder_frames_total", "Kafka frames decoded.", []string{"kind"}, nil)
	descResyncs     = prometheus.NewDesc("kscope_decoder_resyncs_total", "Times a stream lost its frame boundaries and searched for them.", nil, nil)
	descSkipped     = prometheus.NewDesc("kscope_decoder_skipped_bytes_total", "Bytes skipped while resynchronising.", nil, nil)
	descErrors      = prometheus.NewDesc("kscope_decoder_errors_total", "Frames the decoder could not use, by reason.", []string{"reason"}, nil)
	descKafkaConns  = prometheus.NewDesc("kscope_decoder_kafka_connections_total", "Connections recognised as Kafka.", nil, nil)
	descNoResponse  = prometheus.NewDesc("kscope_decoder_requests_without_response_total", "Requests reported without a response (acks=0, lost, timeout, closed).", nil, nil)
	descMemoryBytes = prometheus.NewDesc("kscope_agent_heap_bytes", "Heap in use by the agent.", nil, nil)
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descEvents, descBytes, descLostBytes, descLostEvents, descRingDrops, descConns,
		descFrames, descResyncs, descSkipped, descErrors, descKafkaConns, descNoResponse, descMemoryBytes} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.a.Stats()
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	counter(descEvents, float64(s.Capture.Events))
	counter(descBytes, float64(s.Capture.Bytes))
	counter(descLostBytes, float64(s.Capture.LostBytes))
	counter(descLostEvents, float64(s.Capture.LostEvents))
	for cpu, n := range s.Capture.RingDropsPerCPU {
		counter(descRingDrops, float64(n), strconv.Itoa(cpu))
	}
	ch <- prometheus.MustNewConstMetric(descConns, prometheus.GaugeValue, float64(s.Capture.Connections))
	d := s.Decoder
	counter(descFrames, float64(d.Requests), "request")
	counter(descFrames, float64(d.Responses), "response")
	counter(descFrames, float64(d.SASLTokens), "sasl_token")
	counter(descResyncs, float64(d.Resyncs))
	counter(descSkipped, float64(d.BytesSkipped))
	counter(descErrors, float64(d.DecodeErrors), "decode")
	counter(descErrors, float64(d.UnmatchedResponses), "unmatched_response")
	counter(descErrors, float64(d.Oversized), "oversized")
	counter(descErrors, float64(d.HeadersLost), "header_lost")
	counter(descKafkaConns, float64(d.KafkaConnections))
	counter(descNoResponse, float64(d.NoResponse))
	ch <- prometheus.MustNewConstMetric(descMemoryBytes, prometheus.GaugeValue, float64(s.MemoryBytes))
}
