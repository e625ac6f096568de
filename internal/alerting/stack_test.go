package alerting

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"kscope/deploy"
	"kscope/internal/testenv"
)

// TestStackRoutesAndInhibits runs Debian's Prometheus and Alertmanager with
// kscope's rules and the example routes, against /metrics as kscope
// exports them during a broker failure, and reads the result as kscope
// alerts does: the broker down is a warning for the team, its replicas'
// alerts are held back by it, a partition under min ISR pages the on-call
// and holds back that partition's lower alerts; all resolve when the
// metrics say the cluster is well again.
func TestStackRoutesAndInhibits(t *testing.T) {
	if _, _, err := Binaries(); err != nil {
		testenv.Skip(t, err.Error())
	}
	var mu sync.Mutex
	exposition := ""
	set := func(s string) { mu.Lock(); exposition = s; mu.Unlock() }
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprint(w, exposition)
	}))
	defer ts.Close()
	set(`kscope_broker_up{broker="0",rack=""} 1
kscope_broker_up{broker="1",rack=""} 0
kscope_broker_up{broker="2",rack=""} 1
kscope_replica_out_of_sync{topic="orders",partition="0",broker="1"} 1
kscope_replica_out_of_sync{topic="orders",partition="1",broker="1"} 1
kscope_replica_out_of_sync{topic="orders",partition="1",broker="2"} 1
kscope_partition_replication_tier{topic="orders",partition="0",tier="under-replicated"} 1
kscope_partition_replication_tier{topic="orders",partition="0",tier="at-min-isr"} 1
kscope_partition_replication_tier{topic="orders",partition="1",tier="under-replicated"} 1
kscope_partition_replication_tier{topic="orders",partition="1",tier="under-min-isr"} 1
`)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	st, err := StartStack(ctx, StackConfig{Target: strings.TrimPrefix(ts.URL, "http://"), Token: "s3cret", Every: time.Second,
		Params: deploy.Params{TimeScale: 1.0 / 60, Quiet: true}, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			for _, f := range []string{"prometheus.log", "alertmanager.log"} {
				b, _ := os.ReadFile(dir + "/" + f)
				t.Logf("%s:\n%s", f, b)
			}
		}
	}()

	find := func(v View, name, subject string) *Alert {
		for _, g := range v.Severities {
			for i, a := range g.Alerts {
				if a.Name == name && a.Subject == subject {
					return &g.Alerts[i]
				}
			}
		}
		return nil
	}
	var v View
	wait := func(what string, ok func(View) bool) {
		t.Helper()
		for deadline := time.Now().Add(45 * time.Second); ; time.Sleep(500 * time.Millisecond) {
			if v, err = Fetch(ctx, st.Alertmanager, true); err == nil && ok(v) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 45 s (%v): %+v", what, err, v)
			}
		}
	}
	wait("the broker down, its replicas held back, the page", func(v View) bool {
		return find(v, "KafkaBrokerDown", "broker 1") != nil && find(v, "KafkaPartitionUnderMinISR", "orders/1") != nil &&
			find(v, "KafkaPartitionAtMinISR", "orders/0") != nil && find(v, "KafkaReplicaOutOfSync", "orders/1 broker 2") != nil &&
			find(v, "KafkaReplicaOutOfSync", "orders/0 broker 1") != nil
	})
	for _, c := range []struct {
		name, subject, severity, state, by, receivers string
	}{
		{"KafkaBrokerDown", "broker 1", "warning", "active", "", "kafka-team"},
		{"KafkaPartitionUnderMinISR", "orders/1", "page", "active", "", "kafka-oncall,kafka-team"},
		{"KafkaPartitionAtMinISR", "orders/0", "warning", "active", "", "kafka-team"},
		// Held by the broker down.
		{"KafkaReplicaOutOfSync", "orders/0 broker 1", "warning", "suppressed", "KafkaBrokerDown broker 1", "kafka-team"},
		// Broker 2 is up: held by the page on its partition.
		{"KafkaReplicaOutOfSync", "orders/1 broker 2", "warning", "suppressed", "KafkaPartitionUnderMinISR orders/1", "kafka-team"},
	} {
		a := find(v, c.name, c.subject)
		if a.Severity != c.severity || a.State != c.state || strings.Join(a.InhibitedBy, ",") != c.by && !strings.Contains(strings.Join(a.InhibitedBy, ","), c.by) ||
			strings.Join(a.Receivers, ",") != c.receivers || a.Runbook == "" || a.Summary == "" {
			t.Errorf("%s %s: %+v, want %s %s by %q to %s", c.name, c.subject, *a, c.severity, c.state, c.by, c.receivers)
		}
	}
	// Held by both; Alertmanager names the first inhibition that holds.
	if got := find(v, "KafkaReplicaOutOfSync", "orders/1 broker 1"); got == nil || got.State != "suppressed" || len(got.InhibitedBy) == 0 {
		t.Errorf("broker 1's replica of orders/1 is held by the broker down and the page: %+v", got)
	}
	if v.Firing != 3 || v.Held != 3 {
		t.Errorf("firing %d, held %d; want 3 and 3", v.Firing, v.Held)
	}
	if v.Severities[0].Severity != "page" || len(v.Severities[0].Alerts) != 1 {
		t.Errorf("page first: %+v", v.Severities)
	}
	if quiet, err := Fetch(ctx, st.Alertmanager, false); err != nil || quiet.Held != 3 || len(quiet.Severities) != 2 || len(quiet.Severities[1].Alerts) != 2 {
		t.Errorf("without the held ones: %+v %v", quiet, err)
	}

	set(`kscope_broker_up{broker="0",rack=""} 1
kscope_broker_up{broker="1",rack=""} 1
kscope_broker_up{broker="2",rack=""} 1
`)
	wait("all resolved", func(v View) bool { return v.Firing+v.Held == 0 })
}
