package ebpf

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"kscope/internal/capture"
	"kscope/internal/capture/pcap"
	"kscope/internal/exchange"
	"kscope/internal/kafka"
)

// captureFiles are the real clients' captures, every one cleanly started:
// the walker follows them from their first byte, as the kernel does after
// connect and accept.
func captureFiles(t testing.TB) []string {
	files, err := filepath.Glob("../../../testdata/captures/*.pcap")
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures: %v", err)
	}
	return files
}

func readChunks(t testing.TB, path string) []capture.Chunk {
	r, err := pcap.Open(path, pcap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []capture.Chunk
	for {
		ch, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		ch.Data = append([]byte(nil), ch.Data...)
		out = append(out, ch)
	}
}

// walkChunks runs the twin over the chunks of connections seen from their
// first byte (A, which sent the SYN, is the client), each chunk a segment,
// and returns the chunks the kernel would have sent: the same bytes with
// the skipped ones left out and counted in Chunk.Skipped.
func walkChunks(in []capture.Chunk) (out []capture.Chunk, skipped int64) {
	type pair struct{ w [2]*walker }
	walkers := map[*capture.Conn]*pair{}
	for _, ch := range in {
		p := walkers[ch.Conn]
		if p == nil {
			p = &pair{}
			if ch.Lost == 0 && ch.Dir == capture.AtoB {
				p.w[capture.AtoB], p.w[capture.BtoA] = newWalkPair()
			}
			walkers[ch.Conn] = p
		}
		w := p.w[ch.Dir]
		if w == nil || ch.Lost != 0 {
			p.w[ch.Dir] = nil // the kernel walks no more after a loss
			out = append(out, ch)
			continue
		}
		var o walkOut
		w.segment(ch.Data, &o)
		pieces := split(ch, o)
		for _, pc := range pieces {
			skipped += pc.Skipped
		}
		out = append(out, pieces...)
	}
	return out, skipped
}

// split turns the twin's output for chunk ch into chunks of copied bytes,
// each after the bytes skipped before it.
func split(ch capture.Chunk, o walkOut) []capture.Chunk {
	var out []capture.Chunk
	at, lost := 0, ch.Lost
	for _, s := range o.skips {
		if s[0] > at {
			out = append(out, capture.Chunk{Conn: ch.Conn, Dir: ch.Dir, Time: ch.Time, Lost: lost, Data: o.out[at:s[0]]})
			lost = 0
		}
		out = append(out, capture.Chunk{Conn: ch.Conn, Dir: ch.Dir, Time: ch.Time, Lost: lost, Skipped: int64(s[1] - s[0])})
		lost, at = 0, s[1]
	}
	if at < len(o.out) || len(out) == 0 {
		out = append(out, capture.Chunk{Conn: ch.Conn, Dir: ch.Dir, Time: ch.Time, Lost: lost, Data: o.out[at:]})
	}
	// Merge a skip with the copied bytes that follow it, as one event
	// carries them.
	var merged []capture.Chunk
	for _, c := range out {
		if n := len(merged); n > 0 && merged[n-1].Data == nil && merged[n-1].Skipped > 0 && c.Skipped == 0 && c.Lost == 0 {
			merged[n-1].Data = c.Data
			continue
		}
		merged = append(merged, c)
	}
	merged[len(merged)-1].Closed = ch.Closed
	return merged
}

// summaries decodes chunks and indexes what the views count of each
// exchange by connection and correlation id.
func summaries(chunks []capture.Chunk) (map[string]string, kafka.Stats) {
	out := map[string]string{}
	var ids kafka.TopicIDs
	d := kafka.NewDecoder(kafka.Options{}, &ids, func(p kafka.Pair) {
		e := exchange.Build(p, &ids, exchange.Options{})
		k := fmt.Sprintf("%d %s corr %d", p.Conn.ID, e.API, e.CorrelationID)
		v := struct {
			API        string
			Version    int16
			Error      string
			NoResponse string
			Topics     []exchange.Topic
			Detail     *exchange.Detail
			Req, Resp  int
			Truncated  bool
		}{e.API, e.APIVersion, e.Error, e.NoResponse, e.Topics, e.Detail, e.RequestBytes, e.ResponseBytes, e.Truncated}
		j, _ := json.Marshal(v)
		out[k] += string(j)
	})
	for _, ch := range chunks {
		d.Feed(ch)
	}
	d.Flush()
	return out, d.Stats()
}

func compareSummaries(t testing.TB, what string, full, walked map[string]string) int {
	t.Helper()
	diffs := 0
	for k, a := range full {
		if b := walked[k]; a != b {
			diffs++
			if diffs <= 5 {
				t.Errorf("%s: %s:\nfull copy: %s\nwalked:    %s", what, k, a, b)
			}
		}
	}
	for k := range walked {
		if _, ok := full[k]; !ok {
			diffs++
			if diffs <= 5 {
				t.Errorf("%s: %s only when walked", what, k)
			}
		}
	}
	return diffs
}

// TestWalkCaptures: on every client's capture, the decoder tells the same
// exchanges from what the walker copies as from every byte, and the
// walker skips record data where there is some.
func TestWalkCaptures(t *testing.T) {
	for _, f := range captureFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			in := readChunks(t, f)
			walked, skipped := walkChunks(in)
			a, sa := summaries(in)
			b, sb := summaries(walked)
			if n := compareSummaries(t, filepath.Base(f), a, b); n > 0 {
				t.Errorf("%d of %d exchanges differ", n, len(a))
			}
			var total int64
			for _, ch := range in {
				total += int64(len(ch.Data))
			}
			t.Logf("%d exchanges, %d of %d bytes skipped; elided %d; decode errors %d/%d", len(a), skipped, total, sb.BytesElided, sa.DecodeErrors, sb.DecodeErrors)
			if sb.BytesElided != skipped {
				t.Errorf("the decoder read %d bytes as skipped, the walker skipped %d", sb.BytesElided, skipped)
			}
		})
	}
}

