package ebpf

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"kscope/internal/capture"
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
	out := map[string]*dirStream{}
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
		}
	}()
	return out, &wg
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
	ws, wwg := record(walked, nil)
	fs, fwg := record(full, nil)

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
	time.Sleep(500 * time.Millisecond)
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
