package agent

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"testing"
	"time"

	"kscope/internal/capture"
	"kscope/internal/loadgen"
	"kscope/internal/server"
	"kscope/internal/store"
)

// BenchmarkPipeline is the agent's user-space work per exchange once its
// store is full, without the ring: chunks as the eBPF source hands them
// over (headers only: the records of a batch past 2 KiB are skipped, the
// rest copied) through the decoder, exchange.Build and the store that
// `kscope agent` wires (the server's parts and traffic counters). The mix
// is bench wire's: produce 5, fetch 3, metadata 1, heartbeat 1 in 10, on
// 4 connections. One op is one exchange; ns/op includes the collector's
// share, as the store stays full and evicts.
func BenchmarkPipeline(b *testing.B) {
	for _, batch := range []int{100, 16 << 10} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			st, a, g := fullPipeline(b, batch, time.Unix(1_700_000_000, 0))
			runPipeline(b, a, g)
			if path := os.Getenv("KSCOPE_HEAP_PROFILE"); path != "" {
				// What the full store holds live: a heap profile
				// taken before it is let go.
				runtime.GC()
				if f, err := os.Create(fmt.Sprintf("%s.%d", path, batch)); err == nil {
					pprof.Lookup("heap").WriteTo(f, 0)
					f.Close()
				}
				b.Logf("store: %+v", st.Stats())
			}
			ds := a.dec.Stats()
			if ds.Requests == 0 || ds.Requests != ds.Responses || ds.DecodeErrors != 0 || (batch > 2<<10) != (ds.BytesElided > 0) {
				b.Fatalf("decoder: %+v", ds)
			}
		})
	}
}

// BenchmarkPipelineKind is BenchmarkPipeline for one kind of exchange at a
// time (100-byte batches): what each costs on its own. Heartbeat, whose
// bodies are a few fields, is the cost every exchange pays whatever its
// API (framing, pairing, the exchange's header, the store's record and
// aggregates); the others add their topics and partitions.
func BenchmarkPipelineKind(b *testing.B) {
	for _, k := range []struct {
		name string
		kind loadgen.Kind
	}{{"produce", loadgen.Produce}, {"fetch", loadgen.Fetch}, {"metadata", loadgen.Metadata}, {"heartbeat", loadgen.Heartbeat}} {
		b.Run(k.name, func(b *testing.B) {
			_, a, g := fullPipeline(b, 100, time.Unix(1_700_000_000, 0))
			g.order = []loadgen.Kind{k.kind}
			runPipeline(b, a, g)
			if ds := a.dec.Stats(); ds.Requests == 0 || ds.Requests != ds.Responses || ds.DecodeErrors != 0 {
				b.Fatalf("decoder: %+v", ds)
			}
		})
	}
}

// runPipeline feeds a the benchmark's exchanges and reports the process's
// CPU time per exchange (cpu-ns/op): the collector's workers run on other
// threads. The timer is stopped when it returns.
func runPipeline(b *testing.B, a *Agent, g *pipelineGen) {
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		g.feed(a)
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	b.StopTimer()
}

// fullPipeline is an agent fed by a pipelineGen of batch-byte batches,
// from start on, whose store (64 MiB, wired as `kscope agent` wires it) is
// full: the steady state evicts.
func fullPipeline(b *testing.B, batch int, start time.Time) (*store.Store, *Agent, *pipelineGen) {
	exs, err := loadgen.Exchanges(loadgen.Shape{BatchBytes: batch, Partitions: 1})
	if err != nil {
		b.Fatal(err)
	}
	// As `kscope agent --memory 64MiB` sets it (limitMemory).
	const budget = 64 << 20
	old := debug.SetMemoryLimit(budget + 12<<20)
	b.Cleanup(func() { debug.SetMemoryLimit(old) })
	st := store.New(store.Config{MemoryBytes: budget})
	if _, err := server.New(server.Config{}, st, func() any { return nil }); err != nil {
		b.Fatal(err)
	}
	a := New(Config{Source: nilSource{}, Store: st})
	g := newPipelineGen(exs, batch)
	g.now = start
	for st.Stats().Evicted == 0 {
		g.feed(a)
	}
	return st, a, g
}

// pipelineGen makes the chunks of one exchange after another.
type pipelineGen struct {
	exs   [4]loadgen.Exchange
	order []loadgen.Kind
	conns [4]*capture.Conn
	// skip: where the record data starts in each kind's request and
	// response frame, and how long it is (0 when the frame is copied
	// whole).
	skip  [4][2][2]int
	i     int
	now   time.Time
	frame []byte
}

func newPipelineGen(exs [4]loadgen.Exchange, batch int) *pipelineGen {
	g := &pipelineGen{now: time.Unix(1_700_000_000, 0)}
	copy(g.exs[:], exs[:])
	P, F, M, H := loadgen.Produce, loadgen.Fetch, loadgen.Metadata, loadgen.Heartbeat
	g.order = []loadgen.Kind{P, F, P, F, M, P, F, H, P, P}
	for i := range g.conns {
		g.conns[i] = &capture.Conn{ID: uint64(i + 1), PID: 4242, Comm: "producer",
			A: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(40000+i)), B: netip.MustParseAddrPort("10.0.0.2:9092")}
	}
	// The kernel copies frames up to 2 KiB whole; beyond, the 61-byte
	// header of each batch and not its records.
	const small, header = 2 << 10, 61
	for k, e := range exs {
		for side, f := range [][]byte{e.Request.Bytes, e.Response.Bytes} {
			if len(f) <= small || batch <= header {
				continue
			}
			// The batch is the frame's longest run after the
			// partition's fields: find its magic-2 header by its
			// length field.
			for off := 0; off+header <= len(f); off++ {
				if f[off+16] == 2 && int(beUint32(f[off+8:]))+12 == batch && off+batch <= len(f) && bytes.Count(f[off+header:off+batch], []byte{0}) < batch {
					g.skip[k][side] = [2]int{off + header, batch - header}
					break
				}
			}
		}
	}
	return g
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func beUint32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// feed hands the agent's decoder one exchange: its request, then its
// response, each as the source would.
func (g *pipelineGen) feed(a *Agent) {
	k := g.order[g.i%len(g.order)]
	c := g.conns[g.i%len(g.conns)]
	g.i++
	corr := int32(g.i)
	e := g.exs[k]
	for side, f := range []loadgen.Frame{e.Request, e.Response} {
		g.frame = append(g.frame[:0], f.Bytes...)
		f.SetCorrelation(g.frame, corr)
		dir := capture.AtoB
		if side == 1 {
			dir = capture.BtoA
		}
		g.now = g.now.Add(10 * time.Microsecond)
		sk := g.skip[k][side]
		if sk[1] == 0 {
			a.dec.Feed(capture.Chunk{Conn: c, Dir: dir, Time: g.now, Data: g.frame})
			continue
		}
		a.dec.Feed(capture.Chunk{Conn: c, Dir: dir, Time: g.now, Data: g.frame[:sk[0]]})
		a.dec.Feed(capture.Chunk{Conn: c, Dir: dir, Time: g.now, Skipped: int64(sk[1]), Data: g.frame[sk[0]+sk[1]:]})
	}
}

// nilSource is a source that is never read: the benchmark feeds the
// decoder itself.
type nilSource struct{}

func (nilSource) Next() (capture.Chunk, error)                 { return capture.Chunk{}, fmt.Errorf("not read") }
func (nilSource) Close() error                                 { return nil }
func (nilSource) SetVerdict(c *capture.Conn, kafka bool) error { return nil }
