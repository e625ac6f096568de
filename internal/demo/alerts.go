package demo

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"kscope/deploy"
	"kscope/internal/alerting"
)

// Alerting modes of kscope demo --alerting.
const (
	AlertingAuto = "auto" // when Prometheus and Alertmanager are installed
	AlertingOn   = "on"   // or fail
	AlertingOff  = "off"
)

// DefaultAlertTimeScale shortens the rules' waits for the demo: a `for` of
// 1m waits 2 s, 15m 30 s; Alertmanager's group_wait 30s waits 1 s.
const DefaultAlertTimeScale = 1.0 / 30

// DefaultAlertThresholds are the demo's, where the rules' defaults would
// take too long to see: slowed-down invoicing warns after a minute of
// Append Lag, and pages after ten.
var DefaultAlertThresholds = map[string]float64{"append_lag_warning_seconds": 60, "append_lag_page_seconds": 600}

// AlertingInfo is the demo's Prometheus and Alertmanager, running kscope's
// rules, or why they do not run.
type AlertingInfo struct {
	Prometheus   string `json:"prometheus,omitempty"`
	Alertmanager string `json:"alertmanager,omitempty"`
	// TimeScale multiplies the rules' waits; Thresholds are those the
	// demo sets (the rest are the rules').
	TimeScale  float64            `json:"time_scale,omitempty"`
	Thresholds map[string]float64 `json:"thresholds,omitempty"`
	Off        string             `json:"off,omitempty"`
}

// startAlerting runs Prometheus, scraping the demo's API at target every
// second with kscope's rules, and Alertmanager with the example routes
// and inhibitions (its receivers notify no one), as cfg.Alerting asks.
// The stack is nil when they do not run; info says why.
func startAlerting(ctx context.Context, cfg RunConfig, target string) (*alerting.Stack, AlertingInfo, func(), error) {
	info := AlertingInfo{TimeScale: cmp.Or(cfg.AlertTimeScale, DefaultAlertTimeScale), Thresholds: maps.Clone(DefaultAlertThresholds)}
	maps.Copy(info.Thresholds, cfg.AlertThresholds)
	nothing := func() {}
	switch cfg.Alerting {
	case AlertingOff:
		info.Off = "off (--alerting off)"
		return nil, info, nothing, nil
	case AlertingAuto, AlertingOn, "":
	default:
		return nil, info, nothing, fmt.Errorf("--alerting %s: auto, on or off", cfg.Alerting)
	}
	if _, _, err := alerting.Binaries(); err != nil {
		if cfg.Alerting == AlertingOn {
			return nil, info, nothing, fmt.Errorf("--alerting on: %v", err)
		}
		info.Off = "not running: " + err.Error()
		return nil, info, nothing, nil
	}
	removeStale()
	dir, err := os.MkdirTemp("", stalePrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return nil, info, nothing, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	st, err := alerting.StartStack(ctx, alerting.StackConfig{Target: target, Token: cfg.Token, Every: time.Second, Dir: dir,
		Params: deploy.Params{TimeScale: info.TimeScale, Thresholds: info.Thresholds, Quiet: true}})
	if err != nil {
		cleanup()
		if cfg.Alerting == AlertingOn {
			return nil, info, nothing, err
		}
		info.Off = "not running: " + err.Error()
		return nil, info, nothing, nil
	}
	info.Prometheus, info.Alertmanager = st.Prometheus, st.Alertmanager
	return st, info, func() { st.Close(); cleanup() }, nil
}

// stalePrefix names the directories of the demo's Prometheus and
// Alertmanager, with the demo's pid: "kscope-demo-alerting-PID-...".
const stalePrefix = "kscope-demo-alerting-"

// removeStale removes the directories a killed demo left behind: those
// whose demo no longer runs.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), stalePrefix+"*"))
	for _, d := range dirs {
		pid, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(d), stalePrefix), "-")
		n, err := strconv.Atoi(pid)
		if !ok || err != nil || n <= 0 || syscall.Kill(n, 0) != syscall.ESRCH {
			continue
		}
		os.RemoveAll(d)
	}
}

// thresholdList says the thresholds the demo sets: "append_lag_page_seconds
// 600, append_lag_warning_seconds 60".
func thresholdList(t map[string]float64) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(t)) {
		out = append(out, k+" "+strconv.FormatFloat(t[k], 'g', -1, 64))
	}
	return strings.Join(out, ", ")
}
