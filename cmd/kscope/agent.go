package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"kscope/internal/agent"
	"kscope/internal/api"
	"kscope/internal/capture/ebpf"
	"kscope/internal/inspect"
	"kscope/internal/kafka"
	"kscope/internal/metrics"
	"kscope/internal/retention"
	"kscope/internal/server"
	"kscope/internal/store"
)

func agentCmd() *cobra.Command {
	var (
		listen, token, memory, cgroup string
		syscallHook                   string
		pids                          []uint
		ports                         []uint
		perSyscall, ringBytes         int
		copyRecords                   bool
		maxFrame                      int
		timeout                       time.Duration
		noBodies                      bool
		nice, cpus                    int
		cpuProfile, memProfile        string
		metricsClientIDs              bool
		cluster                       clusterFlags
		poll                          time.Duration
		alertmanager                  string
		auditLog, tokenName           string
	)
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Trace every Kafka connection of this machine with eBPF and serve what it sees",
		Long: `Trace the Kafka traffic of every process on this machine (or of --pid,
--cgroup, --port) with eBPF on socket system calls: no client library,
broker plugin or restart. Each exchange is attributed to the process, the
container and the Kubernetes pod that made it.

The API listens on 127.0.0.1:7070: GET /api/v1/exchanges (JSON lines, the
schema of kscope analyze -o jsonl plus the process fields and side),
/api/v1/stats, the views (/api/v1/overview, clients, latency, rebalances),
/metrics (Prometheus), /healthz. Read it with kscope events and the view
commands. With --cluster it also polls the cluster (every --poll) for
consumer lag that stays true when consumers stop: /api/v1/lag, kscope lag;
and changes retention through the API, each change appended to its audit
log (--audit-log): /api/v1/retention/..., kscope retention.
Listening beyond loopback needs --token (or KSCOPE_TOKEN); clients then send
"Authorization: Bearer <token>".

Tracing needs root, or the capabilities CAP_BPF, CAP_PERFMON and
CAP_DAC_READ_SEARCH (see the README to run it as another user).`,
		Example: `  sudo kscope agent
  sudo kscope agent --port 9092 --memory 512MiB
  sudo kscope agent --cluster kafka-1:9092,kafka-2:9092 --poll 15s
  sudo KSCOPE_TOKEN=s3cret kscope agent --listen 0.0.0.0:7070`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			budget, err := parseBytes(memory)
			if err != nil {
				return fmt.Errorf("--memory: %w", err)
			}
			limitMemory(budget)
			if cpus < 0 {
				return fmt.Errorf("--cpus %d: want 1 or more, or 0 for Go's default", cpus)
			}
			limitCPUs(cpus)
			hook, err := ebpf.ParseHook(syscallHook)
			if err != nil {
				return fmt.Errorf("--syscall-hook: %w", err)
			}
			opts := ebpf.Options{Cgroup: cgroup, MaxBytesPerSyscall: perSyscall, RingBytes: ringBytes, CopyRecords: copyRecords, Hook: hook}
			for _, p := range ports {
				if p == 0 || p > 65535 {
					return fmt.Errorf("--port %d is not a port", p)
				}
				opts.Ports = append(opts.Ports, uint16(p))
			}
			for _, p := range pids {
				opts.PIDs = append(opts.PIDs, uint32(p))
			}
			var (
				in  *inspect.Inspector
				ret *retention.Admin
			)
			if cluster.set() {
				if poll <= 0 {
					return errors.New("--poll must be above 0")
				}
				cfg, err := cluster.config()
				if err != nil {
					return err
				}
				if in, err = inspect.New(cfg); err != nil {
					return err
				}
				defer in.Close()
				if ret, err = newRetentionAdmin(cfg, auditLog); err != nil {
					return err
				}
				defer ret.Close()
			}
			st := store.New(store.Config{MemoryBytes: budget})
			var ag *agent.Agent
			srv, err := server.New(server.Config{Listen: listen, Token: api.Token(token), TokenName: tokenName, Retention: ret, MetricsClientIDs: metricsClientIDs, Inspecting: in != nil, PollInterval: poll, Alertmanager: alertmanager},
				st, func() any { return ag.Stats() })
			if err != nil {
				return err
			}
			if err := ebpf.CheckPrivileges(); err != nil {
				return err
			}
			if memProfile != "" {
				defer startPeakHeapProfile(memProfile)()
			}
			if cpuProfile != "" {
				stop, err := startCPUProfile(cpuProfile)
				if err != nil {
					return err
				}
				defer stop()
			}
			ag, err = agent.Live(opts, agent.Config{
				Decoder:      kafka.Options{MaxFrame: maxFrame, ResponseTimeout: timeout},
				Store:        st,
				NoBodies:     noBodies,
				OwnClientIDs: []string{inspect.ClientID},
			})
			if err != nil {
				return err
			}
			defer ag.Close()
			if err := srv.Register(ag.Collector()); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)).With("component", "agent")
			if nice != 0 {
				if err := setNice(nice); err != nil {
					log.Warn("runs at the normal priority: under CPU pressure it may drop events", "err", err)
					nice = 0
				}
			}
			capture := ag.Stats().Capture
			if capture.HookFallback != "" {
				log.Warn("the kernel refused the raw sys_exit tracepoint: the programs run on each syscall's tracepoint, which costs the traced syscalls more", "err", capture.HookFallback)
			}
			log.Info("tracing Kafka", "api", "http://"+listen, "memory_budget_bytes", budget, "nice", nice, "cpus", runtime.GOMAXPROCS(0), "syscall_hook", capture.Hook)
			run := []func(context.Context) error{ag.Run, srv.Run}
			if in != nil {
				if err := srv.Register(in.Collector()); err != nil {
					return err
				}
				log.Info("inspecting a cluster", "brokers", cluster.brokersList(), "poll", poll)
				run = append(run, func(ctx context.Context) error {
					in.Run(ctx, poll, st.AddSnapshot)
					return nil
				})
			}
			return runAll(ctx, run...)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", server.DefaultListen, "address of the API; beyond loopback it needs --token")
	f.StringVar(&token, "token", "", "bearer token the API requires (default $KSCOPE_TOKEN)")
	f.UintSliceVar(&pids, "pid", nil, "trace only these processes (repeatable)")
	f.StringVar(&cgroup, "cgroup", "", "trace only this cgroup v2 (its directory, absolute or under /sys/fs/cgroup, or its id); a directory outside cgroup v2 is refused")
	f.UintSliceVar(&ports, "port", nil, "trace only connections with this local or remote port (repeatable)")
	f.StringVar(&memory, "memory", "256MiB", "memory budget of the exchange store (e.g. 512MiB, 2GiB)")
	f.IntVar(&perSyscall, "max-bytes-per-syscall", 0, "bytes copied from one read or write; the rest is counted as lost (default "+strconv.Itoa(ebpf.DefaultMaxBytesPerSyscall)+")")
	f.BoolVar(&copyRecords, "copy-records", false, "copy record data too (by default the kernel copies Kafka headers and skips the records of Produce and Fetch after each batch header; the views are the same)")
	f.StringVar(&syscallHook, "syscall-hook", "", "where the programs run: "+string(ebpf.HookRaw)+" (one program on the raw sys_exit tracepoint, which every syscall passes: the cheapest for the traced processes) or "+string(ebpf.HookTracepoints)+" (one program on each traced syscall's tracepoint); default "+string(ebpf.HookRaw)+", or "+string(ebpf.HookTracepoints)+" when the kernel refuses it")
	f.IntVar(&ringBytes, "ring-bytes", 0, "size of the kernel ring buffer (default "+strconv.Itoa(ebpf.DefaultRingBytes)+")")
	f.IntVar(&maxFrame, "max-frame", kafka.DefaultMaxFrame, "frames larger than this many bytes are skipped and counted")
	f.IntVar(&nice, "nice", DefaultAgentNice, "scheduling priority of the agent (-20 to 19; 0 keeps the one it started with): ahead of the traced processes it keeps up with its ring buffer when the CPUs are busy")
	f.IntVar(&cpus, "cpus", DefaultAgentCPUs, "the most CPUs the agent's Go code runs on at once (GOMAXPROCS, which wins when set; 0: Go's default, every CPU the process may use): one costs less per exchange below a core (its capture loop is one goroutine); more keep up past what one core decodes")
	f.BoolVar(&noBodies, "no-bodies", false, "keep only the summary of each exchange, not the whole request and response (less CPU and memory)")
	f.BoolVar(&metricsClientIDs, strings.TrimPrefix(metrics.ClientIDsFlag, "--"), false, "also export the traffic counters per client id (kscope_client_*): off by default, since clients may make up a new client id at each start")
	cluster.register(cmd, "cluster", "also poll this cluster for consumer lag (kscope lag), from the cluster itself")
	f.DurationVar(&poll, "poll", 10*time.Second, "time between polls of --cluster")
	f.StringVar(&auditLog, "audit-log", "", "the audit log of retention changes made through the API (kscope retention; default $XDG_STATE_HOME/kscope/"+retention.DefaultAuditLogName+")")
	f.StringVar(&tokenName, "token-name", server.DefaultTokenName, "the token's name in the audit log: changes through the API are logged as made by api:NAME")
	f.StringVar(&alertmanager, "alertmanager", "", "the Alertmanager that receives kscope's alert rules (http://host:9093): kscope alerts --server and the web console's Alerts page show what fires there")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the agent to this file")
	f.MarkHidden("cpuprofile")
	f.StringVar(&memProfile, "memprofile", "", "write a heap profile of the agent to this file whenever its heap reaches a new peak")
	f.MarkHidden("memprofile")
	f.DurationVar(&timeout, "response-timeout", 30*time.Second, "a request unanswered this long past its own wait is reported without response")
	return cmd
}

