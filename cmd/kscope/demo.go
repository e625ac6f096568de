package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"kscope/internal/api"
	"kscope/internal/demo"
	"kscope/internal/server"
)

func demoCmd() *cobra.Command {
	var (
		cfg        demo.RunConfig
		memory     string
		thresholds map[string]string
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run an embedded Kafka, four microservices and the agent tracing them: kscope on a real scenario",
		Long: `Run, in one command, what kscope is for: an embedded 3-broker Kafka cluster
in two racks, with the topic "order" (5 partitions, replication factor 3,
min.insync.replicas 2) and "order-audit", kept by size only; four services,
each a process of its own: "order" produces orders (steadily, with a burst
now and then), "shipping" consumes them and keeps up (its group on the
KIP-848 consumer protocol), "invoicing" consumes them (classic protocol)
and, slowed down, falls behind, "ledger" writes transactions (every 4th
aborted); and the agent tracing them, its API on
127.0.0.1:7070 for kscope overview, clients, latency, rebalances and events.

While it runs, "kscope demo invoicing-delay on|off" slows invoicing down or
lets it catch up, "kscope demo scale shipping 3" adds shipping processes
to their group, which rebalances, and "kscope demo broker stop 1" takes a
broker down as in a real cluster (start brings it back). Ctrl-C stops
everything it started.

When Debian's prometheus and prometheus-alertmanager are installed, the
demo also runs them on loopback ports, with kscope's alert rules and the
example Alertmanager routes and inhibitions (deploy/), the rules' waits
shortened by --alert-time-scale: "kscope alerts" shows what fires, by
severity.

Tracing needs root (or CAP_BPF, CAP_PERFMON, CAP_DAC_READ_SEARCH). With
--no-trace the cluster and the services run without the agent.`,
		Example: `  sudo kscope demo
  kscope demo --no-trace
  sudo kscope demo --port 0 --listen 127.0.0.1:7171 --rate 50`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if cfg.MemoryBytes, err = parseBytes(memory); err != nil {
				return fmt.Errorf("--memory: %w", err)
			}
			cfg.Token = api.Token(cfg.Token)
			cfg.AlertThresholds = map[string]float64{}
			for k, v := range thresholds {
				if cfg.AlertThresholds[k], err = strconv.ParseFloat(v, 64); err != nil {
					return fmt.Errorf("--alert-threshold %s=%s: not a number", k, v)
				}
			}
			if cfg.AlertTimeScale < 0 || cfg.AlertTimeScale > 1 {
				return fmt.Errorf("--alert-time-scale %g: from above 0 to 1", cfg.AlertTimeScale)
			}
			cfg.Self = selfCommand()
			cfg.Out, cfg.Err = cmd.OutOrStdout(), cmd.ErrOrStderr()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			cfg.Stopping = stop
			return demo.Run(ctx, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", server.DefaultListen, "address of the API (the agent's and the demo's controls); beyond loopback it needs --token")
	f.StringVar(&cfg.Token, "token", "", "bearer token the API requires (default $"+api.TokenEnv+")")
	f.IntVar(&cfg.Port, "port", 9092, "port of the first broker; broker i listens on port+i (0: random free ports)")
	f.BoolVar(&cfg.NoTrace, "no-trace", false, "run the cluster and the services without the agent (no root needed; nothing to see in the views)")
	f.Float64Var(&cfg.Rate, "rate", demo.DefaultRate, "orders per second between bursts")
	f.DurationVar(&cfg.Burst, "burst-every", 45*time.Second, "mean time between bursts of orders (0: none)")
	f.DurationVar(&cfg.SlowDelay, "invoicing-delay", demo.DefaultSlowDelay, "what slowed-down invoicing spends on one order")
	f.BoolVar(&cfg.Slow, "slow", true, "start with invoicing slowed down (kscope demo invoicing-delay on|off switches it)")
	f.StringVar(&memory, "memory", "256MiB", "memory budget of the agent's exchange store")
	f.StringVar(&cfg.Alerting, "alerting", demo.AlertingAuto, "run Prometheus and Alertmanager with kscope's alert rules: auto (when installed), on, or off")
	f.Float64Var(&cfg.AlertTimeScale, "alert-time-scale", demo.DefaultAlertTimeScale, "multiply the rules' waits (for) and Alertmanager's by this, to see alerts in seconds rather than minutes (1: as written)")
	f.StringToStringVar(&thresholds, "alert-threshold", nil, "set a threshold of the rules, NAME=VALUE (the kscope:threshold:NAME recording rules of deploy/prometheus/kscope-rules.yml; repeatable); the demo sets append_lag_warning_seconds=60 and append_lag_page_seconds=600")
	f.BoolVarP(&cfg.Verbose, "verbose", "v", false, "log the cluster's and the services' details to stderr")
	cmd.AddCommand(demoDelayCmd(), demoScaleCmd(), demoBrokerCmd(), demoStatusCmd())
	return cmd
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

// demoControl is how the control commands reach a running demo.
type demoControl struct{ apiFlags }

// call sends a control (POST) or asks the status (GET), into v.
func (c *demoControl) call(cmd *cobra.Command, post bool, path string, q url.Values, v any) error {
	cl := demo.Client(c.server, api.Token(c.token))
	var err error
	if post {
		err = cl.Post(cmd.Context(), path, q, v)
	} else {
		err = cl.Get(cmd.Context(), path, q, v)
	}
	return demo.ControlError(err, c.server)
}

func demoDelayCmd() *cobra.Command {
	var c demoControl
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
			if err := c.call(cmd, true, demo.DelayPath, url.Values{"on": {strconv.FormatBool(on)}}, &st); err != nil {
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
	c.register(cmd, "running demo")
	return cmd
}

func demoScaleCmd() *cobra.Command {
	var c demoControl
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
			if err := c.call(cmd, true, demo.ScalePath, url.Values{"service": {args[0]}, "processes": {strconv.Itoa(n)}}, &res); err != nil {
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
			if res.Service != demo.Order && res.Service != demo.Ledger && len(res.Started)+len(res.Stopped) > 0 {
				fmt.Fprintf(out, "group %s rebalances; see it in a few seconds: %s rebalances --group %s\n", res.Service, selfCommand(), res.Service)
			}
			return nil
		},
	}
	c.register(cmd, "running demo")
	return cmd
}

func demoBrokerCmd() *cobra.Command {
	var c demoControl
	cmd := &cobra.Command{
		Use:   "broker stop|start ID",
		Short: "Stop one of the running demo's brokers, or start it again",
		Long: `Stop one of the running demo's brokers as its process would stop, or start
it again. A stopped broker's port refuses connections; it leaves every ISR,
so its partitions are under-replicated, and those it led get a new leader;
clients fail over. With two of the three stopped, order's partitions are
below min.insync.replicas 2 and its producer's acks=all requests fail with
NOT_ENOUGH_REPLICAS. Started again, the broker rejoins every ISR. The last
running broker cannot be stopped.`,
		Example: `  kscope demo broker stop 1
  kscope demo broker start 1`,
		Args: usageArgs(2, "kscope demo broker stop|start ID, e.g. kscope demo broker stop 1"),
		RunE: func(cmd *cobra.Command, args []string) error {
			action := args[0]
			if action != "stop" && action != "start" {
				return fmt.Errorf("broker %q: say stop or start", action)
			}
			if _, err := strconv.ParseInt(args[1], 10, 32); err != nil {
				return fmt.Errorf("broker %s %q: ID is a broker id, such as 1", action, args[1])
			}
			var res demo.BrokerResult
			if err := c.call(cmd, true, demo.BrokerPath, url.Values{"id": {args[1]}, "action": {action}}, &res); err != nil {
				return err
			}
			up := 0
			for _, b := range res.Status.Brokers {
				if b.Up {
					up++
				}
			}
			b := res.Broker
			out := cmd.OutOrStdout()
			where := b.Address
			if b.Rack != "" {
				where += ", " + b.Rack
			}
			running := fmt.Sprintf("%d of %d brokers run", up, len(res.Status.Brokers))
			if action == "stop" {
				fmt.Fprintf(out, "broker %d stopped (%s); %s: its partitions are under-replicated, those it led have new leaders\n", b.ID, where, running)
				if up < demo.TopicMinISR {
					fmt.Fprintf(out, "order is below min.insync.replicas %d: its producer's acks=all requests fail with NOT_ENOUGH_REPLICAS\n", demo.TopicMinISR)
				}
				fmt.Fprintf(out, "watch: %s overview; bring it back: %s demo broker start %d\n", selfCommand(), selfCommand(), b.ID)
			} else {
				fmt.Fprintf(out, "broker %d started (%s); %s: it rejoins every ISR\n", b.ID, where, running)
			}
			return nil
		},
	}
	c.register(cmd, "running demo")
	return cmd
}

func demoStatusCmd() *cobra.Command {
	var (
		c      demoControl
		output string
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show what the running demo runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "table", "json"); err != nil {
				return err
			}
			var st demo.Status
			if err := c.call(cmd, false, demo.StatusPath, nil, &st); err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			return demo.PrintStatus(cmd.OutOrStdout(), st)
		},
	}
	c.register(cmd, "running demo")
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
