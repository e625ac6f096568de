package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"kscope/internal/broker"
	"kscope/internal/broker/brokertest"
	"kscope/internal/inspect"
	"kscope/internal/view"
)

// kscope health --brokers polls the cluster itself: the summary with its
// findings first, the tables asked for, the JSON other tools read; a tier
// that does not exist and a cluster that is not there are one clear line.
func TestHealthCommand(t *testing.T) {
	c := brokertest.Start(t, broker.Config{Brokers: 3, Partitions: 2, Topics: []string{"orders", "clicks"}})
	cl := brokertest.Client(t, c)
	billing20Behind(t, cl)
	if _, err := kadm.NewClient(cl).AlterTopicConfigs(context.Background(), []kadm.AlterConfig{
		{Name: "retention.bytes", Value: kadm.StringPtr("1048576")}, {Name: "retention.ms", Value: kadm.StringPtr("-1")},
	}, "clicks"); err != nil {
		t.Fatal(err)
	}
	brokers := strings.Join(c.Addrs(), ",")
	out := mustRun(t, healthCmd(), "--brokers", brokers, "--all")
	for _, want := range []string{
		"brokers 3 of 3 up", "2 topics, 4 partitions: 4 ok, 0 under-replicated", "(KRaft)",
		"WARNING  topic clicks is kept by size only (retention.bytes 1.0 MiB per partition, retention.ms unlimited)",
		"BROKER", "RACK", "TOPIC   POLICY", "size-only", "unlimited (topic)", "1.0 MiB (topic)",
		"no partition in the tiers asked for", "no change between the 1 polls",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("health lacks %q:\n%s", want, out)
		}
	}
	var v view.HealthView
	if err := json.Unmarshal([]byte(mustRun(t, healthCmd(), "--brokers", brokers, "-o", "json", "--all-partitions", "--topic", "orders")), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Partitions) != 2 || v.Partitions[0].Tier != inspect.TierOK || len(v.Partitions[0].Replicas) != 3 || len(v.Brokers) != 3 || v.Brokers[0].Bytes < 0 {
		t.Errorf("json: %+v", v)
	}
	// kscope retention, without a subcommand, is the same retention
	// table; -o json its rows.
	if out := mustRun(t, retentionCmd(), "--brokers", brokers, "--topic", "clicks"); !strings.Contains(out, "size-only") || strings.Contains(out, "orders") {
		t.Errorf("kscope retention --topic clicks:\n%s", out)
	}
	var rows []view.TopicRetention
	if err := json.Unmarshal([]byte(mustRun(t, retentionCmd(), "--brokers", brokers, "-o", "json")), &rows); err != nil || len(rows) != 2 ||
		rows[0].Topic != "clicks" || rows[0].RetentionBytes != 1<<20 || rows[0].BytesSource != "topic" || rows[1].Limits != "time-only" {
		t.Errorf("kscope retention -o json: %v %+v", err, rows)
	}
	if _, err := run(t, healthCmd(), "--brokers", brokers, "--tier", "bad"); err == nil || !strings.Contains(err.Error(), "under-min-isr") {
		t.Errorf("bad tier: %v", err)
	}
	if _, err := run(t, healthCmd(), "--brokers", "127.0.0.1:1", "--request-timeout", "1s"); err == nil || !strings.Contains(err.Error(), "cannot reach the cluster at [127.0.0.1:1]") {
		t.Errorf("no cluster: %v", err)
	}
}