// runAll runs each function until ctx ends or one of them fails, then
// stops the others; it returns the first failure (nil when ctx ended).
func runAll(ctx context.Context, fns ...func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(fns))
	for _, fn := range fns {
		go func() { errs <- fn(ctx) }()
	}
	var first error
	for range fns {
		if err := <-errs; err != nil && first == nil && !errors.Is(err, context.Canceled) {
			first = err
		}
		cancel()
	}
	return first
}

// startCPUProfile writes a CPU profile to path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// HeapOverhead is what the agent's Go heap needs beyond the store's
// --memory budget, at least: the decoder's per-connection buffers, the
// ring reader's events, the process and metrics tables, and the runtime's
// own (about 4 MiB of it idle). The process's resident memory adds its
// code (about 18 MiB) and the ring buffer's mapping.
const HeapOverhead = 12 << 20

// heapOverhead is the Go heap's room above a budget: HeapOverhead, or an
// eighth of a larger budget, so that a large store is not marked over and
// over for a few MiB of garbage each time.
func heapOverhead(budget int64) int64 { return max(HeapOverhead, budget/8) }

// agentGCPercent is the agent's GOGC under its memory limit.
const agentGCPercent = 400

// limitMemory sets the Go runtime's soft memory limit to the store's
// budget plus heapOverhead, so that the collector works harder rather
// than let the heap double past what the budget holds (GOGC's default);
// GOMEMLIMIT, when set, wins.
//
// Under that limit the heap may grow to five times what is live before a
// collection (GOGC=400) instead of twice: the limit, not the live heap's
// size, bounds the process. With GOGC's default and a full store the
// collector ran long before the heap reached the limit: with --memory
// 16MiB at 20,000 exchanges/s (`scripts/bench-wire.sh`, 5 alternating
// pairs) the agent took 10% less CPU per exchange with GOGC=400, lower in
// each pair. While a large store fills, the live heap grows and
// collections are few either way: no difference beyond the noise. GOGC,
// when set, wins; so does a GOMEMLIMIT, which may not bound the heap.
func limitMemory(budget int64) {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return
	}
	debug.SetMemoryLimit(budget + heapOverhead(budget))
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(agentGCPercent)
	}
}

