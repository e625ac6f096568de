package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"kscope/internal/agent"
	"kscope/internal/capture/ebpf"
	"kscope/internal/demo"
	"kscope/internal/server"
	"kscope/internal/store"
)

type demoOptions struct {
	listen, token, memory string
	port                  int
	noTrace               bool
	rate                  float64
	burst, slowDelay      time.Duration
	slow                  bool
	verbose               bool
}

func demoCmd() *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run an embedded Kafka, three microservices and the agent tracing them: kscope on a real scenario",
		Long: `Run, in one command, what kscope is for: an embedded 3-broker Kafka cluster
with the topic "order" (5 partitions, replication factor 3); three services,
each a process of its own: "order" produces orders (steadily, with a burst
now and then), "shipping" consumes them and keeps up, "invoicing" consumes
them and, slowed down, falls behind; and the agent tracing them, its API on
127.0.0.1:7070 for kscope overview, clients, latency, rebalances and events.

While it runs, "kscope demo invoicing-delay on|off" slows invoicing down or
lets it catch up, and "kscope demo scale shipping 3" adds shipping processes
to their group, which rebalances. Ctrl-C stops everything it started.

Tracing needs root (or CAP_BPF, CAP_PERFMON, CAP_DAC_READ_SEARCH). With
--no-trace the cluster and the services run without the agent.`,
		Example: `  sudo kscope demo
  kscope demo --no-trace
  sudo kscope demo --port 0 --listen 127.0.0.1:7171 --rate 50`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", server.DefaultListen, "address of the API (the agent's and the demo's controls); beyond loopback it needs --token")
	f.StringVar(&o.token, "token", "", "bearer token the API requires (default $KSCOPE_TOKEN)")
	f.IntVar(&o.port, "port", 9092, "port of the first broker; broker i listens on port+i (0: random free ports)")
	f.BoolVar(&o.noTrace, "no-trace", false, "run the cluster and the services without the agent (no root needed; nothing to see in the views)")
	f.Float64Var(&o.rate, "rate", demo.DefaultRate, "orders per second between bursts")
	f.DurationVar(&o.burst, "burst-every", 45*time.Second, "mean time between bursts of orders (0: none)")
	f.DurationVar(&o.slowDelay, "invoicing-delay", demo.DefaultSlowDelay, "what slowed-down invoicing spends on one order")
	f.BoolVar(&o.slow, "slow", true, "start with invoicing slowed down (kscope demo invoicing-delay on|off switches it)")
	f.StringVar(&o.memory, "memory", "256MiB", "memory budget of the agent's exchange store")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "log the cluster's and the services' details to stderr")
	cmd.AddCommand(demoDelayCmd(), demoScaleCmd(), demoStatusCmd())
	return cmd
}

