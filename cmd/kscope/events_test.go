package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"kscope/internal/exchange"
	"kscope/internal/server"
	"kscope/internal/store"
)

var eventsT0 = time.Date(2026, 11, 22, 3, 49, 0, 0, time.UTC)

func tracedExchange(i int, api string, key int16, topic string) exchange.Exchange {
	lat := int64(time.Duration(i) * time.Millisecond)
	return exchange.Exchange{
		Time:      eventsT0.Add(time.Duration(i) * time.Second),
		LatencyNS: &lat,
		Client:    exchange.Endpoint{Addr: "10.0.0.1:5000", PID: 4242, Process: "order"},
		Server:    exchange.Endpoint{Addr: "10.0.0.2:9092"},
		Side:      "client",
		API:       api, APIKey: key, APIVersion: 9, CorrelationID: int32(i), ClientID: "order-svc",
		Topics:       []exchange.Topic{{Name: topic, Partitions: []exchange.Partition{{Partition: 3}}}},
		RequestBytes: 200, ResponseBytes: 50,
		Request: exchange.JSONBody(json.RawMessage(`{"acks":-1}`)),
	}
}

// fakeAgent is an httptest server of the agent API over a store.
func fakeAgent(t *testing.T, token string, xs ...exchange.Exchange) (*store.Store, string) {
	t.Helper()
	st := store.New(store.Config{})
	for _, e := range xs {
		st.Add(e)
	}
	cfg := server.Config{}
	if token != "" {
		cfg = server.Config{Listen: "0.0.0.0:7070", Token: token}
	}
	s, err := server.New(cfg, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return st, ts.URL
}

func runEvents(t *testing.T, ctx context.Context, out io.Writer, args ...string) error {
	t.Helper()
	cmd := eventsCmd()
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(out)
	return cmd.ExecuteContext(ctx)
}

func TestEventsTable(t *testing.T) {
	t.Setenv("KSCOPE_TOKEN", "")
	_, url := fakeAgent(t, "",
		tracedExchange(1, "Produce", 0, "orders"),
		tracedExchange(2, "Fetch", 1, "payments"),
		tracedExchange(3, "Produce", 0, "orders"))
	var out bytes.Buffer
	if err := runEvents(t, context.Background(), &out, "--server", url, "--api", "Produce"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "TIME") || !strings.Contains(lines[0], "PROCESS") || !strings.Contains(lines[0], "SIDE") {
		t.Fatalf("table:\n%s", out.String())
	}
	for _, want := range []string{"03:49:01.000000", "10.0.0.1:5000", "order[4242]", "client", "Produce v9", "order-svc", "orders[3]", "200/50", "1ms"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("row %q lacks %q", lines[1], want)
		}
	}
	if strings.Contains(out.String(), "Fetch") || lines[4] != "2 exchanges shown, newest last" {
		t.Errorf("table:\n%s", out.String())
	}
}

// Without traced processes (a pcap), the table has analyze's columns.
func TestEventsJSON(t *testing.T) {
	t.Setenv("KSCOPE_TOKEN", "s3cret")
	_, url := fakeAgent(t, "s3cret",
		tracedExchange(1, "Produce", 0, "orders"),
		tracedExchange(2, "Fetch", 1, "payments"))
	var out bytes.Buffer
	if err := runEvents(t, context.Background(), &out, "--server", url, "-o", "jsonl", "--topic", "payments"); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(store.Record{Seq: 2, Exchange: tracedExchange(2, "Fetch", 1, "payments")})
	if got := strings.TrimSpace(out.String()); got != string(want) {
		t.Errorf("jsonl\n%s\nwant\n%s", got, want)
	}
	out.Reset()
	if err := runEvents(t, context.Background(), &out, "--server", url, "-o", "json", "--no-bodies"); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Exchanges []store.Record `json:"exchanges"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || len(doc.Exchanges) != 2 || doc.Exchanges[1].Seq != 2 || !doc.Exchanges[0].Request.IsZero() {
		t.Errorf("json (%v):\n%s", err, out.String())
	}
	// The wrong token: one line that says what to do.
	err := runEvents(t, context.Background(), &out, "--server", url, "--token", "nope")
	if err == nil || !strings.Contains(err.Error(), "needs a token: pass --token or set KSCOPE_TOKEN") {
		t.Errorf("wrong token: %v", err)
	}
}

func waitFor(t *testing.T, buf *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(buf.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q within 5s in:\n%s", want, buf.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// --follow prints the exchanges added after it started, a row each as it
// comes, in fixed columns; Ctrl-C (the context) ends it without error.
func TestEventsFollow(t *testing.T) {
	t.Setenv("KSCOPE_TOKEN", "")
	for _, output := range []string{"table", "jsonl"} {
		t.Run(output, func(t *testing.T) {
			st, url := fakeAgent(t, "", tracedExchange(1, "Produce", 0, "orders"))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var buf syncBuffer
			done := make(chan error, 1)
			go func() {
				done <- runEvents(t, ctx, &buf, "--server", url, "--follow", "-o", output, "--api", "Produce")
			}()
			first, later := `"correlation_id":1,`, `"correlation_id":5,`
			if output == "table" {
				first, later = "03:49:01.000000", "03:49:05.000000"
			}
			waitFor(t, &buf, first)
			st.Add(tracedExchange(4, "Fetch", 1, "orders"))
			st.Add(tracedExchange(5, "Produce", 0, "orders"))
			waitFor(t, &buf, later)
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("follow ended with %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("follow did not end with its context")
			}
			if strings.Contains(buf.String(), "Fetch") {
				t.Errorf("filtered exchange shown:\n%s", buf.String())
			}
			if output == "table" {
				lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
				col := strings.Index(lines[0], "API")
				for _, l := range lines[1:] {
					if !strings.HasPrefix(l[col:], "Produce v9") {
						t.Errorf("row not aligned on the API column %d:\n%s", col, buf.String())
					}
				}
			}
		})
	}
}

// A dead agent: one clear line, quickly.
func TestEventsDeadAgent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	for _, args := range [][]string{{}, {"--follow"}} {
		start := time.Now()
		var out bytes.Buffer
		err := runEvents(t, context.Background(), &out, append([]string{"--server", url}, args...)...)
		want := "cannot reach kscope agent at " + url + ": connection refused — is `kscope agent` running?"
		if err == nil || err.Error() != want {
			t.Errorf("%v: %v, want %q", args, err, want)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%v: took %v", args, d)
		}
	}
	var out bytes.Buffer
	if err := runEvents(t, context.Background(), &out, "--server", "127.0.0.1:7070"); err == nil || !strings.Contains(err.Error(), "use an address such as http://") {
		t.Errorf("server without scheme: %v", err)
	}
}
