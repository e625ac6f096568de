package view

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/exchange"
)

// TestGroupNamedAlike: the overview and the clients view learn a
// consumer's group from the same requests. A consumer given partitions
// fetches its group's committed offsets (OffsetFetch) before it commits
// anything: both views name its group from then on.
func TestGroupNamedAlike(t *testing.T) {
	offsets := exchange.Exchange{
		Time: t0, Latency: dur(time.Millisecond), APIKey: kmsg.OffsetFetch.Int16(), API: "OffsetFetch",
		ClientID: "shipping", Group: "shipping-group",
		Client: exchange.Endpoint{Addr: "10.0.0.2:41000"}, Server: exchange.Endpoint{Addr: "10.0.0.9:9092"},
	}
	xs := []exchange.Exchange{
		produce("order", t0, "orders", 0, 0, 10),
		offsets,
		fetch("shipping", t0.Add(time.Second), fetchPart{"orders", 0, 0, 10, t0, 10}),
	}
	ov := Overview(Of(xs, WindowOf(xs)), OverviewFilter{})
	if len(ov.Consumers) != 1 || ov.Consumers[0].Group != "shipping-group" {
		t.Errorf("overview consumers %+v, want one in group shipping-group", ov.Consumers)
	}
	cv := Clients(Of(xs, WindowOf(xs)), ClientsFilter{})
	if c := consumerOf(t, cv, "shipping"); c.Group != "shipping-group" {
		t.Errorf("clients view group %q, want shipping-group", c.Group)
	}
}

// TestGroupKeys: rebalances are made of membership requests only; a
// client names its own group with those and with its offset requests.
func TestGroupKeys(t *testing.T) {
	for _, c := range []struct {
		key              kmsg.Key
		membership, owns bool
	}{
		{kmsg.JoinGroup, true, true}, {kmsg.SyncGroup, true, true}, {kmsg.Heartbeat, true, true},
		{kmsg.LeaveGroup, true, true}, {kmsg.ConsumerGroupHeartbeat, true, true},
		{kmsg.OffsetCommit, false, true}, {kmsg.OffsetFetch, false, true},
		{kmsg.DescribeGroups, false, false}, {kmsg.FindCoordinator, false, false}, {kmsg.Fetch, false, false},
	} {
		e := &exchange.Exchange{APIKey: c.key.Int16()}
		if isMembership(e) != c.membership || namesOwnGroup(e) != c.owns {
			t.Errorf("%s: membership %v, names own group %v; want %v, %v", c.key.Name(), isMembership(e), namesOwnGroup(e), c.membership, c.owns)
		}
	}
}