func runDemo(cmd *cobra.Command, o demoOptions) error {
	if o.token == "" {
		o.token = os.Getenv("KSCOPE_TOKEN")
	}
	if o.rate <= 0 || o.rate > 10000 {
		return fmt.Errorf("--rate %v: from above 0 to 10000 orders per second", o.rate)
	}
	if o.slowDelay <= 0 || o.burst < 0 {
		return errors.New("--invoicing-delay must be above 0 and --burst-every not below 0")
	}
	budget, err := parseBytes(o.memory)
	if err != nil {
		return fmt.Errorf("--memory: %w", err)
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stderr := cmd.ErrOrStderr()
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})).With("component", "demo")

	// One demo at a time: its API address is taken while it runs.
	if st, err := askDemo(ctx, o.listen, o.token); err == nil {
		return fmt.Errorf("a kscope demo is already running (pid %d, API %s, brokers %s): use it, or stop it with Ctrl-C where it runs",
			st.PID, st.API, strings.Join(st.Bootstrap, ","))
	}
	if !o.noTrace {
		if err := ebpf.CheckPrivileges(); err != nil {
			return fmt.Errorf("kscope demo traces its services with eBPF: %v, or add --no-trace to run the cluster and services untraced", err)
		}
	}

	st := store.New(store.Config{MemoryBytes: budget})
	scfg := server.Config{Listen: o.listen, Token: o.token}
	if o.noTrace {
		scfg.NoTraffic = "this kscope demo runs with --no-trace: nothing is traced, so there is no traffic to show; restart it as root (sudo " + selfCommand() + " demo) to see it"
	}
	var ag *agent.Agent
	srv, err := server.New(scfg, st, func() any {
		if ag == nil {
			return nil
		}
		return ag.Stats()
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("the demo's API cannot listen on %s (%s): stop what listens there (a kscope agent?), or pass --listen", o.listen, reason(err))
	}
	defer ln.Close()

	ccfg := demo.Config{Brokers: 3, Port: o.port, Partitions: demo.TopicPartitions}
	if o.verbose {
		ccfg.Logger = log
	}
	cluster, err := demo.StartCluster(ctx, ccfg)
	if err != nil {
		if o.port != 0 {
			return fmt.Errorf("%w (brokers listen on ports %d-%d; --port 0 picks free ones)", err, o.port, o.port+2)
		}
		return err
	}
	defer cluster.Close()
	if err := cluster.CreateTopic(ctx, demo.Topic, demo.TopicPartitions, demo.TopicReplicas); err != nil {
		return err
	}

	// The agent attaches before the services start, so that it sees
	// every connection from its first byte.
	var ports []uint16
	if !o.noTrace {
		for _, a := range cluster.Addrs() {
			_, p, _ := net.SplitHostPort(a)
			n, _ := strconv.ParseUint(p, 10, 16)
			ports = append(ports, uint16(n))
		}
		var src *ebpf.Source
		ag, src, err = openAgent(ebpf.Options{Ports: ports}, agent.Config{Store: st}, srv)
		if err != nil {
			return err
		}
		defer src.Close()
	}

	exe, err := demo.Executable()
	if err != nil {
		return err
	}
	sup := demo.NewSupervisor(demo.SupervisorConfig{
		Exe: exe, Bootstrap: cluster.Addrs(), Rate: o.rate, Burst: o.burst,
		SlowDelay: o.slowDelay, Slow: o.slow, Stderr: stderr, Log: log,
	})
	api := "http://" + ln.Addr().String()
	ctl := demo.NewControl(sup, demo.Status{
		PID: os.Getpid(), Started: time.Now(), API: api, Bootstrap: cluster.Addrs(), Traced: !o.noTrace,
		Topic: demo.TopicInfo{Name: demo.Topic, Partitions: demo.TopicPartitions, ReplicationFactor: demo.TopicReplicas},
	})
	ctl.Register(srv.Handle)

	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errs := make(chan error, 2)
	running := 1
	go func() { errs <- srv.Serve(runCtx, ln) }()
	if ag != nil {
		running++
		go func() { errs <- ag.Run(runCtx) }()
	}

	// However it ends, the services stop first: consumers leave their
	// groups while the brokers still answer.
	defer sup.Stop()
	for _, name := range demo.StartOrder {
		if _, _, err := sup.Scale(name, 1); err != nil {
			return err
		}
	}
	printDemo(cmd.OutOrStdout(), ctl.Status(), o, ports)

	var failed error
	select {
	case <-ctx.Done():
	case failed = <-errs:
		running--
		if failed == nil {
			failed = errors.New("the demo's API or agent stopped")
		}
	}
	stop() // a second Ctrl-C kills at once
	if ag != nil {
		fmt.Fprintln(stderr, "kscope demo: stopping the services, the agent and the cluster")
	} else {
		fmt.Fprintln(stderr, "kscope demo: stopping the services and the cluster")
	}
	sup.Stop()
	cancel()
	for ; running > 0; running-- {
		if err := <-errs; err != nil && failed == nil && !errors.Is(err, context.Canceled) {
			failed = err
		}
	}
	cluster.Close()
	if failed == nil {
		fmt.Fprintln(stderr, "kscope demo: stopped")
	}
	return failed
}

