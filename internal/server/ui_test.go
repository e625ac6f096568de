package server

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"kscope/internal/store"
	"kscope/internal/web"
)

// noRedirect is a client that shows redirects instead of following them.
func noRedirect(jar http.CookieJar) *http.Client {
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func do(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func uiPages(t *testing.T) []string {
	t.Helper()
	ui, err := web.New(web.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pages := ui.Pages()
	for _, want := range []string{"overview", "cluster"} {
		if !strings.Contains(strings.Join(pages, " "), want) {
			t.Fatalf("pages %v: no %s", pages, want)
		}
	}
	return pages
}

// TestUILoopback: without a token every page renders with its own script
// under a CSP that allows no inline script and no other origin, / leads to
// the overview, and static files come with their types.
func TestUILoopback(t *testing.T) {
	ts := newServer(t, Config{}, store.New(store.Config{}))
	c := noRedirect(nil)
	for _, page := range uiPages(t) {
		req, _ := http.NewRequest("GET", ts.URL+"/"+page, nil)
		resp, body := do(t, c, req)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("/%s: %s", page, resp.Status)
			continue
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "default-src 'none'") ||
			!strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("/%s: CSP %q", page, csp)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("/%s: Content-Type %q", page, ct)
		}
		if !strings.Contains(body, `<script type="module" src="/static/`+page+`.js"></script>`) {
			t.Errorf("/%s does not load its script:\n%s", page, body)
		}
		if !strings.Contains(body, `href="/`+page+`" aria-current="page"`) {
			t.Errorf("/%s: the nav does not mark it current", page)
		}
		if strings.Contains(body, "Log out") {
			t.Errorf("/%s: a logout link without a token", page)
		}
		// Inline script or style would be refused by the CSP.
		if strings.Contains(body, "<script>") || strings.Contains(body, "style=") || strings.Contains(body, " onclick=") {
			t.Errorf("/%s has inline script or style", page)
		}
	}
	req, _ := http.NewRequest("GET", ts.URL+"/?since=1h", nil)
	if resp, _ := do(t, c, req); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/overview?since=1h" {
		t.Errorf("/: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	for path, ct := range map[string]string{
		"/static/common.js":                      "text/javascript; charset=utf-8",
		"/static/overview.js":                    "text/javascript; charset=utf-8",
		"/static/style.css":                      "text/css; charset=utf-8",
		"/static/vendor/dagre/dagre.esm.js":      "text/javascript; charset=utf-8",
		"/static/vendor/uplot/uPlot.iife.min.js": "text/javascript; charset=utf-8",
		"/static/vendor/uplot/uPlot.min.css":     "text/css; charset=utf-8",
		"/static/vendor/uplot/LICENSE":           "text/plain; charset=utf-8",
	} {
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		resp, body := do(t, c, req)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != ct || len(body) == 0 {
			t.Errorf("%s: %s, Content-Type %q, %d bytes", path, resp.Status, resp.Header.Get("Content-Type"), len(body))
			continue
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: headers %v", path, resp.Header)
		}
		// Revalidated by ETag: a browser asks again and gets 304.
		etag := resp.Header.Get("ETag")
		req, _ = http.NewRequest("GET", ts.URL+path, nil)
		req.Header.Set("If-None-Match", etag)
		if resp, _ := do(t, c, req); etag == "" || resp.StatusCode != http.StatusNotModified {
			t.Errorf("%s with If-None-Match %q: %s", path, etag, resp.Status)
		}
	}
	for _, path := range []string{"/static/nothing.js", "/static/../web.go", "/static/%2e%2e/web.go", "/nopage"} {
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		if resp, _ := do(t, c, req); resp.StatusCode == http.StatusOK {
			t.Errorf("%s: %s", path, resp.Status)
		}
	}
	// Without a token there is nothing to log in to.
	req, _ = http.NewRequest("GET", ts.URL+"/login", nil)
	if resp, _ := do(t, c, req); resp.StatusCode != http.StatusFound {
		t.Errorf("/login without a token: %s", resp.Status)
	}
}

// TestUIToken: with a token, pages send a browser to the login form; a
// wrong token is refused; the right one sets an HttpOnly, SameSite=Strict
// cookie that is not the token and opens pages and API alike; the bearer
// header still works; logging out ends it.
func TestUIToken(t *testing.T) {
	const token = "s3cret-token"
	st := store.New(store.Config{})
	st.Add(fake(1, "Produce", 0, "orders"))
	ts := newServer(t, Config{Listen: "0.0.0.0:7070", Token: token}, st)
	jar, _ := cookiejar.New(nil)
	c := noRedirect(jar)

	get := func(path, bearer string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		return do(t, c, req)
	}
	login := func(tok, next string) (*http.Response, string) {
		t.Helper()
		form := url.Values{"token": {tok}, "next": {next}}
		req, _ := http.NewRequest("POST", ts.URL+"/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return do(t, c, req)
	}

	for _, page := range append(uiPages(t), "") {
		resp, _ := get("/"+page+"?since=1h", "")
		want := "/login?next=" + url.QueryEscape("/"+page+"?since=1h")
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
			t.Errorf("/%s without a token: %s to %q, want %s", page, resp.Status, resp.Header.Get("Location"), want)
		}
	}
	if resp, _ := get("/api/v1/overview", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("API without a token: %s", resp.Status)
	}
	// The login form and the static files need no token.
	if resp, body := get("/login?next=/cluster", ""); resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="next" value="/cluster"`) ||
		!strings.Contains(body, `type="password"`) || resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("/login: %s\n%s", resp.Status, body)
	}
	if resp, _ := get("/static/style.css", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("style.css without a token: %s", resp.Status)
	}

	for _, wrong := range []string{"", "s3cret", "s3cret-token ", "S3CRET-TOKEN"} {
		resp, body := login(wrong, "/cluster")
		if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 || !strings.Contains(body, "not this agent") {
			t.Errorf("login with %q: %s, cookies %v", wrong, resp.Status, resp.Cookies())
		}
	}
	if resp, _ := get("/overview", ""); resp.StatusCode != http.StatusFound {
		t.Fatalf("a wrong token opened a page: %s", resp.Status)
	}

	// The next page must be on this site.
	for next, want := range map[string]string{"/cluster?since=1h": "/cluster?since=1h", "https://evil.example/": "/", "//evil.example/x": "/", "/\\evil.example": "/"} {
		resp, _ := login(token, next)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
			t.Errorf("login to %q: %s to %q, want %q", next, resp.Status, resp.Header.Get("Location"), want)
		}
		cs := resp.Cookies()
		if len(cs) != 1 {
			t.Fatalf("login set cookies %v", cs)
		}
		ck := cs[0]
		if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.MaxAge <= 0 {
			t.Errorf("cookie %s", ck)
		}
		if ck.Secure {
			t.Errorf("cookie Secure over plain HTTP: the browser would not send it back")
		}
		if strings.Contains(ck.Value, token) {
			t.Errorf("the cookie holds the token: %q", ck.Value)
		}
	}
	// The cookie (in the jar now) opens pages and the API.
	for _, page := range uiPages(t) {
		if resp, body := get("/"+page, ""); resp.StatusCode != http.StatusOK || !strings.Contains(body, `href="/logout"`) {
			t.Errorf("/%s with the cookie: %s", page, resp.Status)
		}
	}
	if resp, body := get("/api/v1/overview?since="+t0.Add(-time.Minute).Format(time.RFC3339), ""); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"orders"`) {
		t.Errorf("API with the cookie: %s %s", resp.Status, body)
	}
	// A forged or stale cookie does not.
	for _, v := range []string{"1", "99999999999.00", token} {
		req, _ := http.NewRequest("GET", ts.URL+"/api/v1/overview", nil)
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: v})
		if resp, _ := do(t, noRedirect(nil), req); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("cookie %q: %s", v, resp.Status)
		}
	}
	// The bearer header works as before, for pages too.
	bare := noRedirect(nil)
	for _, path := range []string{"/api/v1/overview", "/metrics", "/overview"} {
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if resp, _ := do(t, bare, req); resp.StatusCode != http.StatusOK {
			t.Errorf("%s with the bearer header: %s", path, resp.Status)
		}
	}
	// Logging out clears the cookie.
	if resp, _ := get("/logout", ""); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Errorf("/logout: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	if resp, _ := get("/overview", ""); resp.StatusCode != http.StatusFound {
		t.Errorf("a page after logging out: %s", resp.Status)
	}
}

// TestUIReadOnly: over capture files the pages say what they show.
func TestUIReadOnly(t *testing.T) {
	ts := newServer(t, Config{ReadOnly: true}, store.New(store.Config{}))
	req, _ := http.NewRequest("GET", ts.URL+"/overview", nil)
	if resp, body := do(t, noRedirect(nil), req); resp.StatusCode != http.StatusOK || !strings.Contains(body, "capture files, read-only") {
		t.Errorf("/overview read-only: %s\n%s", resp.Status, body)
	}
}
