// Package web is kscope's web console: the pages, their layout and their
// static files, embedded in the binary. It renders and serves; it never
// reads the store or decides who may see a page: the pages fetch the JSON
// API, and package server puts both behind the same token.
//
// No Node.js at build time and no other origin at run time: plain ES
// modules, a few vendored libraries (static/vendor, each with its license
// and version) and a Content-Security-Policy that forbids inline script
// and every other origin.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"
)

//go:embed templates static
var files embed.FS

// CSP is the Content-Security-Policy of every UI response: scripts, styles,
// fonts and fetches from this origin only, no inline script or style, no
// framing.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// navOrder orders the header's links; pages not named here follow in
// alphabetical order.
var navOrder = []string{"overview", "latency", "consumers", "rebalances", "transactions", "events", "cluster", "alerts"}

// Options changes what the layout shows.
type Options struct {
	// Logout shows a logout link (a token protects the pages).
	Logout bool
	// Source, when set, says what the pages show instead of live traffic
	// (kscope analyze --ui: "capture.pcap, read-only").
	Source string
}

// UI serves the pages and static files.
type UI struct {
	opts  Options
	pages map[string]*template.Template
	names []string
	login *template.Template
	// etags of the static files, by path under static/.
	etags map[string]string
}

// New parses the embedded templates: one page per templates/NAME.html but
// layout.html and login.html.
func New(opts Options) (*UI, error) {
	u := &UI{opts: opts, pages: map[string]*template.Template{}, etags: map[string]string{}}
	layout, err := template.ParseFS(files, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	entries, err := fs.ReadDir(files, "templates")
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".html")
		if !ok || name == "layout" || name == "login" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(files, "templates/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("web: page %s: %w", name, err)
		}
		u.pages[name] = t
		u.names = append(u.names, name)
	}
	slices.SortFunc(u.names, func(a, b string) int {
		ia, ib := navRank(a), navRank(b)
		if ia != ib {
			return ia - ib
		}
		return strings.Compare(a, b)
	})
	if u.login, err = template.ParseFS(files, "templates/login.html"); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	err = fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		u.etags[p] = `"` + hex.EncodeToString(sum[:8]) + `"`
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	return u, nil
}

func navRank(name string) int {
	if i := slices.Index(navOrder, name); i >= 0 {
		return i
	}
	return len(navOrder)
}

// Pages are the pages' names, in the header's order: each served at
// /NAME.
func (u *UI) Pages() []string { return slices.Clone(u.names) }

// SetHeaders sets the headers of every UI response: the CSP and its
// companions.
func SetHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

type navLink struct {
	Name, Label string
	Current     bool
}

type pageData struct {
	Page   string
	Nav    []navLink
	Logout bool
	Source string
}

// ServePage renders page name (one of Pages) in the layout.
func (u *UI) ServePage(w http.ResponseWriter, r *http.Request, name string) {
	t, ok := u.pages[name]
	if !ok {
		SetHeaders(w)
		http.NotFound(w, r)
		return
	}
	d := pageData{Page: name, Logout: u.opts.Logout, Source: u.opts.Source}
	for _, n := range u.names {
		d.Nav = append(d.Nav, navLink{Name: n, Label: strings.ToUpper(n[:1]) + n[1:], Current: n == name})
	}
	u.render(w, t, "layout", d, http.StatusOK)
}

// LoginData is what the login form shows.
type LoginData struct {
	// Next is the page to go to after logging in (a path on this site).
	Next string
	// Message says why the form is shown again ("wrong token").
	Message string
}

// ServeLogin renders the login form with code (200, or 401 after a wrong
// token).
func (u *UI) ServeLogin(w http.ResponseWriter, d LoginData, code int) {
	u.render(w, u.login, "login", d, code)
}

func (u *UI) render(w http.ResponseWriter, t *template.Template, name string, data any, code int) {
	var b bytes.Buffer
	SetHeaders(w)
	if err := t.ExecuteTemplate(&b, name, data); err != nil {
		http.Error(w, "web: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(b.Bytes())
}

// contentTypes are set by extension rather than from the system's MIME
// tables, which differ between machines (a .js served as text/plain is
// refused as a module under nosniff).
var contentTypes = map[string]string{
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".html": "text/html; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".json": "application/json",
}

// buildTime is the Last-Modified of the static files: the embedded files
// carry no times of their own.
var buildTime = time.Now()

// ServeStatic serves the file at r.URL.Path (/static/...). Files are
// revalidated by ETag on each use (no-cache): a new kscope binary brings
// new files under the same names.
func (u *UI) ServeStatic(w http.ResponseWriter, r *http.Request) {
	SetHeaders(w)
	p := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
	etag, ok := u.etags[p]
	if !ok {
		http.NotFound(w, r)
		return
	}
	b, err := files.ReadFile(p)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	ct, ok := contentTypes[path.Ext(p)]
	if !ok {
		ct = "text/plain; charset=utf-8" // LICENSE, VERSIONS
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("ETag", etag)
	http.ServeContent(w, r, "", buildTime, bytes.NewReader(b))
}

// ServeHTTP serves / (a redirect to the first page), /NAME and /static/...
// without any access check: package server adds its own.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/static/"):
		u.ServeStatic(w, r)
	case r.URL.Path == "/":
		u.Redirect(w, r)
	default:
		u.ServePage(w, r, strings.TrimPrefix(r.URL.Path, "/"))
	}
}

// Redirect sends / to the first page, keeping the query.
func (u *UI) Redirect(w http.ResponseWriter, r *http.Request) {
	SetHeaders(w)
	if len(u.names) == 0 {
		http.NotFound(w, r)
		return
	}
	to := "/" + u.names[0]
	if r.URL.RawQuery != "" {
		to += "?" + r.URL.RawQuery
	}
	http.Redirect(w, r, to, http.StatusFound)
}

// Size is the total size of the embedded static files and templates in
// bytes: the console's weight.
func Size() (int64, error) {
	var n int64
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n += info.Size()
		return nil
	})
	return n, err
}