// printDemo says what runs where and what to try.
func printDemo(w io.Writer, st demo.Status, o demoOptions, ports []uint16) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "kscope demo is running; Ctrl-C stops all of it.\n\n")
	fmt.Fprintf(tw, "  Kafka\t3 brokers at %s, in this process (pid %d)\n", strings.Join(st.Bootstrap, ","), st.PID)
	fmt.Fprintf(tw, "  topic\t%s: %d partitions, replication factor %d\n", st.Topic.Name, st.Topic.Partitions, st.Topic.ReplicationFactor)
	for _, p := range st.Processes {
		what := ""
		switch p.Service {
		case demo.Order:
			what = fmt.Sprintf("produces about %g orders/s", o.rate)
			if o.burst > 0 {
				what += fmt.Sprintf(", and a burst about every %s", o.burst)
			}
		case demo.Shipping:
			what = "consumes them in group shipping and keeps up"
		case demo.Invoicing:
			what = "consumes them in group invoicing"
			if st.InvoicingDelay.On {
				what += fmt.Sprintf(", slowed down to %s per order: it falls behind", o.slowDelay)
			}
		}
		fmt.Fprintf(tw, "  %s\tpid %d: %s (client id %s)\n", p.Service, p.PID, what, p.ClientID)
	}
	if st.Traced {
		fmt.Fprintf(tw, "  agent\ttraces both ends of every connection to ports %s; API %s\n", joinPorts(ports), st.API)
	} else {
		fmt.Fprintf(tw, "  agent\tnot running (--no-trace): nothing is traced, the views have nothing to show\n")
	}
	tw.Flush()

	at := "" // the views' --server, when not their default
	if st.API != "http://"+server.DefaultListen {
		at = " --server " + st.API
	}
	k := selfCommand()
	if st.Traced {
		fmt.Fprintf(w, "\nTry, in another terminal (the lag shows after half a minute):\n")
	} else {
		fmt.Fprintf(w, "\nThe controls work without the agent, in another terminal:\n")
	}
	hints := [][2]string{}
	if st.Traced {
		hints = append(hints,
			[2]string{k + " overview" + at, "who produces to order and who consumes it, how fast"},
			[2]string{k + " clients --topic order" + at, "lag per consumer and partition: invoicing falls behind"},
			[2]string{k + " latency --consumer invoicing" + at, "how late each batch of orders reaches invoicing"},
		)
	}
	hints = append(hints, [2]string{k + " demo scale shipping 3" + at, "two more shipping processes join the group"})
	if st.Traced {
		hints = append(hints, [2]string{k + " rebalances --group shipping" + at, "that rebalance: how long the group stopped, its 3 members"})
	}
	if st.Traced {
		hints = append(hints, [2]string{k + " demo invoicing-delay off" + at, "invoicing catches up: its lag falls in clients"})
	} else {
		hints = append(hints, [2]string{k + " demo invoicing-delay off" + at, "invoicing runs at full speed"}, [2]string{k + " demo status" + at, "what runs"})
	}
	if st.Traced {
		hints = append(hints, [2]string{k + " events --follow --topic order" + at, "every request and response as it happens"})
	}
	for _, h := range hints {
		fmt.Fprintf(tw, "  %s\t# %s\n", h[0], h[1])
	}
	tw.Flush()
}

// selfCommand is how to run this kscope again, for the commands the demo
// suggests: "kscope" when that is on the PATH and is this binary, "go run
// ./cmd/kscope" under go run, else the path it was started as.
func selfCommand() string {
	exe, err := os.Executable()
	if err != nil {
		return "kscope"
	}
	if p, err := exec.LookPath("kscope"); err == nil {
		a, errA := os.Stat(p)
		b, errB := os.Stat(exe)
		if errA == nil && errB == nil && os.SameFile(a, b) {
			return "kscope"
		}
	}
	if strings.Contains(exe, "/go-build") {
		return "go run ./cmd/kscope"
	}
	if strings.Contains(os.Args[0], "/") {
		return os.Args[0]
	}
	return "kscope"
}

