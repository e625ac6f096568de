package server

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"kscope/internal/store"
)

// A loopback agent answers only to loopback names (DNS rebinding), and
// refuses writes a browser sent from another site; kscope's own clients
// (no Origin, no Sec-Fetch-Site) and the console itself pass.
func TestGuardOrigin(t *testing.T) {
	ts := newServer(t, Config{}, store.New(store.Config{}))
	do := func(method, path string, hdr map[string]string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			if k == "Host" {
				req.Host = v
				continue
			}
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b := new(strings.Builder)
		_, _ = io.Copy(b, resp.Body)
		return resp.StatusCode, b.String()
	}
	host := strings.TrimPrefix(ts.URL, "http://")
	for _, c := range []struct {
		name, method, path string
		hdr                map[string]string
		want               int
	}{
		{"a rebound name", "GET", "/api/v1/stats", map[string]string{"Host": "evil.example:80"}, http.StatusMisdirectedRequest},
		{"localhost", "GET", "/api/v1/stats", map[string]string{"Host": "localhost:7070"}, http.StatusOK},
		{"a cross-site write", "POST", "/api/v1/retention/bump", map[string]string{"Origin": "https://evil.example", "Content-Type": "text/plain"}, http.StatusForbidden},
		{"a cross-site write, by fetch metadata", "POST", "/api/v1/retention/bump", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"the console's own write", "POST", "/api/v1/retention/bump", map[string]string{"Origin": "http://" + host, "Sec-Fetch-Site": "same-origin"}, http.StatusServiceUnavailable},
		{"kscope's own client", "POST", "/api/v1/retention/bump", nil, http.StatusServiceUnavailable},
		{"a cross-site read", "GET", "/api/v1/stats", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusOK},
	} {
		if code, body := do(c.method, c.path, c.hdr); code != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, code, body, c.want)
		}
	}
}
