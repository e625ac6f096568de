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
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"kscope/internal/loadgen"
)

// benchWireCmd replays Kafka exchanges between two processes of its own, at
// rates the embedded broker cannot serve (it answers about 6,500 requests
// a second): the load for measuring what the agent loses at 50,000.
func benchWireCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "wire",
		Short: "Replay pre-encoded Kafka exchanges between a client and a server process at a set rate",
		Long: `Replay Produce, Fetch, Metadata and Heartbeat exchanges, each encoded once
with franz-go's kmsg and framed as real clients and brokers frame them, between
a client process (run) and a server process (serve) over TCP on loopback, at a
set rate. Both ends use the system calls real clients use (writev and read), so
that kscope agent traces and decodes them as real Kafka traffic.

run starts its own server process unless --server names one; both pids are
printed, for kscope agent --pid.`,
	}
	cmd.AddCommand(benchWireRunCmd(), benchWireServeCmd())
	return cmd
}

// wireShape are the flags both ends must agree on.
type wireShape struct {
	batchBytes, partitions, perWrite int
}

func (w *wireShape) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.IntVar(&w.batchBytes, "batch-bytes", 1024, "bytes of the record batch in each partition of a Produce request and a Fetch response")
	f.IntVar(&w.partitions, "partitions-per-request", 1, "partitions in each Produce request and Fetch response")
	f.IntVar(&w.perWrite, "per-write", 1, "most requests (client) or responses (server) in one writev, up to 16; 1 writes each alone, as clients and brokers do")
}

func (w *wireShape) shape() loadgen.Shape {
	return loadgen.Shape{BatchBytes: w.batchBytes, Partitions: w.partitions}
}

func (w *wireShape) args() []string {
	return []string{"--batch-bytes", strconv.Itoa(w.batchBytes), "--partitions-per-request", strconv.Itoa(w.partitions),
		"--per-write", strconv.Itoa(w.perWrite)}
}

func benchWireServeCmd() *cobra.Command {
	var (
		listen    string
		shape     wireShape
		stdinStop bool
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Answer kscope bench wire run's requests with pre-encoded responses",
		Long: `Answer the requests of kscope bench wire run with pre-encoded responses, as a
broker would. Prints "listening on ADDRESS" first. Give it the same
--batch-bytes and --partitions-per-request as run.`,
		Example: `  kscope bench wire serve --listen 127.0.0.1:19393 --batch-bytes 16384`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkLoopback(listen); err != nil {
				return err
			}
			srv, err := loadgen.NewServer(shape.shape())
			if err != nil {
				return err
			}
			srv.PerWrite = shape.perWrite
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if stdinStop {
				// Started by run: go when run goes, however it ends.
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				go func() { io.Copy(io.Discard, os.Stdin); cancel() }()
			}
			fmt.Fprintf(cmd.OutOrStdout(), "listening on %s\n", ln.Addr())
			return srv.Serve(ctx, ln)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:0", "address to listen on (loopback; port 0 picks one)")
	f.BoolVar(&stdinStop, "until-stdin-closes", false, "exit when standard input closes")
	f.MarkHidden("until-stdin-closes")
	shape.register(cmd)
	return cmd
}

// checkLoopback refuses addresses beyond this machine: this is a load
// generator.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s is not a loopback address: bench wire only loads this machine", addr)
	}
	return nil
}

