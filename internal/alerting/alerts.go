// Package alerting reads what fires from Alertmanager (kscope alerts, the
// agent's /api/v1/alerts and the web console's Alerts page), and runs
// Debian's Prometheus and Alertmanager with kscope's rules for kscope
// demo. kscope has no alert engine of its own: Prometheus evaluates the
// rules of deploy/prometheus, Alertmanager routes, inhibits and silences.
package alerting

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"kscope/internal/api"
)

// Severities are the rules' severities, most urgent first.
var Severities = []string{"page", "warning", "info"}

// View is what Alertmanager holds now, grouped by severity.
type View struct {
	Alertmanager string `json:"alertmanager"`
	// Firing counts the alerts that notify (active); Held those held
	// back by an inhibition or a silence (suppressed). Both count every
	// alert, shown or not.
	Firing int `json:"firing"`
	Held   int `json:"held"`
	// Severities are page, warning, info, then any other severity, each
	// with its alerts (the held ones only when asked for), longest firing
	// first.
	Severities []SeverityAlerts `json:"severities"`
}

// SeverityAlerts are the alerts of one severity.
type SeverityAlerts struct {
	Severity string  `json:"severity"`
	Alerts   []Alert `json:"alerts"`
}

// Alert is one alert as Alertmanager holds it.
type Alert struct {
	Name     string `json:"alertname"`
	Severity string `json:"severity"`
	Tier     string `json:"tier,omitempty"`
	// Subject is what it names: "order/3 broker 1", "group invoicing
	// topic order".
	Subject     string            `json:"subject"`
	Summary     string            `json:"summary"`
	Description string            `json:"description,omitempty"`
	Runbook     string            `json:"runbook_url,omitempty"`
	Labels      map[string]string `json:"labels"`
	Since       time.Time         `json:"since"`
	// State is Alertmanager's: active, suppressed or unprocessed.
	State string `json:"state"`
	// InhibitedBy are the alerts that hold it back, as Subject-named
	// alert names ("KafkaBrokerDown broker 1").
	InhibitedBy []string `json:"inhibited_by,omitempty"`
	Silenced    bool     `json:"silenced,omitempty"`
	Receivers   []string `json:"receivers"`
	Fingerprint string   `json:"fingerprint"`
}

// gettable is an alert of Alertmanager's API v2 (GET /api/v2/alerts).
type gettable struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	Fingerprint string            `json:"fingerprint"`
	Receivers   []struct {
		Name string `json:"name"`
	} `json:"receivers"`
	Status struct {
		State       string   `json:"state"`
		InhibitedBy []string `json:"inhibitedBy"`
		SilencedBy  []string `json:"silencedBy"`
	} `json:"status"`
}

// Fetch asks the Alertmanager at base for its alerts; held ones are listed
// only with held.
func Fetch(ctx context.Context, base string, held bool) (View, error) {
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return View{}, fmt.Errorf("an Alertmanager address is http://host:port, such as http://127.0.0.1:9093, not %q", base)
	}
	c := &api.Client{Server: base, Who: "Alertmanager"}
	var raw []gettable
	// Every alert, held or not: Held counts them, InhibitedBy names them.
	if err := c.Get(ctx, "/api/v2/alerts", url.Values{"active": {"true"}, "silenced": {"true"}, "inhibited": {"true"}, "unprocessed": {"true"}}, &raw); err != nil {
		return View{}, err
	}
	return build(base, raw, held), nil
}

func build(base string, raw []gettable, held bool) View {
	v := View{Alertmanager: base}
	byPrint := map[string]Alert{}
	all := make([]Alert, 0, len(raw))
	for _, g := range raw {
		a := Alert{
			Name: g.Labels["alertname"], Severity: cmp.Or(g.Labels["severity"], "none"), Tier: g.Labels["tier"],
			Subject: subject(g.Labels), Summary: g.Annotations["summary"], Description: g.Annotations["description"],
			Runbook: g.Annotations["runbook_url"], Labels: g.Labels, Since: g.StartsAt, State: g.Status.State,
			Silenced: len(g.Status.SilencedBy) > 0, Fingerprint: g.Fingerprint,
		}
		for _, r := range g.Receivers {
			a.Receivers = append(a.Receivers, r.Name)
		}
		a.InhibitedBy = g.Status.InhibitedBy // fingerprints, named below
		if a.State == "suppressed" {
			v.Held++
		} else {
			v.Firing++
		}
		byPrint[a.Fingerprint] = a
		all = append(all, a)
	}
	groups := map[string][]Alert{}
	for _, a := range all {
		names := make([]string, 0, len(a.InhibitedBy))
		for _, fp := range a.InhibitedBy {
			by, ok := byPrint[fp]
			if !ok {
				names = append(names, "alert "+fp)
				continue
			}
			names = append(names, strings.TrimSpace(by.Name+" "+by.Subject))
		}
		a.InhibitedBy = names
		if a.State == "suppressed" && !held {
			continue
		}
		groups[a.Severity] = append(groups[a.Severity], a)
	}
	order := slices.Clone(Severities)
	for _, s := range slices.Sorted(maps.Keys(groups)) {
		if !slices.Contains(order, s) {
			order = append(order, s)
		}
	}
	for _, s := range order {
		as := groups[s]
		if len(as) == 0 {
			continue
		}
		slices.SortFunc(as, func(a, b Alert) int {
			return cmp.Or(a.Since.Compare(b.Since), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Subject, b.Subject))
		})
		v.Severities = append(v.Severities, SeverityAlerts{Severity: s, Alerts: as})
	}
	return v
}

// subject names what an alert is about, from the labels kscope's rules
// keep.
func subject(l map[string]string) string {
	var parts []string
	if l["group"] != "" {
		parts = append(parts, "group "+l["group"])
	}
	switch {
	case l["topic"] != "" && l["partition"] != "":
		parts = append(parts, l["topic"]+"/"+l["partition"])
	case l["topic"] != "" && l["group"] != "":
		parts = append(parts, "topic "+l["topic"])
	case l["topic"] != "":
		parts = append(parts, l["topic"])
	}
	if l["broker"] != "" {
		parts = append(parts, "broker "+l["broker"])
	}
	if l["status"] != "" {
		parts = append(parts, l["status"])
	}
	if len(parts) == 0 && l["instance"] != "" {
		parts = append(parts, l["instance"])
	}
	return strings.Join(parts, " ")
}
