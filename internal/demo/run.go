package demo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"kscope/internal/agent"
	"kscope/internal/api"
	"kscope/internal/broker"
	"kscope/internal/capture/ebpf"
	"kscope/internal/inspect"
	"kscope/internal/retention"
	"kscope/internal/server"
	"kscope/internal/store"
)

// RunConfig is what kscope demo was asked for.
type RunConfig struct {
	// Listen and Token are the API's (the agent's and the controls').
	Listen, Token string
	// Port is the first broker's port (0: free ports).
	Port int
	// NoTrace runs the cluster and the services without the agent.
	NoTrace bool
	// Rate is order's orders per second between bursts, Burst the mean
	// time between bursts (0: none).
	Rate  float64
	Burst time.Duration
	// SlowDelay is what slowed-down invoicing spends on one order; Slow
	// starts it slowed down.
	SlowDelay time.Duration
	Slow      bool
	// Alerting runs Prometheus and Alertmanager with kscope's rules
	// (AlertingAuto, On, Off); AlertTimeScale multiplies the rules' waits
	// (0: DefaultAlertTimeScale) and AlertThresholds set thresholds over
	// DefaultAlertThresholds.
	Alerting        string
	AlertTimeScale  float64
	AlertThresholds map[string]float64
	// MemoryBytes is the agent's store budget.
	MemoryBytes int64
	Verbose     bool
	// Self is how the user runs kscope ("kscope", "go run ./cmd/kscope"),
	// for the commands the banner suggests.
	Self     string
	Out, Err io.Writer
	// Stopping, when set, is called as the demo starts to stop: kscope
	// demo gives Ctrl-C back its default then, so that a second one
	// kills at once.
	Stopping func()
}

func (c *RunConfig) check() error {
	if c.Rate <= 0 || c.Rate > 10000 {
		return fmt.Errorf("--rate %v: from above 0 to 10000 orders per second", c.Rate)
	}
	if c.SlowDelay <= 0 || c.Burst < 0 {
		return errors.New("--invoicing-delay must be above 0 and --burst-every not below 0")
	}
	return nil
}

