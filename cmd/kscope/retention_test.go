package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"kscope/internal/broker"
	"kscope/internal/broker/brokertest"
	"kscope/internal/inspect"
	"kscope/internal/retention"
	"kscope/internal/server"
	"kscope/internal/store"
)

var changeID = regexp.MustCompile(`logged as change (\d{8}-\d{6}-[0-9a-f]{6}) in `)

// retentionMs is the topic's retention.ms and its source, as franz-go's
// admin client reads it.
func retentionMs(t *testing.T, c *broker.Cluster, topic string) string {
	t.Helper()
	rc, err := kadm.NewClient(brokertest.Client(t, c)).DescribeTopicConfigs(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := rc.On(topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range cfg.Configs {
		if kv.Key == "retention.ms" {
			return kv.MaybeValue() + " " + kv.Source.String()
		}
	}
	return ""
}

// kscope retention with --brokers: a dry run shows and changes nothing,
// bump raises and logs to the state directory's audit log, history lists
// it, revert puts the default back, and what it refuses says why.
func TestRetentionCommand(t *testing.T) {
	c := brokertest.Start(t, broker.Config{Brokers: 1, Partitions: 1, Topics: []string{"orders"}})
	brokers := strings.Join(c.Addrs(), ",")
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	t.Setenv("SUDO_USER", "")
	auditLog := filepath.Join(state, "kscope", "retention-audit.jsonl")

	out := mustRun(t, retentionCmd(), "bump", "orders", "--brokers", brokers, "--to", "10d", "--reason", "INC-1: billing down", "--dry-run")
	for _, want := range []string{"TOPIC", "BEFORE", "AFTER", "orders", "retention.ms", "7d (604800000, default)", "10d (864000000, topic)", "Dry run: nothing changed, nothing logged."} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	if v := retentionMs(t, c, "orders"); v != "604800000 DEFAULT_CONFIG" {
		t.Errorf("after the dry run: %s", v)
	}
	if _, err := os.Stat(auditLog); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dry run wrote the audit log: %v", err)
	}

	out = mustRun(t, retentionCmd(), "bump", "orders", "--brokers", brokers, "--to", "10d", "--reason", "INC-1: billing down", "--as", "alice")
	m := changeID.FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, auditLog) || !strings.Contains(out, "10d (864000000, topic)") {
		t.Fatalf("bump:\n%s", out)
	}
	id := m[1]
	if v := retentionMs(t, c, "orders"); v != "864000000 DYNAMIC_TOPIC_CONFIG" {
		t.Errorf("after the bump: %s", v)
	}

	out = mustRun(t, retentionCmd(), "history", "orders", "--brokers", brokers)
	for _, want := range []string{"ID", "REASON", id, "bump", "7d (default)", "10d", osUser() + " for alice", "INC-1: billing down"} {
		if !strings.Contains(out, want) {
			t.Errorf("history lacks %q:\n%s", want, out)
		}
	}
	var h server.RetentionHistory
	if err := json.Unmarshal([]byte(mustRun(t, retentionCmd(), "history", "--audit-log", auditLog, "-o", "json")), &h); err != nil || len(h.Entries) != 1 || h.Entries[0].ID != id || h.Entries[0].Who != osUser() || h.Entries[0].RequestedBy != "alice" {
		t.Errorf("history -o json: %+v %v", h, err)
	}

	// Refused, each with its reason.
	for _, bad := range []struct {
		args []string
		says string
	}{
		{[]string{"bump", "orders", "--to", "2d", "--reason", "r"}, "bump only raises retention; kscope retention set lowers it"},
		{[]string{"bump", "orders", "--to", "20d"}, "a reason is required (--reason)"},
		{[]string{"bump", "orders", "--to", "20 days", "--reason", "r"}, "--to: "},
		{[]string{"bump", "orders", "--bytes", "lots", "--reason", "r"}, "--bytes: "},
		{[]string{"bump", "nope", "--to", "20d", "--reason", "r"}, "topic nope does not exist"},
		{[]string{"revert", "20200101-000000-000000", "--reason", "r"}, "no change 20200101-000000-000000 in the audit log " + auditLog},
	} {
		out, err := run(t, retentionCmd(), append(bad.args, "--brokers", brokers)...)
		if err == nil || !strings.Contains(err.Error(), bad.says) {
			t.Errorf("%v: %v, want it to say %q\n%s", bad.args, err, bad.says, out)
		}
	}

	out = mustRun(t, retentionCmd(), "revert", id, "--brokers", brokers, "--reason", "INC-1 over")
	if !strings.Contains(out, "864000000, topic") || !strings.Contains(out, "7d (604800000, the topic's override deleted)") || changeID.FindStringSubmatch(out) == nil {
		t.Errorf("revert:\n%s", out)
	}
	if v := retentionMs(t, c, "orders"); v != "604800000 DEFAULT_CONFIG" {
		t.Errorf("after the revert: %s", v)
	}
	if out, err := run(t, retentionCmd(), "revert", id, "--brokers", brokers, "--reason", "again"); err == nil || !strings.Contains(err.Error(), "reverted already") {
		t.Errorf("revert twice: %v\n%s", err, out)
	}
	if out := mustRun(t, retentionCmd(), "history", "--brokers", brokers); !strings.Contains(out, "revert "+id) {
		t.Errorf("history after the revert:\n%s", out)
	}

	// set lowers, and says what that means.
	out = mustRun(t, retentionCmd(), "set", "orders", "--brokers", brokers, "--to", "2d", "--reason", "disk")
	if !strings.Contains(out, "retention.ms is lowered to 2d") {
		t.Errorf("set lower:\n%s", out)
	}
}

