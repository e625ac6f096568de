package main

import (
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"

	"github.com/spf13/cobra"

	"kscope/internal/table"
	"kscope/internal/view"
)

// viewCmd makes a command that shows one view, from a running agent's API
// at path or from capture files: the flags of viewFlags, and those its
// filter adds.
func viewCmd[V any](cmd *cobra.Command, sinceHelp, path string, needs func() view.Needs, query func() url.Values,
	compute func(view.Input) V, render func(io.Writer, *V) error) *cobra.Command {
	var o viewFlags
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := o.check(); err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
		defer stop()
		return show(ctx, cmd.OutOrStdout(), &o, path, query(), needs(), compute, render)
	}
	o.register(cmd, sinceHelp)
	return cmd
}

func overviewCmd() *cobra.Command {
	var f view.OverviewFilter
	cmd := viewCmd(&cobra.Command{
		Use:   "overview",
		Short: "Who produces and consumes each topic, at what rates, through which brokers",
		Long: `Show the topic-centric flow of Kafka traffic: producers -> topics -> consumers
with record bytes, records and requests per second; then topics, brokers,
producers, consumers and request latency per API.

Rates are per second of the window: --since before now for a running agent
(--server), the whole capture for --pcap. Replica fetches between brokers are
replication, never consumers. Empty Fetch long-polls that waited out their
max wait have their own latency row ("Fetch (empty long-poll)").`,
		Example: `  kscope overview --since 5m
  kscope overview --topic orders -o json
  kscope overview --pcap testdata/captures/franz-go.pcap`,
	}, "default 5m on an agent, the whole capture with --pcap", "/api/v1/overview",
		func() view.Needs { return f.Needs() },
		func() url.Values { return url.Values{"topic": {strings.Join(f.Topics, ",")}} },
		func(in view.Input) view.OverviewView { return view.Overview(in, f) }, table.Overview)
	cmd.Flags().StringSliceVar(&f.Topics, "topic", nil, "only these topics (repeatable or comma-separated)")
	return cmd
}

func clientsCmd() *cobra.Command {
	var f view.ClientsFilter
	cmd := viewCmd(&cobra.Command{
		Use:   "clients",
		Short: "Show lag per consumer process and partition, and producer rates, from traffic",
		Long: `Show, per consumer process and partition (not per group), its lag at the
window's end: the freshest log end known from any traffic (its own or
another process's fetch, a Produce response, ListOffsets, or the cluster
when the agent runs with --cluster) minus its position. A consumer that
works through what it fetched (its commits stay below what it fetched a
second before) is where it committed; one that consumes as it fetches is
where it fetches next. FETCH LAG counts from what it fetched; LAST FETCH
says since when it has not fetched, so a stopped consumer's lag grows.
Time lag = the age of the record at its position, 0 when caught up;
commit lag = the time of its last OffsetCommit minus the append time of the
last committed record. What kscope did not see is shown as "-", never
estimated. Producers: records/s, bytes/s, acks, errors. For each group's
lag as the cluster keeps it, dead consumers included: kscope lag.

From a running agent (--server) or from capture files (--pcap).`,
		Example: `  kscope clients --since 5m
  kscope clients --topic orders --group invoicing -o json
  kscope clients --pcap testdata/captures/franz-go.pcap`,
	}, "default all the agent holds, or the whole capture", "/api/v1/clients",
		func() view.Needs { return view.ClientsNeeds },
		func() url.Values { return url.Values{"topic": {f.Topic}, "client": {f.Client}, "group": {f.Group}} },
		func(in view.Input) view.ClientsView { return view.Clients(in, f) }, table.Clients)
	cmd.Flags().StringVar(&f.Topic, "topic", "", "only this topic")
	cmd.Flags().StringVar(&f.Client, "client", "", "only this client (process name, pid, client id, or PROCESS column)")
	cmd.Flags().StringVar(&f.Group, "group", "", "only consumers of this group (and no producers)")
	return cmd
}

func latencyCmd() *cobra.Command {
	var f view.LatencyFilter
	cmd := viewCmd(&cobra.Command{
		Use:   "latency",
		Short: "Show how late record batches reach each consumer (producer-consumer latency)",
		Long: `Show, per topic, partition and consumer process, how late each record batch
a consumer fetched reached it: the time its fetch response arrived minus the
batch's max timestamp (CreateTime: the producer's clock; LogAppendTime: the
broker's). Where kscope also saw the Produce of those offsets, the exact
delay from the produce request to the fetch response, and who produced
them. A consumer that falls behind shows a rising delay; a healthy one stays
near zero. Replica fetches between brokers are not consumers.

From a running agent (--server) or from capture files (--pcap).`,
		Example: `  kscope latency --topic orders --since 15m
  kscope latency --topic orders --consumer invoicing -o json
  kscope latency --pcap testdata/captures/kcat.pcap`,
	}, "default all the agent holds, or the whole capture", "/api/v1/latency",
		func() view.Needs { return view.LatencyNeeds },
		func() url.Values {
			return url.Values{"topic": {f.Topic}, "consumer": {f.Consumer}, "producer": {f.Producer}}
		},
		func(in view.Input) view.LatencyView { return view.Latency(in, f) }, table.Latency)
	cmd.Flags().StringVar(&f.Topic, "topic", "", "only this topic")
	cmd.Flags().StringVar(&f.Consumer, "consumer", "", "only this consumer (process name, pid, client id, or PROCESS column)")
	cmd.Flags().StringVar(&f.Producer, "producer", "", "only batches whose Produce was seen from this producer")
	return cmd
}

func rebalancesCmd() *cobra.Command {
	var f view.RebalanceFilter
	cmd := viewCmd(&cobra.Command{
		Use:   "rebalances",
		Short: "Show consumer groups, their rebalances and how long each stopped the group",
		Long: `Show consumer groups (members, generation, protocol, leader, assignments),
their rebalances with the delay of each member (its first JoinGroup request
of the round to its SyncGroup response) and the group's stop-the-world time
(first JoinGroup request to last SyncGroup response of the generation), and
the events: JoinGroup, SyncGroup, LeaveGroup, heartbeats answered
REBALANCE_IN_PROGRESS. KIP-848 groups (ConsumerGroupHeartbeat) show each
member epoch: from the heartbeat that started it, each member's delay to the
request from which it owns its whole target, the group's pause to the last
member there, and the partitions each member revoked and got.

From a running agent (--server) or from capture files (--pcap).`,
		Example: `  kscope rebalances --since 15m
  kscope rebalances --group shipping -o json
  kscope rebalances --pcap testdata/captures/franz-go.pcap`,
	}, "default all the agent holds, or the whole capture", "/api/v1/rebalances",
		func() view.Needs { return view.RebalancesNeeds },
		func() url.Values { return url.Values{"group": {f.Group}} },
		func(in view.Input) view.Rebalances { return view.RebalancesOf(in, f) }, table.Rebalances)
	cmd.Flags().StringVar(&f.Group, "group", "", "only this consumer group")
	return cmd
}
