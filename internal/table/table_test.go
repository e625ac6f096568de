package table

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"kscope/internal/exchange"
	"kscope/internal/offline"
	"kscope/internal/view"
)

const captures = "../../testdata/captures/"

func captureInput(t *testing.T, file string) view.Input {
	t.Helper()
	a, err := offline.Analyze(context.Background(), []string{captures + file}, offline.Options{})
	if err != nil || a.Err() != nil {
		t.Fatal(err, a.Err())
	}
	return view.Of(a.Exchanges, view.Window{})
}

// A capture names no process: the events table has no PROCESS and SIDE
// columns; traced traffic has them.
func TestExchangesColumns(t *testing.T) {
	lat := 3 * time.Millisecond
	ns := int64(lat)
	e := exchange.Exchange{
		Time: time.Date(2026, 11, 22, 3, 49, 1, 0, time.UTC), Latency: &lat, LatencyNS: &ns,
		Client: exchange.Endpoint{Addr: "10.0.0.1:5000"}, Server: exchange.Endpoint{Addr: "10.0.0.2:9092"},
		API: "Produce", APIVersion: 9, ClientID: "order-svc",
		Topics: []exchange.Topic{{Name: "orders", Partitions: []exchange.Partition{{Partition: 3}, {Partition: 4, Error: "NOT_LEADER_OR_FOLLOWER"}}}},
	}
	var out bytes.Buffer
	Exchanges(&out, []exchange.Exchange{e})
	if strings.Contains(out.String(), "PROCESS") || strings.Contains(out.String(), "SIDE") {
		t.Errorf("capture table with process columns:\n%s", out.String())
	}
	for _, want := range []string{"Produce v9", "orders[3,4]", "3ms", "NOT_LEADER_OR_FOLLOWER"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table has no %q:\n%s", want, out.String())
		}
	}
	e.Client.PID, e.Client.Process, e.Side = 42, "order", "client"
	out.Reset()
	Exchanges(&out, []exchange.Exchange{e})
	if !strings.Contains(out.String(), "PROCESS") || !strings.Contains(out.String(), "order[42]") {
		t.Errorf("traced table without its process:\n%s", out.String())
	}
}

// TestOverviewTable: the table shows the flow as producer -> topic ->
// consumer lines and the latency rows.
func TestOverviewTable(t *testing.T) {
	o := view.Overview(captureInput(t, "kcat.pcap"), view.OverviewFilter{})
	var out bytes.Buffer
	if err := Overview(&out, &o); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"127.0.0.1 (rdkafka) -> events",
		"events -> 127.0.0.1 (kcat-consumer) group kcat-group",
		"TOPIC", "BROKER", "PRODUCER", "CONSUMER",
		"Fetch (empty long-poll)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table has no %q:\n%s", want, out.String())
		}
	}
}

// The CONSUMER section of a capture with follower brokers' replica fetches
// lists the one real consumer.
func TestOverviewTableNoReplicaConsumer(t *testing.T) {
	o := view.Overview(captureInput(t, "replica-fetch.pcap"), view.OverviewFilter{})
	var out bytes.Buffer
	if err := Overview(&out, &o); err != nil {
		t.Fatal(err)
	}
	var consumerLines []string
	inConsumers := false
	for _, line := range strings.Split(out.String(), "\n") {
		switch {
		case strings.HasPrefix(line, "CONSUMER "):
			inConsumers = true
		case strings.TrimSpace(line) == "":
			inConsumers = false
		case inConsumers:
			consumerLines = append(consumerLines, line)
		}
	}
	if len(consumerLines) != 1 || !strings.Contains(consumerLines[0], "shop-consumer") {
		t.Errorf("overview table consumers %q, want shop-consumer alone:\n%s", consumerLines, out.String())
	}
}

// The rebalances tables name the assignor, each rebalance's reason and
// the members' assignments.
func TestRebalancesTable(t *testing.T) {
	v := view.RebalancesOf(captureInput(t, "franz-go.pcap"), view.RebalanceFilter{})
	var out bytes.Buffer
	if err := Rebalances(&out, &v); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GROUP", "shipping", "cooperative-sticky", "STOP-THE-WORLD", "member left: franz-consumer-2", "REBALANCE_IN_PROGRESS", "assigned audit[2] orders[2] payments[1,2]"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

// The analysis summary counts what was decoded and what was not.
func TestSummary(t *testing.T) {
	a, err := offline.Analyze(context.Background(), []string{captures + "kcat.pcap"}, offline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	Summary(&out, a)
	for _, want := range []string{"exchanges shown", "Kafka connections", "frames:", "bytes:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}

func TestSecondsCell(t *testing.T) {
	for _, c := range []struct {
		s    float64
		want string
	}{{0.0000123, "12µs"}, {0.01234567, "12.3ms"}, {1.23456, "1.235s"}, {-0.5, "-500ms"}} {
		if got := lagSecondsCell(c.s); got != c.want {
			t.Errorf("%v: %q, want %q", c.s, got, c.want)
		}
	}
}
