package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/spf13/cobra"

	"kscope/internal/kafka"
	"kscope/internal/offline"
	"kscope/internal/table"
)

func analyzeCmd() *cobra.Command {
	var (
		output   string
		opts     offline.Options
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
			if err := opts.Filter.Validate(); err != nil {
				return err
			}
			if err := checkOutput(output, "table", "jsonl", "json"); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			opts.Build.Bodies = !noBodies && output != "table"
			a, err := offline.Analyze(ctx, args, opts)
			if err != nil {
				return err
			}
			if err := printAnalysis(cmd.OutOrStdout(), cmd.ErrOrStderr(), output, a); err != nil {
				return err
			}
			return a.Err()
		},
	}
	f := cmd.Flags()
	f.StringVarP(&output, "output", "o", "table", "output format: table, jsonl (one exchange per line) or json")
	f.StringSliceVar(&opts.Filter.APIs, "api", nil, "only these APIs (name or key, repeatable or comma-separated)")
	f.StringSliceVar(&opts.Filter.Topics, "topic", nil, "only exchanges naming these topics")
	f.StringSliceVar(&opts.Filter.Clients, "client", nil, "only these clients (client id, ip or ip:port)")
	f.DurationVar(&opts.Filter.MinLatency, "min-latency", 0, "only exchanges at least this slow (e.g. 50ms)")
	f.IntVar(&opts.Decoder.MaxFrame, "max-frame", kafka.DefaultMaxFrame, "frames larger than this many bytes are skipped and counted")
	f.DurationVar(&opts.Decoder.ResponseTimeout, "response-timeout", 30*time.Second, "a request unanswered this long past its own wait (fetch max wait, produce timeout) is reported without response")
	f.BoolVar(&noBodies, "no-bodies", false, "leave the whole request and response out of JSON output")
	return cmd
}

// printAnalysis prints the exchanges in format, and the summary (on errw
// beside JSON lines, which another program reads from out).
func printAnalysis(out, errw io.Writer, format string, a *offline.Analysis) error {
	if a.Decoder.KafkaConnections == 0 {
		fmt.Fprintf(errw, "no Kafka traffic found in %d TCP connections (%d packets)\n", a.Decoder.Connections, a.Capture.Packets)
	}
	switch format {
	case "jsonl":
		enc := json.NewEncoder(out)
		for i := range a.Exchanges {
			if err := enc.Encode(&a.Exchanges[i]); err != nil {
				return err
			}
		}
		table.Summary(errw, a)
	case "json":
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(a)
	default:
		if err := table.Exchanges(out, a.Exchanges); err != nil {
			return err
		}
		fmt.Fprintln(out)
		table.Summary(out, a)
	}
	return nil
}
