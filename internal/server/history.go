package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"kscope/internal/view"
)

// Defaults of the history endpoints' windows.
const (
	DefaultRequestHistorySince = 15 * time.Minute
	DefaultLagHistorySince     = time.Hour
	DefaultDelayHistorySince   = 15 * time.Minute
)

// historyRoutes serves the views over time the web UI charts.
func (s *Server) historyRoutes(mux *http.ServeMux) {
	// GET /api/v1/history/requests?since=&until=&step=: request counts,
	// errors and latency quantiles per API and broker, one point per
	// step (default: about 60 points).
	mux.Handle("GET /api/v1/history/requests", s.auth(s.traffic(s.overTime(DefaultRequestHistorySince,
		func(win view.Window, step time.Duration, steps []view.Input, _ url.Values) any {
			return view.RequestsOverTime(win, step, steps)
		}))))
	// GET /api/v1/history/delay?since=&until=&step=&topic=&consumer=:
	// producer -> consumer delay per consumer, topic and partition, one
	// point per step, from the overview's parts: it lasts as long as
	// they do, where /api/v1/latency lasts as long as the exchanges.
	mux.Handle("GET /api/v1/history/delay", s.auth(s.traffic(s.overTime(DefaultDelayHistorySince,
		func(win view.Window, step time.Duration, steps []view.Input, q url.Values) any {
			return view.DelayOverTime(win, step, steps, view.DelayHistoryFilter{Topic: q.Get("topic"), Consumer: q.Get("consumer")})
		}))))
	// GET /api/v1/history/lag?since=&until=&group=&topic=&offset=&limit=&points=:
	// each group's lag over the inspector's polls, worst first, a page
	// at a time; with group, its partitions too. Polls whose snapshots
	// the store dropped come from its lag series (each poll for the last
	// minutes, then one point a minute), which the answer's
	// resolution_seconds tells.
	mux.Handle("GET /api/v1/history/lag", s.auth(s.inspecting(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		win, err := s.window(q, DefaultLagHistorySince)
		if err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		f := view.LagHistoryFilter{Group: q.Get("group"), Topic: q.Get("topic")}
		for _, x := range []struct {
			key string
			dst *int
		}{{"offset", &f.Offset}, {"limit", &f.Limit}, {"points", &f.Points}} {
			if v := q.Get(x.key); v != "" {
				if *x.dst, err = strconv.Atoi(v); err != nil || *x.dst < 0 {
					httpError(w, http.StatusBadRequest, x.key+": a number, 0 or more")
					return
				}
			}
		}
		writeView(w, view.LagOverStore(s.store, win, f))
	}))))
}

func writeView(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}

// overTime serves a history over the store's parts: the window of since
// and until (defaultSince back by default) cut into steps (step, default
// about 60 points), aligned to the parts and never finer than the
// coarsest held (a minute already rolled up is one point, not one full
// point among five empty ones), each step's input read from the store
// and handed to compute.
func (s *Server) overTime(defaultSince time.Duration, compute func(view.Window, time.Duration, []view.Input, url.Values) any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		win, err := s.window(q, defaultSince)
		if err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		var step time.Duration
		if v := q.Get("step"); v != "" {
			if step, err = time.ParseDuration(v); err != nil || step <= 0 {
				httpError(w, http.StatusBadRequest, "step: use a duration such as 10s")
				return
			}
		}
		if win.From.IsZero() {
			win.From = s.store.Stats().FirstSeen
		}
		ws, step := view.StoreSteps(s.store, win, view.HistoryStep(win, step))
		steps := make([]view.Input, len(ws))
		for i, sw := range ws {
			steps[i] = view.FromStore(s.store, sw, view.Needs{Parts: true})
		}
		writeView(w, compute(win, step, steps, q))
	}
}
