// Package deploy holds what operators load beside kscope: the Prometheus
// alert rules and the example Alertmanager configuration. The files are
// the product; this package embeds them for kscope demo and the tests,
// and derives the variants those need (shorter waits, lower thresholds,
// receivers of their own) from the same files, so that what is tested is
// what operators load.
package deploy

import (
	"bytes"
	"embed"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

//go:embed prometheus/kscope-rules.yml alertmanager/alertmanager.yml
var files embed.FS

const (
	// RulesFile and AlertmanagerFile are the files' paths in the
	// repository.
	RulesFile        = "prometheus/kscope-rules.yml"
	AlertmanagerFile = "alertmanager/alertmanager.yml"
	// ThresholdPrefix names the recording rules that hold the thresholds.
	ThresholdPrefix = "kscope:threshold:"
)

// Params derive a variant of the files.
type Params struct {
	// TimeScale multiplies every alert's `for`, and Alertmanager's
	// group_wait, group_interval and repeat_interval (0: as written).
	// kscope demo and the end-to-end test wait seconds, not minutes.
	TimeScale float64
	// Thresholds replace the values of the threshold recording rules,
	// by name without ThresholdPrefix.
	Thresholds map[string]float64
	// Quiet makes every receiver notify no one (the example's are
	// placeholders): the alerts, their routes and inhibitions still show
	// in Alertmanager's API.
	Quiet bool
}

// RulesYAML is the rules file as written.
func RulesYAML() []byte { return must(files.ReadFile(RulesFile)) }

// AlertmanagerYAML is the example Alertmanager configuration as written.
func AlertmanagerYAML() []byte { return must(files.ReadFile(AlertmanagerFile)) }

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err) // embedded: cannot fail
	}
	return b
}

// Rules is the rules file with p applied.
func Rules(p Params) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(RulesYAML(), &doc); err != nil {
		return nil, err
	}
	left := maps.Clone(p.Thresholds)
	for _, group := range seq(lookup(&doc, "groups")) {
		for _, rule := range seq(lookup(group, "rules")) {
			if f := lookup(rule, "for"); f != nil {
				if err := scale(f, p.TimeScale); err != nil {
					return nil, fmt.Errorf("%s: %w", name(rule), err)
				}
			}
			rec := lookup(rule, "record")
			if rec == nil || !strings.HasPrefix(rec.Value, ThresholdPrefix) {
				continue
			}
			short := strings.TrimPrefix(rec.Value, ThresholdPrefix)
			if v, ok := left[short]; ok {
				lookup(rule, "expr").Value = "vector(" + strconv.FormatFloat(v, 'g', -1, 64) + ")"
				delete(left, short)
			}
		}
	}
	if len(left) > 0 {
		return nil, fmt.Errorf("no threshold %s in %s (it has %s)", strings.Join(slices.Sorted(maps.Keys(left)), ", "), RulesFile, strings.Join(Thresholds(), ", "))
	}
	return encode(&doc)
}

// Thresholds names the threshold recording rules, without ThresholdPrefix.
func Thresholds() []string {
	var doc yaml.Node
	if err := yaml.Unmarshal(RulesYAML(), &doc); err != nil {
		panic(err) // embedded, and tested
	}
	var out []string
	for _, group := range seq(lookup(&doc, "groups")) {
		for _, rule := range seq(lookup(group, "rules")) {
			if rec := lookup(rule, "record"); rec != nil && strings.HasPrefix(rec.Value, ThresholdPrefix) {
				out = append(out, strings.TrimPrefix(rec.Value, ThresholdPrefix))
			}
		}
	}
	return out
}

// Alertmanager is the example Alertmanager configuration with p applied.
func Alertmanager(p Params) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(AlertmanagerYAML(), &doc); err != nil {
		return nil, err
	}
	// Every route's waits, the root's and its children's.
	var walk func(r *yaml.Node) error
	walk = func(r *yaml.Node) error {
		for _, k := range []string{"group_wait", "group_interval", "repeat_interval"} {
			if n := lookup(r, k); n != nil {
				if err := scale(n, p.TimeScale); err != nil {
					return fmt.Errorf("route %s: %w", k, err)
				}
			}
		}
		for _, child := range seq(lookup(r, "routes")) {
			if err := walk(child); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(lookup(&doc, "route")); err != nil {
		return nil, err
	}
	if p.Quiet {
		root := doc.Content[0]
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == "global" { // the mail server of the notifiers dropped
				root.Content = slices.Delete(root.Content, i, i+2)
				break
			}
		}
		for _, r := range seq(lookup(&doc, "receivers")) {
			r.Content = []*yaml.Node{r.Content[0], lookup(r, "name")}
		}
	}
	return encode(&doc)
}

// lookup is key's value in the mapping n (or the document n holds).
func lookup(n *yaml.Node, key string) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// seq is the items of the sequence n.
func seq(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

func name(rule *yaml.Node) string {
	if a := lookup(rule, "alert"); a != nil {
		return a.Value
	}
	if r := lookup(rule, "record"); r != nil {
		return r.Value
	}
	return "a rule"
}

// scale multiplies the duration n holds by f (0: unchanged), to whole
// seconds and at least one.
func scale(n *yaml.Node, f float64) error {
	if f == 0 {
		return nil
	}
	d, err := time.ParseDuration(n.Value) // the files use Go-compatible units
	if err != nil {
		return fmt.Errorf("duration %q: %w", n.Value, err)
	}
	n.Value = (max(time.Second, time.Duration(float64(d)*f).Round(time.Second))).String()
	return nil
}

func encode(doc *yaml.Node) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}