// Without --brokers the commands ask the agent, which logs the change as
// made by its token's name.
func TestRetentionCommandThroughAgent(t *testing.T) {
	c := brokertest.Start(t, broker.Config{Brokers: 1, Partitions: 1, Topics: []string{"orders"}})
	t.Setenv("KSCOPE_BROKERS", "")
	t.Setenv("KSCOPE_TOKEN", "")
	admin, err := retention.New(inspect.Config{Brokers: c.Addrs()}, filepath.Join(t.TempDir(), "agent-audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	srv, err := server.New(server.Config{Token: "tk", TokenName: "ci", Retention: admin}, store.New(store.Config{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	if out, err := run(t, retentionCmd(), "bump", "orders", "--server", ts.URL, "--to", "9d", "--reason", "r"); err == nil || !strings.Contains(err.Error(), "needs a token") {
		t.Errorf("without the token: %v\n%s", err, out)
	}
	out := mustRun(t, retentionCmd(), "bump", "orders", "--server", ts.URL, "--token", "tk", "--to", "9d", "--reason", "INC-2", "--dry-run")
	if !strings.Contains(out, "9d (777600000, topic)") || !strings.Contains(out, "Dry run") {
		t.Errorf("dry run through the agent:\n%s", out)
	}
	if out, err := run(t, retentionCmd(), "bump", "orders", "--server", ts.URL, "--token", "tk", "--bytes", "50GiB", "--reason", "r"); err == nil || !strings.Contains(err.Error(), "nothing higher to bump it to") {
		t.Errorf("bump of unlimited bytes through the agent: %v\n%s", err, out)
	}
	out = mustRun(t, retentionCmd(), "bump", "orders", "--server", ts.URL, "--token", "tk", "--to", "9d", "--reason", "INC-2", "--as", "bob")
	if !strings.Contains(out, "in the agent's audit log, at "+ts.URL) || retentionMs(t, c, "orders") != "777600000 DYNAMIC_TOPIC_CONFIG" {
		t.Errorf("bump through the agent:\n%s", out)
	}
	out = mustRun(t, retentionCmd(), "history", "--server", ts.URL, "--token", "tk")
	if !strings.Contains(out, "api:ci for bob") || !strings.Contains(out, "INC-2") {
		t.Errorf("history through the agent:\n%s", out)
	}
}