// Run runs the demo until ctx ends: the cluster with the topic, the agent
// tracing every connection to the brokers (unless NoTrace), the API with
// the controls, and the services; then stops them in that order reversed,
// the services first so that consumers leave their groups while the
// brokers still answer.
func Run(ctx context.Context, cfg RunConfig) error {
	if err := cfg.check(); err != nil {
		return err
	}
	level := slog.LevelInfo
	if cfg.Verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(cfg.Err, &slog.HandlerOptions{Level: level})).With("component", "demo")

	// One demo at a time: its API address is taken while it runs.
	if st, err := AskStatus(ctx, "http://"+cfg.Listen, cfg.Token); err == nil {
		return fmt.Errorf("a kscope demo is already running (pid %d, API %s, brokers %s): use it, or stop it with Ctrl-C where it runs",
			st.PID, st.API, strings.Join(st.Bootstrap, ","))
	}
	if !cfg.NoTrace {
		if err := ebpf.CheckPrivileges(); err != nil {
			return fmt.Errorf("kscope demo traces its services with eBPF: %v, or add --no-trace to run the cluster and services untraced", err)
		}
	}

	st := store.New(store.Config{MemoryBytes: cfg.MemoryBytes})
	scfg := server.Config{Listen: cfg.Listen, Token: cfg.Token, Inspecting: true, PollInterval: LagPoll}
	if cfg.NoTrace {
		scfg.NoTraffic = "this kscope demo runs with --no-trace: nothing is traced, so there is no traffic to show; restart it as root (sudo " + cfg.Self + " demo) to see it"
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
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("the demo's API cannot listen on %s (%s): stop what listens there (a kscope agent?), or pass --listen", cfg.Listen, api.Reason(err))
	}
	defer ln.Close()

	ccfg := clusterConfig(cfg.Port)
	if cfg.Verbose {
		ccfg.Logger = log
	}
	cluster, err := broker.StartCluster(ctx, ccfg)
	if err != nil {
		if cfg.Port != 0 {
			return fmt.Errorf("%w (brokers listen on ports %d-%d; --port 0 picks free ones)", err, cfg.Port, cfg.Port+2)
		}
		return err
	}
	defer cluster.Close()
	if err := CreateTopics(ctx, cluster); err != nil {
		return err
	}

	// The agent attaches before the services start, so that it sees
	// every connection from its first byte.
	ports := cluster.Ports()
	if !cfg.NoTrace {
		ag, err = agent.Live(ebpf.Options{Ports: ports}, agent.Config{Store: st, OwnClientIDs: []string{inspect.ClientID, broker.ReplicationClientID}})
		if err != nil {
			return err
		}
		defer ag.Close()
		if err := srv.Register(ag.Collector()); err != nil {
			return err
		}
	}

	// The inspector polls the cluster for what traffic cannot show: lag
	// from the committed offsets, also when consumers are gone.
	in, err := inspect.New(inspect.Config{Brokers: cluster.Addrs(), Logger: log})
	if err != nil {
		return err
	}
	defer in.Close()
	if err := srv.Register(in.Collector()); err != nil {
		return err
	}
	// kscope retention works on the demo's cluster too, with an audit log
	// of its own: the demo's changes stay out of a real cluster's.
	state, err := retention.StateDir()
	if err != nil {
		return err
	}
	ret, err := retention.New(inspect.Config{Brokers: cluster.Addrs()}, filepath.Join(state, "demo-"+retention.DefaultAuditLogName))
	if err != nil {
		return err
	}
	defer ret.Close()
	srv.SetRetention(ret)

	// Prometheus and Alertmanager with kscope's rules, on the demo's
	// /metrics.
	_, alerts, stopAlerting, err := startAlerting(ctx, cfg, ln.Addr().String())
	if err != nil {
		return err
	}
	defer stopAlerting()
	if alerts.Off != "" {
		log.Info("alerting " + alerts.Off)
	}
	srv.SetAlertmanager(alerts.Alertmanager)

	exe, err := Executable()
	if err != nil {
		return err
	}
	sup := NewSupervisor(SupervisorConfig{
		Exe: exe, Bootstrap: cluster.Addrs(), Rate: cfg.Rate, Burst: cfg.Burst,
		SlowDelay: cfg.SlowDelay, Slow: cfg.Slow, Stderr: cfg.Err, Log: log,
	})
	ctl := NewControl(sup, cluster, Status{
		PID: os.Getpid(), Started: time.Now(), API: "http://" + ln.Addr().String(), Bootstrap: cluster.Addrs(), Traced: !cfg.NoTrace,
		Topic: TopicInfo{Name: Topic, Partitions: TopicPartitions, ReplicationFactor: TopicReplicas}, Alerting: alerts,
		SyscallHook: syscallHook(ag),
	})
	ctl.Register(srv.Handle)

	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errs := make(chan error, 4)
	running := 3
	go func() { errs <- srv.Serve(runCtx, ln) }()
	go func() { in.Run(runCtx, LagPoll, st.AddSnapshot); errs <- nil }()
	go func() { applyRetention(runCtx, cluster); errs <- nil }()
	if ag != nil {
		running++
		go func() { errs <- ag.Run(runCtx) }()
	}

	// However it ends, the services stop first.
	defer sup.Stop()
	for _, name := range StartOrder {
		if _, _, err := sup.Scale(name, 1); err != nil {
			return err
		}
	}
	printBanner(cfg.Out, ctl.Status(), cfg, ports)

	var failed error
	select {
	case <-ctx.Done():
	case failed = <-errs:
		running--
		if failed == nil {
			failed = errors.New("the demo's API or agent stopped")
		}
	}
	if cfg.Stopping != nil {
		cfg.Stopping()
	}
	if ag != nil {
		fmt.Fprintln(cfg.Err, "kscope demo: stopping the services, the agent and the cluster")
	} else {
		fmt.Fprintln(cfg.Err, "kscope demo: stopping the services and the cluster")
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
		fmt.Fprintln(cfg.Err, "kscope demo: stopped")
	}
	return failed
}

// LagPoll is how often the demo's inspector polls its cluster.
const LagPoll = 5 * time.Second

// AskStatus returns the status of the demo whose API is at server, if one
// runs there; a kscope agent there is not a demo.
func AskStatus(ctx context.Context, server, token string) (Status, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var st Status
	c := Client(server, token)
	if err := c.Get(ctx, StatusPath, nil, &st); err != nil {
		return st, err
	}
	if !st.Demo {
		return st, errors.New("not a demo")
	}
	return st, nil
}

// Client is the API client of the demo at server.
func Client(server, token string) *api.Client {
	return &api.Client{Server: server, Token: token, Who: "the demo"}
}

// ControlError is err from a control command, said plainly when no demo
// answers at server.
func ControlError(err error, server string) error {
	var unreachable *api.UnreachableError
	if errors.As(err, &unreachable) || api.IsNotFound(err) {
		return fmt.Errorf("no kscope demo runs at %s: start one with `kscope demo`", server)
	}
	return err
}

// syscallHook is where ag's programs run: "raw" on the raw sys_exit
// tracepoint, "tracepoints" on each syscall's; empty without an agent.
func syscallHook(ag *agent.Agent) string {
	if ag == nil {
		return ""
	}
	return ag.Stats().Capture.Hook
}

