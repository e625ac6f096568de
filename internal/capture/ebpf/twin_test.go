//go:build linux && (amd64 || arm64)

package ebpf

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"kscope/internal/capture"
	"kscope/internal/loadgen"
	"kscope/internal/testenv"
)

// dirStream is one direction of a connection as a source delivered it:
// its bytes in order (skipped and lost ones as zeros), where it skipped,
// where it lost.
type dirStream struct {
	data         []byte
	skips, holes [][2]int
}

// record reads src until stop is closed and src drained, keeping each
// direction of each connection by process, fd and endpoints (the same
// in two sources).
func record(src *Source, stop <-chan struct{}) (map[string]*dirStream, *sync.WaitGroup) {
	out, wg, _ := recordCounting(src)
	return out, wg
}

// recordCounting is record, which also counts the bytes recorded (lost
// and skipped ones included), for a test to wait on while it reads.
func recordCounting(src *Source) (map[string]*dirStream, *sync.WaitGroup, *atomic.Int64) {
	out := map[string]*dirStream{}
	var total atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			ch, err := src.Next()
			if err != nil {
				return
			}
			if ch.Conn == nil {
				continue
			}
			k := fmt.Sprintf("%d/%d %s-%s %s", ch.Conn.PID, ch.Conn.FD, ch.Conn.A, ch.Conn.B, ch.Dir)
			s := out[k]
			if s == nil {
				s = &dirStream{}
				out[k] = s
			}
			if ch.Lost > 0 {
				s.holes = append(s.holes, [2]int{len(s.data), len(s.data) + int(ch.Lost)})
				s.data = append(s.data, make([]byte, ch.Lost)...)
			}
			if ch.Skipped > 0 {
				s.skips = append(s.skips, [2]int{len(s.data), len(s.data) + int(ch.Skipped)})
				s.data = append(s.data, make([]byte, ch.Skipped)...)
			}
			s.data = append(s.data, ch.Data...)
			total.Add(max(ch.Lost, 0) + ch.Skipped + int64(len(ch.Data)))
		}
	}()
	return out, &wg, &total
}

