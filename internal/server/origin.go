package server

import (
	"net/http"
	"net/url"
	"strings"
)

// A browser on this machine reaches a loopback agent too: a page from
// another site may send it requests (cross-site writes need no token on a
// loopback agent without one), or resolve its own name to 127.0.0.1 (DNS
// rebinding) to read the answers. guardOrigin refuses both: on a loopback
// listener the Host must be a loopback name, and any request that changes
// something must come from the console itself or from no browser at all.
func (s *Server) guardOrigin(h http.Handler) http.Handler {
	loopback := isLoopback(s.cfg.Listen)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if loopback && !isLoopback(r.Host) {
			httpError(w, http.StatusMisdirectedRequest, "this kscope agent listens on loopback and answers only to a loopback name (127.0.0.1, localhost, [::1]), not "+r.Host)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && crossSite(r) {
			httpError(w, http.StatusForbidden, "a request from another site may not change anything here")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// crossSite reports whether a browser sent r from another origin: by
// Sec-Fetch-Site where the browser sends it, else by Origin. A request
// without either (curl, kscope itself) is no browser's.
func crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return false
	case "":
	default:
		return true
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return false
	}
	u, err := url.Parse(o)
	return err != nil || !strings.EqualFold(u.Host, r.Host)
}
