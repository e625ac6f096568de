// Package api is the client side of kscope's HTTP API: what the kscope
// commands ask a running agent or demo for (views, exchanges, demo
// controls). One way to reach it, one place that reads the token, and
// errors a person can act on, typed so that callers never match strings.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"
)

// TokenEnv is the environment variable that holds the API token, read by
// servers (their --token's default) and clients alike.
const TokenEnv = "KSCOPE_TOKEN"

// Token is flag when set, else the token in the environment.
func Token(flag string) string {
	if flag != "" {
		return flag
	}
	return os.Getenv(TokenEnv)
}

// Client asks one kscope API. Its zero Who is "kscope agent".
type Client struct {
	// Server is the API's base address, http://host:port.
	Server string
	// Token, when set, is sent as a bearer token.
	Token string
	// Who names the server in errors: "kscope agent", "the demo".
	Who string
}

// Timeouts of a request. Stream has no overall limit: following lasts as
// long as the user wants.
const (
	dialTimeout    = 5 * time.Second
	headerTimeout  = 30 * time.Second
	requestTimeout = 2 * time.Minute
)

// AddressError is a --server that is not an API address.
type AddressError struct{ Server string }

func (e *AddressError) Error() string {
	return fmt.Sprintf("--server %q: use an address such as http://127.0.0.1:7070", e.Server)
}

// UnreachableError is a server that could not be reached at all.
type UnreachableError struct {
	Who, Server string
	// Reason is the innermost cause as a person says it ("connection
	// refused").
	Reason string
	Err    error
}