func joinPorts(ports []uint16) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(int(p))
	}
	return strings.Join(s, ",")
}

// demoClient is how the control commands reach a running demo.
type demoClient struct {
	server, token string
}

func (c *demoClient) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.server, "server", "http://"+server.DefaultListen, "address of the running demo's API")
	cmd.Flags().StringVar(&c.token, "token", "", "the API's token (default $KSCOPE_TOKEN)")
}

// call sends method to path with query q and decodes the answer into v.
func (c *demoClient) call(ctx context.Context, method, path string, q url.Values, v any) error {
	if c.token == "" {
		c.token = os.Getenv("KSCOPE_TOKEN")
	}
	err := askAPI(ctx, eventsOptions{server: c.server, token: c.token, who: "the demo"}, method, path, q, v, "a kscope demo's answer")
	if err != nil && (strings.Contains(err.Error(), "cannot reach") || strings.Contains(err.Error(), "404")) {
		return fmt.Errorf("no kscope demo runs at %s: start one with `kscope demo`", c.server)
	}
	return err
}

// askDemo returns the status of the demo whose API listens on listen, if
// one does.
func askDemo(ctx context.Context, listen, token string) (demo.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c := demoClient{server: "http://" + listen, token: token}
	var st demo.Status
	if err := c.call(ctx, http.MethodGet, demo.StatusPath, nil, &st); err != nil {
		return st, err
	}
	if !st.Demo {
		return st, errors.New("not a demo")
	}
	return st, nil
}

func demoDelayCmd() *cobra.Command {
	var c demoClient
	cmd := &cobra.Command{
		Use:   "invoicing-delay on|off",
		Short: "Slow the running demo's invoicing service down, or let it catch up",
		Args:  usageArgs(1, "kscope demo invoicing-delay on|off"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var on bool
			switch args[0] {
			case "on":
				on = true
			case "off":
			default:
				return fmt.Errorf("invoicing-delay %q: say on or off", args[0])
			}
			var st demo.Status
			if err := c.call(cmd.Context(), http.MethodPost, demo.DelayPath, url.Values{"on": {strconv.FormatBool(on)}}, &st); err != nil {
				return err
			}
			n := 0
			for _, p := range st.Processes {
				if p.Service == demo.Invoicing {
					n++
				}
			}
			procs := plural(n, "invoicing process", "invoicing processes")
			per := time.Duration(st.InvoicingDelay.PerOrderSeconds * float64(time.Second))
			if on {
				fmt.Fprintf(cmd.OutOrStdout(), "invoicing delay on: %s now %s %s per order and %s behind; watch: %s clients --group invoicing\n",
					procs, plural0(n, "spends", "spend"), per, plural0(n, "falls", "fall"), selfCommand())
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "invoicing delay off: %s %s at full speed and %s up; watch the lag fall: %s clients --group invoicing\n",
					procs, plural0(n, "runs", "run"), plural0(n, "catches", "catch"), selfCommand())
			}
			return nil
		},
	}
	c.flags(cmd)
	return cmd
}

