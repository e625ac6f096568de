package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"kscope/internal/testenv"
)

// rule is one rule of the rules file.
type rule struct {
	Alert, Record, Expr, For string
	Labels, Annotations      map[string]string
}

func parseRules(t *testing.T, b []byte) []rule {
	t.Helper()
	var f struct {
		Groups []struct {
			Name  string
			Rules []rule
		}
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	var out []rule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	return out
}

func alerts(rules []rule) []string {
	var out []string
	for _, r := range rules {
		if r.Alert != "" && !slices.Contains(out, r.Alert) {
			out = append(out, r.Alert)
		}
	}
	return out
}

// anchors are the README's headings as GitHub links them.
func anchors(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	drop := regexp.MustCompile(`[^\p{L}\p{N} _-]`)
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if h, ok := strings.CutPrefix(line, "#"); ok {
			h = strings.TrimSpace(strings.TrimLeft(h, "#"))
			out = append(out, strings.ReplaceAll(drop.ReplaceAllString(strings.ToLower(h), ""), " ", "-"))
		}
	}
	return out
}

// TestRulesAnnotated: every alert says how urgent it is, what it is about
// and where its runbook is, and that runbook exists; replication alerts
// carry their tier.
func TestRulesAnnotated(t *testing.T) {
	rules := parseRules(t, RulesYAML())
	heads := anchors(t)
	tiers := map[string]string{"KafkaPartitionOffline": "offline", "KafkaPartitionUnderMinISR": "under-min-isr", "KafkaPartitionAtMinISR": "at-min-isr", "KafkaReplicaOutOfSync": "under-replicated"}
	for _, r := range rules {
		if r.Alert == "" {
			continue
		}
		if !slices.Contains([]string{"page", "warning", "info"}, r.Labels["severity"]) {
			t.Errorf("%s: severity %q", r.Alert, r.Labels["severity"])
		}
		if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
			t.Errorf("%s: no summary or description", r.Alert)
		}
		anchor, ok := strings.CutPrefix(r.Annotations["runbook_url"], "README.md#")
		if !ok || !slices.Contains(heads, anchor) {
			t.Errorf("%s: runbook_url %q is no heading of the README", r.Alert, r.Annotations["runbook_url"])
		}
		if tier, ok := tiers[r.Alert]; ok && r.Labels["tier"] != tier && !strings.Contains(r.Expr, `tier="`+tier+`"`) {
			t.Errorf("%s: no tier %s", r.Alert, tier)
		}
	}
}

