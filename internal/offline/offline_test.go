package offline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"

	"kscope/internal/exchange"
)

const captures = "../../testdata/captures/"

// saslPassword is the password every SASL capture logs in with (see
// testdata/captures/README.md).
const saslPassword = "kscope-secret-pw-7741"

func mustAnalyze(t *testing.T, bodies bool, files ...string) *Analysis {
	t.Helper()
	res, err := Analyze(context.Background(), files, Options{Build: exchange.Options{Bodies: bodies}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// jsonLines is the exchanges as kscope analyze -o jsonl prints them.
func jsonLines(t *testing.T, res *Analysis) string {
	t.Helper()
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	for i := range res.Exchanges {
		if err := enc.Encode(&res.Exchanges[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out.String()
}

// SASL tokens are never decoded as Kafka, the PLAIN user name is shown and
// the password is not (the outputs are checked in cmd/kscope).
func TestSASLCapture(t *testing.T) {
	res := mustAnalyze(t, true, captures+"sasl-plain.pcap")
	out := jsonLines(t, res)
	if !strings.Contains(out, `"user":"alice"`) {
		t.Error("sasl-plain.pcap: the PLAIN user name is not shown")
	}
	if strings.Contains(out, saslPassword) {
		t.Error("sasl-plain.pcap: the password is in an exchange")
	}
	if res.Decoder.SASLTokens == 0 {
		t.Error("sasl-plain.pcap: no raw SASL token (v0 handshake) seen")
	}
	if res.Decoder.DecodeErrors != 0 || res.Decoder.UnmatchedResponses != 0 {
		t.Errorf("raw SASL tokens were read as Kafka: %+v", res.Decoder)
	}
}

func TestTopicIDsResolved(t *testing.T) {
	res := mustAnalyze(t, false, captures+"topic-ids.pcap")
	n := 0
	for _, e := range res.Exchanges {
		if e.API != "Fetch" || e.APIVersion < 13 {
			continue
		}
		for _, tp := range e.Topics {
			n++
			if tp.ID == "" || tp.Name == tp.ID || tp.Name == "" {
				t.Errorf("fetch v%d corr %d: topic %+v not resolved to a name", e.APIVersion, e.CorrelationID, tp)
			}
		}
	}
	if n == 0 {
		t.Fatal("no Fetch v13+ topic in topic-ids.pcap")
	}
}

// rewrite copies a capture, changing its packets with fn (nil drops one).
func rewrite(t *testing.T, src string, snaplen uint32, fn func(i int, ci gopacket.CaptureInfo, data []byte) (gopacket.CaptureInfo, []byte, bool)) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	r, err := pcapgo.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	w := pcapgo.NewWriter(out)
	if err := w.WriteFileHeader(snaplen, r.LinkType()); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		ci, data, keep := fn(i, ci, data)
		if !keep {
			continue
		}
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

type exID struct {
	client, server string
	corr           int32
	api            string
}

func ids(res *Analysis) map[exID]exchange.Exchange {
	m := make(map[exID]exchange.Exchange)
	for _, e := range res.Exchanges {
		m[exID{e.Client.Addr, e.Server.Addr, e.CorrelationID, e.API}] = e
	}
	return m
}

// A small snaplen cuts every large packet: the frames are decoded from what
// was captured, marked truncated, and never invented.
func TestSnaplenTruncation(t *testing.T) {
	for _, name := range []string{"franz-go.pcap", "kcat.pcap", "kafka-python.pcap", "kafkajs.pcap"} {
		full := ids(mustAnalyze(t, false, captures+name))
		const snap = 200
		cut := rewrite(t, captures+name, snap, func(_ int, ci gopacket.CaptureInfo, data []byte) (gopacket.CaptureInfo, []byte, bool) {
			if len(data) > snap {
				data = data[:snap]
				ci.CaptureLength = snap
			}
			return ci, data, true
		})
		res := mustAnalyze(t, true, cut)
		truncated := 0
		for _, e := range res.Exchanges {
			f, ok := full[exID{e.Client.Addr, e.Server.Addr, e.CorrelationID, e.API}]
			if !ok {
				t.Errorf("%s: truncated capture invents %s corr %d", name, e.API, e.CorrelationID)
				continue
			}
			if e.Truncated {
				truncated++
			}
			if e.ClientID != f.ClientID || e.APIVersion != f.APIVersion {
				t.Errorf("%s: %s corr %d: header differs from the full capture", name, e.API, e.CorrelationID)
			}
			// The response ends when its last byte was sent, captured
			// or not: the latency must not wait for later packets.
			if (e.LatencyNS == nil) != (f.LatencyNS == nil) {
				t.Errorf("%s: %s corr %d: response %v, full capture %v", name, e.API, e.CorrelationID, e.LatencyNS != nil, f.LatencyNS != nil)
			} else if e.LatencyNS != nil && *e.LatencyNS != *f.LatencyNS {
				t.Errorf("%s: %s corr %d: latency %v, full capture %v", name, e.API, e.CorrelationID, time.Duration(*e.LatencyNS), time.Duration(*f.LatencyNS))
			}
		}
		if truncated == 0 || res.Decoder.BytesLost == 0 {
			t.Errorf("%s: nothing marked truncated (lost %d bytes)", name, res.Decoder.BytesLost)
		}
		if len(res.Exchanges) < len(full)*9/10 {
			t.Errorf("%s: only %d of %d exchanges survive a snaplen of %d", name, len(res.Exchanges), len(full), snap)
		}
		jsonLines(t, res)
	}
}

// A capture that starts in the middle of the traffic resynchronises: every
// exchange it reports is one the full capture has, and the later ones are
// all found.
func TestMidStreamCapture(t *testing.T) {
	for _, name := range []string{"franz-go.pcap", "kafkajs.pcap", "kcat.pcap"} {
		fullRes := mustAnalyze(t, false, captures+name)
		full := ids(fullRes)
		skip := 0
		cut := rewrite(t, captures+name, 65535, func(i int, ci gopacket.CaptureInfo, data []byte) (gopacket.CaptureInfo, []byte, bool) {
			if i < 30 {
				skip++
				return ci, data, false
			}
			return ci, data, true
		})
		res := mustAnalyze(t, false, cut)
		for _, e := range res.Exchanges {
			f, ok := full[exID{e.Client.Addr, e.Server.Addr, e.CorrelationID, e.API}]
			if !ok || f.ClientID != e.ClientID {
				t.Errorf("%s: mid-stream capture reports %s corr %d on %s, not in the full capture", name, e.API, e.CorrelationID, e.Client.Addr)
			}
		}
		if len(res.Exchanges) == 0 {
			t.Errorf("%s: nothing decoded after the first %d packets", name, skip)
		}
		t.Logf("%s: %d of %d exchanges after dropping %d packets; %d resyncs, %d bytes skipped",
			name, len(res.Exchanges), len(full), skip, res.Decoder.Resyncs, res.Decoder.BytesSkipped)
	}
}

func TestNoKafka(t *testing.T) {
	// kcat.pcap with every TCP payload replaced by HTTP-like text.
	dst := rewrite(t, captures+"kcat.pcap", 65535, func(_ int, ci gopacket.CaptureInfo, data []byte) (gopacket.CaptureInfo, []byte, bool) {
		data = append([]byte(nil), data...)
		const eth = 14 // tcpdump -i lo writes Ethernet frames
		if len(data) < eth+20 || data[eth]>>4 != 4 {
			return ci, data, true
		}
		tcp := eth + int(data[eth]&0xf)*4
		payload := tcp + int(data[tcp+12]>>4)*4
		for i := payload; i < len(data); i++ {
			data[i] = "GET / HTTP/1.1\r\n"[i%16]
		}
		return ci, data, true
	})
	res := mustAnalyze(t, false, dst)
	if len(res.Exchanges) != 0 || res.Decoder.KafkaConnections != 0 || res.Decoder.Connections == 0 {
		t.Errorf("HTTP-like payloads decoded as Kafka: %d exchanges, %d Kafka connections of %d", len(res.Exchanges), res.Decoder.KafkaConnections, res.Decoder.Connections)
	}
}

func TestCorruptFileError(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"garbage.pcap":   []byte("this is not a capture file at all"),
		"truncated.pcap": mustRead(t, captures+"kcat.pcap")[:5000],
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := Analyze(context.Background(), []string{p}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Errors) != 1 || strings.Count(res.Errors[0], name) != 1 || res.Err() == nil {
			t.Errorf("%s: want one error naming the file once, got %q", name, res.Errors)
		}
		if name == "truncated.pcap" && len(res.Exchanges) == 0 {
			t.Error("the exchanges before the cut are lost")
		}
		t.Logf("%s: %d exchanges, %q", name, len(res.Exchanges), res.Errors)
	}
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestJSONLSchema(t *testing.T) {
	res := mustAnalyze(t, true, captures+"kcat.pcap")
	out := jsonLines(t, res)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	seen := map[string]bool{}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %v: %s", err, l)
		}
		for _, k := range []string{"time", "latency_ns", "client", "server", "api_key", "api", "api_version", "correlation_id", "truncated"} {
			if _, ok := m[k]; !ok {
				t.Errorf("line lacks %q: %s", k, l)
			}
		}
		seen[fmt.Sprint(m["api"])] = true
		if m["api"] == "Produce" {
			tp := m["topics"].([]any)[0].(map[string]any)
			p := tp["partitions"].([]any)[0].(map[string]any)
			for _, k := range []string{"partition", "error", "records", "bytes", "base_offset", "first_timestamp", "max_timestamp"} {
				if _, ok := p[k]; !ok {
					t.Errorf("produce partition lacks %q: %v", k, p)
				}
			}
		}
	}
	for _, api := range []string{"Produce", "Fetch", "Metadata", "JoinGroup", "SyncGroup", "OffsetCommit"} {
		if !seen[api] {
			t.Errorf("kcat.pcap: no %s exchange", api)
		}
	}
}

// acks=0 Produce requests get no response and must still be reported,
// complete, with the reason.
func TestAcks0Capture(t *testing.T) {
	res := mustAnalyze(t, false, captures+"acks0.pcap")
	n := 0
	for _, e := range res.Exchanges {
		if e.API != "Produce" {
			continue
		}
		n++
		if e.NoResponse != "acks=0" || e.LatencyNS != nil || e.Detail == nil || e.Detail.Acks == nil || *e.Detail.Acks != 0 {
			t.Errorf("produce corr %d: no_response %q latency %v", e.CorrelationID, e.NoResponse, e.LatencyNS)
		}
		records := int64(0)
		for _, tp := range e.Topics {
			for _, p := range tp.Partitions {
				records += p.Records
			}
		}
		if records == 0 {
			t.Errorf("produce corr %d: no records counted", e.CorrelationID)
		}
	}
	if n == 0 {
		t.Fatal("no acks=0 Produce in acks0.pcap")
	}
	if res.Decoder.UnmatchedResponses != 0 {
		t.Errorf("%d unmatched responses", res.Decoder.UnmatchedResponses)
	}
}

// TestWireBodiesAndCacheOnCaptures: the agent's way of building exchanges
// (bodies kept in wire form, rendered when asked for; endpoints and
// details shared through exchange.Cache) shows every exchange of every
// capture exactly as building each alone with its bodies rendered at once.
func TestWireBodiesAndCacheOnCaptures(t *testing.T) {
	files, err := filepath.Glob(captures + "*.pcap")
	if err != nil || len(files) == 0 {
		t.Fatal("no captures", err)
	}
	wire, shared := 0, 0
	for _, f := range files {
		now, err := Analyze(context.Background(), []string{f}, Options{Build: exchange.Options{Bodies: true}})
		if err != nil {
			t.Fatal(err)
		}
		kept, err := Analyze(context.Background(), []string{f}, Options{Build: exchange.Options{Bodies: true, WireBodies: true, Cache: exchange.NewCache()}})
		if err != nil {
			t.Fatal(err)
		}
		if len(now.Exchanges) != len(kept.Exchanges) || len(now.Exchanges) == 0 {
			t.Fatalf("%s: %d exchanges, %d with wire bodies", f, len(now.Exchanges), len(kept.Exchanges))
		}
		details := map[*exchange.Detail]int{}
		for i := range now.Exchanges {
			a, _ := json.Marshal(&now.Exchanges[i])
			b, _ := json.Marshal(&kept.Exchanges[i])
			if !bytes.Equal(a, b) {
				t.Fatalf("%s exchange %d:\n%s\nwith wire bodies and the cache:\n%s", f, i, a, b)
			}
			if kept.Exchanges[i].Request.IsWire() {
				wire++
			}
			if d := kept.Exchanges[i].Detail; d != nil {
				details[d]++
				if details[d] == 2 {
					shared++
				}
			}
		}
	}
	// Most of the traffic is Produce, Fetch, Metadata and heartbeats.
	if wire == 0 || shared == 0 {
		t.Fatalf("%d bodies in wire form, %d details shared: the test compared nothing kept", wire, shared)
	}
	t.Logf("%d request bodies in wire form, %d details shared", wire, shared)
}

// TestReusedMessagesOnCaptures: the exchanges of every capture are the
// same whether the decoder reuses the memory of the messages it is done
// with or gives each its own: exchange.Build keeps nothing of a pair.
// A room reused is zeroed first, so an exchange that kept a part of one
// would differ.
func TestReusedMessagesOnCaptures(t *testing.T) {
	files, err := filepath.Glob(captures + "*.pcap")
	if err != nil || len(files) == 0 {
		t.Fatal("no captures", err)
	}
	records := 0
	for _, f := range files {
		for _, bodies := range []exchange.Options{{Bodies: true}, {Bodies: true, WireBodies: true, Cache: exchange.NewCache()}} {
			reused, err := Analyze(context.Background(), []string{f}, Options{Build: bodies})
			if err != nil {
				t.Fatal(err)
			}
			if bodies.Cache != nil {
				bodies.Cache = exchange.NewCache()
			}
			fresh, err := Analyze(context.Background(), []string{f}, Options{Build: bodies, fresh: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(fresh.Exchanges) != len(reused.Exchanges) {
				t.Fatalf("%s: %d exchanges, %d reusing", f, len(fresh.Exchanges), len(reused.Exchanges))
			}
			for i := range fresh.Exchanges {
				a, _ := json.Marshal(&fresh.Exchanges[i])
				b, _ := json.Marshal(&reused.Exchanges[i])
				if !bytes.Equal(a, b) {
					t.Fatalf("%s exchange %d:\n%s\nreusing:\n%s", f, i, a, b)
				}
				for _, tp := range fresh.Exchanges[i].Topics {
					for _, p := range tp.Partitions {
						records += int(p.Records)
					}
				}
			}
		}
	}
	if records == 0 {
		t.Fatal("no records in the captures' exchanges: the test compared no Produce or Fetch")
	}
	t.Logf("%d records counted in both", records)
}

// TestPackedOnCaptures: every exchange of every capture, built the agent's
// way, comes back from the store's packed form as it went in: equal
// field by field, and in its JSON.
func TestPackedOnCaptures(t *testing.T) {
	files, err := filepath.Glob(captures + "*.pcap")
	if err != nil || len(files) == 0 {
		t.Fatal("no captures", err)
	}
	total := 0
	for _, f := range files {
		res, err := Analyze(context.Background(), []string{f}, Options{Build: exchange.Options{Bodies: true, WireBodies: true, Cache: exchange.NewCache()}})
		if err != nil {
			t.Fatal(err)
		}
		var pk exchange.Packer
		ps := make([]exchange.Packed, len(res.Exchanges))
		for i := range res.Exchanges {
			ps[i], _ = pk.Pack(&res.Exchanges[i])
		}
		u := &exchange.Unpacking{}
		for i := range res.Exchanges {
			var got exchange.Exchange
			if err := pk.Unpack(ps[i], &got, u); err != nil {
				t.Fatalf("%s exchange %d: %v", f, i, err)
			}
			if !reflect.DeepEqual(got, res.Exchanges[i]) {
				t.Fatalf("%s exchange %d:\n got %+v\nwant %+v", f, i, got, res.Exchanges[i])
			}
			a, _ := json.Marshal(&res.Exchanges[i])
			b, _ := json.Marshal(&got)
			if !bytes.Equal(a, b) {
				t.Fatalf("%s exchange %d:\n%s\npacked:\n%s", f, i, a, b)
			}
			total++
		}
	}
	t.Logf("%d exchanges of %d captures", total, len(files))
}

// TestAsyncLines: rendered in goroutines of their own, the lines are
// LineWriter's, in the order given; once the output fails, Write and
// Close return its error and nothing more is written.
func TestAsyncLines(t *testing.T) {
	files, err := filepath.Glob(captures + "*.pcap")
	if err != nil || len(files) == 0 {
		t.Fatal("no captures", err)
	}
	res, err := Analyze(context.Background(), files, Options{Build: exchange.Options{Bodies: true}})
	if err != nil {
		t.Fatal(err)
	}
	exs := res.Exchanges
	if len(exs) < 100 {
		t.Fatalf("%d exchanges: too few to fill several batches", len(exs))
	}
	var want, got bytes.Buffer
	lw := exchange.NewLineWriter(&want)
	al := exchange.NewAsyncLines(&got)
	for i := range exs {
		if err := lw.Write(&exs[i]); err != nil {
			t.Fatal(err)
		}
		if err := al.Write(&exs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := al.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("async lines differ from LineWriter's (%d bytes against %d)", got.Len(), want.Len())
	}

	// An output that fails at its third write.
	fw := &failingWriter{left: 2}
	al = exchange.NewAsyncLines(fw)
	var werr error
	n := 0
	for i := range exs {
		if werr = al.Write(&exs[i]); werr != nil {
			break
		}
		n++
	}
	cerr := al.Close()
	if !errors.Is(cerr, errFailingWriter) || (werr != nil && !errors.Is(werr, errFailingWriter)) {
		t.Fatalf("Write returned %v after %d, Close %v: want %v", werr, n, cerr, errFailingWriter)
	}
	if fw.writes != 3 {
		t.Errorf("%d writes reached the output, want 3: none after the one that failed", fw.writes)
	}
}

var errFailingWriter = errors.New("output closed")

// failingWriter fails every write after its first left.
type failingWriter struct{ left, writes int }

func (w *failingWriter) Write(p []byte) (int, error) {
	w.writes++
	if w.left == 0 {
		return 0, errFailingWriter
	}
	w.left--
	return len(p), nil
}

// TestLineWriter: kscope analyze -o jsonl's writer gives, for every
// exchange of every capture (bodies rendered and in wire form), the line
// json.Encoder gives: the same bytes, or, where a body holds <, > or &
// (which json.Encoder escapes), the same JSON value.
func TestLineWriter(t *testing.T) {
	files, err := filepath.Glob(captures + "*.pcap")
	if err != nil || len(files) == 0 {
		t.Fatal("no captures", err)
	}
	var exs []exchange.Exchange
	for _, f := range files {
		for _, wire := range []bool{false, true} {
			res, err := Analyze(context.Background(), []string{f}, Options{Build: exchange.Options{Bodies: true, WireBodies: wire}})
			if err != nil {
				t.Fatal(err)
			}
			exs = append(exs, res.Exchanges...)
		}
	}
	// A truncated exchange, with what json.Encoder escapes in a body.
	odd := exs[0]
	odd.Truncated = true
	odd.Request = exchange.JSONBody(json.RawMessage(`{"client_id":"a<b>&c"}`))
	odd.Response = exchange.Body{}
	exs = append(exs, odd)

	var fast, std bytes.Buffer
	lw := exchange.NewLineWriter(&fast)
	enc := json.NewEncoder(&std)
	bodies, escaped := 0, 0
	for i := range exs {
		fast.Reset()
		std.Reset()
		if err := lw.Write(&exs[i]); err != nil {
			t.Fatalf("exchange %d: %v", i, err)
		}
		if err := enc.Encode(&exs[i]); err != nil {
			t.Fatalf("exchange %d: %v", i, err)
		}
		if !exs[i].Request.IsZero() || !exs[i].Response.IsZero() {
			bodies++
		}
		if bytes.Equal(fast.Bytes(), std.Bytes()) {
			continue
		}
		var a, b any
		if err := json.Unmarshal(fast.Bytes(), &a); err != nil {
			t.Fatalf("exchange %d: not JSON: %v\n%s", i, err, fast.Bytes())
		}
		_ = json.Unmarshal(std.Bytes(), &b)
		if !reflect.DeepEqual(a, b) || !strings.ContainsAny(string(fast.Bytes()), "<>&") || !strings.HasSuffix(fast.String(), "}\n") {
			t.Fatalf("exchange %d:\n%s\njson.Encoder:\n%s", i, fast.Bytes(), std.Bytes())
		}
		escaped++
	}
	if bodies < len(exs)/2 || escaped != 1 {
		t.Fatalf("%d exchanges with a body, %d lines differing by escapes only (want 1): the test compared too little", bodies, escaped)
	}
	t.Logf("%d exchanges, %d with a body", len(exs), bodies)
}
