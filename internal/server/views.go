package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"kscope/internal/inspect"
	"kscope/internal/view"
)

// DefaultOverviewSince is the window of GET /api/v1/overview without since.
const DefaultOverviewSince = 5 * time.Minute

// viewHandler serves a view over the store: the window from since (or
// defaultSince before now; zero: from the store's first exchange; all of
// Config.Span when set) to until (default now), its input read as needs
// says, computed by compute, as JSON.
func viewHandler[V any](s *Server, defaultSince time.Duration, needs func(url.Values) view.Needs, compute func(view.Input, url.Values) V) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		win, err := s.window(q, defaultSince)
		if err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		v := compute(view.FromStore(s.store, win, needs(q)), q)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(v)
	}
}

// window is the window since and until ask for: queryWindow, counted
// back from the end of Config.Span when set, which is also the default
// window then. A window reaching before the span starts with it: charts
// of a short capture get their points over the capture, not over the
// empty time before it.
func (s *Server) window(q url.Values, defaultSince time.Duration) (view.Window, error) {
	if s.cfg.Span.To.IsZero() {
		return queryWindow(q, time.Now(), defaultSince)
	}
	w, err := queryWindow(q, s.cfg.Span.To, 0)
	if err == nil && w.From.Before(s.cfg.Span.From) && w.To.After(s.cfg.Span.From) {
		w.From = s.cfg.Span.From
	}
	return w, err
}

// queryWindow is the window since and until ask for: each an RFC 3339 time
// or a duration before now.
func queryWindow(q url.Values, now time.Time, defaultSince time.Duration) (view.Window, error) {
	w := view.Window{To: now}
	if defaultSince > 0 {
		w.From = now.Add(-defaultSince)
	}
	for _, b := range []struct {
		key string
		dst *time.Time
	}{{"since", &w.From}, {"until", &w.To}} {
		t, err := view.ParseTime(q.Get(b.key), now)
		if err != nil {
			return w, &queryError{b.key + ": " + err.Error()}
		}
		if !t.IsZero() {
			*b.dst = t
		}
	}
	if !w.From.IsZero() && !w.From.Before(w.To) {
		return w, &queryError{"since must be before until"}
	}
	return w, nil
}

type queryError struct{ msg string }

func (e *queryError) Error() string { return e.msg }

func fixed(n view.Needs) func(url.Values) view.Needs {
	return func(url.Values) view.Needs { return n }
}

