package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"kscope/internal/alerting"
	"kscope/internal/store"
)

// amAlerts is what Alertmanager's API v2 answers: a page, a warning, and a
// warning the page holds back.
const amAlerts = `[
 {"labels":{"alertname":"KafkaPartitionUnderMinISR","severity":"page","tier":"under-min-isr","topic":"order","partition":"3","job":"kscope"},
  "annotations":{"summary":"order/3 is under min.insync.replicas","runbook_url":"README.md#kafkapartitionunderminisr"},
  "startsAt":"2026-11-30T10:00:00Z","fingerprint":"a1","receivers":[{"name":"kafka-oncall"},{"name":"kafka-team"}],
  "status":{"state":"active","inhibitedBy":[],"silencedBy":[]}},
 {"labels":{"alertname":"KafkaReplicaOutOfSync","severity":"warning","tier":"under-replicated","topic":"order","partition":"3","broker":"2","job":"kscope"},
  "annotations":{"summary":"broker 2's replica of order/3 is out of the ISR"},
  "startsAt":"2026-11-30T09:59:00Z","fingerprint":"b2","receivers":[{"name":"kafka-team"}],
  "status":{"state":"suppressed","inhibitedBy":["a1"],"silencedBy":[]}},
 {"labels":{"alertname":"KafkaBrokerDown","severity":"warning","broker":"2","job":"kscope"},
  "annotations":{"summary":"broker 2 is down"},
  "startsAt":"2026-11-30T09:58:00Z","fingerprint":"c3","receivers":[{"name":"kafka-team"}],
  "status":{"state":"active","inhibitedBy":[],"silencedBy":[]}}
]`

// TestAlertsEndpoint: without an Alertmanager the endpoint says how to give
// one; with one, its alerts grouped by severity, page first, the held one
// only when asked for and named by what holds it; an Alertmanager that
// does not answer is a 502 that says so.
func TestAlertsEndpoint(t *testing.T) {
	ts := newServer(t, Config{}, store.New(store.Config{}))
	if resp, body := get(t, ts.URL+"/api/v1/alerts", ""); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "--alertmanager") {
		t.Errorf("without an Alertmanager: %d %s", resp.StatusCode, body)
	}
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v2/alerts" || r.URL.Query().Get("inhibited") != "true" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(amAlerts))
	}))
	defer am.Close()
	ts = newServer(t, Config{Alertmanager: am.URL}, store.New(store.Config{}))
	for _, held := range []bool{false, true} {
		q := ""
		if held {
			q = "?held=true"
		}
		resp, body := get(t, ts.URL+"/api/v1/alerts"+q, "")
		var v alerting.View
		if err := json.Unmarshal([]byte(body), &v); resp.StatusCode != http.StatusOK || err != nil {
			t.Fatalf("%d %s %v", resp.StatusCode, body, err)
		}
		if v.Firing != 2 || v.Held != 1 || len(v.Severities) != 2 || v.Severities[0].Severity != "page" || v.Severities[0].Alerts[0].Subject != "order/3" {
			t.Errorf("held=%v: %s", held, body)
			continue
		}
		warnings := v.Severities[1].Alerts
		if !held && (len(warnings) != 1 || warnings[0].Name != "KafkaBrokerDown") {
			t.Errorf("the held alert is shown unasked: %+v", warnings)
		}
		if held && (len(warnings) != 2 || warnings[1].State != "suppressed" || strings.Join(warnings[1].InhibitedBy, ",") != "KafkaPartitionUnderMinISR order/3") {
			t.Errorf("the held alert: %+v", warnings)
		}
	}
	am.Close()
	if resp, body := get(t, ts.URL+"/api/v1/alerts", ""); resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "cannot reach Alertmanager") {
		t.Errorf("Alertmanager gone: %d %s", resp.StatusCode, body)
	}
}
