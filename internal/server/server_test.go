package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"kscope/internal/exchange"
	"kscope/internal/store"
)

var t0 = time.Date(2026, 11, 22, 3, 49, 0, 0, time.UTC)

func fake(i int, api string, key int16, topic string) exchange.Exchange {
	lat := int64(time.Duration(i) * time.Millisecond)
	return exchange.Exchange{
		Time:      t0.Add(time.Duration(i) * time.Second),
		LatencyNS: &lat,
		Client:    exchange.Endpoint{Addr: "10.0.0.1:5000", PID: 42, Process: "order"},
		Server:    exchange.Endpoint{Addr: "10.0.0.2:9092"},
		Side:      "client",
		API:       api, APIKey: key, CorrelationID: int32(i), ClientID: "order-svc",
		Topics:       []exchange.Topic{{Name: topic, Partitions: []exchange.Partition{{Partition: 0, Records: 3, Bytes: 100}}}},
		RequestBytes: 200, ResponseBytes: 50,
		Request: exchange.JSONBody(json.RawMessage(`{"acks":-1}`)),
	}
}

func newServer(t *testing.T, cfg Config, st *store.Store) *httptest.Server {
	t.Helper()
	s, err := New(cfg, st, func() any { return map[string]int{"chunks": 7} })
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts
}

func get(t *testing.T, u, token string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func records(t *testing.T, body string) []store.Record {
	t.Helper()
	var out []store.Record
	for line := range strings.Lines(body) {
		var r store.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

func seqs(rs []store.Record) []uint64 {
	var out []uint64
	for _, r := range rs {
		out = append(out, r.Seq)
	}
	return out
}

func TestExchanges(t *testing.T) {
	st := store.New(store.Config{})
	for i := 1; i <= 10; i++ {
		e := fake(i, "Produce", 0, "orders")
		if i%2 == 0 {
			e = fake(i, "Fetch", 1, "payments")
			e.Client = exchange.Endpoint{Addr: "10.0.0.3:6000"}
			e.Server.PID, e.Server.Process, e.Side = 77, "shipping", "server"
		}
		if i == 5 {
			e.Topics[0].Partitions[0].Error = "NOT_ENOUGH_REPLICAS"
		}
		st.Add(e)
	}
	ts := newServer(t, Config{}, st)
	for _, tc := range []struct {
		query string
		want  string // seqs
	}{
		{"", "[1 2 3 4 5 6 7 8 9 10]"},
		{"api=Fetch", "[2 4 6 8 10]"},
		{"api=Fetch&api=Produce", "[1 2 3 4 5 6 7 8 9 10]"},
		{"api=fetch,0", "[1 2 3 4 5 6 7 8 9 10]"},
		{"topic=orders", "[1 3 5 7 9]"},
		{"client=10.0.0.3", "[2 4 6 8 10]"},
		{"process=shipping", "[2 4 6 8 10]"},
		{"process=42", "[1 3 5 7 9]"},
		{"side=server", "[2 4 6 8 10]"},
		{"side=server,client", "[1 2 3 4 5 6 7 8 9 10]"},
		{"min_latency=8ms", "[8 9 10]"},
		{"since=" + url.QueryEscape(t0.Add(8*time.Second).Format(time.RFC3339)), "[8 9 10]"},
		{"until=" + url.QueryEscape(t0.Add(3*time.Second).Format(time.RFC3339)), "[1 2]"},
		{"limit=2", "[9 10]"},
		{"after=7", "[8 9 10]"},
		{"after=3&limit=2", "[4 5]"},
		{"api=Fetch&limit=2", "[8 10]"},
		{"errors=1", "[5]"},
		{"errors=0", "[1 2 3 4 5 6 7 8 9 10]"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			resp, body := get(t, ts.URL+"/api/v1/exchanges?"+tc.query, "")
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
				t.Fatalf("%s %s: %s", resp.Status, resp.Header.Get("Content-Type"), body)
			}
			got := seqs(records(t, body))
			if fmt.Sprint(got) != tc.want {
				t.Errorf("got %v, want %s", got, tc.want)
			}
		})
	}
}

// Each line is the analyze JSON lines schema plus "seq", process fields
// included.
func TestExchangeLineSchema(t *testing.T) {
	st := store.New(store.Config{})
	e := fake(1, "Produce", 0, "orders")
	st.Add(e)
	ts := newServer(t, Config{}, st)
	_, body := get(t, ts.URL+"/api/v1/exchanges", "")
	want, _ := json.Marshal(&e)
	if got := strings.TrimSpace(body); got != `{"seq":1,`+string(want[1:]) {
		t.Errorf("line\n%s\nexchange\n%s", got, want)
	}
	if !strings.Contains(body, `"client":{"addr":"10.0.0.1:5000","pid":42,"process":"order"}`) {
		t.Errorf("no process fields: %s", body)
	}
}

func TestBadQueries(t *testing.T) {
	ts := newServer(t, Config{}, store.New(store.Config{}))
	for _, q := range []string{"api=Nope", "side=both", "min_latency=fast", "since=yesterday", "until=x", "limit=0", "limit=100001", "after=-1", "follow=maybe", "errors=some"} {
		resp, body := get(t, ts.URL+"/api/v1/exchanges?"+q, "")
		var msg struct{ Error string }
		if resp.StatusCode != 400 || json.Unmarshal([]byte(body), &msg) != nil || msg.Error == "" {
			t.Errorf("%s: %s %s", q, resp.Status, body)
		}
	}
}

// Following sends what is there, then the exchanges added after the
// request, as each is added, until the client goes away.
func TestFollow(t *testing.T) {
	st := store.New(store.Config{})
	st.Add(fake(1, "Produce", 0, "orders"))
	st.Add(fake(2, "Fetch", 1, "orders"))
	ts := newServer(t, Config{}, st)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/v1/exchanges?follow=1&api=Produce", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan store.Record)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var r store.Record
			json.Unmarshal(sc.Bytes(), &r)
			lines <- r
		}
		close(lines)
	}()
	next := func() store.Record {
		t.Helper()
		select {
		case r := <-lines:
			return r
		case <-time.After(5 * time.Second):
			t.Fatal("no line within 5s")
		}
		return store.Record{}
	}
	if r := next(); r.Seq != 1 {
		t.Fatalf("first line seq %d", r.Seq)
	}
	st.Add(fake(3, "Fetch", 1, "orders")) // filtered out
	st.Add(fake(4, "Produce", 0, "orders"))
	if r := next(); r.Seq != 4 || r.API != "Produce" {
		t.Fatalf("followed %+v", r)
	}
	for i := 5; i < 8; i++ {
		st.Add(fake(i, "Produce", 0, "orders"))
		if r := next(); r.Seq != uint64(i) {
			t.Fatalf("followed seq %d, want %d", r.Seq, i)
		}
	}
	cancel()
	for range lines {
	}
}

