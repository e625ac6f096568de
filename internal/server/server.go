// Package server serves the agent's HTTP API: exchanges as JSON lines
// (with following), stats, Prometheus metrics and a health check. It reads
// from the store and never computes views of its own; the one change it
// makes, retention's, goes through package retention, which audits it.
//
// Remote access is always authenticated: it refuses to listen beyond
// loopback without a token.
package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"kscope/internal/retention"
	"kscope/internal/store"
	"kscope/internal/view"
)

// DefaultListen is where the API listens when Config.Listen is empty.
const DefaultListen = "127.0.0.1:7070"

// Config configures the server.
type Config struct {
	// Listen is host:port (DefaultListen when empty). Beyond loopback a
	// Token is required.
	Listen string
	// Token, when set, is required as "Authorization: Bearer TOKEN" on
	// every endpoint but /healthz.
	Token string
	// TokenName names the token in the retention audit log: changes made
	// through the API are "api:" and this name (DefaultTokenName when
	// empty), or "api:loopback" without a token.
	TokenName string
	// Retention, when set, changes the retention of the cluster the
	// agent inspects (/api/v1/retention/...), logging each change to its
	// audit log; without it those endpoints say how to start one. The
	// caller closes it.
	Retention *retention.Admin
	// NoTraffic, when set, says why nothing is traced (kscope demo
	// --no-trace): the endpoints that show traffic answer it with 503
	// instead of empty views that would read as "no Kafka traffic".
	NoTraffic string
	// Inspecting says that a cluster inspector feeds the store with
	// snapshots (kscope agent --cluster): without one, the lag endpoint
	// says how to start one. PollInterval is its interval: the lag's
	// default window holds view.LagWindow polls.
	Inspecting   bool
	PollInterval time.Duration
	// Alertmanager is the Alertmanager whose alerts /api/v1/alerts and
	// the Alerts page show (kscope agent --alertmanager).
	Alertmanager string
	// MetricsClientIDs exports the traffic counters per client id too
	// (metrics.ClientIDsFlag): opt-in, since clients may make up a new
	// client id at each start.
	MetricsClientIDs bool
	// ReadOnly serves what the store holds and changes nothing (kscope
	// analyze --ui): the endpoints that act (retention, the demo's
	// controls) refuse with 403 and say so.
	ReadOnly bool
	// Span, when set, is the time the store's exchanges cover (capture
	// files'): its end stands for now, so that "since=15m" counts back
	// from the capture's end, and the views' default window is all of
	// it rather than the minutes before the clock's now, which hold
	// nothing.
	Span view.Window
}

// Server is the HTTP API over a store.
type Server struct {
	cfg      Config
	store    *store.Store
	stats    func() any
	registry *prometheus.Registry
	mux      *http.ServeMux
	handler  http.Handler
	// retention is Config.Retention, or the one SetRetention gave
	// before Serve.
	retention *retention.Admin
	am        alertmanager
}

// DefaultTokenName is the token's name in the audit log when
// Config.TokenName is empty: "api:default".
const DefaultTokenName = "default"

// New checks cfg and returns a server over st. stats, when not nil,
// returns what /api/v1/stats shows beside the store's own stats (capture
// and decoder counters).
func New(cfg Config, st *store.Store, stats func() any) (*Server, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if !isLoopback(cfg.Listen) && cfg.Token == "" {
		return nil, fmt.Errorf("listening on %s needs --token: remote access must be authenticated", cfg.Listen)
	}
	s := &Server{cfg: cfg, store: st, stats: stats, registry: prometheus.NewRegistry(), retention: cfg.Retention}
	// From now on the store keeps the overview's per-second parts and
	// feeds the traffic counters.
	view.KeepParts(st)
	s.registry.MustRegister(
		storeCollector{st},
		newTrafficCollector(st, cfg.MetricsClientIDs),
		newLagCollector(st),
		newClusterCollector(st, cfg.lagSince()),
		&healthCollector{store: st},
		newRebalanceCollector(st),
		newTxnCollector(st),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET /api/v1/exchanges", s.auth(s.traffic(s.exchanges)))
	mux.Handle("GET /api/v1/stats", s.auth(http.HandlerFunc(s.statsHandler)))
	s.viewRoutes(mux)
	s.transactionRoutes(mux)
	s.historyRoutes(mux)
	s.retentionRoutes(mux)
	s.alertRoutes(mux)
	s.SetAlertmanager(cfg.Alertmanager)
	mux.Handle("GET /metrics", s.auth(promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})))
	s.mux = mux
	s.handler = mux
	// The web console at /: last, since its session wraps every route.
	if err := s.uiRoutes(mux); err != nil {
		return nil, err
	}
	return s, nil
}