// TestWalkerTwin: the kernel's walker and its twin skip the same bytes of
// the same traffic. Two sources trace a franz-go producer and consumer
// (multi-partition Produce and Fetch, flexible versions) at once, one
// copying every byte; the twin walks the full copy, and its skipped ranges
// must be the kernel's, byte for byte.
func TestWalkerTwin(t *testing.T) {
	testenv.Root(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "twin"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, port, _ := net.SplitHostPort(c.ListenAddrs()[0])
	p, _ := strconv.Atoi(port)
	opts := Options{Ports: []uint16{uint16(p)}, RingBytes: 64 << 20, MaxBytesPerSyscall: MaxBytesPerSyscallLimit, PIDs: []uint32{uint32(os.Getpid())}}
	walked, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.CopyRecords = true
	full, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	ws, wwg, wn := recordCounting(walked)
	fs, fwg, fn := recordCounting(full)

	value := make([]byte, 1024)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerLinger(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i := range 3000 {
		recs = append(recs, &kgo.Record{Topic: "twin", Key: []byte{byte(i)}, Value: value})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	cons, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("twin"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	for got := 0; got < 3000; {
		got += cons.PollFetches(context.Background()).NumRecords()
	}
	cons.Close()
	// Both sources have passed on the same bytes, and no more come: a
	// fixed wait of 500 ms was once too short for the full copy's
	// reader on a loaded machine (a fresh-clone CI), which then missed
	// the end of every stream.
	last, quiet := int64(-1), time.Now()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		w, f := wn.Load(), fn.Load()
		if w+f != last {
			last, quiet = w+f, time.Now()
		}
		if w == f && w > 0 && time.Since(quiet) >= 300*time.Millisecond {
			break
		}
	}
	walked.Close()
	full.Close()
	wwg.Wait()
	fwg.Wait()

	var skips int
	for k, f := range fs {
		w := ws[k]
		if w == nil {
			t.Errorf("%s: not in the walked source", k)
			continue
		}
		if len(f.holes) > 0 || len(w.holes) > 0 {
			t.Errorf("%s: lost bytes: full copy %v, walked %v", k, f.holes, w.holes)
			continue
		}
		if len(f.data) != len(w.data) {
			t.Errorf("%s: %d bytes in full, %d walked", k, len(f.data), len(w.data))
		}
	}
	// The twin on the full copy: requests first (they tell the versions
	// of the Fetch responses), then responses. The client's side writes
	// requests (A->B), the broker's (whose A is the broker) reads them.
	for k, f := range fs {
		if !strings.HasSuffix(k, capture.AtoB.String()) {
			continue
		}
		base := strings.TrimSuffix(k, capture.AtoB.String())
		back := base + capture.BtoA.String()
		reqKey, respKey := k, back
		if strings.Contains(base, fmt.Sprintf(":%d-", p)) {
			reqKey, respKey = back, k
		}
		req, resp := newWalkPair()
		for _, d := range []struct {
			key string
			w   *walker
		}{{reqKey, req}, {respKey, resp}} {
			src, kern := fs[d.key], ws[d.key]
			if src == nil || kern == nil {
				continue
			}
			var o walkOut
			d.w.segment(src.data, &o)
			twin, got := merge(o.skips), merge(kern.skips)
			skips += len(got)
			if !slices.Equal(twin, got) {
				i := 0
				for i < min(len(twin), len(got)) && twin[i] == got[i] {
					i++
				}
				t.Errorf("%s: the twin skipped %d ranges, the kernel %d; first difference at #%d: twin %v, kernel %v", d.key, len(twin), len(got), i, at(twin, i), at(got, i))
			}
		}
		_ = f
	}
	t.Logf("%d connections, %d skipped ranges", len(fs)/2, skips)
	if skips < 10 {
		t.Errorf("the kernel skipped %d ranges", skips)
	}
}

func at(r [][2]int, i int) any {
	if i < len(r) {
		return r[i]
	}
	return "none"
}

// merge joins adjacent ranges: the kernel splits a skip where a syscall
// ends.
func merge(r [][2]int) [][2]int {
	var out [][2]int
	for _, x := range r {
		if n := len(out); n > 0 && out[n-1][1] == x[0] {
			out[n-1][1] = x[1]
			continue
		}
		out = append(out, x)
	}
	return out
}

// TestWalkerSplits: the kernel's walker reads fields in one step from a
// window of the syscall's bytes, so a field cut by a syscall's end, or by
// an iovec's, must still be read whole. Produce requests and Fetch
// responses of three partitions go through one connection in pieces of
// 1 to 13 bytes around their headers (write, writev, read and readv of
// small buffers), and each direction must skip what the twin skips of the
// same bytes.
func TestWalkerSplits(t *testing.T) {
	testenv.Root(t)
	src, err := Open(Options{PIDs: []uint32{uint32(os.Getpid())}, RingBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	got, wg := record(src, nil)
	exs, err := loadgen.Exchanges(loadgen.Shape{BatchBytes: 4096, Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	// pieces cuts b: small pieces, with a large one now and then. Each
	// end has a generator of its own.
	pieces := func(rng *rand.Rand, b []byte) [][]byte {
		var out [][]byte
		for len(b) > 0 {
			n := 1 + rng.IntN(13)
			if rng.IntN(8) == 0 {
				n = 1 + rng.IntN(6000)
			}
			n = min(n, len(b))
			out = append(out, b[:n])
			b = b[n:]
		}
		return out
	}
	send := func(rng *rand.Rand, c *net.TCPConn, b []byte) error {
		ps := pieces(rng, b)
		for len(ps) > 0 {
			if rng.IntN(2) == 0 { // writev of up to 8 pieces
				k := min(len(ps), 1+rng.IntN(8))
				bufs := net.Buffers(append([][]byte(nil), ps[:k]...))
				if _, err := bufs.WriteTo(c); err != nil {
					return err
				}
				ps = ps[k:]
				continue
			}
			if _, err := c.Write(ps[0]); err != nil {
				return err
			}
			ps = ps[1:]
		}
		return nil
	}
	recv := func(rng *rand.Rand, c *net.TCPConn, n int) error {
		buf := make([]byte, n)
		for _, p := range pieces(rng, buf) {
			if _, err := io.ReadFull(c, p); err != nil {
				return err
			}
		}
		return nil
	}
	// The frames of round i, with correlation id i.
	frames := func(i int) (req, resp []byte) {
		ex := exs[[]loadgen.Kind{loadgen.Produce, loadgen.Fetch}[i%2]]
		req, resp = bytes.Clone(ex.Request.Bytes), bytes.Clone(ex.Response.Bytes)
		ex.Request.SetCorrelation(req, int32(i))
		ex.Response.SetCorrelation(resp, int32(i))
		return req, resp
	}
	client, server := pair(t, nil)
	var reqs, resps []byte
	const rounds = 60
	done := make(chan error, 1)
	go func() {
		rng := rand.New(rand.NewPCG(3, 4))
		for i := range rounds {
			req, resp := frames(i)
			if err := recv(rng, server, len(req)); err != nil {
				done <- err
				return
			}
			if err := send(rng, server, resp); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range rounds {
		req, resp := frames(i)
		reqs = append(reqs, req...)
		resps = append(resps, resp...)
		if err := send(rng, client, req); err != nil {
			t.Fatal(err)
		}
		if err := recv(rng, client, len(resp)); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	req, resp := newWalkPair()
	var ro, so walkOut
	req.segment(reqs, &ro)
	resp.segment(resps, &so)
	want := map[bool][][2]int{true: merge(ro.skips), false: merge(so.skips)}
	if len(want[true]) < rounds/2*3 || len(want[false]) < rounds/2*3 {
		t.Fatalf("the twin skipped %d ranges of the requests and %d of the responses, want a batch each", len(want[true]), len(want[false]))
	}
	time.Sleep(200 * time.Millisecond) // the reader's poll
	src.Close()
	wg.Wait()
	pid := os.Getpid()
	for _, c := range []struct {
		name                string
		conn                *net.TCPConn
		sentReqs, recvdReqs bool
	}{{"client", client, true, false}, {"server", server, false, true}} {
		for dir, isReq := range map[capture.Dir]bool{capture.AtoB: c.sentReqs, capture.BtoA: c.recvdReqs} {
			k := fmt.Sprintf("%d/%d %s-%s %s", pid, fdOf(t, c.conn), addrPort(c.conn.LocalAddr()), addrPort(c.conn.RemoteAddr()), dir)
			s := got[k]
			if s == nil {
				t.Errorf("%s: not captured", k)
				continue
			}
			if len(s.holes) > 0 || len(s.data) != map[bool]int{true: len(reqs), false: len(resps)}[isReq] {
				t.Errorf("%s: %d bytes, lost %v", k, len(s.data), s.holes)
				continue
			}
			kern := merge(s.skips)
			if !slices.Equal(kern, want[isReq]) {
				i := 0
				for i < min(len(kern), len(want[isReq])) && kern[i] == want[isReq][i] {
					i++
				}
				t.Errorf("%s %v: the kernel skipped %d ranges, the twin %d; first difference at #%d: kernel %v, twin %v",
					c.name, dir, len(kern), len(want[isReq]), i, at(kern, i), at(want[isReq], i))
			}
		}
	}
}
