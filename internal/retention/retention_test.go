package retention

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/broker"
	"kscope/internal/broker/brokertest"
	"kscope/internal/inspect"
	"kscope/internal/testenv"
)

const describeConfigs = "../../testdata/clients/python/describe_configs.py"

// Kafka's defaults, as kfake has them: 7 days, no size limit.
const (
	defaultMs    = 604800000
	defaultBytes = Unlimited
)

// ConfigSource values of DescribeConfigs.
const (
	sourceTopic   = 1 // DYNAMIC_TOPIC_CONFIG
	sourceDefault = 5 // DEFAULT_CONFIG
)

type fixture struct {
	c     *broker.Cluster
	admin *Admin
	py    string
}

// start runs an embedded cluster with the topics orders and payments, and
// an Admin of it logging to a fresh audit log in a directory that does
// not exist yet.
func start(t *testing.T) *fixture {
	t.Helper()
	py := testenv.Python(t, "kafka")
	c := brokertest.Start(t, broker.Config{Brokers: 1, Partitions: 1, Topics: []string{"orders", "payments"}})
	return &fixture{c: c, admin: newAdmin(t, inspect.Config{Brokers: c.Addrs()}, filepath.Join(t.TempDir(), "state", "retention-audit.jsonl")), py: py}
}

func newAdmin(t *testing.T, cfg inspect.Config, path string) *Admin {
	t.Helper()
	a, err := New(cfg, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

// kafkaPython is the topic's retention as kafka-python's admin client
// reads it: value and ConfigSource per key.
func (f *fixture) kafkaPython(t *testing.T, topic string) map[string]struct {
	Value  string
	Source int
} {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, f.py, describeConfigs, f.c.Bootstrap(), topic).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("kafka-python describe_configs %s: %v\n%s", topic, err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var got map[string]struct {
		Value  string
		Source int
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return got
}

// wantConfigs checks what kafka-python reads of the topic.
func (f *fixture) wantConfigs(t *testing.T, topic, ms string, msSource int, bytes string, bytesSource int) {
	t.Helper()
	got := f.kafkaPython(t, topic)
	if g := got[KeyMs]; g.Value != ms || g.Source != msSource {
		t.Errorf("kafka-python reads %s of %s as %s (source %d), want %s (source %d)", KeyMs, topic, g.Value, g.Source, ms, msSource)
	}
	if g := got[KeyBytes]; g.Value != bytes || g.Source != bytesSource {
		t.Errorf("kafka-python reads %s of %s as %s (source %d), want %s (source %d)", KeyBytes, topic, g.Value, g.Source, bytes, bytesSource)
	}
}

// lines is the audit log's lines, each as the JSON object it is.
func (f *fixture) lines(t *testing.T) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(f.admin.AuditLog())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for line := range strings.Lines(string(b)) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func (f *fixture) clusterID(t *testing.T) string {
	t.Helper()
	resp, err := kmsg.NewPtrMetadataRequest().RequestWith(context.Background(), brokertest.Client(t, f.c))
	if err != nil || resp.ClusterID == nil {
		t.Fatal(err)
	}
	return *resp.ClusterID
}

var idPattern = regexp.MustCompile(`^\d{8}-\d{6}-[0-9a-f]{6}$`)

// checkLine checks one audit line field by field: want's keys exactly
// (numbers as JSON numbers), a well-formed id and a recent time.
func checkLine(t *testing.T, line map[string]any, want map[string]any) {
	t.Helper()
	id, _ := line["id"].(string)
	if !idPattern.MatchString(id) {
		t.Errorf("id %q: want time-random hex", id)
	}
	ts, _ := line["time"].(string)
	if when, err := time.Parse(time.RFC3339, ts); err != nil || time.Since(when) > time.Minute || time.Since(when) < -time.Second {
		t.Errorf("time %q: want RFC 3339, now: %v", ts, err)
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("%s: %v (%T), want %v (%T)", k, line[k], line[k], v, v)
		}
	}
	for k := range line {
		if _, ok := want[k]; !ok && k != "id" && k != "time" {
			t.Errorf("unexpected key %s: %v", k, line[k])
		}
	}
}

// Bump raises retention.ms and retention.bytes, as an independent client
// (kafka-python) reads them back; every change is one audit line per key,
// with what was there before and where it came from.
func TestBumpRaises(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	f.wantConfigs(t, "orders", "604800000", sourceDefault, "-1", sourceDefault)

	// retention.bytes is unlimited by default: set a limit to bump.
	set, err := f.admin.Apply(ctx, Change{Action: ActionSet, Topic: "orders", Ms: 3 * 86400_000, Bytes: 1 << 30, Reason: "start small", Who: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	f.wantConfigs(t, "orders", "259200000", sourceTopic, "1073741824", sourceTopic)

	bump, err := f.admin.Apply(ctx, Change{Action: ActionBump, Topic: "orders", Ms: 5 * 86400_000, Bytes: 50 << 30,
		Reason: "INC-42: billing consumer down over the weekend", Who: "bob", RequestedBy: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	f.wantConfigs(t, "orders", "432000000", sourceTopic, "53687091200", sourceTopic)
	if bump.DryRun || len(bump.Entries) != 2 || bump.Entries[0].ID == "" || bump.Entries[0].ID != bump.Entries[1].ID || bump.Entries[0].ID == set.Entries[0].ID {
		t.Errorf("bump's result: %+v (set's %+v)", bump, set)
	}

	cluster := f.clusterID(t)
	lines := f.lines(t)
	if len(lines) != 4 {
		t.Fatalf("%d audit lines, want 4: %v", len(lines), lines)
	}
	checkLine(t, lines[0], map[string]any{"who": "alice", "cluster_id": cluster, "topic": "orders", "key": "retention.ms",
		"old": 604800000.0, "old_source": "default", "new": 259200000.0, "reason": "start small", "action": "set"})
	checkLine(t, lines[1], map[string]any{"who": "alice", "cluster_id": cluster, "topic": "orders", "key": "retention.bytes",
		"old": -1.0, "old_source": "default", "new": 1073741824.0, "reason": "start small", "action": "set"})
	checkLine(t, lines[2], map[string]any{"who": "bob", "requested_by": "carol", "cluster_id": cluster, "topic": "orders", "key": "retention.ms",
		"old": 259200000.0, "old_source": "topic", "new": 432000000.0, "reason": "INC-42: billing consumer down over the weekend", "action": "bump"})
	checkLine(t, lines[3], map[string]any{"who": "bob", "requested_by": "carol", "cluster_id": cluster, "topic": "orders", "key": "retention.bytes",
		"old": 1073741824.0, "old_source": "topic", "new": 53687091200.0, "reason": "INC-42: billing consumer down over the weekend", "action": "bump"})
	if lines[0]["id"] != lines[1]["id"] || lines[2]["id"] != bump.Entries[0].ID {
		t.Errorf("a change's lines share its id: %v %v %v, result %s", lines[0]["id"], lines[1]["id"], lines[2]["id"], bump.Entries[0].ID)
	}

	// Bump to unlimited is the highest raise there is.
	if _, err := f.admin.Apply(ctx, Change{Action: ActionBump, Topic: "orders", Ms: Unlimited, Reason: "keep all", Who: "bob"}); err != nil {
		t.Fatal(err)
	}
	f.wantConfigs(t, "orders", "-1", sourceTopic, "53687091200", sourceTopic)

	// The log is private to its user, and history reads it back.
	for _, p := range []struct {
		path string
		mode os.FileMode
	}{{f.admin.AuditLog(), 0o600}, {filepath.Dir(f.admin.AuditLog()), 0o700 | os.ModeDir}} {
		if st, err := os.Stat(p.path); err != nil || st.Mode() != p.mode {
			t.Errorf("%s: mode %v, want %v (%v)", p.path, st.Mode(), p.mode, err)
		}
	}
	h, err := f.admin.History("orders")
	if err != nil || len(h) != 5 || h[2] != bump.Entries[0] {
		t.Errorf("history: %v, %+v; want 5 entries, the third %+v", err, h, bump.Entries[0])
	}
	if h, err := f.admin.History("payments"); err != nil || len(h) != 0 {
		t.Errorf("history of payments: %v %+v", err, h)
	}
}

// What the button refuses, it refuses before asking the cluster to change
// anything, with the reason, and logs nothing.
func TestRefusals(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		change Change
		kind   error
		says   string
	}{
		{"bump that lowers", Change{Action: ActionBump, Topic: "orders", Ms: 2 * 86400_000, Reason: "r", Who: "w"}, ErrRefused,
			"2d would lower retention.ms of topic orders, now 7d (Kafka's default): bump only raises retention; kscope retention set lowers it"},
		{"bump to the same", Change{Action: ActionBump, Topic: "orders", Ms: 7 * 86400_000, Reason: "r", Who: "w"}, ErrRefused,
			"retention.ms of topic orders is 7d (Kafka's default) already"},
		{"bump of unlimited", Change{Action: ActionBump, Topic: "orders", Bytes: 50 << 30, Reason: "r", Who: "w"}, ErrRefused,
			"retention.bytes of topic orders is unlimited (Kafka's default): there is nothing higher to bump it to"},
		{"one key refused, neither changed", Change{Action: ActionBump, Topic: "orders", Ms: 10 * 86400_000, Bytes: 50 << 30, Reason: "r", Who: "w"}, ErrRefused,
			"nothing higher"},
		{"no reason", Change{Action: ActionBump, Topic: "orders", Ms: 10 * 86400_000, Reason: "  ", Who: "w"}, ErrInvalid,
			"a reason is required (--reason)"},
		{"nothing asked", Change{Action: ActionBump, Topic: "orders", Reason: "r", Who: "w"}, ErrInvalid, "nothing to change"},
		{"unknown topic", Change{Action: ActionBump, Topic: "no-such-topic", Ms: 10 * 86400_000, Reason: "r", Who: "w"}, ErrNotFound,
			"topic no-such-topic does not exist on cluster "},
	} {
		_, err := f.admin.Apply(ctx, c.change)
		if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v; want %v saying %q", c.name, err, c.kind, c.says)
		}
	}
	f.wantConfigs(t, "orders", "604800000", sourceDefault, "-1", sourceDefault)
	if _, err := os.Stat(f.admin.AuditLog()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refused changes left an audit log: %v", err)
	}
	// Asking about an unknown topic did not create it (kfake, like many
	// clusters, creates topics a Metadata request names).
	resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, brokertest.Client(t, f.c))
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range resp.Topics {
		if tp.Topic != nil && *tp.Topic == "no-such-topic" {
			t.Error("no-such-topic was created")
		}
	}

	// A dry run shows the change and makes none.
	res, err := f.admin.Apply(ctx, Change{Action: ActionBump, Topic: "orders", Ms: 10 * 86400_000, Reason: "try", Who: "w", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.DryRun || len(res.Entries) != 1 || res.Entries[0].Old != defaultMs || res.Entries[0].OldSource != "default" || res.Entries[0].New != 10*86400_000 || res.Entries[0].ID != "" {
		t.Errorf("dry run: %+v", res)
	}
	f.wantConfigs(t, "orders", "604800000", sourceDefault, "-1", sourceDefault)
	if _, err := os.Stat(f.admin.AuditLog()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a dry run wrote the audit log: %v", err)
	}
}

// Revert restores what a change found: the default by deleting the
// topic's override, a topic's own value by setting it again. It refuses
// twice, after a later change, and on another cluster.
func TestRevert(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	bump, err := f.admin.Apply(ctx, Change{Action: ActionBump, Topic: "orders", Ms: 10 * 86400_000, Reason: "incident", Who: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	a := bump.Entries[0].ID
	f.wantConfigs(t, "orders", "864000000", sourceTopic, "-1", sourceDefault)

	// Dry run first: nothing changes.
	if res, err := f.admin.Revert(ctx, Revert{ID: a, Reason: "over", Who: "bob", DryRun: true}); err != nil || len(res.Deleted) != 1 {
		t.Errorf("dry revert: %+v %v", res, err)
	}
	f.wantConfigs(t, "orders", "864000000", sourceTopic, "-1", sourceDefault)

	res, err := f.admin.Revert(ctx, Revert{ID: a, Reason: "incident over", Who: "bob", RequestedBy: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	// Back to the default itself, not an override equal to it.
	f.wantConfigs(t, "orders", "604800000", sourceDefault, "-1", sourceDefault)
	if len(res.Deleted) != 1 || res.Deleted[0] != KeyMs {
		t.Errorf("revert of a default: deleted %v, want retention.ms's override", res.Deleted)
	}
	lines := f.lines(t)
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2", len(lines))
	}
	checkLine(t, lines[1], map[string]any{"who": "bob", "requested_by": "alice", "cluster_id": f.clusterID(t), "topic": "orders", "key": "retention.ms",
		"old": 864000000.0, "old_source": "topic", "new": 604800000.0, "reason": "incident over", "action": "revert", "reverts": a})

	if _, err := f.admin.Revert(ctx, Revert{ID: a, Reason: "again", Who: "bob"}); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "change "+a+" was reverted already, by bob") {
		t.Errorf("revert twice: %v", err)
	}
	if _, err := f.admin.Revert(ctx, Revert{ID: "20200101-000000-abcdef", Reason: "r", Who: "bob"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("revert of an unknown id: %v", err)
	}
	if _, err := f.admin.Revert(ctx, Revert{ID: a, Who: "bob"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("revert without a reason: %v", err)
	}

	// A value the topic had of its own is set again; a change made
	// since stops the revert of an earlier one.
	first, err := f.admin.Apply(ctx, Change{Action: ActionSet, Topic: "orders", Ms: 3 * 86400_000, Reason: "smaller", Who: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	second, err := f.admin.Apply(ctx, Change{Action: ActionBump, Topic: "orders", Ms: 4 * 86400_000, Reason: "a bit more", Who: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.admin.Revert(ctx, Revert{ID: first.Entries[0].ID, Reason: "undo", Who: "bob"})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "retention.ms of topic orders is 4d (set on the topic) now, not 3d as change "+first.Entries[0].ID+" left it: it changed since") {
		t.Errorf("revert after another change: %v", err)
	}
	if res, err := f.admin.Revert(ctx, Revert{ID: second.Entries[0].ID, Reason: "undo", Who: "bob"}); err != nil || len(res.Deleted) != 0 {
		t.Fatalf("revert to a topic's value: %+v %v", res, err)
	}
	f.wantConfigs(t, "orders", "259200000", sourceTopic, "-1", sourceDefault)

	// The same audit log, another cluster with a topic of the same name:
	// refused. (Every kfake cluster is "kfake" unless told otherwise.)
	other := brokertest.Start(t, broker.Config{Brokers: 1, Partitions: 1, Topics: []string{"orders"}, Options: []kfake.Opt{kfake.ClusterID("other-cluster")}})
	elsewhere := newAdmin(t, inspect.Config{Brokers: other.Addrs()}, f.admin.AuditLog())
	bump2, err := f.admin.Apply(ctx, Change{Action: ActionBump, Topic: "orders", Ms: 20 * 86400_000, Reason: "r", Who: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = elsewhere.Revert(ctx, Revert{ID: bump2.Entries[0].ID, Reason: "r", Who: "bob"})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "was made on cluster "+f.clusterID(t)+", and this is cluster other-cluster: revert it where it was made") {
		t.Errorf("revert on another cluster: %v", err)
	}
}

// Two reverts of one change at once: one is made, the other refused.
func TestRevertRace(t *testing.T) {
	c := brokertest.Start(t, broker.Config{Brokers: 1, Partitions: 1, Topics: []string{"orders"}})
	admin := newAdmin(t, inspect.Config{Brokers: c.Addrs()}, filepath.Join(t.TempDir(), "audit.jsonl"))
	ctx := context.Background()
	bump, err := admin.Apply(ctx, Change{Action: ActionBump, Topic: "orders", Ms: 10 * 86400_000, Reason: "r", Who: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = admin.Revert(ctx, Revert{ID: bump.Entries[0].ID, Reason: "r", Who: "bob"})
		})
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) || !errors.Is(errors.Join(errs...), ErrRefused) {
		t.Errorf("two reverts at once: %v", errs)
	}
	if h, err := admin.History(""); err != nil || len(h) != 2 {
		t.Errorf("history: %+v %v", h, err)
	}
}

// A principal without AlterConfigs on the topic learns which ACL it
// needs; the password shows nowhere.
func TestDenied(t *testing.T) {
	const pass = "viewer-secret-pw"
	c := brokertest.Start(t, broker.Config{Brokers: 1, Partitions: 1, Topics: []string{"orders"}, SASLUser: "admin", SASLPassword: "admin-pw",
		Options: []kfake.Opt{kfake.EnableACLs(), kfake.User("PLAIN", "viewer", pass,
			kfake.ACL{Resource: kmsg.ACLResourceTypeTopic, Name: "orders", Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationDescribeConfigs, Allow: true},
		)}})
	cfg := inspect.Config{Brokers: c.Addrs(), SASL: inspect.SASL{Mechanism: "PLAIN", User: "viewer", Password: pass}}
	admin := newAdmin(t, cfg, filepath.Join(t.TempDir(), "audit.jsonl"))
	ctx := context.Background()
	_, err := admin.Apply(ctx, Change{Action: ActionBump, Topic: "orders", Ms: 10 * 86400_000, Reason: "r", Who: "w"})
	if !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), "the principal needs the ACL AlterConfigs on topic orders") || strings.Contains(err.Error(), pass) {
		t.Errorf("bump without AlterConfigs: %v", err)
	}
	_, err = admin.Apply(ctx, Change{Action: ActionBump, Topic: "secret", Ms: 10 * 86400_000, Reason: "r", Who: "w"})
	if !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), "the principal needs the ACL DescribeConfigs on topic secret") {
		t.Errorf("bump without DescribeConfigs: %v", err)
	}
	if h, err := admin.History(""); err != nil || len(h) != 0 {
		t.Errorf("refused changes logged: %+v %v", h, err)
	}
	b, _ := os.ReadFile(admin.AuditLog())
	if strings.Contains(string(b), pass) {
		t.Error("the audit log holds the password")
	}
}

// A line that is not an entry (a merge conflict kept in git) is named,
// and reverts stop on it rather than guess.
func TestAuditLogDamaged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(path, []byte(`{"id":"20250101-000000-abcdef","topic":"orders"}`+"\n<<<<<<< HEAD\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := History(path, ""); err == nil || !strings.Contains(err.Error(), "line 2: not an entry") {
		t.Errorf("damaged log: %v", err)
	}
	if h, err := History(filepath.Join(t.TempDir(), "none.jsonl"), ""); err != nil || len(h) != 0 {
		t.Errorf("no log yet: %+v %v", h, err)
	}
}

func TestDefaultAuditLog(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/var/lib/someone")
	if p, err := DefaultAuditLog(); err != nil || p != "/var/lib/someone/kscope/retention-audit.jsonl" {
		t.Errorf("with XDG_STATE_HOME: %s %v", p, err)
	}
	t.Setenv("XDG_STATE_HOME", "relative/ignored")
	t.Setenv("HOME", "/home/alice")
	if p, err := DefaultAuditLog(); err != nil || p != "/home/alice/.local/state/kscope/retention-audit.jsonl" {
		t.Errorf("without: %s %v", p, err)
	}
}
