package demo

import (
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The demo's two groups rebalance by the two group protocols, so that
// kscope rebalances shows them side by side: shipping, the group that
// kscope demo scale grows, uses the KIP-848 consumer protocol
// (ConsumerGroupHeartbeat: the broker assigns, members give partitions up
// and take them one heartbeat at a time); invoicing the classic one
// (JoinGroup/SyncGroup, eager range: a rebalance stops the whole group).

// Group protocols, as the rebalances view names them.
const (
	ConsumerProtocol = "consumer"
	ClassicProtocol  = "classic"
)

// GroupProtocol is the group protocol of a consumer service's group.
func GroupProtocol(service string) string {
	if service == Shipping {
		return ConsumerProtocol
	}
	return ClassicProtocol
}

// protocolBanner says in the banner how a service's group rebalances.
func protocolBanner(service string) string {
	if GroupProtocol(service) == ConsumerProtocol {
		return "KIP-848 consumer protocol"
	}
	return "classic protocol, eager range"
}

// groupProtocolOpts are the client options of a service's group protocol.
func groupProtocolOpts(service string) []kgo.Opt {
	if GroupProtocol(service) == ConsumerProtocol {
		// franz-go speaks KIP-848 with a range or sticky balancer;
		// sticky asks the broker for its uniform assignor, Kafka's
		// default for the consumer protocol.
		return []kgo.Opt{kgo.Balancers(kgo.StickyBalancer()), kgo.ServerSideBalancer()}
	}
	// Eager range, the classic default of Java consumers: a rebalance
	// stops the whole group, as the rebalances view shows.
	return []kgo.Opt{kgo.Balancers(kgo.RangeBalancer())}
}

// consumerHeartbeatMS is the KIP-848 heartbeat interval the demo's brokers
// ask members for (group.consumer.heartbeat.interval.ms, 5 s in Kafka): a
// member learns of a new epoch at its next heartbeat, so that a rebalance
// of shipping takes a second or two, not ten.
const consumerHeartbeatMS = "1000"

// protocolClusterOpts are the kfake options the consumer protocol needs.
func protocolClusterOpts() []kfake.Opt {
	return []kfake.Opt{kfake.BrokerConfigs(map[string]string{"group.consumer.heartbeat.interval.ms": consumerHeartbeatMS})}
}
