package browser

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// An agent with a token refuses its pages until one logs in through the
// form; then the pages and their API calls work on the session cookie,
// which scripts cannot read.
func TestTokenLogin(t *testing.T) {
	// No tracing needed: the cluster page shows the inspector's polls.
	d := startDemo(t, "--no-trace", "--token", "s3cret-browser")
	b := newBrowser(t, d.url)

	resp, err := http.Get(d.url + "/api/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/health without the token: %s, want 401", resp.Status)
	}

	b.open("/cluster")
	loc := eval[string](b, `location.pathname + location.search`)
	if !strings.HasPrefix(loc, "/login") {
		t.Fatalf("without logging in, /cluster shows %s, want the login form", loc)
	}
	if n := eval[int](b, `document.querySelectorAll('#brokers, #cluster').length`); n != 0 {
		t.Errorf("the login form shows the cluster page's parts")
	}
	b.screenshot("login")

	login := func(token string) {
		t.Helper()
		b.do("log in", setValue(`input[name=token]`, token))
		b.click("Log in", `document.querySelector('form button[type=submit], form input[type=submit]')`)
	}
	login("wrong")
	waitFor(b, 10*time.Second, "the form saying the token is wrong", `document.body.textContent`,
		func(s string) bool { return strings.Contains(s, "not this agent's token") })
	login("s3cret-browser")
	waitFor(b, 30*time.Second, "the cluster page after logging in, with its brokers",
		`location.pathname === '/cluster' ? document.querySelectorAll('#brokers tbody tr').length : 0`,
		func(n int) bool { return n == 3 })
	if c := eval[string](b, `document.cookie`); strings.Contains(c, "kscope_session") {
		t.Errorf("the session cookie is readable by scripts: %q", c)
	}
	if u, _ := url.Parse(eval[string](b, `location.href`)); u.Path != "/cluster" {
		t.Errorf("after logging in: %s, want back to /cluster", u)
	}
	b.noErrors("cluster after login", "/login")
}