// DefaultAgentCPUs is the agent's --cpus.
const DefaultAgentCPUs = 1

// limitCPUs lets the agent's Go code run on at most n CPUs at once
// (GOMAXPROCS); 0, or GOMAXPROCS set, leaves Go's default.
//
// The agent's work is one goroutine (ring, decoder, store) most of the
// time. With a second P the runtime woke a thread for the idle P each
// time that goroutine woke from its poll of the ring (wakep, startm and
// stopm: 5% of the agent's samples in a perf profile, none with one P):
// 735 thread switches/s against 481 with one P, at 20,000 exchanges/s
// with a full 16 MiB store
// (`scripts/bench-wire.sh`), and 5.8-6.8 µs of CPU per exchange against
// 4.8-5.4 µs (4 alternating pairs, lower in each). What one P costs:
// past what one core decodes (both ends traced at 100,000 exchanges/s),
// the ring drops more, the collector's work falling on the decoder's
// core: 10-28% of the exchanges lost against 6-12% with two (3 pairs),
// the decoding loop 10.9 µs per exchange against 8.5 µs (a profile).
// And a view computed from the exchanges themselves (an overview
// filtered by topic) is not split over CPUs, 1.7x slower than on two
// (BenchmarkOverview, internal/view); the views the agent keeps partials
// for and the lag views took the same time (BenchmarkScrapeViews).
func limitCPUs(n int) {
	if _, set := os.LookupEnv("GOMAXPROCS"); set || n <= 0 {
		return
	}
	runtime.GOMAXPROCS(min(n, runtime.GOMAXPROCS(0)))
}

// startPeakHeapProfile writes the heap profile to path each time the heap
// in use reaches a new peak (checked every 100 ms), so that the file ends
// up holding what the heap held at its largest, until stop is called.
func startPeakHeapProfile(path string) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var peak uint64
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapInuse <= peak+peak/20 {
				continue
			}
			peak = m.HeapInuse
			if f, err := os.Create(path); err == nil {
				pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
		}
	}()
	return func() { close(done); <-finished }
}

// parseBytes reads a size such as 268435456, 256MiB, 512MB or 2GiB.
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size (e.g. 256MiB)", s)
	}
	return n * mult, nil
}
