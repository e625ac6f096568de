package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"kscope/internal/exchange"
	"kscope/internal/store"
	"kscope/internal/view"
)

// TestOverviewEndpoint: the API answers the view over the store's window,
// topic narrows it, and /metrics carries the topic rates and latency.
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

	_, metrics := get(t, ts.URL+"/metrics", "")
	for _, want := range []string{
		`kscope_topic_bytes_in_per_second{topic="orders"}`,
		`kscope_topic_bytes_out_per_second{topic="orders"}`,
		`kscope_topic_replication_bytes_per_second{topic="audit"}`,
		`kscope_consumer_bytes_per_second{client="shipping-1",group="",topic="orders"}`,
		`kscope_request_latency_seconds{api="Produce",broker="10.0.0.2:9092",quantile="0.99"}`,
		`kscope_request_latency_seconds{api="Fetch (replication)",broker="10.0.0.2:9092",quantile="0.5"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
	if strings.Contains(metrics, `kscope_consumer_bytes_per_second{client="broker-2"`) {
		t.Errorf("a replica fetch became a consumer metric")
	}
}
