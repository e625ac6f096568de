package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"kscope/internal/exchange"
	"kscope/internal/view"
)

type rebalancesOptions struct {
	viewSource
	group string
}

func rebalancesCmd() *cobra.Command {
	var o rebalancesOptions
	cmd := &cobra.Command{
		Use:   "rebalances",
		Short: "Show consumer groups, their rebalances and how long each stopped the group",
		Long: `Show consumer groups (members, generation, protocol, leader, assignments),
their rebalances with the delay of each member (its first JoinGroup request
of the round to its SyncGroup response) and the group's stop-the-world time
(first JoinGroup request to last SyncGroup response of the generation), and
the events: JoinGroup, SyncGroup, LeaveGroup, heartbeats answered
REBALANCE_IN_PROGRESS. KIP-848 groups (ConsumerGroupHeartbeat) show the time
from a member epoch bump to the member owning what it was assigned.

From a running agent (--server) or from capture files (--pcap).`,
		Example: `  kscope rebalances --since 15m
  kscope rebalances --group shipping -o json
  kscope rebalances --pcap testdata/captures/franz-go.pcap`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			return rebalances(ctx, cmd.OutOrStdout(), o)
		},
	}
	o.flags(cmd)
	cmd.Flags().StringVar(&o.group, "group", "", "only this consumer group")
	return cmd
}

func rebalances(ctx context.Context, out io.Writer, o rebalancesOptions) error {
	return show(ctx, out, &o.viewSource, "/api/v1/rebalances", url.Values{"group": {o.group}}, exchange.Filter{APIs: view.RebalanceAPIs},
		func(in view.Input) view.Rebalances {
			return view.RebalancesOf(in, view.RebalanceFilter{Group: o.group})
		}, printRebalances)
}

func printRebalances(w io.Writer, v view.Rebalances) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tPROTOCOL\tGENERATION\tASSIGNOR\tLEADER\tMEMBERS\tREBALANCES\tLAST REBALANCE")
	for _, g := range v.Groups {
		gen := "-"
		if g.Generation != nil {
			gen = strconv.Itoa(int(*g.Generation))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", g.Group, g.GroupProtocol, gen, dash(g.Protocol), dash(clip(g.Leader, 40)),
			len(g.Members), g.Rebalances, rbSecondsCell(g.LastRebalanceSeconds))
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "GROUP\tMEMBER\tCLIENT ID\tPROCESS/HOST\tINSTANCE\tASSIGNMENT")
	for _, g := range v.Groups {
		for _, m := range g.Members {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", g.Group, clip(m.MemberID, 48), dash(m.ClientID), dash(rbWho(m.Client)), dash(m.InstanceID), dash(clip(view.PartitionsText(m.Assignment), 60)))
		}
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "STARTED\tGROUP\tGENERATION\tSTOP-THE-WORLD\tMEMBER\tCLIENT ID\tDELAY\tREASON")
	for _, rb := range v.Rebalances {
		started := "-"
		if rb.Started != nil {
			started = rb.Started.UTC().Format("15:04:05.000000")
		}
		stw := rbSecondsCell(rb.DelaySeconds)
		if !rb.Complete {
			stw = "incomplete"
		}
		if len(rb.Members) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t-\t-\t-\t%s\n", started, rb.Group, rb.Generation, stw, rb.Reason)
		}
		for i, m := range rb.Members {
			if i > 0 {
				started, stw = "", ""
			}
			reason := ""
			if i == 0 {
				reason = rb.Reason
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", started, rb.Group, rb.Generation, stw, clip(m.MemberID, 48), dash(m.ClientID), rbSecondsCell(m.DelaySeconds), clip(reason, 80))
		}
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "TIME\tGROUP\tAPI\tMEMBER\tCLIENT ID\tGENERATION\tLATENCY\tERROR\tDETAIL")
	for _, e := range v.Events {
		gen := "-"
		if e.Generation != nil {
			gen = strconv.Itoa(int(*e.Generation))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format("15:04:05.000000"), e.Group, e.API, dash(clip(e.MemberID, 48)),
			dash(e.ClientID), gen, rbSecondsCell(e.LatencySeconds), dash(e.Error), clip(e.Detail, 60))
	}
	return tw.Flush()
}

func rbWho(c view.Client) string {
	if c.Process != "" {
		return c.Process
	}
	return c.Host
}

func rbSecondsCell(s *float64) string {
	if s == nil {
		return "-"
	}
	return lagSecondsCell(*s)
}
