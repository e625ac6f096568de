package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"kscope/internal/capture/pcap"
	"kscope/internal/exchange"
	"kscope/internal/kafka"
)

func analyzeCmd() *cobra.Command {
	var (
		output   string
		filter   exchange.Filter
		maxFrame int
		timeout  time.Duration
		noBodies bool
	)
	cmd := &cobra.Command{
		Use:   "analyze FILE...",
		Short: "Decode the Kafka exchanges in capture files (pcap, pcapng)",
		Long: `Decode the Kafka exchanges in capture files written by tcpdump or Wireshark
(pcap or pcapng; Ethernet, Linux cooked "-i any", loopback). Kafka is found on
any port: which side is the client is learned from the traffic.

Latency is measured from the first byte of the request to the last byte of
the response, as seen at the capture point.

Record keys and values are never shown, nor SASL passwords.`,
		Example: `  kscope analyze testdata/captures/kcat.pcap
  kscope analyze --api Fetch --topic orders --min-latency 100ms capture.pcapng
  kscope analyze -o jsonl capture.pcap | jq .latency_ns`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := filter.Validate(); err != nil {
				return err
			}
			switch output {
			case "table", "jsonl", "json":
			default:
				return fmt.Errorf("unknown output %q: use table, jsonl or json", output)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			res, err := analyze(ctx, args, kafka.Options{MaxFrame: maxFrame, ResponseTimeout: timeout}, filter, exchange.Options{Bodies: !noBodies && output != "table"})
			if err != nil {
				return err
			}
			if err := printAnalysis(cmd.OutOrStdout(), cmd.ErrOrStderr(), output, res); err != nil {
				return err
			}
			if len(res.Errors) > 0 {
				return errors.New(strings.Join(res.Errors, "\n"))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&output, "output", "o", "table", "output format: table, jsonl (one exchange per line) or json")
	f.StringSliceVar(&filter.APIs, "api", nil, "only these APIs (name or key, repeatable or comma-separated)")
	f.StringSliceVar(&filter.Topics, "topic", nil, "only exchanges naming these topics")
	f.StringSliceVar(&filter.Clients, "client", nil, "only these clients (client id, ip or ip:port)")
	f.DurationVar(&filter.MinLatency, "min-latency", 0, "only exchanges at least this slow (e.g. 50ms)")
	f.IntVar(&maxFrame, "max-frame", kafka.DefaultMaxFrame, "frames larger than this many bytes are skipped and counted")
	f.DurationVar(&timeout, "response-timeout", 30*time.Second, "a request unanswered this long past its own wait (fetch max wait, produce timeout) is reported without response")
	f.BoolVar(&noBodies, "no-bodies", false, "leave the whole request and response out of JSON output")
	return cmd
}

// analysis is what analyze found in its files.
type analysis struct {
	Files     []string            `json:"files"`
	Exchanges []exchange.Exchange `json:"exchanges"`
	Matched   int                 `json:"matched"`
	Decoder   kafka.Stats         `json:"decoder"`
	Capture   pcap.Stats          `json:"capture"`
	// Errors are the files that could not be read to their end.
	Errors []string `json:"errors,omitempty"`
}

func analyze(ctx context.Context, files []string, opts kafka.Options, filter exchange.Filter, bopt exchange.Options) (*analysis, error) {
	res := &analysis{Files: files}
	ids := &kafka.TopicIDs{}
	dec := kafka.NewDecoder(opts, ids, func(p kafka.Pair) {
		e := exchange.Build(p, ids, bopt)
		if filter.Match(&e) {
			res.Exchanges = append(res.Exchanges, e)
		}
	})
	for _, name := range files {
		// A bad file is reported and the others still decoded; what
		// came before a corrupt record is kept.
		r, err := pcap.Open(name, pcap.Options{})
		if err != nil {
			res.Errors = append(res.Errors, err.Error())
			continue
		}
		err = dec.Run(ctx, r)
		st := r.Stats()
		r.Close()
		dec.Flush()
		addCaptureStats(&res.Capture, st)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			res.Errors = append(res.Errors, err.Error())
		}
	}
	res.Decoder = dec.Stats()
	sort.SliceStable(res.Exchanges, func(i, j int) bool { return res.Exchanges[i].Time.Before(res.Exchanges[j].Time) })
	res.Matched = len(res.Exchanges)
	return res, nil
}

func printAnalysis(out, errw io.Writer, format string, res *analysis) error {
	if res.Decoder.KafkaConnections == 0 {
		fmt.Fprintf(errw, "no Kafka traffic found in %d TCP connections (%d packets)\n", res.Decoder.Connections, res.Capture.Packets)
	}
	switch format {
	case "jsonl":
		enc := json.NewEncoder(out)
		for i := range res.Exchanges {
			if err := enc.Encode(&res.Exchanges[i]); err != nil {
				return err
			}
		}
		printSummary(errw, res)
	case "json":
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	default:
		if err := printExchanges(out, res.Exchanges); err != nil {
			return err
		}
		fmt.Fprintln(out)
		printSummary(out, res)
	}
	return nil
}

func printSummary(w io.Writer, res *analysis) {
	d := res.Decoder
	fmt.Fprintf(w, "%d exchanges shown; %d decoded from %d requests and %d responses on %d Kafka connections (of %d TCP)\n",
		res.Matched, d.Exchanges, d.Requests, d.Responses, d.KafkaConnections, d.Connections)
	fmt.Fprintf(w, "frames: %d requests, %d responses; %d without response; %d unmatched responses; %d decode errors; %d truncated; %d oversized; %d SASL tokens skipped\n",
		d.Requests, d.Responses, d.NoResponse, d.UnmatchedResponses, d.DecodeErrors, d.Truncated, d.Oversized, d.SASLTokens)
	fmt.Fprintf(w, "bytes: %d lost in capture, %d skipped; %d resyncs; %d frames whose header was not captured; %d connections (%d bytes) not Kafka\n",
		d.BytesLost, d.BytesSkipped, d.Resyncs, d.HeadersLost, d.NotKafka, d.BytesIgnored)
}

func addCaptureStats(sum *pcap.Stats, s pcap.Stats) {
	sum.Packets += s.Packets
	sum.TCPSegments += s.TCPSegments
	sum.Skipped += s.Skipped
	sum.Fragments += s.Fragments
	sum.Truncated += s.Truncated
	sum.Connections += s.Connections
	sum.MidStream += s.MidStream
	sum.OutOfOrder += s.OutOfOrder
	sum.PayloadBytes += s.PayloadBytes
	sum.LostBytes += s.LostBytes
	sum.RetransmittedBytes += s.RetransmittedBytes
}
