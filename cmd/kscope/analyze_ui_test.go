package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"kscope/internal/view"
)

// serveAnalyze runs kscope analyze --ui on a free port until the test
// ends, and returns the URL it printed.
func serveAnalyze(t *testing.T, args ...string) string {
	t.Helper()
	cmd := analyzeCmd()
	pr, pw := io.Pipe()
	var errw bytes.Buffer
	cmd.SetArgs(append([]string{"--ui", "--listen", "127.0.0.1:0"}, args...))
	cmd.SetOut(pw)
	cmd.SetErr(&errw)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		err := cmd.ExecuteContext(ctx)
		pw.CloseWithError(io.EOF)
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("kscope analyze --ui: %v after interrupt", err)
		}
	})
	served := regexp.MustCompile(`serving (http://\S+/) read-only`)
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if m := served.FindStringSubmatch(sc.Text()); m != nil {
			// Nothing else is printed; drain in case.
			go io.Copy(io.Discard, pr)
			return m[1]
		}
	}
	cancel()
	t.Fatalf("kscope analyze --ui printed no URL: %v\n%s", <-done, errw.String())
	return ""
}

// kscope analyze --ui serves the views over the capture's span (not the
// minutes before now, which hold nothing of a capture made earlier) and
// the web console, and changes nothing.
func TestAnalyzeUI(t *testing.T) {
	base := serveAnalyze(t, captures+"franz-go.pcap")
	get := func(path string) (*http.Response, []byte) {
		t.Helper()
		resp, err := http.Get(base + strings.TrimPrefix(path, "/"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}

	resp, body := get("/api/v1/overview")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/overview: %s %s", resp.Status, body)
	}
	var o view.OverviewView
	if err := json.Unmarshal(body, &o); err != nil {
		t.Fatal(err)
	}
	var topics []string
	for _, tr := range o.Topics {
		topics = append(topics, tr.Name)
	}
	slices.Sort(topics)
	if !slices.Equal(topics, []string{"audit", "orders", "payments"}) || o.Seconds < 5 {
		t.Errorf("overview: topics %v over %.0fs, want franz-go.pcap's audit, orders, payments over its 6 seconds", topics, o.Seconds)
	}

	// since counts back from the capture's end.
	resp, body = get("/api/v1/exchanges?since=2s&bodies=0")
	if n := bytes.Count(body, []byte("\n")); resp.StatusCode != http.StatusOK || n == 0 || n >= 144 {
		t.Errorf("exchanges?since=2s: %s, %d exchanges; want some of the capture's last 2 seconds, not all 144", resp.Status, n)
	}

	resp, body = get("/overview")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /overview: %s %s, want the console's page", resp.Status, resp.Header.Get("Content-Type"))
	}
	if !bytes.Contains(body, []byte("/static/overview.js")) || !bytes.Contains(body, []byte("read-only")) {
		t.Errorf("GET /overview: the page does not load overview.js or does not say it shows capture files read-only:\n%s", body)
	}

	req, _ := http.NewRequest("POST", base+"api/v1/retention/bump", strings.NewReader(`{"topic":"orders","to":"7d","reason":"test"}`))
	req.Header.Set("Content-Type", "application/json")
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != http.StatusForbidden || !bytes.Contains(b, []byte("read-only")) {
		t.Errorf("POST retention/bump: %s %s, want 403 read-only", r.Status, b)
	}
}

// Nothing to serve is an error, not an empty console.
func TestAnalyzeUINothingToServe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := analyzeCmd()
	cmd.SetArgs([]string{"--ui", "--listen", "127.0.0.1:0", "--topic", "no-such-topic", captures + "kcat.pcap"})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	if err := cmd.ExecuteContext(ctx); err == nil || !strings.Contains(err.Error(), "nothing to show") {
		t.Errorf("err = %v, want nothing to show", err)
	}
	cmd = analyzeCmd()
	cmd.SetArgs([]string{"--ui", "-o", "json", captures + "kcat.pcap"})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	if err := cmd.ExecuteContext(ctx); err == nil || !strings.Contains(err.Error(), "--ui") {
		t.Errorf("--ui -o json: err = %v, want one saying to use one", err)
	}
}