// TestRulesPromtool: promtool checks the rules and runs their unit tests,
// and every alert has unit tests where it fires.
func TestRulesPromtool(t *testing.T) {
	promtool := testenv.Command(t, "promtool", "prometheus")
	for _, args := range [][]string{{"check", "rules", RulesFile}, {"test", "rules", "prometheus/kscope-rules.test.yml"}} {
		if out, err := exec.Command(promtool, args...).CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	b, err := os.ReadFile("prometheus/kscope-rules.test.yml")
	if err != nil {
		t.Fatal(err)
	}
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal(b, &tests); err != nil {
		t.Fatal(err)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	for _, a := range alerts(parseRules(t, RulesYAML())) {
		if !fires[a] || !quiet[a] {
			t.Errorf("%s: the unit tests lack a case where it fires (%v) or one where it does not (%v)", a, fires[a], quiet[a])
		}
	}
}

// TestRulesParams: the variants kscope demo and the end-to-end test load
// are the same rules with shorter waits and other thresholds, and
// promtool accepts them.
func TestRulesParams(t *testing.T) {
	b, err := Rules(Params{TimeScale: 1.0 / 60, Thresholds: map[string]float64{"append_lag_warning_seconds": 20, "append_lag_page_seconds": 45.5}})
	if err != nil {
		t.Fatal(err)
	}
	got, orig := parseRules(t, b), parseRules(t, RulesYAML())
	if len(got) != len(orig) {
		t.Fatalf("%d rules, want %d", len(got), len(orig))
	}
	want := map[string]string{"1m": "1s", "2m": "2s", "5m": "5s", "15m": "15s", "1h": "1m0s", "10m": "10s"}
	for i, r := range got {
		if r.For != "" && want[orig[i].For] != r.For {
			t.Errorf("%s: for %s scaled to %s, want %s", r.Alert, orig[i].For, r.For, want[orig[i].For])
		}
		switch r.Record {
		case ThresholdPrefix + "append_lag_warning_seconds":
			if r.Expr != "vector(20)" {
				t.Errorf("%s: %s", r.Record, r.Expr)
			}
		case ThresholdPrefix + "append_lag_page_seconds":
			if r.Expr != "vector(45.5)" {
				t.Errorf("%s: %s", r.Record, r.Expr)
			}
		default:
			if r.Expr != orig[i].Expr {
				t.Errorf("%s%s: expr changed: %s", r.Alert, r.Record, r.Expr)
			}
		}
	}
	if _, err := Rules(Params{Thresholds: map[string]float64{"nope": 1}}); err == nil || !strings.Contains(err.Error(), "append_lag_warning_seconds") {
		t.Errorf("an unknown threshold: %v", err)
	}
	if !slices.Contains(Thresholds(), "time_to_loss_page_seconds") {
		t.Errorf("thresholds %v", Thresholds())
	}
	promtool := testenv.Command(t, "promtool", "prometheus")
	path := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules on the variant: %v\n%s", err, out)
	}
}

// TestAlertmanagerConfig: amtool accepts the example and its quiet variant;
// pages reach the on-call and the team, warnings the team, info the
// digest; the inhibitions name alerts that exist.
func TestAlertmanagerConfig(t *testing.T) {
	amtool := testenv.Command(t, "amtool", "prometheus-alertmanager")
	dir := t.TempDir()
	quiet, err := Alertmanager(Params{TimeScale: 1.0 / 60, Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"example.yml": AlertmanagerYAML(), "quiet.yml": quiet} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(amtool, "check-config", path).CombinedOutput(); err != nil {
			t.Errorf("amtool check-config %s: %v\n%s", name, err, out)
		}
		for sev, want := range map[string]string{"page": "kafka-oncall,kafka-team", "warning": "kafka-team", "info": "kafka-digest"} {
			out, err := exec.Command(amtool, "config", "routes", "test", "--config.file", path, "severity="+sev, "alertname=KafkaBrokerDown").Output()
			if err != nil || strings.TrimSpace(string(out)) != want {
				t.Errorf("%s: severity %s goes to %q (%v), want %s", name, sev, out, err, want)
			}
		}
	}
	if !strings.Contains(string(quiet), "group_wait: 1s") || strings.Contains(string(quiet), "_configs") || strings.Contains(string(quiet), "smtp") {
		t.Errorf("the quiet variant:\n%s", quiet)
	}
	var cfg struct {
		InhibitRules []struct {
			SourceMatchers []string `yaml:"source_matchers"`
			TargetMatchers []string `yaml:"target_matchers"`
		} `yaml:"inhibit_rules"`
	}
	if err := yaml.Unmarshal(AlertmanagerYAML(), &cfg); err != nil {
		t.Fatal(err)
	}
	names := alerts(parseRules(t, RulesYAML()))
	quoted := regexp.MustCompile(`^alertname=~?"(.*)"$`)
	for _, r := range cfg.InhibitRules {
		for _, m := range append(r.SourceMatchers, r.TargetMatchers...) {
			if q := quoted.FindStringSubmatch(m); q != nil {
				for _, a := range strings.Split(q[1], "|") {
					if !slices.Contains(names, a) {
						t.Errorf("inhibition %q names no alert of the rules", m)
					}
				}
			}
		}
	}
}
