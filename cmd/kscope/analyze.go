package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"kscope/internal/api"
	"kscope/internal/capture/pcap"
	"kscope/internal/exchange"
	"kscope/internal/kafka"
	"kscope/internal/offline"
	"kscope/internal/server"
	"kscope/internal/store"
	"kscope/internal/table"
	"kscope/internal/view"
)

func analyzeCmd() *cobra.Command {
	var (
		output   string
		opts     offline.Options
		noBodies bool
		ui       uiFlags
	)
	cmd := &cobra.Command{
		Use:   "analyze FILE...",
		Short: "Decode the Kafka exchanges in capture files (pcap, pcapng)",
		Long: `Decode the Kafka exchanges in capture files written by tcpdump or Wireshark
(pcap or pcapng; Ethernet, Linux cooked "-i any", loopback). Kafka is found on
any port: which side is the client is learned from the traffic.

Latency is measured from the first byte of the request to the last byte of
the response, as seen at the capture point.

Record keys and values are never shown, nor SASL passwords.

Exchanges are printed in request time order. With -o jsonl and one file,
each is written as soon as none still to come can be earlier, and only
those that can are held (an exchange whose first packet the file holds
over a second out of time order comes when complete); the table, -o json
and several files hold them all (a few KB each) to sort them.

With --ui, kscope serves the agent's API and web console over the captures
instead, read-only, until interrupted: the console's pages show the
capture's time span (time ranges count back from its end).`,
		Example: `  kscope analyze testdata/captures/kcat.pcap
  kscope analyze --ui capture.pcap   # then open http://127.0.0.1:7071/
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
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			opts.Build.Cache = exchange.NewCache()
			// Bodies are kept as the agent's store keeps them: in
			// wire form, record data removed, rendered when printed
			// or asked for. The table and JSON hold all the
			// exchanges until sorted (JSON lines of one file, only
			// those that may still be preceded: offline.Stream);
			// their JSON was most of what analyze held of a large
			// capture, and every page of it was faulted in: on a
			// 612 MB capture, 8,537 exchanges, 15,300 faults and
			// 514 ms became 12,500 and 475 ms (3 alternating
			// pairs), the output byte for byte the same.
			opts.Build.WireBodies = true
			if ui.on {
				if cmd.Flags().Changed("output") {
					return errors.New("--output shows exchanges in the terminal; --ui serves them: use one")
				}
				opts.Build.Bodies = !noBodies
				return serveCaptures(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), args, opts, ui)
			}
			opts.Build.Bodies = !noBodies && output != "table"
			lessGC(args)
			if output == "jsonl" {
				return streamLines(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), args, opts)
			}
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
	f.BoolVar(&noBodies, "no-bodies", false, "leave the whole request and response out of JSON output (and of --ui)")
	ui.register(f)
	return cmd
}

// uiFlags are analyze's flags for serving the captures (--ui).
type uiFlags struct {
	on     bool
	listen string
	token  string
	memory string
}

// DefaultUIListen is where analyze --ui listens: beside an agent's
// server.DefaultListen, so that both can run.
const DefaultUIListen = "127.0.0.1:7071"

func (u *uiFlags) register(f *pflag.FlagSet) {
	f.BoolVar(&u.on, "ui", false, "serve the web console and the API over the captures, read-only, until interrupted")
	f.StringVar(&u.listen, "listen", DefaultUIListen, "with --ui: address to serve on; beyond loopback it needs --token")
	f.StringVar(&u.token, "token", "", "with --ui: bearer token the console and API require (default $KSCOPE_TOKEN)")
	f.StringVar(&u.memory, "memory", "1GiB", "with --ui: memory budget of the exchanges held (e.g. 512MiB, 4GiB)")
}

// lessGCBytes is the most capture bytes lessGC lets the heap grow more
// for.
const lessGCBytes = 256 << 20

// lessGC lets the heap grow to five times what is live before a
// collection (GOGC=400) when the capture files are small: the process
// reads them once and exits, and on a capture of tens of MB the collector
// was a fifth of its time. Larger captures keep the default, as the
// exchanges kept grow with them; GOGC, when set, wins.
func lessGC(files []string) {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	var total int64
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return
		}
		total += st.Size()
	}
	if total <= lessGCBytes {
		debug.SetGCPercent(400)
	}
}

// serveCaptures decodes files into a store and serves the API and the
// console over it, read-only, until ctx ends.
func serveCaptures(ctx context.Context, out, errw io.Writer, files []string, opts offline.Options, u uiFlags) error {
	budget, err := parseBytes(u.memory)
	if err != nil {
		return fmt.Errorf("--memory: %w", err)
	}
	a, err := offline.Analyze(ctx, files, opts)
	if err != nil {
		return err
	}
	if err := a.Err(); err != nil {
		if len(a.Exchanges) == 0 {
			return err
		}
		fmt.Fprintf(errw, "serving what could be read: %v\n", err)
	}
	if len(a.Exchanges) == 0 {
		return fmt.Errorf("no Kafka exchanges in %s (%d TCP connections, %d packets): nothing to show", strings.Join(files, ", "), a.Decoder.Connections, a.Capture.Packets)
	}
	span := view.WindowOf(a.Exchanges)
	// The overview sums whole seconds: the capture's last second counts
	// only once the window holds all of it.
	served := view.Window{From: span.From, To: span.To.Add(-time.Nanosecond).Truncate(time.Second).Add(time.Second)}
	st := store.New(store.Config{MemoryBytes: budget})
	// The server first: from then on the store keeps the overview's
	// per-second parts of every exchange added.
	srv, err := server.New(server.Config{Listen: u.listen, Token: api.Token(u.token), ReadOnly: true, Span: served}, st,
		func() any {
			return captureStats{Files: a.Files, Decoder: a.Decoder, Capture: a.Capture, Errors: a.Errors}
		})
	if err != nil {
		return err
	}
	for _, e := range a.Exchanges {
		st.Add(e)
	}
	// No newer traffic will release the broker-side copies held for
	// their client side (none from a capture, which has no sides).
	st.Flush(served.To.Add(time.Hour))
	if ev := st.Stats().Evicted; ev > 0 {
		fmt.Fprintf(errw, "kept the newest %d of %d exchanges: raise --memory to keep them all\n", uint64(len(a.Exchanges))-ev, len(a.Exchanges))
	}
	ln, err := net.Listen("tcp", u.listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	fmt.Fprintf(out, "%d exchanges from %s to %s (%s) in %s\n", len(a.Exchanges),
		span.From.UTC().Format(time.DateTime), span.To.UTC().Format(time.DateTime),
		span.To.Sub(span.From).Round(time.Millisecond), strings.Join(files, ", "))
	fmt.Fprintf(out, "serving http://%s/ read-only; Ctrl-C to stop\n", ln.Addr())
	return srv.Serve(ctx, ln)
}

// captureStats is what /api/v1/stats shows of the captures served.
type captureStats struct {
	Files   []string    `json:"files"`
	Decoder kafka.Stats `json:"decoder"`
	Capture pcap.Stats  `json:"capture"`
	Errors  []string    `json:"errors,omitempty"`
}

// streamLines writes the exchanges of files as JSON lines while they are
// decoded, holding only those that may still be preceded by one to come
// (offline.Stream), and the summary on errw.
func streamLines(ctx context.Context, out, errw io.Writer, files []string, opts offline.Options) error {
	bw := bufio.NewWriterSize(out, 64<<10)
	lw := exchange.NewAsyncLines(bw)
	a, err := offline.Stream(ctx, files, opts, lw.Write)
	// Interrupted, the lines written so far still go out.
	if cerr := lw.Close(); err == nil {
		err = cerr
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	noKafka(errw, a)
	table.Summary(errw, a)
	return a.Err()
}

// noKafka says so when the files held no Kafka connection.
func noKafka(errw io.Writer, a *offline.Analysis) {
	if a.Decoder.KafkaConnections == 0 {
		fmt.Fprintf(errw, "no Kafka traffic found in %d TCP connections (%d packets)\n", a.Decoder.Connections, a.Capture.Packets)
	}
}

// printAnalysis prints the exchanges as a table or one JSON document, and
// the summary (JSON lines: streamLines).
func printAnalysis(out, errw io.Writer, format string, a *offline.Analysis) error {
	noKafka(errw, a)
	switch format {
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