func benchWireRunCmd() *cobra.Command {
	var (
		server          string
		rate            float64
		conns, inFlight int
		duration        time.Duration
		exchanges       int64
		mix, output     string
		shape           wireShape
		drain           time.Duration
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Send exchanges at a rate and print how many were sent and answered, the rate reached and the latency",
		Example: `  kscope bench wire run --rate 50000 --connections 4 --duration 10s
  kscope bench wire run --rate 0 --exchanges 1000000 --mix produce=1 --batch-bytes 100
  kscope bench wire run --server 127.0.0.1:19393 --rate 20000 --duration 30s -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "table", "json"); err != nil {
				return err
			}
			if exchanges <= 0 && duration <= 0 {
				return errors.New("give --duration or --exchanges")
			}
			m, err := loadgen.ParseMix(mix)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			serverPID := 0
			if server == "" {
				srv, err := startWireServer(ctx, shape)
				if err != nil {
					return err
				}
				defer srv.stop()
				server, serverPID = srv.addr, srv.cmd.Process.Pid
			} else if err := checkLoopback(server); err != nil {
				return err
			}
			cfg := loadgen.Config{Server: server, Rate: rate, Connections: conns, Exchanges: exchanges, Duration: duration,
				Mix: m, Shape: shape.shape(), InFlight: inFlight, PerWrite: shape.perWrite, Drain: drain}
			if output == "table" {
				fmt.Fprintf(cmd.ErrOrStderr(), "client pid %d, server %s (pid %s): sending...\n", os.Getpid(), server, pidString(serverPID))
			}
			res, err := loadgen.Run(ctx, cfg)
			if res == nil {
				return err
			}
			rep := newWireReport(cfg, res, os.Getpid(), serverPID)
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if e := enc.Encode(rep); e != nil {
					return e
				}
			} else {
				rep.print(cmd.OutOrStdout())
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&server, "server", "", "address of a kscope bench wire serve (default: start one)")
	f.Float64Var(&rate, "rate", 10000, "exchanges per second over all connections, paced; 0 sends as fast as the server answers")
	f.IntVar(&conns, "connections", 4, "connections, sharing the rate")
	f.IntVar(&inFlight, "in-flight", 5, "most requests unanswered per connection (pipelining, as a client's max in-flight requests)")
	f.DurationVar(&duration, "duration", 10*time.Second, "how long to send (unless --exchanges)")
	f.Int64Var(&exchanges, "exchanges", 0, "send exactly this many exchanges (overrides --duration)")
	f.StringVar(&mix, "mix", loadgen.DefaultMix.String(), "share of each kind of exchange: produce, fetch, metadata, heartbeat")
	f.DurationVar(&drain, "drain", 10*time.Second, "how long the last responses may take")
	f.StringVarP(&output, "output", "o", "table", "output format: table or json")
	shape.register(cmd)
	return cmd
}

func pidString(pid int) string {
	if pid == 0 {
		return "not ours"
	}
	return strconv.Itoa(pid)
}

// wireServer is a serve process started by run.
type wireServer struct {
	cmd   *exec.Cmd
	stdin io.Closer
	addr  string
}

// startWireServer runs this executable's serve on a free loopback port, a
// process of its own so that the agent can tell (and filter) both ends.
func startWireServer(ctx context.Context, shape wireShape) (*wireServer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := append([]string{"bench", "wire", "serve", "--listen", "127.0.0.1:0", "--until-stdin-closes"}, shape.args()...)
	c := exec.CommandContext(ctx, exe, args...)
	c.Stderr = os.Stderr
	stdin, err := c.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := c.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("start the bench server: %w", err)
	}
	s := &wireServer{cmd: c, stdin: stdin}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if err != nil || !ok {
		s.stop()
		return nil, fmt.Errorf("the bench server did not start: %q %v", line, err)
	}
	s.addr = addr
	return s, nil
}

func (s *wireServer) stop() {
	s.stdin.Close()
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
}

// wireReport is what run prints, and its JSON.
type wireReport struct {
	ClientPID     int                `json:"client_pid"`
	ServerPID     int                `json:"server_pid,omitempty"`
	Server        string             `json:"server"`
	Connections   int                `json:"connections"`
	InFlight      int                `json:"in_flight"`
	PerWrite      int                `json:"per_write"`
	RateRequested float64            `json:"rate_requested"`
	BatchBytes    int                `json:"batch_bytes"`
	Partitions    int                `json:"partitions_per_request"`
	Mix           string             `json:"mix"`
	Kinds         []wireKind         `json:"kinds"`
	Sent          int64              `json:"sent"`
	Answered      int64              `json:"answered"`
	Seconds       float64            `json:"elapsed_seconds"`
	Rate          float64            `json:"rate"`
	PerSecond     []int64            `json:"per_second"`
	Latency       map[string]float64 `json:"latency_us"`
	// CPUSeconds is what the client process used (user and system), for
	// what the load itself costs.
	CPUSeconds float64 `json:"client_cpu_seconds"`
}

type wireKind struct {
	Kind          string `json:"kind"`
	Sent          int64  `json:"sent"`
	Answered      int64  `json:"answered"`
	RequestBytes  int    `json:"request_bytes"`
	ResponseBytes int    `json:"response_bytes"`
	Records       int    `json:"records_per_partition,omitempty"`
}

var wireQuantiles = []struct {
	name string
	q    float64
}{{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}, {"p99.9", 0.999}}

func newWireReport(cfg loadgen.Config, res *loadgen.Result, clientPID, serverPID int) *wireReport {
	exs, _ := loadgen.Exchanges(cfg.Shape)
	r := &wireReport{ClientPID: clientPID, ServerPID: serverPID, Server: cfg.Server, Connections: cfg.Connections,
		InFlight: cfg.InFlight, PerWrite: max(cfg.PerWrite, 1), RateRequested: cfg.Rate, BatchBytes: cfg.Shape.BatchBytes,
		Partitions: cfg.Shape.Partitions, Mix: cfg.Mix.String(), Seconds: res.Elapsed.Seconds(), PerSecond: res.PerSecond,
		Latency: map[string]float64{}}
	for _, e := range exs {
		r.Kinds = append(r.Kinds, wireKind{Kind: e.Kind.String(), Sent: res.Sent[e.Kind], Answered: res.Answered[e.Kind],
			RequestBytes: len(e.Request.Bytes), ResponseBytes: len(e.Response.Bytes), Records: e.Records})
		r.Sent += res.Sent[e.Kind]
		r.Answered += res.Answered[e.Kind]
	}
	if r.Seconds > 0 {
		r.Rate = float64(r.Answered) / r.Seconds
	}
	for _, q := range wireQuantiles {
		r.Latency[q.name] = float64(res.Latency.Quantile(q.q)) / 1e3
	}
	r.Latency["max"] = float64(res.Latency.Max()) / 1e3
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		r.CPUSeconds = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	return r
}

func (r *wireReport) print(w io.Writer) {
	rate := "as fast as answered"
	if r.RateRequested > 0 {
		rate = fmt.Sprintf("%.0f/s requested", r.RateRequested)
	}
	fmt.Fprintf(w, "%d connections, %d in flight each, %d per writev, %s; batches of %d bytes, %d partitions per request\n",
		r.Connections, r.InFlight, r.PerWrite, rate, r.BatchBytes, r.Partitions)
	fmt.Fprintf(w, "client pid %d, server %s (pid %s)\n\n", r.ClientPID, r.Server, pidString(r.ServerPID))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "KIND\tSENT\tANSWERED\tREQUEST B\tRESPONSE B\t")
	for _, k := range r.Kinds {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t\n", k.Kind, k.Sent, k.Answered, k.RequestBytes, k.ResponseBytes)
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t\t\t\n", r.Sent, r.Answered)
	tw.Flush()
	fmt.Fprintf(w, "\n%.0f exchanges/s over %.3fs", r.Rate, r.Seconds)
	if len(r.PerSecond) > 0 {
		lo, hi := r.PerSecond[0], r.PerSecond[0]
		for _, n := range r.PerSecond {
			lo, hi = min(lo, n), max(hi, n)
		}
		fmt.Fprintf(w, " (each whole second: %d to %d)", lo, hi)
	}
	fmt.Fprintln(w)
	fmt.Fprint(w, "latency")
	for _, q := range wireQuantiles {
		fmt.Fprintf(w, " %s %s", q.name, fmtMicros(r.Latency[q.name]))
	}
	fmt.Fprintf(w, " max %s\n", fmtMicros(r.Latency["max"]))
	if r.Seconds > 0 {
		fmt.Fprintf(w, "client CPU %.1fs (%.0f%% of one core)\n", r.CPUSeconds, 100*r.CPUSeconds/r.Seconds)
	}
}

func fmtMicros(us float64) string {
	if us >= 1000 {
		return fmt.Sprintf("%.2fms", us/1000)
	}
	return fmt.Sprintf("%.0fµs", us)
}