// printBanner says what runs where and what to try.
func printBanner(w io.Writer, st Status, cfg RunConfig, ports []uint16) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "kscope demo is running; Ctrl-C stops all of it.\n\n")
	fmt.Fprintf(tw, "  Kafka\t3 brokers at %s, in this process (pid %d), in racks %s\n", strings.Join(st.Bootstrap, ","), st.PID, rackList(st.Brokers))
	fmt.Fprintf(tw, "  topic\t%s: %d partitions, replication factor %d, min.insync.replicas %d\n", st.Topic.Name, st.Topic.Partitions, st.Topic.ReplicationFactor, TopicMinISR)
	fmt.Fprintf(tw, "  topic\t%s: %d partitions, replication factor %d, kept by size only (%d KiB per partition)\n", AuditTopic, AuditPartitions, AuditReplicas, AuditRetentionBytes>>10)
	for _, p := range st.Processes {
		what := ""
		switch p.Service {
		case Order:
			what = fmt.Sprintf("produces about %g orders/s", cfg.Rate)
			if cfg.Burst > 0 {
				what += fmt.Sprintf(", and a burst about every %s", cfg.Burst)
			}
		case Shipping:
			what = "consumes them in group shipping (" + protocolBanner(Shipping) + ") and keeps up"
		case Invoicing:
			what = "consumes them in group invoicing (" + protocolBanner(Invoicing) + ")"
			if st.InvoicingDelay.On {
				what += fmt.Sprintf(", slowed down to %s per order: it falls behind", cfg.SlowDelay)
			}
		case Ledger:
			what = ledgerBanner
		}
		fmt.Fprintf(tw, "  %s\tpid %d: %s (client id %s)\n", p.Service, p.PID, what, p.ClientID)
	}
	fmt.Fprintf(tw, "  web UI\t%s/ in a browser: the flow graph, latency, consumers, rebalances, events, cluster\n", st.API)
	if a := st.Alerting; a.Alertmanager != "" {
		fmt.Fprintf(tw, "  alerts\tPrometheus %s, Alertmanager %s: kscope's rules and routes (deploy/), their waits x%.3g; %s\n", a.Prometheus, a.Alertmanager, a.TimeScale, thresholdList(a.Thresholds))
	} else {
		fmt.Fprintf(tw, "  alerts\t%s (apt-get install prometheus prometheus-alertmanager, then --alerting on)\n", a.Off)
	}
	if st.Traced {
		fmt.Fprintf(tw, "  agent\ttraces both ends of every connection to ports %s as syscalls return (syscall hook %s), copying Kafka headers and skipping record data in the kernel; API %s, Prometheus metrics %s/metrics\n", joinPorts(ports), st.SyscallHook, st.API, st.API)
	} else {
		fmt.Fprintf(tw, "  agent\tnot running (--no-trace): nothing is traced, the views have nothing to show\n")
	}
	tw.Flush()

	at := "" // the views' --server, when not their default
	if st.API != "http://"+server.DefaultListen {
		at = " --server " + st.API
	}
	k := cfg.Self
	if st.Traced {
		fmt.Fprintf(w, "\nTry, in another terminal (the lag shows after half a minute):\n")
	} else {
		fmt.Fprintf(w, "\nThe controls work without the agent, in another terminal:\n")
	}
	var hints [][2]string
	if st.Traced {
		hints = append(hints,
			[2]string{k + " overview" + at, "who produces to order and who consumes it, how fast"},
			[2]string{k + " clients --topic order" + at, "lag per consumer and partition: invoicing falls behind"},
			[2]string{k + " latency --consumer invoicing" + at, "how late each batch of orders reaches invoicing"},
			[2]string{"curl -s " + st.API + "/metrics | grep -E '^kscope_capture_(ring|skipped_record)_bytes_total'", "what the kernel copied, and the record bytes it skipped"},
		)
	}
	hints = append(hints, [2]string{k + " lag" + at, "each group's lag from the cluster itself: Append Lag, time to loss, status"})
	hints = append(hints, [2]string{k + " demo scale shipping 3" + at, "two more shipping processes join the group"})
	if st.Traced {
		hints = append(hints,
			[2]string{k + " rebalances" + at, "that rebalance of shipping (KIP-848: each member's delay, partitions revoked and assigned) beside invoicing's (classic)"},
			[2]string{k + " transactions" + at, ledgerHint},
			[2]string{k + " demo invoicing-delay off" + at, "invoicing catches up: its lag falls in clients"},
			[2]string{k + " events --follow --topic order" + at, "every request and response as it happens"},
			[2]string{"curl -s " + st.API + "/metrics | grep kscope_topic", "the same as Prometheus counters"},
		)
	} else {
		hints = append(hints, [2]string{k + " demo invoicing-delay off" + at, "invoicing runs at full speed"}, [2]string{k + " demo status" + at, "what runs"})
	}
	alerting := st.Alerting.Alertmanager != ""
	hints = append(hints, [2]string{k + " demo scale invoicing 0" + at, "invoicing stops: its group is Empty, its Append Lag keeps rising in lag"})
	if alerting {
		hints = append(hints, [2]string{k + " alerts" + at, "a minute later: KafkaConsumerAppendLag warns, though no consumer is left to commit"})
	}
	hints = append(hints,
		[2]string{k + " health" + at, "is the cluster safe: replication tiers, racks, leaders, retention; worst first"},
		[2]string{k + " demo broker stop 1" + at, "a broker goes down: partitions under-replicated, leaders move"},
		[2]string{k + " health --partitions --events" + at, "which partitions miss broker 1 and since when, what changed"},
	)
	if alerting {
		hints = append(hints, [2]string{k + " alerts" + at, "broker 1 down and order at min ISR: warnings, for the team's chat"})
	}
	hints = append(hints, [2]string{k + " demo broker stop 2" + at, "a second one: under min ISR, order's producer gets NOT_ENOUGH_REPLICAS"})
	if alerting {
		hints = append(hints, [2]string{k + " alerts --held" + at, "under min ISR pages the on-call, and holds back the lower alerts of those partitions"})
	}
	hints = append(hints,
		[2]string{k + " demo broker start 1" + at + "; " + k + " demo broker start 2" + at, "both back: the ISRs fill again, the alerts resolve"},
		[2]string{k + " retention" + at, AuditTopic + " deletes by size: the time its log covers shrinks"},
		[2]string{k + " retention bump " + AuditTopic + " --bytes 1MiB --reason demo" + at, "the Big Red Retention Button, audited (retention history, revert)"},
	)
	for _, h := range hints {
		fmt.Fprintf(tw, "  %s\t# %s\n", h[0], h[1])
	}
	tw.Flush()
}

