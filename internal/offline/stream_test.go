package offline

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/exchange"
)

// streamAll is Stream's exchanges, counters and peak.
func streamAll(t *testing.T, opts Options, files ...string) (*Analysis, int) {
	t.Helper()
	var xs []exchange.Exchange
	a, peak, err := stream(context.Background(), files, opts, func(e *exchange.Exchange) error {
		xs = append(xs, *e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if a.Matched != len(xs) {
		t.Fatalf("Matched %d, %d exchanges given", a.Matched, len(xs))
	}
	a.Exchanges = xs
	return a, peak
}

// sameAnalysis fails unless Stream gave what Analyze holds: the same
// exchanges in the same order, the same counters.
func sameAnalysis(t *testing.T, name string, got, want *Analysis) {
	t.Helper()
	if g, w := jsonLines(t, got), jsonLines(t, want); g != w {
		t.Errorf("%s: Stream's exchanges differ from Analyze's (%d and %d)", name, len(got.Exchanges), len(want.Exchanges))
	}
	if got.Matched != want.Matched || got.Decoder != want.Decoder || got.Capture != want.Capture || !reflect.DeepEqual(got.Errors, want.Errors) {
		t.Errorf("%s: Stream counted %d %+v %+v %v, Analyze %d %+v %+v %v", name, got.Matched, got.Decoder, got.Capture, got.Errors, want.Matched, want.Decoder, want.Capture, want.Errors)
	}
}

// TestStreamMatchesAnalyze: on every capture of testdata, with bodies,
// JSON lines streamed are the lines of the exchanges held and sorted.
func TestStreamMatchesAnalyze(t *testing.T) {
	files, err := filepath.Glob(captures + "*.pcap*")
	if err != nil || len(files) < 10 {
		t.Fatalf("%d captures (%v)", len(files), err)
	}
	opts := Options{Build: exchange.Options{Bodies: true}}
	for _, f := range files {
		got, _ := streamAll(t, opts, f)
		want, err := Analyze(context.Background(), []string{f}, opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(want.Exchanges) == 0 {
			t.Fatalf("%s: no exchanges", f)
		}
		sameAnalysis(t, filepath.Base(f), got, want)
	}
	// Several files: held and sorted together, as Analyze does.
	got, held := streamAll(t, opts, files...)
	want, err := Analyze(context.Background(), files, opts)
	if err != nil {
		t.Fatal(err)
	}
	sameAnalysis(t, "all the captures", got, want)
	if held != len(want.Exchanges) {
		t.Errorf("several files: held %d, want all %d", held, len(want.Exchanges))
	}
}

// longCapture writes a capture of n produce exchanges 10 ms apart on one
// connection (n/100 seconds), while, on a second, a request sent after
// the first second waits wait for its response.
func longCapture(t *testing.T, n int, wait time.Duration) string {
	t.Helper()
	var buf bytes.Buffer
	pw := pcapgo.NewWriterNanos(&buf)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	g := &rcGen{w: pw, now: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)}
	p := g.dial(rcClient, rcBroker1, 40001, "steady-producer")
	slow := g.dial(rcClient, rcBroker2, 40002, "slow-client")
	var slowCorr int32
	slowAt := time.Time{}
	for i := range n {
		if i == 100 {
			req := kmsg.NewPtrJoinGroupRequest()
			req.Version, req.Group, req.ProtocolType = 5, "g", "consumer"
			slowCorr, slowAt = slow.request(req), g.now
		}
		if slowCorr != 0 && !slowAt.IsZero() && g.now.Sub(slowAt) >= wait {
			resp := kmsg.NewPtrJoinGroupResponse()
			slow.respond(slowCorr, resp)
			slowAt = time.Time{}
		}
		corr := rcProduce(p, map[string]map[int32][]byte{"orders": {0: rcBatch(int64(i), g.now, "v")}}, "orders")
		g.tick(200 * time.Microsecond)
		rcProduced(p, corr, map[string]map[int32]int64{"orders": {0: int64(i)}}, "orders")
		g.tick(10 * time.Millisecond)
	}
	p.close()
	slow.close()
	if g.err != nil {
		t.Fatal(g.err)
	}
	f := filepath.Join(t.TempDir(), "long.pcap")
	if err := os.WriteFile(f, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestStreamHoldsWhatMayBePreceded: Stream holds about a second of
// exchanges (reorderSlack), not the capture's, and, while a request waits
// for its response, what came after it; the order is Analyze's either way.
func TestStreamHoldsWhatMayBePreceded(t *testing.T) {
	const n = 2000 // 20 s
	for _, c := range []struct {
		wait      time.Duration
		most      int
		leastPeak int
	}{
		// 1 s at 100 exchanges/s, and the 64 chunks between looks.
		{wait: 50 * time.Millisecond, most: 100 + 64},
		// The join waits 5 s: about 500 exchanges come after it.
		{wait: 5 * time.Second, most: 500 + 100 + 64, leastPeak: 500},
	} {
		f := longCapture(t, n, c.wait)
		got, peak := streamAll(t, Options{}, f)
		want, err := Analyze(context.Background(), []string{f}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(want.Exchanges) != n+1 {
			t.Fatalf("%d exchanges, want %d", len(want.Exchanges), n+1)
		}
		sameAnalysis(t, c.wait.String(), got, want)
		t.Logf("join answered after %v: held up to %d of %d exchanges", c.wait, peak, n+1)
		if peak > c.most || peak < c.leastPeak {
			t.Errorf("join answered after %v: Stream held up to %d of %d exchanges, want %d to %d", c.wait, peak, n+1, c.leastPeak, c.most)
		}
	}
}

// TestStreamStopsOnOutputError: an error of the output ends the analysis
// at once and is returned.
func TestStreamStopsOnOutputError(t *testing.T) {
	broken := errors.New("broken pipe")
	calls := 0
	_, err := Stream(context.Background(), []string{longCapture(t, 500, 0)}, Options{}, func(*exchange.Exchange) error {
		calls++
		if calls == 3 {
			return broken
		}
		return nil
	})
	if !errors.Is(err, broken) || calls != 3 {
		t.Errorf("err %v after %d calls, want %v after 3", err, calls, broken)
	}
}

// TestStreamPacketsOutOfTimeOrder: packets whose times go back by less
// than reorderSlack leave Stream's order Analyze's; by more, every
// exchange is still written, once.
func TestStreamPacketsOutOfTimeOrder(t *testing.T) {
	for _, back := range []time.Duration{300 * time.Millisecond, 3 * time.Second} {
		for _, name := range []string{"franz-go.pcap", "kcat.pcap", "kafkajs.pcap"} {
			f := rewrite(t, captures+name, 262144, func(i int, ci gopacket.CaptureInfo, data []byte) (gopacket.CaptureInfo, []byte, bool) {
				if i%7 == 3 {
					ci.Timestamp = ci.Timestamp.Add(-back)
				}
				return ci, data, true
			})
			got, _ := streamAll(t, Options{}, f)
			want, err := Analyze(context.Background(), []string{f}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if back < reorderSlack {
				sameAnalysis(t, name, got, want)
				continue
			}
			g, w := strings.Split(jsonLines(t, got), "\n"), strings.Split(jsonLines(t, want), "\n")
			slices.Sort(g)
			slices.Sort(w)
			if !slices.Equal(g, w) {
				t.Errorf("%s, packets %v back: Stream wrote %d exchanges, Analyze %d, not the same", name, back, len(g)-1, len(w)-1)
			}
		}
	}
}

// TestStreamAsyncLines: kscope analyze -o jsonl's path, Stream handing
// each exchange to AsyncLines while the decoding goes on, writes the bytes
// LineWriter writes of Analyze's exchanges, bodies in wire form as the
// command keeps them. Under -race (the tests' script) it also checks that
// the rendering goroutines share nothing with the decoder: the long
// capture releases exchanges all along its 20 s.
func TestStreamAsyncLines(t *testing.T) {
	files, err := filepath.Glob(captures + "*.pcap*")
	if err != nil || len(files) < 10 {
		t.Fatalf("%d captures (%v)", len(files), err)
	}
	files = append(files, longCapture(t, 2001, 0))
	opts := Options{Build: exchange.Options{Bodies: true, WireBodies: true}}
	for _, f := range files {
		var got, want bytes.Buffer
		al := exchange.NewAsyncLines(&got)
		_, err := Stream(context.Background(), []string{f}, opts, al.Write)
		if cerr := al.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
		a, err := Analyze(context.Background(), []string{f}, opts)
		if err != nil {
			t.Fatal(err)
		}
		lw := exchange.NewLineWriter(&want)
		for i := range a.Exchanges {
			if err := lw.Write(&a.Exchanges[i]); err != nil {
				t.Fatal(err)
			}
		}
		if want.Len() == 0 || !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("%s: %d bytes of lines, want %d, the same", filepath.Base(f), got.Len(), want.Len())
		}
	}
}
