package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"kscope/internal/exchange"
	"kscope/internal/store"
	"kscope/internal/view"
)

// Limits of GET /api/v1/exchanges.
const (
	DefaultLimit = 1000
	MaxLimit     = 100000
)

// exchangesRequest is what GET /api/v1/exchanges asks for.
type exchangesRequest struct {
	store.Query
	// Follow keeps the response open, streaming new matches.
	Follow bool
	// NoBodies leaves out the whole request and response (bodies=0), for
	// clients that show a table.
	NoBodies bool
}

// exchanges serves GET /api/v1/exchanges as JSON lines: the records that
// match, oldest first, then with follow=1 each new match as it is added
// until the client goes away.
func (s *Server) exchanges(w http.ResponseWriter, r *http.Request) {
	req, err := parseQuery(r.URL.Query(), s.now())
	q, follow := req.Query, req.Follow
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	rc := http.NewResponseController(w)
	if !follow {
		// The only write deadline: following has none.
		rc.SetWriteDeadline(time.Now().Add(time.Minute))
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	recs, through := s.store.Query(q)
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	write := func(recs []store.Record) error {
		for i := range recs {
			if req.NoBodies {
				recs[i].Request, recs[i].Response = exchange.Body{}, exchange.Body{}
			}
			if err := enc.Encode(recs[i]); err != nil {
				return err
			}
		}
		return bw.Flush()
	}
	if err := write(recs); err != nil || !follow {
		return
	}
	// Headers go now, even with nothing matched yet, so that the client
	// knows it is following.
	if err := rc.Flush(); err != nil {
		return
	}
	ctx := r.Context()
	next := q
	next.Limit = MaxLimit
	next.AfterSeq = through
	for {
		if err := s.store.Wait(ctx, next.AfterSeq); err != nil {
			return
		}
		recs, through := s.store.Query(next)
		if err := write(recs); err != nil {
			return
		}
		if len(recs) > 0 {
			if err := rc.Flush(); err != nil {
				return
			}
		}
		next.AfterSeq = through
	}
}

// parseQuery reads the query parameters of /api/v1/exchanges. Lists may
// be repeated or comma-separated; since and until are RFC 3339 times or
// durations before now.
func parseQuery(v url.Values, now time.Time) (exchangesRequest, error) {
	var req exchangesRequest
	q := &req.Query
	q.Filter.APIs = list(v, "api")
	q.Filter.Topics = list(v, "topic")
	q.Filter.Clients = list(v, "client")
	q.Filter.Processes = list(v, "process")
	for _, side := range list(v, "side") {
		switch {
		case q.Filter.Side == "":
			q.Filter.Side = side
		case q.Filter.Side != side:
			// Both sides: everything.
			q.Filter.Side = "any"
		}
	}
	if q.Filter.Side == "any" {
		q.Filter.Side = ""
	}
	if s := v.Get("errors"); s != "" {
		on, err := strconv.ParseBool(s)
		if err != nil {
			return req, fmt.Errorf("errors %q: use 1 for the failed exchanges only", s)
		}
		q.Filter.Errors = on
	}
	if err := q.Filter.Validate(); err != nil {
		return req, err
	}
	if s := v.Get("min_latency"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return req, fmt.Errorf("min_latency %q: use a duration such as 50ms", s)
		}
		q.Filter.MinLatency = d
	}
	var err error
	if q.Since, err = view.ParseTime(v.Get("since"), now); err != nil {
		return req, fmt.Errorf("since: %w", err)
	}
	if q.Until, err = view.ParseTime(v.Get("until"), now); err != nil {
		return req, fmt.Errorf("until: %w", err)
	}
	q.Limit = DefaultLimit
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || n > MaxLimit {
			return req, fmt.Errorf("limit %q: use a number from 1 to %d", s, MaxLimit)
		}
		q.Limit = n
	}
	if s := v.Get("after"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return req, fmt.Errorf("after %q: use a sequence number", s)
		}
		q.AfterSeq = n
	}
	for _, b := range []struct {
		key  string
		dst  *bool
		flip bool
	}{{"follow", &req.Follow, false}, {"bodies", &req.NoBodies, true}} {
		if s := v.Get(b.key); s != "" {
			on, err := strconv.ParseBool(s)
			if err != nil {
				return req, fmt.Errorf("%s %q: use 1 or 0", b.key, s)
			}
			*b.dst = on != b.flip
		}
	}
	return req, nil
}

func list(v url.Values, key string) []string {
	var out []string
	for _, s := range v[key] {
		for part := range strings.SplitSeq(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}
