package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"kscope/internal/view"
)

// lagWindow is the window [since, until) asked for by v: since defaults
// to the oldest exchange held, until to now.
func lagWindow(v url.Values, now time.Time) (view.Window, error) {
	since, err := parseTime(v.Get("since"), now)
	if err != nil {
		return view.Window{}, lagQueryError("since: " + err.Error())
	}
	until, err := parseTime(v.Get("until"), now)
	if err != nil {
		return view.Window{}, lagQueryError("until: " + err.Error())
	}
	if until.IsZero() {
		until = now
	}
	return view.Window{From: since, To: until}, nil
}

type lagQueryError string

func (e lagQueryError) Error() string { return string(e) }

// latency serves GET /api/v1/latency?topic=&consumer=&producer=&since=&until=:
// view.LatencyView as JSON.
func (s *Server) latency(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	win, err := lagWindow(q, time.Now())
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeLagView(w, view.Latency(view.FromStore(s.store, win, view.LatencyNeeds), view.LatencyFilter{Topic: q.Get("topic"), Consumer: q.Get("consumer"), Producer: q.Get("producer")}))
}

// clients serves GET /api/v1/clients?topic=&client=&group=&since=&until=:
// view.ClientsView as JSON.
func (s *Server) clients(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	win, err := lagWindow(q, time.Now())
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeLagView(w, view.Clients(view.FromStore(s.store, win, view.ClientsNeeds), view.ClientsFilter{Topic: q.Get("topic"), Client: q.Get("client"), Group: q.Get("group")}))
}

func writeLagView(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
