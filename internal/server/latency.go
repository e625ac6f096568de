package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/exchange"
	"kscope/internal/store"
	"kscope/internal/view"
)

// lagAPIs are the exchanges the latency and clients views read: Produce
// feeds the offset index, Fetch and OffsetCommit give lag, the group APIs
// name each consumer's group.
var lagAPIs = []string{kmsg.Produce.Name(), kmsg.Fetch.Name(), kmsg.OffsetCommit.Name(), kmsg.OffsetFetch.Name(), kmsg.JoinGroup.Name(),
	kmsg.SyncGroup.Name(), kmsg.Heartbeat.Name(), kmsg.LeaveGroup.Name(), kmsg.ConsumerGroupHeartbeat.Name()}

// lagExchanges returns the held exchanges the latency and clients views
// need, all of them (Produce before the window too: the offset index
// learns from it), and the window [since, until) asked for by v (since
// defaults to the oldest held exchange, until to now).
func (s *Server) lagExchanges(v url.Values, now time.Time) ([]exchange.Exchange, view.Window, error) {
	since, err := parseTime(v.Get("since"), now)
	if err != nil {
		return nil, view.Window{}, lagQueryError("since: " + err.Error())
	}
	until, err := parseTime(v.Get("until"), now)
	if err != nil {
		return nil, view.Window{}, lagQueryError("until: " + err.Error())
	}
	recs, _ := s.store.Query(store.Query{Filter: exchange.Filter{APIs: lagAPIs}, Until: until})
	xs := make([]exchange.Exchange, len(recs))
	for i := range recs {
		xs[i] = recs[i].Exchange
	}
	w := view.Window{From: since, To: until}
	if w.To.IsZero() {
		w.To = now
	}
	if w.From.IsZero() {
		w.From = view.WindowOf(xs).From
		if w.From.IsZero() {
			w.From = w.To
		}
	}
	return xs, w, nil
}

type lagQueryError string

func (e lagQueryError) Error() string { return string(e) }

// latency serves GET /api/v1/latency?topic=&consumer=&producer=&since=&until=:
// view.LatencyView as JSON.
func (s *Server) latency(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	xs, win, err := s.lagExchanges(q, time.Now())
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeLagView(w, view.Latency(xs, win, view.LatencyFilter{Topic: q.Get("topic"), Consumer: q.Get("consumer"), Producer: q.Get("producer")}))
}

// clients serves GET /api/v1/clients?topic=&client=&group=&since=&until=:
// view.ClientsView as JSON.
func (s *Server) clients(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	xs, win, err := s.lagExchanges(q, time.Now())
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeLagView(w, view.Clients(xs, win, view.ClientsFilter{Topic: q.Get("topic"), Client: q.Get("client"), Group: q.Get("group")}))
}

func writeLagView(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