// rackList says which brokers are in which rack: "rack-a (0,1), rack-b (2)".
func rackList(bs []BrokerInfo) string {
	var racks []string
	by := map[string][]string{}
	for _, b := range bs {
		if _, ok := by[b.Rack]; !ok {
			racks = append(racks, b.Rack)
		}
		by[b.Rack] = append(by[b.Rack], strconv.Itoa(int(b.ID)))
	}
	out := make([]string, len(racks))
	for i, r := range racks {
		out[i] = fmt.Sprintf("%s (%s)", r, strings.Join(by[r], ","))
	}
	return strings.Join(out, ", ")
}

func joinPorts(ports []uint16) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(int(p))
	}
	return strings.Join(s, ",")
}

// PrintStatus renders a demo's status (kscope demo status).
func PrintStatus(w io.Writer, st Status) error {
	traced := "traced by its agent"
	if !st.Traced {
		traced = "not traced (--no-trace)"
	}
	onOff := "off"
	if st.InvoicingDelay.On {
		onOff = "on"
	}
	fmt.Fprintf(w, "kscope demo pid %d since %s, API %s, %s\n", st.PID, st.Started.Format(time.TimeOnly), st.API, traced)
	if len(st.Brokers) == 0 { // the table below lists them
		fmt.Fprintf(w, "brokers %s; ", strings.Join(st.Bootstrap, ","))
	}
	fmt.Fprintf(w, "topic %s: %d partitions, replication factor %d\n", st.Topic.Name, st.Topic.Partitions, st.Topic.ReplicationFactor)
	fmt.Fprintf(w, "invoicing delay %s (%s per order while on)\n", onOff, time.Duration(st.InvoicingDelay.PerOrderSeconds*float64(time.Second)))
	if a := st.Alerting; a.Alertmanager != "" {
		fmt.Fprintf(w, "alerts: Prometheus %s, Alertmanager %s (kscope alerts shows what fires)\n", a.Prometheus, a.Alertmanager)
	} else if a.Off != "" {
		fmt.Fprintf(w, "alerts: %s\n", a.Off)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(st.Brokers) > 0 {
		fmt.Fprintln(tw, "BROKER\tADDRESS\tRACK\tSTATE")
		for _, b := range st.Brokers {
			state := "up"
			if !b.Up {
				state = "stopped"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", b.ID, b.Address, cmp.Or(b.Rack, "-"), state)
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprintln(tw, "SERVICE\tPID\tSTARTED\tCLIENT ID\tGROUP")
	for _, p := range st.Processes {
		group := p.Group
		if group == "" {
			group = "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", p.Service, p.PID, p.Started.Format(time.TimeOnly), p.ClientID, group)
	}
	return tw.Flush()
}
