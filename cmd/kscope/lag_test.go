package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"kscope/internal/broker"
	"kscope/internal/broker/brokertest"
	"kscope/internal/view"
)

// kscope lag --brokers asks the cluster itself: a group that committed
// part of a partition shows its lag, as a table and as the API's JSON; a
// cluster that is not there is one clear line.
func TestLagCommand(t *testing.T) {
	c := brokertest.Start(t, broker.Config{Brokers: 1, Partitions: 1, Topics: []string{"orders"}})
	billing20Behind(t, brokertest.Client(t, c))
	brokers := strings.Join(c.Addrs(), ",")
	out := mustRun(t, lagCmd(), "--brokers", brokers, "--interval", "100ms")
	for _, want := range []string{"GROUP", "APPEND-LAG", "billing", "orders", "Empty", "polled at"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	var v view.LagView
	if err := json.Unmarshal([]byte(mustRun(t, lagCmd(), "--brokers", brokers, "--interval", "100ms", "-o", "json", "--group", "billing")), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Groups) != 1 || len(v.Groups[0].Partitions) != 1 || *v.Groups[0].Partitions[0].OffsetLag != 20 || v.Polls != 2 {
		t.Errorf("json: %+v", v)
	}
	t.Setenv("KSCOPE_BROKERS", "127.0.0.1:1")
	start := time.Now()
	if _, err := run(t, lagCmd(), "--request-timeout", "1s"); err == nil || !strings.Contains(err.Error(), "cannot reach the cluster at [127.0.0.1:1]") {
		t.Errorf("no cluster: %v", err)
	} else if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v to say so", d)
	}
}

// billing20Behind writes 30 records to orders/0 with cl and commits 10
// for group billing: 20 behind.
func billing20Behind(t *testing.T, cl *kgo.Client) {
	t.Helper()
	ctx := context.Background()
	for range 30 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("order")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := kadm.NewClient(cl).CommitAllOffsets(ctx, "billing", kadm.Offsets{"orders": {0: {Topic: "orders", Partition: 0, At: 10}}}); err != nil {
		t.Fatal(err)
	}
}
