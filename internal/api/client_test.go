package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestClient(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			if r.Header.Get("Authorization") != "Bearer s3cret" {
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"error":"this kscope agent needs a token"}`))
				return
			}
			w.Write([]byte(`{"query":"` + r.URL.RawQuery + `","method":"` + r.Method + `"}`))
		case "/garbage":
			w.Write([]byte("<html>"))
		case "/plain":
			w.WriteHeader(http.StatusBadGateway)
		case "/cut":
			// The server goes away in the middle of its answer.
			w.Header().Set("Content-Length", "100")
			w.Write([]byte(`{"query":`))
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		default:
			http.NotFound(w, r)
		}
	}))
	defer ts.Close()
	ctx := context.Background()
	c := &Client{Server: ts.URL, Token: "s3cret"}

	var got struct{ Query, Method string }
	if err := c.Get(ctx, "/ok", url.Values{"topic": {"orders"}, "group": {""}}, &got); err != nil {
		t.Fatal(err)
	}
	if got.Query != "topic=orders" || got.Method != "GET" {
		t.Errorf("the server got %+v: want topic=orders alone (empty values left out), by GET", got)
	}
	if err := c.Post(ctx, "/ok", nil, &got); err != nil || got.Method != "POST" {
		t.Errorf("post: %v, %+v", err, got)
	}

	for _, tc := range []struct {
		name   string
		client *Client
		path   string
		check  func(error) bool
		says   string
	}{
		{"no token", &Client{Server: ts.URL}, "/ok", func(err error) bool {
			var se *StatusError
			return errors.As(err, &se) && se.Code == http.StatusUnauthorized
		}, "kscope agent at " + ts.URL + ": this kscope agent needs a token"},
		{"not found", c, "/api/v1/nothing", IsNotFound, "no /api/v1/nothing here (404)"},
		{"no JSON error", c, "/plain", func(err error) bool {
			var se *StatusError
			return errors.As(err, &se) && se.Code == http.StatusBadGateway
		}, "502 Bad Gateway"},
		{"not JSON", c, "/garbage", func(err error) bool {
			var be *BodyError
			return errors.As(err, &be)
		}, "answered /garbage with something unreadable"},
		{"lost", c, "/cut", func(err error) bool {
			var le *LostError
			return errors.As(err, &le)
		}, "lost the kscope agent at " + ts.URL},
		{"bad address", &Client{Server: "127.0.0.1:7070"}, "/ok", func(err error) bool {
			var ae *AddressError
			return errors.As(err, &ae)
		}, "use an address such as http://127.0.0.1:7070"},
		{"nobody there", &Client{Server: "http://" + closedAddr(t), Who: "the demo"}, "/ok", func(err error) bool {
			var ue *UnreachableError
			return errors.As(err, &ue) && ue.Reason == "connection refused"
		}, "cannot reach the demo at"},
	} {
		err := tc.client.Get(ctx, tc.path, nil, &got)
		if err == nil || !tc.check(err) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v (%T), want one saying %q", tc.name, err, err, tc.says)
		}
	}
	if IsNotFound(errors.New("404")) {
		t.Error("IsNotFound matched a string")
	}
}

func TestToken(t *testing.T) {
	t.Setenv(TokenEnv, "from-env")
	if Token("flag") != "flag" || Token("") != "from-env" {
		t.Errorf("Token: flag %q, none %q", Token("flag"), Token(""))
	}
}

// closedAddr is a local address nothing listens on.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
