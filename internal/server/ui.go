package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"kscope/internal/web"
)

// The web console's session: a browser cannot send the bearer header on
// page loads, so with a token the login form trades it for a cookie.
const (
	sessionCookie = "kscope_session"
	// SessionLifetime is how long a login lasts.
	SessionLifetime = 7 * 24 * time.Hour
)

// uiRoutes mounts the web console (package web) at / and lets its session
// cookie stand for the bearer token everywhere. It becomes the server's
// handler: call it once mux holds every route.
func (s *Server) uiRoutes(mux *http.ServeMux) error {
	opts := web.Options{Logout: s.cfg.Token != ""}
	if s.cfg.ReadOnly {
		opts.Source = "capture files, read-only: the time range counts back from the capture's end"
	}
	ui, err := web.New(opts)
	if err != nil {
		return err
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			s.toLogin(w, r)
			return
		}
		ui.Redirect(w, r)
	})
	for _, name := range ui.Pages() {
		mux.HandleFunc("GET /"+name, func(w http.ResponseWriter, r *http.Request) {
			if !s.authorized(r) {
				s.toLogin(w, r)
				return
			}
			ui.ServePage(w, r, name)
		})
	}
	// Static files are the same for everyone (the login form's style
	// too): no token.
	mux.HandleFunc("GET /static/", ui.ServeStatic)
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Token == "" {
			web.SetHeaders(w)
			http.Redirect(w, r, "/", http.StatusFound)
			return
		}
		ui.ServeLogin(w, web.LoginData{Next: localPath(r.URL.Query().Get("next"))}, http.StatusOK)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		next := localPath(r.PostFormValue("next"))
		if s.cfg.Token == "" {
			web.SetHeaders(w)
			http.Redirect(w, r, next, http.StatusSeeOther)
			return
		}
		if !s.tokenMatches(r.PostFormValue("token")) {
			ui.ServeLogin(w, web.LoginData{Next: next, Message: "That is not this agent's token."}, http.StatusUnauthorized)
			return
		}
		exp := time.Now().Add(SessionLifetime)
		http.SetCookie(w, &http.Cookie{
			Name:     sessionCookie,
			Value:    s.session(exp),
			Path:     "/",
			Expires:  exp,
			MaxAge:   int(SessionLifetime / time.Second),
			HttpOnly: true,
			Secure:   r.TLS != nil,
			SameSite: http.SameSiteStrictMode,
		})
		web.SetHeaders(w)
		http.Redirect(w, r, next, http.StatusSeeOther)
	})
	mux.HandleFunc("GET /logout", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1, HttpOnly: true,
			Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
		web.SetHeaders(w)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
	s.handler = s.guardOrigin(s.withSession(mux))
	return nil
}

// withSession lets a valid session cookie stand for the bearer token, so
// that the API's own check (auth) passes for the console's fetches.
func (s *Server) withSession(h http.Handler) http.Handler {
	if s.cfg.Token == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" && s.validSession(r) {
			r = r.Clone(r.Context())
			r.Header.Set("Authorization", "Bearer "+s.cfg.Token)
		}
		h.ServeHTTP(w, r)
	})
}

// authorized reports whether r may see a page: no token configured, or the
// token as bearer header or session cookie (withSession turned the one
// into the other).
func (s *Server) authorized(r *http.Request) bool {
	if s.cfg.Token == "" {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && s.tokenMatches(got)
}

func (s *Server) tokenMatches(got string) bool {
	// Comparing digests keeps the comparison constant-time in the
	// token's length too.
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(s.cfg.Token))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// toLogin sends a browser to the login form, to come back to the page it
// asked for.
func (s *Server) toLogin(w http.ResponseWriter, r *http.Request) {
	web.SetHeaders(w)
	http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
}

// session is the cookie's value for a session ending at exp: the expiry
// and an HMAC of it keyed by the token, so that the cookie is not the
// token, ends by itself, and ends when the token changes.
func (s *Server) session(exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	return e + "." + s.sessionMAC(e)
}

func (s *Server) sessionMAC(exp string) string {
	key := sha256.Sum256([]byte("kscope session key\x00" + s.cfg.Token))
	m := hmac.New(sha256.New, key[:])
	fmt.Fprintf(m, "kscope session\x00%s", exp)
	return hex.EncodeToString(m.Sum(nil))
}

func (s *Server) validSession(r *http.Request) bool {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return false
	}
	e, mac, ok := strings.Cut(c.Value, ".")
	if !ok {
		return false
	}
	exp, err := strconv.ParseInt(e, 10, 64)
	if err != nil || time.Now().Unix() >= exp {
		return false
	}
	return hmac.Equal([]byte(mac), []byte(s.sessionMAC(e)))
}

// localPath is next when it is a path on this site, else "/": the login
// form must not send anyone elsewhere.
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return next
}