func (e *UnreachableError) Error() string {
	hint := "is it running?"
	if e.Who == "kscope agent" {
		hint = "is `kscope agent` running?"
	}
	return fmt.Sprintf("cannot reach %s at %s: %s — %s", e.Who, e.Server, e.Reason, hint)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// StatusError is an answer other than 200, with what the server said.
type StatusError struct {
	Who, Server string
	Code        int
	// Message is the server's {"error": ...}, else its status line.
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s at %s: %s", e.Who, e.Server, e.Message)
}

// IsNotFound reports an answer 404: no such endpoint (not a kscope
// server, or one without that feature).
func IsNotFound(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code == http.StatusNotFound
}

// LostError is a server lost while its answer was read: the connection
// broke, or the server closed a stream it was meant to keep open.
type LostError struct {
	Who, Server string
	Err         error
}

func (e *LostError) Error() string {
	return fmt.Sprintf("lost the %s at %s: %v", e.Who, e.Server, e.Err)
}

func (e *LostError) Unwrap() error { return e.Err }

// Lost is err, met while reading an answer (a broken connection, a stream
// that ended), as a LostError; ctx's error when ctx ended.
func (c *Client) Lost(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return &LostError{Who: c.who(), Server: c.Server, Err: err}
}

// BodyError is an answer that is not what was asked for.
type BodyError struct {
	Who, Server, Path string
	Err               error
}

func (e *BodyError) Error() string {
	return fmt.Sprintf("%s at %s answered %s with something unreadable: %v", e.Who, e.Server, e.Path, e.Err)
}

func (e *BodyError) Unwrap() error { return e.Err }

func (c *Client) who() string {
	if c.Who == "" {
		return "kscope agent"
	}
	return c.Who
}

// URL is the address of path with the query q (empty values left out).
func (c *Client) URL(path string, q url.Values) (string, error) {
	base, err := url.Parse(strings.TrimRight(c.Server, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return "", &AddressError{c.Server}
	}
	clean := url.Values{}
	for k, vs := range q {
		for _, v := range vs {
			if v != "" {
				clean.Add(k, v)
			}
		}
	}
	base.Path += path
	base.RawQuery = clean.Encode()
	return base.String(), nil
}

// Get asks for path with the query q and decodes the JSON answer into v.
func (c *Client) Get(ctx context.Context, path string, q url.Values, v any) error {
	return c.decode(ctx, http.MethodGet, path, q, v)
}

// Post sends path with the query q and no body (a demo control), and
// decodes the JSON answer into v.
func (c *Client) Post(ctx context.Context, path string, q url.Values, v any) error {
	return c.decode(ctx, http.MethodPost, path, q, v)
}

// PostJSON sends in as the JSON body of a POST to path (a retention
// change), and decodes the JSON answer into out.
func (c *Client) PostJSON(ctx context.Context, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	body, err := c.send(ctx, http.MethodPost, path, nil, b, requestTimeout)
	if err != nil {
		return err
	}
	defer body.Close()
	raw, err := io.ReadAll(body)
	if err != nil {
		return c.Lost(ctx, err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return c.ReadError(ctx, path, err)
	}
	return nil
}

// GetRaw asks for path and returns the answer as the server wrote it.
func (c *Client) GetRaw(ctx context.Context, path string, q url.Values) ([]byte, error) {
	body, err := c.Open(ctx, path, q)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, c.Lost(ctx, err)
	}
	return b, nil
}

// Open asks for path and returns the answer's body, to be read within
// the request's time limit (2 minutes). The caller closes it.
func (c *Client) Open(ctx context.Context, path string, q url.Values) (io.ReadCloser, error) {
	return c.do(ctx, http.MethodGet, path, q, requestTimeout)
}

// Stream is Open without a time limit: following, for as long as the
// user wants.
func (c *Client) Stream(ctx context.Context, path string, q url.Values) (io.ReadCloser, error) {
	return c.do(ctx, http.MethodGet, path, q, 0)
}

// ReadError is err, met while decoding the answer of path, as a
// BodyError; ctx's error when ctx ended.
func (c *Client) ReadError(ctx context.Context, path string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return &BodyError{Who: c.who(), Server: c.Server, Path: path, Err: err}
}

func (c *Client) decode(ctx context.Context, method, path string, q url.Values, v any) error {
	body, err := c.do(ctx, method, path, q, requestTimeout)
	if err != nil {
		return err
	}
	defer body.Close()
	b, err := io.ReadAll(body)
	if err != nil {
		return c.Lost(ctx, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return c.ReadError(ctx, path, err)
	}
	return nil
}

// do sends the request and returns the body of a 200 answer; any other
// outcome is one of the errors above.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, timeout time.Duration) (io.ReadCloser, error) {
	return c.send(ctx, method, path, q, nil, timeout)
}

// send is do with a JSON body, when body is not nil.
func (c *Client) send(ctx context.Context, method, path string, q url.Values, body []byte, timeout time.Duration) (io.ReadCloser, error) {
	u, err := c.URL(path, q)
	if err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: dialTimeout}).DialContext,
		TLSHandshakeTimeout:   dialTimeout,
		ResponseHeaderTimeout: headerTimeout,
	}}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &UnreachableError{Who: c.who(), Server: c.Server, Reason: Reason(err), Err: err}
	}
	if resp.StatusCode == http.StatusOK {
		return resp.Body, nil
	}
	defer resp.Body.Close()
	var msg struct {
		Error string `json:"error"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if json.Unmarshal(b, &msg) != nil || msg.Error == "" {
		msg.Error = strings.TrimSpace(string(b))
		if msg.Error == "" || len(msg.Error) > 200 {
			msg.Error = resp.Status
		}
		if resp.StatusCode == http.StatusNotFound {
			msg.Error = "no " + path + " here (404): is this a kscope agent?"
		}
	}
	return nil, &StatusError{Who: c.who(), Server: c.Server, Code: resp.StatusCode, Message: msg.Error}
}

// Reason is the innermost cause of a failed network call, as a person says
// it ("connection refused", "address already in use").
func Reason(err error) string {
	var nerr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &nerr) && nerr.Timeout():
		return "no answer (timed out)"
	}
	var oerr *net.OpError
	if errors.As(err, &oerr) && oerr.Err != nil {
		return oerr.Err.Error()
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err.Error()
	}
	return err.Error()
}
