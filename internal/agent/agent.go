// Package agent runs the live pipeline: a capture source (eBPF) into the
// Kafka decoder, exchanges into the store, and the counters of every stage
// for the API and /metrics. It owns the decoder: one goroutine feeds it,
// under one mutex that stats readers also take.
package agent

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"time"

	"kscope/internal/capture"
	"kscope/internal/capture/ebpf"
	"kscope/internal/conn"
	"kscope/internal/exchange"
	"kscope/internal/kafka"
	"kscope/internal/store"
)

// Source is a live capture source that can be told which connections are
// not Kafka, so that it stops copying their bytes.
type Source interface {
	capture.Source
	SetVerdict(c *capture.Conn, kafka bool) error
}

// Config wires an agent.
type Config struct {
	Source Source
	// SourceStats returns the source's counters.
	SourceStats func() CaptureStats
	Decoder     kafka.Options
	Store       *store.Store
	// Processes names the process of a connection's pid.
	Processes *conn.Resolver
	// NoBodies leaves the whole request and response out of exchanges:
	// rendering them is most of the agent's CPU per exchange.
	NoBodies bool
	// OwnClientIDs are the client ids of kscope's own Kafka clients (the
	// cluster inspector): their exchanges are kscope polling, not the
	// traffic it watches, and are left out (counted in Stats.Own).
	OwnClientIDs []string
}

// Agent is a running pipeline.
type Agent struct {
	cfg Config
	ids kafka.TopicIDs

	mu  sync.Mutex // guards dec and own: fed by Run, read by Stats
	dec *kafka.Decoder
	own uint64

	// named holds the connections whose process Run has named (by
	// Conn.ID), until they close. Owned by Run.
	named map[uint64]struct{}
}

// New builds an agent; Run starts it.
func New(cfg Config) *Agent {
	a := &Agent{cfg: cfg}
	opts := cfg.Decoder
	// The callback below keeps nothing of a pair but its exchange.
	opts.ReuseMessages = true
	opts.OnVerdict = func(c *capture.Conn, isKafka bool) {
		// A failed verdict only costs copies: the decoder ignores
		// the connection either way.
		_ = cfg.Source.SetVerdict(c, isKafka)
	}
	if b, ok := cfg.Source.(interface {
		Boundary(c *capture.Conn, dir capture.Dir, ahead int64, requests bool)
	}); ok {
		// Connections the source joined in mid-stream: it copies
		// headers only once told where their frames start.
		opts.OnBoundary = b.Boundary
	}
	// The frequent APIs' bodies stay in wire form until an API caller
	// asks for them: most never are. The decoder's callback is the only
	// builder, so one cache serves.
	bopt := exchange.Options{Bodies: !cfg.NoBodies, WireBodies: true, Cache: exchange.NewCache()}
	if cfg.Processes != nil {
		bopt.Process = cfg.Processes.Lookup
	}
	a.dec = kafka.NewDecoder(opts, &a.ids, func(p kafka.Pair) {
		e := exchange.Build(p, &a.ids, bopt)
		if slices.Contains(cfg.OwnClientIDs, e.ClientID) {
			a.own++
			return
		}
		cfg.Store.Add(e)
	})
	return a
}

// Run feeds the decoder until ctx ends or the source fails. Requests
// without a response expire on the wall clock, also when no traffic comes,
// and so do the store's held broker-side copies (Store.Flush).
func (a *Agent) Run(ctx context.Context) error {
	done := make(chan struct{})
	defer close(done)
	go func() {
		// Close the source when ctx ends so that a blocked Next returns.
		select {
		case <-ctx.Done():
			a.cfg.Source.Close()
		case <-done:
		}
	}()
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				a.mu.Lock()
				a.dec.Expire(now)
				a.mu.Unlock()
				// Broker-side copies whose client side never came
				// count now, not at the next traffic.
				a.cfg.Store.Flush(now)
			}
		}
	}()
	for {
		ch, err := a.cfg.Source.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if ch.Conn == nil {
			continue
		}
		if a.cfg.Processes != nil && ch.Conn.PID != 0 {
			a.name(ch)
		}
		a.mu.Lock()
		a.dec.Feed(ch)
		a.mu.Unlock()
	}
}

