package table

import (
	"fmt"
	"io"

	"kscope/internal/offline"
)

// Summary says what an analysis decoded and what it could not: every
// frame, byte and connection counted.
func Summary(w io.Writer, res *offline.Analysis) {
	d := res.Decoder
	fmt.Fprintf(w, "%d exchanges shown; %d decoded from %d requests and %d responses on %d Kafka connections (of %d TCP)\n",
		res.Matched, d.Exchanges, d.Requests, d.Responses, d.KafkaConnections, d.Connections)
	fmt.Fprintf(w, "frames: %d requests, %d responses; %d without response; %d unmatched responses; %d decode errors; %d truncated; %d oversized; %d SASL tokens skipped\n",
		d.Requests, d.Responses, d.NoResponse, d.UnmatchedResponses, d.DecodeErrors, d.Truncated, d.Oversized, d.SASLTokens)
	fmt.Fprintf(w, "bytes: %d lost in capture, %d skipped; %d resyncs; %d frames whose header was not captured; %d connections (%d bytes) not Kafka\n",
		d.BytesLost, d.BytesSkipped, d.Resyncs, d.HeadersLost, d.NotKafka, d.BytesIgnored)
}