// The server ends following requests when its context ends, and returns.
func TestRunShutsDown(t *testing.T) {
	st := store.New(store.Config{})
	s, err := New(Config{Listen: "127.0.0.1:0"}, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/api/v1/exchanges?follow=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("Serve still running with a follower connected")
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Errorf("follower's stream did not end cleanly: %v", err)
	}
}

func TestLoopbackOrToken(t *testing.T) {
	for _, tc := range []struct {
		listen, token string
		ok            bool
	}{
		{"", "", true},
		{"127.0.0.1:7070", "", true},
		{"127.1.2.3:7070", "", true},
		{"[::1]:7070", "", true},
		{"localhost:7070", "", true},
		{"0.0.0.0:7070", "", false},
		{":7070", "", false},
		{"[::]:7070", "", false},
		{"10.1.2.3:7070", "", false},
		{"kscope.example:7070", "", false},
		{"0.0.0.0:7070", "s3cret", true},
	} {
		_, err := New(Config{Listen: tc.listen, Token: tc.token}, store.New(store.Config{}), nil)
		if (err == nil) != tc.ok {
			t.Errorf("listen %q token %q: %v", tc.listen, tc.token, err)
		}
	}
	_, err := New(Config{Listen: "0.0.0.0:7070"}, store.New(store.Config{}), nil)
	if want := "listening on 0.0.0.0:7070 needs --token: remote access must be authenticated"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

func TestToken(t *testing.T) {
	st := store.New(store.Config{})
	st.Add(fake(1, "Produce", 0, "orders"))
	ts := newServer(t, Config{Listen: "0.0.0.0:7070", Token: "s3cret"}, st)
	for _, path := range []string{"/api/v1/exchanges", "/api/v1/stats", "/metrics"} {
		for _, tc := range []struct {
			token string
			code  int
		}{{"", 401}, {"wrong", 401}, {"s3cre", 401}, {"s3cret", 200}} {
			resp, body := get(t, ts.URL+path, tc.token)
			if resp.StatusCode != tc.code {
				t.Errorf("%s with token %q: %s %s", path, tc.token, resp.Status, body)
			}
			if tc.code == 401 && (resp.Header.Get("WWW-Authenticate") == "" || !strings.Contains(body, "token")) {
				t.Errorf("%s: 401 without a hint: %s", path, body)
			}
		}
	}
	if resp, body := get(t, ts.URL+"/healthz", ""); resp.StatusCode != 200 || body != "ok\n" {
		t.Errorf("healthz: %s %q", resp.Status, body)
	}
}

func TestStats(t *testing.T) {
	st := store.New(store.Config{MemoryBytes: 1 << 20})
	st.Add(fake(1, "Produce", 0, "orders"))
	ts := newServer(t, Config{}, st)
	_, body := get(t, ts.URL+"/api/v1/stats", "")
	var got struct {
		Agent map[string]int `json:"agent"`
		Store store.Stats    `json:"store"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if got.Agent["chunks"] != 7 || got.Store.Exchanges != 1 || got.Store.BudgetBytes != 1<<20 {
		t.Errorf("%s", body)
	}
}

type fakeCollector struct{ d *prometheus.Desc }

func (c fakeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.d }
func (c fakeCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.d, prometheus.CounterValue, 5)
}

func TestMetrics(t *testing.T) {
	st := store.New(store.Config{MemoryBytes: 64 << 10})
	for i := range 300 {
		st.Add(fake(i, "Produce", 0, "orders"))
	}
	st.Add(fake(300, "Fetch", 1, "orders"))
	s, err := New(Config{}, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Register(fakeCollector{prometheus.NewDesc("kscope_capture_chunks_total", "Chunks.", nil, nil)}); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	_, body := get(t, ts.URL+"/metrics", "")
	stats := st.Stats()
	for _, want := range []string{
		`kscope_store_exchanges_added_total{api="Produce"} 300`,
		`kscope_store_exchanges_added_total{api="Fetch"} 1`,
		"kscope_store_exchanges " + itoa(stats.Exchanges),
		"kscope_store_evicted_exchanges_total " + itoa(int(stats.Evicted)),
		"kscope_store_bytes ",
		"kscope_store_budget_bytes 65536",
		"kscope_capture_chunks_total 5",
		"go_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if stats.Evicted == 0 {
		t.Error("the fixture should evict")
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
