package alerting

import (
	"context"
	"strings"
	"testing"
)

// TestFetchErrors: a bad address and an Alertmanager that does not run are
// said plainly.
func TestFetchErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Fetch(ctx, "127.0.0.1:9093", false); err == nil || !strings.Contains(err.Error(), "http://127.0.0.1:9093") {
		t.Errorf("no scheme: %v", err)
	}
	if _, err := Fetch(ctx, "http://127.0.0.1:1", false); err == nil || !strings.Contains(err.Error(), "cannot reach Alertmanager at http://127.0.0.1:1: connection refused") {
		t.Errorf("nothing listening: %v", err)
	}
}

// TestSubject: an alert names what kscope's rules label it with.
func TestSubject(t *testing.T) {
	for _, c := range []struct {
		labels map[string]string
		want   string
	}{
		{map[string]string{"topic": "order", "partition": "3", "broker": "1", "tier": "under-replicated"}, "order/3 broker 1"},
		{map[string]string{"group": "invoicing", "topic": "order"}, "group invoicing topic order"},
		{map[string]string{"group": "invoicing", "status": "STOP"}, "group invoicing STOP"},
		{map[string]string{"topic": "order-audit"}, "order-audit"},
		{map[string]string{"instance": "127.0.0.1:7070", "job": "kscope"}, "127.0.0.1:7070"},
	} {
		if got := subject(c.labels); got != c.want {
			t.Errorf("%v: %q, want %q", c.labels, got, c.want)
		}
	}
}