// fuzzChunks cuts a connection's two streams into chunks at random
// places, requests first.
func fuzzChunks(streams [2][]byte, seed uint64) []capture.Chunk {
	rng := rand.New(rand.NewPCG(seed, seed>>32))
	var chunks []capture.Chunk
	at := time.Unix(1e9, 0)
	for dir, s := range streams {
		for len(s) > 0 {
			k := 1 + rng.IntN(min(len(s), 4096))
			if rng.IntN(4) == 0 {
				k = len(s)
			}
			chunks = append(chunks, capture.Chunk{Conn: fuzzConn, Dir: capture.Dir(dir), Time: at, Data: s[:k]})
			s = s[k:]
			at = at.Add(time.Microsecond)
		}
	}
	return chunks
}

// fuzzConn is the connection of FuzzWalk's inputs.
var fuzzConn = &capture.Conn{ID: 1, A: netip.MustParseAddrPort("10.0.0.1:40000"), B: netip.MustParseAddrPort("10.0.0.2:9092")}

// FuzzWalk: a connection's requests and responses (data: a uint32 length,
// the requests, then the responses), cut into syscalls at random places
// (seed), decode to the same exchanges walked as copied whole. Seeded with
// the real clients' captures.
func FuzzWalk(f *testing.F) {
	for _, file := range captureFiles(f) {
		// Each connection of the capture, its streams cut at 8 KiB: the
		// fuzzer minimises large inputs slowly.
		streams := map[*capture.Conn]*[2][]byte{}
		var order []*capture.Conn
		for _, ch := range readChunks(f, file) {
			s := streams[ch.Conn]
			if s == nil {
				s = &[2][]byte{}
				streams[ch.Conn] = s
				order = append(order, ch.Conn)
			}
			if n := 8<<10 - len(s[ch.Dir]); n > 0 {
				s[ch.Dir] = append(s[ch.Dir], ch.Data[:min(n, len(ch.Data))]...)
			}
		}
		for _, c := range order {
			s := streams[c]
			in := binary.BigEndian.AppendUint32(nil, uint32(len(s[0])))
			f.Add(append(append(in, s[0]...), s[1]...), uint64(len(file))+c.ID)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		if len(data) < 4 {
			return
		}
		n := min(int(binary.BigEndian.Uint32(data)), len(data)-4)
		streams := [2][]byte{data[4 : 4+n], data[4+n:]}
		chunks := fuzzChunks(streams, seed)
		walked, _ := walkChunks(chunks)
		a, _ := summaries(chunks)
		b, _ := summaries(walked)
		compareSummaries(t, "fuzz", a, b)
	})
}
