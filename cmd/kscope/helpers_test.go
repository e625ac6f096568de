package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"kscope/internal/exchange"
	"kscope/internal/offline"
)

const captures = "../../testdata/captures/"

// saslPassword is the password every SASL capture logs in with (see
// testdata/captures/README.md).
const saslPassword = "kscope-secret-pw-7741"

// run runs a command as the user would, and returns what it printed on
// stdout and stderr.
func run(t *testing.T, cmd *cobra.Command, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// mustRun is run that fails the test on an error.
func mustRun(t *testing.T, cmd *cobra.Command, args ...string) string {
	t.Helper()
	out, err := run(t, cmd, args...)
	if err != nil {
		t.Fatalf("kscope %s %s: %v\n%s", cmd.Name(), strings.Join(args, " "), err, out)
	}
	return out
}

// captureExchanges decodes capture files.
func captureExchanges(t *testing.T, files ...string) []exchange.Exchange {
	t.Helper()
	a, err := offline.Analyze(context.Background(), files, offline.Options{})
	if err != nil || a.Err() != nil {
		t.Fatal(err, a.Err())
	}
	return a.Exchanges
}

// scrape reads the Prometheus text exposition at url into its samples, by
// the series as the exposition writes it: name{label="value",...} with
// the labels in name order.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %v %s", url, err, resp.Status)
	}
	out := map[string]float64{}
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("%s: %q is not a sample", url, line)
		}
		out[line[:i]] = v
	}
	return out
}
