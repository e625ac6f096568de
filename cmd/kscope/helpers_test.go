package main

import (
	"bytes"
	"context"
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
