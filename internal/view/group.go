package view

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/exchange"
)

// membershipKeys are the requests by which a member joins a consumer
// group, stays in it and leaves it: the classic protocol's JoinGroup,
// SyncGroup, Heartbeat and LeaveGroup, and KIP-848's
// ConsumerGroupHeartbeat. Rebalances are made of them.
var membershipKeys = []kmsg.Key{kmsg.JoinGroup, kmsg.SyncGroup, kmsg.Heartbeat, kmsg.LeaveGroup, kmsg.ConsumerGroupHeartbeat}

// ownGroupKeys are the requests by which a client names the group it
// consumes for: the membership requests, and OffsetCommit and OffsetFetch
// (a consumer fetches its group's offsets when it is given partitions,
// before it commits any). An admin tool sends the last two for groups it
// is not in, but it does not Fetch: it never becomes a consumer row.
var ownGroupKeys = append(slices.Clone(membershipKeys), kmsg.OffsetCommit, kmsg.OffsetFetch)

func isMembership(e *exchange.Exchange) bool {
	return slices.Contains(membershipKeys, kmsg.Key(e.APIKey))
}

// namesOwnGroup reports whether e names the group its client consumes
// for (in e.Group).
func namesOwnGroup(e *exchange.Exchange) bool {
	return slices.Contains(ownGroupKeys, kmsg.Key(e.APIKey))
}

func apiNames(keys []kmsg.Key) []string {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.Name()
	}
	return names
}
