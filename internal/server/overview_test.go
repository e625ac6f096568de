package server

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"kscope/internal/exchange"
	"kscope/internal/store"
	"kscope/internal/view"
)

// TestOverviewEndpoint: the API answers the view over the store's window,
// and topic narrows it.
func TestOverviewEndpoint(t *testing.T) {
	st := store.New(store.Config{})
	now := time.Now()
	for i := range 30 {
		e := fake(i, "Produce", 0, "orders")
		e.Time = now.Add(-time.Duration(30-i) * time.Second)
		st.Add(e)
		f := fake(i, "Fetch", 1, "orders")
		f.Time, f.Client.Addr, f.Client.PID, f.Client.Process, f.ClientID = e.Time, "10.0.0.3:6000", 43, "shipping", "shipping-1"
		st.Add(f)
		r := fake(i, "Fetch", 1, "audit")
		r.Time, r.Client, r.Side, r.ClientID = e.Time, exchange.Endpoint{Addr: "10.0.0.4:7000"}, "server", "broker-2"
		r.Detail = &exchange.Detail{Replica: true}
		st.Add(r)
	}
	old := fake(0, "Produce", 0, "old-topic")
	old.Time = now.Add(-time.Hour)
	st.Add(old)
	ts := newServer(t, Config{}, st)

	resp, body := get(t, ts.URL+"/api/v1/overview?since=5m", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var o view.OverviewView
	if err := json.Unmarshal([]byte(body), &o); err != nil {
		t.Fatal(err)
	}
	if len(o.Topics) != 2 {
		t.Fatalf("topics = %+v, want orders and audit (old-topic is outside the window)", o.Topics)
	}
	for _, tr := range o.Topics {
		switch tr.Name {
		case "orders":
			if tr.Producers != 1 || tr.Consumers != 1 || tr.BytesInPerSec <= 0 || tr.BytesOutPerSec <= 0 {
				t.Errorf("orders = %+v", tr)
			}
		case "audit":
			if tr.Consumers != 0 || tr.ReplicationBytesPerSec <= 0 {
				t.Errorf("audit = %+v, want replication only", tr)
			}
		}
	}
	for _, key := range []string{`"topics"`, `"bytes_in_per_sec"`, `"bytes_out_per_sec"`, `"edges"`, `"from"`, `"to"`, `"bytes_per_sec"`, `"nodes"`, `"brokers"`, `"producers"`, `"consumers"`, `"latency"`} {
		if !strings.Contains(body, key) {
			t.Errorf("overview JSON has no %s", key)
		}
	}

	_, body = get(t, ts.URL+"/api/v1/overview?since=5m&topic=audit", "")
	if err := json.Unmarshal([]byte(body), &o); err != nil {
		t.Fatal(err)
	}
	if len(o.Topics) != 1 || o.Topics[0].Name != "audit" {
		t.Errorf("topic=audit gave topics %+v", o.Topics)
	}

	if resp, body := get(t, ts.URL+"/api/v1/overview?since=yesterday", ""); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "since") {
		t.Errorf("bad since: %d %s", resp.StatusCode, body)
	}
}

// TestOverviewEndpointFromParts: on a live store (the server started
// first) the API answers from the per-second parts, and answers what the
// overview of the same exchanges is.
func TestOverviewEndpointFromParts(t *testing.T) {
	st := store.New(store.Config{})
	ts := newServer(t, Config{}, st)
	base := time.Now().Add(-40 * time.Second).Truncate(time.Second)
	var xs []exchange.Exchange
	for i := range 30 {
		e := fake(i, "Produce", 0, "orders")
		e.Time = base.Add(time.Duration(i) * time.Second)
		f := fake(i, "Fetch", 1, "orders")
		f.Time, f.Client.Addr, f.Client.PID, f.Client.Process, f.ClientID = e.Time.Add(time.Millisecond), "10.0.0.3:6000", 43, "shipping", "shipping-1"
		twin := f
		twin.Side, twin.Client = "server", exchange.Endpoint{Addr: f.Client.Addr}
		xs = append(xs, e, f, twin)
	}
	for _, e := range xs {
		st.Add(e)
	}
	w := view.Window{From: base.Add(5 * time.Second), To: base.Add(25 * time.Second)}
	_, body := get(t, ts.URL+"/api/v1/overview?since="+w.From.Format(time.RFC3339)+"&until="+w.To.Format(time.RFC3339), "")
	wantView := view.Overview(view.Of(xs, w), view.OverviewFilter{})
	wantView.ResolutionSeconds = 10 // merged from seconds, rolled up into 10 s parts once settled
	want, _ := json.Marshal(wantView)
	var g, wv any
	json.Unmarshal([]byte(body), &g)
	json.Unmarshal(want, &wv)
	if !reflect.DeepEqual(g, wv) {
		t.Fatalf("API:\n%s\nview of the exchanges:\n%s", body, want)
	}
	var o view.OverviewView
	json.Unmarshal([]byte(body), &o)
	if o.Exchanges != 40 {
		t.Errorf("exchanges = %d, want 40 (20 s of a Produce and a Fetch seen twice, counted once)", o.Exchanges)
	}
}

// An agent that started 30 seconds ago averages over those 30 seconds, not
// over the 5 minutes asked for: it watched nothing before.
func TestOverviewStartsAtFirstExchange(t *testing.T) {
	st := store.New(store.Config{})
	now := time.Now()
	for i := range 30 {
		e := fake(i, "Produce", 0, "orders")
		e.Time = now.Add(-time.Duration(30-i) * time.Second)
		st.Add(e)
	}
	ts := newServer(t, Config{}, st)
	for _, q := range []string{"", "?topic=orders"} {
		resp, body := get(t, ts.URL+"/api/v1/overview"+q, "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		var o view.OverviewView
		if err := json.Unmarshal([]byte(body), &o); err != nil {
			t.Fatal(err)
		}
		if o.Seconds < 29 || o.Seconds > 31 || len(o.Topics) != 1 || o.Topics[0].RecordsInPerSec < 0.9 {
			t.Errorf("overview%s over %.1fs, topics %+v: want 30s at about 1 record/s", q, o.Seconds, o.Topics)
		}
	}
}