func demoScaleCmd() *cobra.Command {
	var c demoClient
	cmd := &cobra.Command{
		Use:   "scale SERVICE N",
		Short: "Run N processes of a demo service (order, shipping or invoicing)",
		Long: `Run N processes of one of the running demo's services. New consumer
processes join their service's group and old ones leave it: the group
rebalances, which kscope rebalances shows.`,
		Example: `  kscope demo scale shipping 3
  kscope demo scale invoicing 2`,
		Args: usageArgs(2, "kscope demo scale SERVICE N, e.g. kscope demo scale shipping 3"),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := strconv.Atoi(args[1])
			if err != nil {
				return fmt.Errorf("scale %s %q: N is a number of processes", args[0], args[1])
			}
			var res demo.ScaleResult
			if err := c.call(cmd.Context(), http.MethodPost, demo.ScalePath,
				url.Values{"service": {args[0]}, "processes": {strconv.Itoa(n)}}, &res); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s: %s", res.Service, plural(res.Processes, "process", "processes"))
			if len(res.Started) > 0 {
				fmt.Fprintf(out, ", started %s %s", plural0(len(res.Started), "pid", "pids"), joinInts(res.Started))
			}
			if len(res.Stopped) > 0 {
				fmt.Fprintf(out, ", stopped %s %s", plural0(len(res.Stopped), "pid", "pids"), joinInts(res.Stopped))
			}
			fmt.Fprintln(out)
			if res.Service != demo.Order && len(res.Started)+len(res.Stopped) > 0 {
				fmt.Fprintf(out, "group %s rebalances; see it in a few seconds: %s rebalances --group %s\n", res.Service, selfCommand(), res.Service)
			}
			return nil
		},
	}
	c.flags(cmd)
	return cmd
}

func demoStatusCmd() *cobra.Command {
	var (
		c      demoClient
		output string
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show what the running demo runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var st demo.Status
			if err := c.call(cmd.Context(), http.MethodGet, demo.StatusPath, nil, &st); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch output {
			case "json":
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			case "table":
			default:
				return fmt.Errorf("unknown output %q: use table or json", output)
			}
			traced := "traced by its agent"
			if !st.Traced {
				traced = "not traced (--no-trace)"
			}
			fmt.Fprintf(out, "kscope demo pid %d since %s, API %s, %s\n", st.PID, st.Started.Format(time.TimeOnly), st.API, traced)
			fmt.Fprintf(out, "brokers %s; topic %s: %d partitions, replication factor %d\n", strings.Join(st.Bootstrap, ","), st.Topic.Name, st.Topic.Partitions, st.Topic.ReplicationFactor)
			fmt.Fprintf(out, "invoicing delay %s (%s per order while on)\n", onOff(st.InvoicingDelay.On), time.Duration(st.InvoicingDelay.PerOrderSeconds*float64(time.Second)))
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SERVICE\tPID\tSTARTED\tCLIENT ID\tGROUP")
			for _, p := range st.Processes {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", p.Service, p.PID, p.Started.Format(time.TimeOnly), p.ClientID, dash(p.Group))
			}
			return tw.Flush()
		},
	}
	c.flags(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

// usageArgs wants n arguments, and says how the command goes otherwise.
func usageArgs(n int, usage string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("usage: %s", usage)
		}
		return nil
	}
}

// plural is "1 process" or "3 processes".
func plural(n int, one, many string) string {
	return strconv.Itoa(n) + " " + plural0(n, one, many)
}

// plural0 is one or many, as n says.
func plural0(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}

// demoServiceCmd is how the demo runs each service as a process of its own.
func demoServiceCmd() *cobra.Command {
	var (
		cfg       demo.ServiceConfig
		bootstrap string
	)
	cmd := &cobra.Command{
		Use:    "demo-service NAME",
		Short:  "Run one of kscope demo's services (started by kscope demo)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.Name = args[0]
			cfg.Bootstrap = strings.Split(bootstrap, ",")
			cfg.Control = os.Stdin
			cfg.Log = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)).With("service", cfg.Name, "pid", os.Getpid())
			// SIGTERM stops it as the end of stdin does; Ctrl-C in the
			// demo's terminal does not reach it (own process group).
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return demo.RunService(ctx, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&bootstrap, "bootstrap", "", "the brokers, comma-separated")
	f.Float64Var(&cfg.Rate, "rate", demo.DefaultRate, "order: orders per second")
	f.DurationVar(&cfg.Burst, "burst", 0, "order: mean time between bursts (0: none)")
	f.DurationVar(&cfg.SlowDelay, "slow-delay", demo.DefaultSlowDelay, "time spent on one order while slowed")
	f.BoolVar(&cfg.Slow, "slow", false, "start slowed down")
	return cmd
}