// name looks up the process of a connection's first chunk: a short-lived
// client (a kcat run) may have exited by the time its first exchange is
// complete. Once per connection: the lookup of every chunk was 0.10 s of
// the 1.9 s of the agent's loop in a profile at 20,000 exchanges/s, and
// the resolver keeps what it read, also after the process exits.
func (a *Agent) name(ch capture.Chunk) {
	id := ch.Conn.ID
	if ch.Closed {
		delete(a.named, id)
		return
	}
	if _, ok := a.named[id]; ok {
		return
	}
	if a.named == nil {
		a.named = map[uint64]struct{}{}
	}
	a.named[id] = struct{}{}
	a.cfg.Processes.Lookup(ch.Conn.PID)
}

// Live opens the eBPF capture with opts and returns an agent over it
// (cfg's Source, SourceStats and Processes are set here: processes are
// named from /proc). Close releases the capture.
func Live(opts ebpf.Options, cfg Config) (*Agent, error) {
	src, err := ebpf.Open(opts)
	if err != nil {
		return nil, err
	}
	cfg.Source = src
	hook, fallback := src.Hook()
	why := ""
	if fallback != nil {
		why = fallback.Error()
	}
	cfg.SourceStats = func() CaptureStats {
		s := src.Stats()
		return CaptureStats{
			Hook: string(hook), HookFallback: why,
			Events: s.Events, Bytes: s.Bytes, LostBytes: s.LostBytes, LostEvents: s.LostEvents, SkippedBytes: s.Skipped, RingBytes: s.RingBytes,
			RingDrops: s.RingDrops, RingDropBytes: s.RingDropBytes, RingDropsPerCPU: s.RingDropsPerCPU, Wakeups: s.Wakeups, Connections: s.Connections,
		}
	}
	cfg.Processes = conn.NewResolver("")
	return New(cfg), nil
}

// Close stops the source (Run returns).
func (a *Agent) Close() error { return a.cfg.Source.Close() }

// Stats is what /api/v1/stats shows of the agent.
type Stats struct {
	Capture CaptureStats `json:"capture"`
	Decoder kafka.Stats  `json:"decoder"`
	// MemoryBytes is the heap in use by the whole agent process.
	MemoryBytes uint64 `json:"memory_bytes"`
	// Own counts the exchanges of kscope's own clients left out.
	Own uint64 `json:"own_exchanges"`
}

// Stats returns the counters of every stage.
func (a *Agent) Stats() Stats {
	a.mu.Lock()
	d, own := a.dec.Stats(), a.own
	a.mu.Unlock()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := Stats{Decoder: d, MemoryBytes: ms.HeapInuse, Own: own}
	if a.cfg.SourceStats != nil {
		s.Capture = a.cfg.SourceStats()
	}
	return s
}

// CaptureStats are the live source's counters.
type CaptureStats struct {
	// Hook is where the BPF programs run (ebpf.Hook); HookFallback why
	// not on the raw sys_exit tracepoint, when the kernel refused it.
	Hook         string `json:"syscall_hook,omitempty"`
	HookFallback string `json:"syscall_hook_fallback,omitempty"`
	Events       uint64 `json:"events"`
	Bytes        uint64 `json:"bytes"`
	LostBytes    uint64 `json:"lost_bytes"`
	LostEvents   uint64 `json:"lost_events"`
	// SkippedBytes are record bytes the kernel did not copy on purpose
	// (headers-only copying); RingBytes what the ring carried.
	SkippedBytes uint64 `json:"skipped_record_bytes"`
	RingBytes    uint64 `json:"ring_bytes"`
	// RingDrops are events the kernel could not queue (the ring was
	// full), per CPU.
	RingDrops       uint64   `json:"ring_drops"`
	RingDropBytes   uint64   `json:"ring_drop_bytes"`
	RingDropsPerCPU []uint64 `json:"ring_drops_per_cpu"`
	// Wakeups are the reader's wake-ups the kernel forced.
	Wakeups     uint64 `json:"ring_wakeups"`
	Connections int    `json:"live_connections"`
}