// Handle serves h at pattern (as http.ServeMux takes it), behind the same
// token as the rest of the API: kscope demo's controls.
func (s *Server) Handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, s.auth(s.acting(h)))
}

// acting serves h, an endpoint that changes something when asked with
// any method but GET and HEAD, unless the server is read-only.
func (s *Server) acting(h http.Handler) http.Handler {
	if !s.cfg.ReadOnly {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			httpError(w, http.StatusForbidden, "this kscope serves capture files read-only (kscope analyze --ui): it changes nothing; ask a kscope agent started with --cluster host:port")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// now is the clock the API's windows count back from: the end of
// Config.Span when set.
func (s *Server) now() time.Time {
	if !s.cfg.Span.To.IsZero() {
		return s.cfg.Span.To
	}
	return time.Now()
}

// SetRetention is Config.Retention for a cluster started after the server
// (kscope demo's): call it before Serve.
func (s *Server) SetRetention(a *retention.Admin) { s.retention = a }

// traffic serves h, or, when nothing is traced, says so.
func (s *Server) traffic(h http.HandlerFunc) http.Handler {
	if s.cfg.NoTraffic == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpError(w, http.StatusServiceUnavailable, s.cfg.NoTraffic)
	})
}

// Register adds a collector to /metrics (the agent's capture and decoder
// counters).
func (s *Server) Register(c prometheus.Collector) error {
	return s.registry.Register(c)
}

// Handler serves the API.
func (s *Server) Handler() http.Handler { return s.handler }

// Run listens on the configured address and serves until ctx ends, then
// shuts down: streaming requests end at once, others get 5 seconds.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on a listener of the caller's (tests listen on port 0).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// No WriteTimeout: following streams for as long as the client
		// stays. Requests derive from ctx, so following ends with it.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("api: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := hs.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("api shutdown: %w", err)
	}
	return nil
}

// auth requires the bearer token when one is configured.
func (s *Server) auth(h http.Handler) http.Handler {
	if s.cfg.Token == "" {
		return h
	}
	want := sha256.Sum256([]byte(s.cfg.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		// Comparing digests keeps the comparison constant-time in the
		// token's length too.
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kscope"`)
			httpError(w, http.StatusUnauthorized, "this kscope agent needs a token: pass --token or set KSCOPE_TOKEN")
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) statsHandler(w http.ResponseWriter, r *http.Request) {
	out := struct {
		Agent any         `json:"agent,omitempty"`
		Store store.Stats `json:"store"`
	}{Store: s.store.Stats()}
	if s.stats != nil {
		out.Agent = s.stats()
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(out)
}

// httpError answers {"error": msg}: one line a person can act on.
func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// isLoopback reports whether listening on addr (host:port) is reachable
// from this machine only. An empty host listens everywhere; other host
// names count as remote.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// lagSince is the lag's default window: five minutes, or view.LagWindow
// polls and one more when they take longer.
func (c Config) lagSince() time.Duration {
	return max(DefaultLagSince, time.Duration(view.LagWindow+1)*c.PollInterval)
}