// The view endpoints, each the JSON of its view (see package view).
func (s *Server) viewRoutes(mux *http.ServeMux) {
	// GET /api/v1/overview?topic=&since=&until=: the topic flow graph and
	// its tables; topic (repeatable or comma-separated) narrows it.
	mux.Handle("GET /api/v1/overview", s.auth(s.traffic(viewHandler(s, DefaultOverviewSince,
		func(q url.Values) view.Needs { return overviewFilter(q).Needs() },
		func(in view.Input, q url.Values) view.OverviewView { return view.Overview(in, overviewFilter(q)) }))))
	// GET /api/v1/rebalances?group=&since=&until=: groups, rebalances and
	// their events.
	mux.Handle("GET /api/v1/rebalances", s.auth(s.traffic(viewHandler(s, 0, fixed(view.RebalancesNeeds),
		func(in view.Input, q url.Values) view.Rebalances {
			return view.RebalancesOf(in, view.RebalanceFilter{Group: q.Get("group")})
		}))))
	// GET /api/v1/latency?topic=&consumer=&producer=&since=&until=.
	mux.Handle("GET /api/v1/latency", s.auth(s.traffic(viewHandler(s, 0, fixed(view.LatencyNeeds),
		func(in view.Input, q url.Values) view.LatencyView {
			return view.Latency(in, view.LatencyFilter{Topic: q.Get("topic"), Consumer: q.Get("consumer"), Producer: q.Get("producer")})
		}))))
	// GET /api/v1/lag?group=&topic=&warn=&error=&since=&until=: consumer
	// lag from the cluster inspector's polls.
	lag := viewHandler(s, s.cfg.lagSince(), fixed(view.LagNeeds),
		func(in view.Input, q url.Values) view.LagView {
			f, _ := lagFilter(q) // checked below
			return view.Lag(in, f)
		})
	mux.Handle("GET /api/v1/lag", s.auth(s.inspecting(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := lagFilter(r.URL.Query()); err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		lag(w, r)
	}))))
	// GET /api/v1/health?tier=&topic=&all=&since=&until=: replication
	// tiers, brokers, racks, retention and the events of the cluster
	// inspector's polls, with each broker's and topic's traffic.
	health := viewHandler(s, DefaultHealthSince, fixed(view.HealthNeeds),
		func(in view.Input, q url.Values) view.HealthView {
			h := view.Health(in, healthFilter(q))
			// Transactions open past their timeout, from the traffic.
			view.AddTransactionFindings(&h, view.Transactions(view.FromStore(s.store, in.Window, view.TransactionsNeeds), view.TransactionsFilter{}))
			return h
		})
	mux.Handle("GET /api/v1/health", s.auth(s.inspecting(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if t := r.URL.Query().Get("tier"); t != "" && !slices.Contains(inspect.Tiers, t) {
			httpError(w, http.StatusBadRequest, "tier: one of "+strings.Join(inspect.Tiers, ", "))
			return
		}
		health(w, r)
	}))))
	// GET /api/v1/clients?topic=&client=&group=&since=&until=.
	mux.Handle("GET /api/v1/clients", s.auth(s.traffic(viewHandler(s, 0, fixed(view.ClientsNeeds),
		func(in view.Input, q url.Values) view.ClientsView {
			return view.Clients(in, view.ClientsFilter{Topic: q.Get("topic"), Client: q.Get("client"), Group: q.Get("group")})
		}))))
}

// DefaultLagSince is the window of GET /api/v1/lag without since, at
// least: the polls of the last five minutes, of which the last ten judge
// statuses (longer when ten polls take longer: Config.PollInterval).
const DefaultLagSince = 5 * time.Minute

// lagFilter reads group, topic and the Append Lag thresholds warn and
// error (durations).
func lagFilter(q url.Values) (view.LagFilter, error) {
	f := view.LagFilter{Group: q.Get("group"), Topic: q.Get("topic")}
	for _, x := range []struct {
		key string
		dst *time.Duration
	}{{"warn", &f.WarnAfter}, {"error", &f.ErrorAfter}} {
		if s := q.Get(x.key); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				return f, &queryError{x.key + ": use a duration such as 1m"}
			}
			*x.dst = d
		}
	}
	return f, nil
}

func overviewFilter(q url.Values) view.OverviewFilter {
	return view.OverviewFilter{Topics: list(q, "topic")}
}

// inspecting answers 503 when no inspector feeds the store, saying how to
// start one, instead of an empty view that would read as a healthy
// cluster.
func (s *Server) inspecting(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.cfg.Inspecting {
			// /api/v1/lag and /api/v1/history/lag: kscope lag.
			run := "kscope " + r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:] + " --brokers host:port"
			msg := "this kscope agent inspects no cluster: start it with --cluster host:port, or run " + run
			if !s.cfg.Span.To.IsZero() {
				msg = "capture files hold no cluster state: run kscope agent with --cluster host:port, or " + run
			}
			httpError(w, http.StatusServiceUnavailable, msg)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// DefaultHealthSince is the window of GET /api/v1/health without since:
// the events and elections of the polls of the last hour.
const DefaultHealthSince = time.Hour

func healthFilter(q url.Values) view.HealthFilter {
	all, _ := strconv.ParseBool(q.Get("all"))
	return view.HealthFilter{Tier: q.Get("tier"), Topic: q.Get("topic"), All: all}
}
