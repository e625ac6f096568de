package demo

import (
	"context"
	"strconv"
	"time"

	"kscope/internal/broker"
)

// The demo's cluster runs the replication model (broker.Config.Replication),
// so that kscope demo broker stop N takes a broker down as in a real
// cluster: it leaves every ISR, leaders move, and with two down order's
// acks=all produce is refused.

// Brokers is how many brokers the demo's cluster has.
const Brokers = 3

// Racks are the demo brokers' racks, by id: 0 and 1 in rack-a, 2 in rack-b.
// Three replicas in two racks cannot spread one per rack, so every
// partition of order has two replicas in one rack, and an outage of that
// rack takes two of its three copies: a rack conflict on every partition,
// which kscope health reports.
var Racks = []string{"rack-a", "rack-a", "rack-b"}

// clusterConfig is the demo's cluster, its first broker on port (0: free
// ports).
func clusterConfig(port int) broker.Config {
	return broker.Config{Brokers: Brokers, Port: port, Partitions: TopicPartitions, Replication: true, Racks: Racks, Options: protocolClusterOpts()}
}

// CreateTopics creates the demo's topics: order, and the audit trail kept
// by size only.
func CreateTopics(ctx context.Context, c *broker.Cluster) error {
	if err := c.CreateTopic(ctx, Topic, TopicPartitions, TopicReplicas,
		"min.insync.replicas="+strconv.Itoa(TopicMinISR)); err != nil {
		return err
	}
	if err := c.CreateTopic(ctx, AuditTopic, AuditPartitions, AuditReplicas,
		"retention.bytes="+strconv.Itoa(AuditRetentionBytes), "retention.ms=-1"); err != nil {
		return err
	}
	return createLedgerTopic(ctx, c)
}

// RetentionEvery is how often the demo applies retention, as a broker does
// every log.retention.check.interval.ms (5 minutes by default): kfake would
// only every hour, and the audit trail's size limit would not show.
const RetentionEvery = 5 * time.Second

// applyRetention applies retention every RetentionEvery until ctx ends.
// It must end before the cluster closes.
func applyRetention(ctx context.Context, c *broker.Cluster) {
	t := time.NewTicker(RetentionEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.ApplyRetention()
		}
	}
}
