package server

import (
	"net/http"
	"sync/atomic"

	"kscope/internal/alerting"
)

// alertmanager is Config.Alertmanager, or the one SetAlertmanager gave.
type alertmanager struct{ url atomic.Pointer[string] }

// SetAlertmanager is Config.Alertmanager for one started after the server
// (kscope demo's): safe while the server serves.
func (s *Server) SetAlertmanager(url string) { s.am.url.Store(&url) }

// alertRoutes: GET /api/v1/alerts?held=true, what fires now in the
// Alertmanager the agent was given, grouped by severity (kscope alerts,
// the Alerts page).
func (s *Server) alertRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/alerts", s.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		url := s.am.url.Load()
		if url == nil || *url == "" {
			msg := "this kscope agent was given no Alertmanager: start it with --alertmanager http://host:9093, or run kscope alerts --alertmanager http://host:9093"
			if !s.cfg.Span.To.IsZero() {
				msg = "capture files fire no alerts: a kscope agent started with --alertmanager http://host:9093 shows them, or kscope alerts --alertmanager http://host:9093"
			}
			httpError(w, http.StatusServiceUnavailable, msg)
			return
		}
		v, err := alerting.Fetch(r.Context(), *url, r.URL.Query().Get("held") == "true")
		if err != nil {
			httpError(w, http.StatusBadGateway, err.Error())
			return
		}
		writeJSON(w, v)
	})))
}
