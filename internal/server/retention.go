package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"kscope/internal/retention"
)

// RetentionRequest is the body of POST /api/v1/retention/bump and
// /api/v1/retention/set.
type RetentionRequest struct {
	Topic string `json:"topic"`
	// To is the new retention.ms as a duration: "72h", "7d", "unlimited".
	To string `json:"to,omitempty"`
	// Bytes is the new retention.bytes, per partition: "50GiB", or a
	// number of bytes.
	Bytes       Size   `json:"bytes,omitempty"`
	Reason      string `json:"reason"`
	RequestedBy string `json:"requested_by,omitempty"`
	DryRun      bool   `json:"dry_run,omitempty"`
}

// RevertRequest is the body of POST /api/v1/retention/revert.
type RevertRequest struct {
	ID          string `json:"id"`
	Reason      string `json:"reason"`
	RequestedBy string `json:"requested_by,omitempty"`
	DryRun      bool   `json:"dry_run,omitempty"`
}

// RetentionHistory is the answer of GET /api/v1/retention/history.
type RetentionHistory struct {
	Entries []retention.Entry `json:"entries"`
}

// Size is a size in JSON: a string with a unit ("50GiB") or a number.
type Size string

func (s *Size) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err == nil {
		*s = Size(str)
		return nil
	}
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&n); err != nil {
		return errors.New(`bytes: a size such as "50GiB", or a number of bytes`)
	}
	*s = Size(n.String())
	return nil
}

// maxRetentionBody bounds a request's body: a topic, a reason, names.
const maxRetentionBody = 64 << 10

// retentionRoutes are the retention button's endpoints: changes of the
// agent's --cluster, each appended to its audit log.
func (s *Server) retentionRoutes(mux *http.ServeMux) {
	mux.Handle("POST /api/v1/retention/bump", s.auth(s.acting(s.retentionChange(retention.ActionBump))))
	mux.Handle("POST /api/v1/retention/set", s.auth(s.acting(s.retentionChange(retention.ActionSet))))
	mux.Handle("POST /api/v1/retention/revert", s.auth(s.acting(s.withRetention(s.retentionRevert))))
	// GET /api/v1/retention/history?topic=: the audit log.
	mux.Handle("GET /api/v1/retention/history", s.auth(s.withRetention(func(w http.ResponseWriter, r *http.Request, a *retention.Admin) {
		entries, err := a.History(r.URL.Query().Get("topic"))
		if err != nil {
			retentionError(w, err)
			return
		}
		writeJSON(w, RetentionHistory{Entries: entries})
	})))
}

// withRetention serves h with the server's Admin, or says how to get one.
func (s *Server) withRetention(h func(http.ResponseWriter, *http.Request, *retention.Admin)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.retention == nil {
			httpError(w, http.StatusServiceUnavailable, "this kscope agent inspects no cluster, so it changes no retention: start it with --cluster host:port, or run kscope retention with --brokers host:port")
			return
		}
		h(w, r, s.retention)
	})
}

// who is the audit log's who of a request: the token's name.
func (s *Server) who() string {
	if s.cfg.Token == "" {
		return "api:loopback"
	}
	if s.cfg.TokenName == "" {
		return "api:" + DefaultTokenName
	}
	return "api:" + s.cfg.TokenName
}

func (s *Server) retentionChange(action retention.Action) http.Handler {
	return s.withRetention(func(w http.ResponseWriter, r *http.Request, a *retention.Admin) {
		var req RetentionRequest
		if !readBody(w, r, &req) {
			return
		}
		c := retention.Change{Action: action, Topic: req.Topic, Reason: req.Reason, Who: s.who(), RequestedBy: req.RequestedBy, DryRun: req.DryRun}
		var err error
		if req.To != "" {
			if c.Ms, err = retention.ParseDuration(req.To); err != nil {
				httpError(w, http.StatusBadRequest, "to: "+err.Error())
				return
			}
		}
		if req.Bytes != "" {
			if c.Bytes, err = retention.ParseBytes(string(req.Bytes)); err != nil {
				httpError(w, http.StatusBadRequest, "bytes: "+err.Error())
				return
			}
		}
		res, err := a.Apply(r.Context(), c)
		if err != nil {
			retentionError(w, err)
			return
		}
		writeJSON(w, res)
	})
}

func (s *Server) retentionRevert(w http.ResponseWriter, r *http.Request, a *retention.Admin) {
	var req RevertRequest
	if !readBody(w, r, &req) {
		return
	}
	res, err := a.Revert(r.Context(), retention.Revert{ID: req.ID, Reason: req.Reason, Who: s.who(), RequestedBy: req.RequestedBy, DryRun: req.DryRun})
	if err != nil {
		retentionError(w, err)
		return
	}
	writeJSON(w, res)
}

// readBody decodes the JSON body into v, or answers 400.
func readBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRetentionBody))
	// A misspelt field (reson) must not pass for a missing one.
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		httpError(w, http.StatusBadRequest, fmt.Sprintf("the body is not the JSON asked for: %s", strings.TrimPrefix(err.Error(), "json: ")))
		return false
	}
	return true
}

// retentionError answers err with the status of its kind.
func retentionError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, retention.ErrInvalid):
		code = http.StatusBadRequest
	case errors.Is(err, retention.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, retention.ErrRefused):
		code = http.StatusConflict
	case errors.Is(err, retention.ErrDenied):
		code = http.StatusForbidden
	case errors.Is(err, retention.ErrCluster):
		code = http.StatusBadGateway
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		code = http.StatusServiceUnavailable
	}
	httpError(w, code, err.Error())
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
