package metrics

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/metrics.golden and the README's metrics table from the declarations")

// golden is one line per metric: what alert rules and dashboards depend
// on (name, type, labels, buckets, opt-in), without the help text.
func golden() string {
	var b strings.Builder
	for _, m := range All() {
		fmt.Fprintf(&b, "%s %s{%s}", m.Kind, m.Name, strings.Join(m.Labels, ","))
		if len(m.Buckets) > 0 {
			fmt.Fprintf(&b, " buckets=%v", m.Buckets)
		}
		if m.OptIn != "" {
			fmt.Fprintf(&b, " opt-in=%s", m.OptIn)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// TestGolden: the metrics kscope exports change only on purpose: a change
// here breaks alert rules, and goes in the README's old -> new table.
func TestGolden(t *testing.T) {
	const path = "testdata/metrics.golden"
	got := golden()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("the declared metrics differ from %s (go test ./internal/metrics -update, then say what changed in the README):\n%s", path, got)
	}
}

// TestDeclarations: names as Prometheus wants them, each once.
func TestDeclarations(t *testing.T) {
	name := regexp.MustCompile(`^kscope_[a-z0-9_]+$`)
	seen := map[string]bool{}
	for _, m := range All() {
		if seen[m.Name] {
			t.Errorf("%s declared twice", m.Name)
		}
		seen[m.Name] = true
		if !name.MatchString(m.Name) || m.Help == "" || m.desc == nil {
			t.Errorf("%s: a name kscope_snake_case, a help text and a descriptor, please", m.Name)
		}
		if (m.Kind == Counter) != strings.HasSuffix(m.Name, "_total") {
			t.Errorf("%s: a counter's name ends in _total, and only a counter's", m.Name)
		}
		if (m.Kind == Histogram) != (len(m.Buckets) > 0) {
			t.Errorf("%s: histograms, and only they, have buckets", m.Name)
		}
		for i := 1; i < len(m.Buckets); i++ {
			if m.Buckets[i] <= m.Buckets[i-1] {
				t.Errorf("%s: buckets not increasing: %v", m.Name, m.Buckets)
			}
		}
	}
}

const (
	readme     = "../../README.md"
	tableStart = "<!-- metrics: generated from internal/metrics by go test ./internal/metrics -update -->\n"
	tableEnd   = "<!-- end of metrics -->\n"
)

// table is the README's metrics table.
func table() string {
	var b strings.Builder
	b.WriteString(tableStart)
	for _, s := range Sections {
		fmt.Fprintf(&b, "\n%s:\n\n| metric | type | labels | what |\n|---|---|---|---|\n", s.Title)
		for _, m := range s.Metrics {
			kind := string(m.Kind)
			if m.OptIn != "" {
				kind += " (with `" + m.OptIn + "`)"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", m.Name, kind, strings.Join(m.Labels, ", "), strings.ReplaceAll(m.Help, "|", "\\|"))
		}
	}
	b.WriteString("\n" + tableEnd)
	return b.String()
}

// TestREADMETable: the README lists the metrics as declared.
func TestREADMETable(t *testing.T) {
	b, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start, end := strings.Index(doc, tableStart), strings.Index(doc, tableEnd)
	if start < 0 || end < start {
		t.Fatalf("the README has no metrics table between %q and %q", tableStart, tableEnd)
	}
	got, want := doc[start:end+len(tableEnd)], table()
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(readme, []byte(doc[:start]+want+doc[end+len(tableEnd):]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the README's metrics table differs from the declarations: go test ./internal/metrics -update")
}
