// Package view answers an operator's questions: who produces and consumes
// each topic (overview), how late records reach each consumer (latency),
// when groups rebalance (rebalances), which consumer falls behind
// (clients). Each view is a function of an Input (the traffic of a window,
// and the cluster's snapshots when an inspector runs) and filters,
// returning a plain struct that the API, the CLI and the Prometheus
// collectors render; none of them computes on its own. A view works the
// same on a live agent's store (FromStore) and on a capture file (Of).
package view

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/exchange"
)

// Window is the time range a view covers; exchanges whose request started
// in [From, To) count. Rates are per second of the window.
type Window struct {
	From, To time.Time
}

// Seconds is the window's length, at least one second.
func (w Window) Seconds() float64 {
	return max(w.To.Sub(w.From).Seconds(), 1)
}

// ParseTime reads a point in time as the commands and the API take it: an
// RFC 3339 time, or a duration before ref ("5m"); "" is the zero time.
func ParseTime(s string, ref time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return ref.Add(-max(d, -d)), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration such as 5m", s)
	}
	return t, nil
}

// WindowOf is the window spanned by exchanges (for a capture file).
func WindowOf(xs []exchange.Exchange) Window {
	var w Window
	for i := range xs {
		t := xs[i].Time
		if w.From.IsZero() || t.Before(w.From) {
			w.From = t
		}
		if end := t.Add(time.Nanosecond); end.After(w.To) {
			w.To = end
		}
	}
	return w
}

// Once keeps each exchange once. When both ends of a connection are traced
// on one machine, the agent sees an exchange twice, from the client's side
// and from the broker's: the client's copy is kept (it names the client
// process), and a broker-side copy only when its client side was not seen
// (yet: the broker writes a response before the client reads it). Such a
// copy is named after the client process of its connection, when other
// exchanges of the connection were seen from the client's side.
// Exchanges from capture files have no side and are all kept.
func Once(xs []exchange.Exchange) []exchange.Exchange {
	type conn struct{ client, server string }
	type key struct {
		conn
		corr int32
	}
	// Without broker-side copies there is nothing to drop: the slice is
	// returned as it is, neither copied nor indexed (views over millions
	// of exchanges depend on this).
	if !hasServerSide(xs) {
		return xs
	}
	clients := make(map[key]bool)
	procs := make(map[conn]exchange.Endpoint)
	for i := range xs {
		if e := &xs[i]; e.Side == "client" {
			c := conn{e.Client.Addr, e.Server.Addr}
			clients[key{c, e.CorrelationID}] = true
			if e.Client.PID != 0 {
				procs[c] = e.Client
			}
		}
	}
	out := make([]exchange.Exchange, 0, len(xs))
	for i := range xs {
		e := &xs[i]
		if e.Side != "server" {
			out = append(out, *e)
			continue
		}
		c := conn{e.Client.Addr, e.Server.Addr}
		if clients[key{c, e.CorrelationID}] {
			continue
		}
		out = append(out, *e)
		if ep, ok := procs[c]; ok && e.Client.PID == 0 {
			out[len(out)-1].Client = ep
		}
	}
	return out
}

func hasServerSide(xs []exchange.Exchange) bool {
	for i := range xs {
		if xs[i].Side == "server" {
			return true
		}
	}
	return false
}

// IsReplication reports broker-to-broker traffic: a Fetch from a follower
// replica (replica id >= 0, or ReplicaState in Fetch v15+). It is
// replication, not a consumer.
func IsReplication(e *exchange.Exchange) bool {
	return e.Is(kmsg.Fetch) && e.Detail != nil && e.Detail.Replica
}

// Client names the client of an exchange as an operator knows it: the
// process (and pod) when the agent traced it, else the client address.
type Client struct {
	// Process is "name[pid]" for a traced process, else empty.
	Process string `json:"process,omitempty"`
	PID     uint32 `json:"pid,omitempty"`
	Pod     string `json:"pod,omitempty"`
	// Addr is the client's host (without port) when no process is known.
	Host     string `json:"host,omitempty"`
	ClientID string `json:"client_id"`
}
