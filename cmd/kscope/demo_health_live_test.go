package main

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"kscope/internal/demo"
	"kscope/internal/inspect"
	"kscope/internal/testenv"
	"kscope/internal/view"
)

// health is the demo's health view, all partitions.
func (d *demoRun) health(t *testing.T) view.HealthView {
	t.Helper()
	var v view.HealthView
	if err := d.get("/api/v1/health", url.Values{"all": {"true"}}, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// await polls check until it says done, for at most two of the demo's
// polls and the time one takes; it fails with check's last word.
func await(t *testing.T, what string, check func() (bool, string)) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(2*demo.LagPoll + 5*time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		var ok bool
		if ok, last = check(); ok {
			return
		}
	}
	t.Fatalf("%s: not within two polls: %s", what, last)
}

// tiersOf says the tier of each of topic's partitions.
func tiersOf(v view.HealthView, topic string) []string {
	var out []string
	for _, p := range v.Partitions {
		if p.Topic == topic {
			out = append(out, p.Tier)
		}
	}
	return out
}

func all(tiers []string, tier string) bool {
	return len(tiers) > 0 && !slices.ContainsFunc(tiers, func(t string) bool { return t != tier })
}

// TestDemoBrokerFailure: kscope demo broker stop and start, seen as an
// operator sees them: one broker down puts order (RF 3,
// min.insync.replicas 2) at min ISR, two put it under, and its producer's
// acks=all requests fail with NOT_ENOUGH_REPLICAS in the traffic; both
// back, every partition is ok again. Each within two polls, through the
// CLI and /metrics. Then the retention button, through the agent.
func TestDemoBrokerFailure(t *testing.T) {
	testenv.Root(t)
	d := startDemo(t)
	for _, want := range []string{"kscope health", "kscope demo broker stop 1", "kscope retention bump " + demo.AuditTopic, "rack-a (0,1), rack-b (2)", "web UI", d.api + "/ in a browser"} {
		if !strings.Contains(d.stdout.String(), want) {
			t.Errorf("the demo's banner lacks %q:\n%s", want, d.stdout.String())
		}
	}
	await(t, "every partition ok", func() (bool, string) {
		v := d.health(t)
		return v.Summary.Partitions == demo.TopicPartitions+demo.AuditPartitions+demo.LedgerPartitions && v.Summary.ByTier[inspect.TierOK] == v.Summary.Partitions,
			fmt.Sprintf("%+v", v.Summary)
	})
	// The findings need what a poll learns beside the partitions (racks,
	// configs): a poll under load may miss some, the next has them.
	await(t, "a rack conflict and "+demo.AuditTopic+" kept by size only", func() (bool, string) {
		v := d.health(t)
		ok := v.Summary.RackConflicts > 0 && slices.ContainsFunc(v.Findings, func(f view.Finding) bool { return f.Kind == "retention-size-only" && f.Topic == demo.AuditTopic })
		return ok, fmt.Sprintf("rack conflicts %d, findings %+v, poll errors %+v", v.Summary.RackConflicts, v.Findings, v.Errors)
	})

	if out, err := d.kscope(t, "demo", "broker", "stop", "1"); err != nil || !strings.Contains(out, "broker 1 stopped") {
		t.Fatalf("kscope demo broker stop 1: %v\n%s", err, out)
	}
	await(t, "broker 1 down: order at min ISR", func() (bool, string) {
		v := d.health(t)
		ok := all(tiersOf(v, demo.Topic), inspect.TierAtMinISR) && v.Summary.BrokersUp == 2
		for _, p := range v.Partitions {
			if p.Topic == demo.Topic && (!slices.Equal(p.Missing, []int32{1}) || !slices.Contains(p.InTiers, inspect.TierUnderReplicated)) {
				ok = false
			}
		}
		return ok, fmt.Sprintf("%v, %d brokers up", tiersOf(v, demo.Topic), v.Summary.BrokersUp)
	})
	out, err := d.kscope(t, "health", "--partitions", "--events")
	for _, want := range []string{"brokers 2 of 3 up", "WARNING  ", "at min.insync.replicas", "missing from the ISR: broker 1", "isr-shrink", "broker 1 left the ISR"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("kscope health --partitions --events lacks %q: %v\n%s", want, err, out)
		}
	}
	m := scrape(t, d.api+"/metrics")
	if m[`kscope_partitions{tier="at-min-isr"}`] < demo.TopicPartitions || m[`kscope_broker_up{broker="1",rack="rack-a"}`] != 0 ||
		m[`kscope_partition_replication_tier{partition="0",tier="at-min-isr",topic="order"}`] != 1 || m[`kscope_isr_shrinks_total{broker="1"}`] < demo.TopicPartitions {
		t.Errorf("/metrics with broker 1 down: at-min-isr %v, broker 1 up %v, order/0 at min %v, shrinks %v", m[`kscope_partitions{tier="at-min-isr"}`],
			m[`kscope_broker_up{broker="1",rack="rack-a"}`], m[`kscope_partition_replication_tier{partition="0",tier="at-min-isr",topic="order"}`], m[`kscope_isr_shrinks_total{broker="1"}`])
	}

	if out, err := d.kscope(t, "demo", "broker", "stop", "2"); err != nil || !strings.Contains(out, "NOT_ENOUGH_REPLICAS") {
		t.Fatalf("kscope demo broker stop 2: %v\n%s", err, out)
	}
	await(t, "brokers 1 and 2 down: order under min ISR", func() (bool, string) {
		v := d.health(t)
		return all(tiersOf(v, demo.Topic), inspect.TierUnderMinISR) && v.Findings[0].Severity == "page", fmt.Sprintf("%v", tiersOf(v, demo.Topic))
	})
	if out, err := d.kscope(t, "health"); err != nil || !strings.Contains(out, "PAGE     5 partitions under min.insync.replicas") {
		t.Errorf("kscope health with two brokers down: %v\n%s", err, out)
	}
	// The agent sees the producer refused.
	await(t, "order's producer refused", func() (bool, string) {
		var o view.OverviewView
		if err := d.get("/api/v1/overview", url.Values{"since": {"30s"}}, &o); err != nil {
			return false, err.Error()
		}
		for _, p := range o.Producers {
			if strings.HasPrefix(p.Client.Process, demo.Order+"[") && p.ErrorsByCode["NOT_ENOUGH_REPLICAS"] > 0 {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", o.Producers)
	})
	if n := scrape(t, d.api+"/metrics")[`kscope_partitions{tier="under-min-isr"}`]; n < demo.TopicPartitions {
		t.Errorf("/metrics: %v partitions under min ISR", n)
	}

	for _, id := range []string{"1", "2"} {
		if out, err := d.kscope(t, "demo", "broker", "start", id); err != nil || !strings.Contains(out, "rejoins every ISR") {
			t.Fatalf("kscope demo broker start %s: %v\n%s", id, err, out)
		}
	}
	await(t, "both back: every partition ok", func() (bool, string) {
		v := d.health(t)
		return v.Summary.ByTier[inspect.TierOK] == v.Summary.Partitions && v.Summary.BrokersUp == 3, fmt.Sprintf("%+v", v.Summary)
	})
	v := d.health(t)
	if !slices.ContainsFunc(v.Events, func(e inspect.Event) bool { return e.Kind == inspect.EventBrokerBack && e.Broker == 2 }) ||
		!slices.ContainsFunc(v.Events, func(e inspect.Event) bool { return e.Kind == inspect.EventISRExpand }) {
		t.Errorf("events after the start lack broker 2 back or an ISR expand: %+v", v.Events)
	}
	if m := scrape(t, d.api+"/metrics"); m[`kscope_partitions{tier="under-replicated"}`] != 0 || m[`kscope_broker_up{broker="2",rack="rack-b"}`] != 1 {
		t.Errorf("/metrics after the start: under-replicated %v, broker 2 up %v", m[`kscope_partitions{tier="under-replicated"}`], m[`kscope_broker_up{broker="2",rack="rack-b"}`])
	}

	// The retention button, through the agent, audited.
	if out, err := d.kscope(t, "retention"); err != nil || !strings.Contains(out, demo.AuditTopic) || !strings.Contains(out, "size-only") {
		t.Errorf("kscope retention: %v\n%s", err, out)
	}
	out, err = d.kscope(t, "retention", "bump", demo.AuditTopic, "--bytes", "1MiB", "--reason", "demo test")
	if err != nil || !strings.Contains(out, "1MiB") {
		t.Fatalf("kscope retention bump: %v\n%s", err, out)
	}
	await(t, "the bump seen by the next poll", func() (bool, string) {
		v := d.health(t)
		for _, r := range v.Retention {
			if r.Topic == demo.AuditTopic {
				return r.RetentionBytes == 1<<20, fmt.Sprint(r.RetentionBytes)
			}
		}
		return false, "no " + demo.AuditTopic
	})
	if out, err := d.kscope(t, "retention", "history", demo.AuditTopic); err != nil || !strings.Contains(out, "demo test") || !strings.Contains(out, "api:") {
		t.Errorf("kscope retention history: %v\n%s", err, out)
	}
}
