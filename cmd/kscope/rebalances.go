package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"kscope/internal/exchange"
	"kscope/internal/kafka"
	"kscope/internal/view"
)

type rebalancesOptions struct {
	server, token, output string
	pcaps                 []string
	since, group          string
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
			switch o.output {
			case "table", "json":
			default:
				return fmt.Errorf("unknown output %q: use table or json", o.output)
			}
			if o.token == "" {
				o.token = os.Getenv("KSCOPE_TOKEN")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			return rebalances(ctx, cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", "http://127.0.0.1:7070", "address of the kscope agent's API")
	f.StringVar(&o.token, "token", "", "the agent's API token (default $KSCOPE_TOKEN)")
	f.StringSliceVar(&o.pcaps, "pcap", nil, "read these capture files instead of asking an agent")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table or json (the API's JSON)")
	f.StringVar(&o.since, "since", "", "only since then: a duration (5m) before now, or before the capture's end with --pcap; or an RFC 3339 time")
	f.StringVar(&o.group, "group", "", "only this consumer group")
	return cmd
}

func rebalances(ctx context.Context, out io.Writer, o rebalancesOptions) error {
	var v view.Rebalances
	if len(o.pcaps) > 0 {
		res, err := analyze(ctx, o.pcaps, kafka.Options{}, exchange.Filter{APIs: view.RebalanceAPIs}, exchange.Options{})
		if err != nil {
			return err
		}
		if len(res.Errors) > 0 {
			return errors.New(strings.Join(res.Errors, "\n"))
		}
		var w view.Window
		if o.since != "" {
			last := time.Time{}
			if n := len(res.Exchanges); n > 0 {
				last = res.Exchanges[n-1].Time
			}
			if w.From, err = rbSince(o.since, last); err != nil {
				return err
			}
		}
		v = view.RebalancesOf(res.Exchanges, w, view.RebalanceFilter{Group: o.group})
	} else {
		base, err := url.Parse(strings.TrimRight(o.server, "/"))
		if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
			return fmt.Errorf("--server %q: use an address such as http://127.0.0.1:7070", o.server)
		}
		q := url.Values{}
		if o.since != "" {
			q.Set("since", o.since)
		}
		if o.group != "" {
			q.Set("group", o.group)
		}
		base.Path += "/api/v1/rebalances"
		base.RawQuery = q.Encode()
		body, err := getAgent(ctx, eventsOptions{server: o.server, token: o.token}, base.String())
		if err != nil {
			return err
		}
		defer body.Close()
		if err := json.NewDecoder(body).Decode(&v); err != nil {
			return fmt.Errorf("kscope agent at %s answered something that is not the rebalances view: %v", o.server, err)
		}
	}
	if o.output == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	return printRebalances(out, v)
}

// rbSince reads --since: a duration before ref, or an RFC 3339 time.
func rbSince(s string, ref time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return ref.Add(-max(d, -d)), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--since %q is neither an RFC 3339 time nor a duration such as 5m", s)
	}
	return t, nil
}

func printRebalances(w io.Writer, v view.Rebalances) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tPROTOCOL\tGENERATION\tASSIGNOR\tLEADER\tMEMBERS\tREBALANCES\tLAST REBALANCE")
	for _, g := range v.Groups {
		gen := "-"
		if g.Generation != nil {
			gen = strconv.Itoa(int(*g.Generation))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", g.Group, g.GroupProtocol, gen, rbDash(g.Protocol), rbDash(clip(g.Leader, 40)),
			len(g.Members), g.Rebalances, rbSecondsCell(g.LastRebalanceSeconds))
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "GROUP\tMEMBER\tCLIENT ID\tPROCESS/HOST\tINSTANCE\tASSIGNMENT")
	for _, g := range v.Groups {
		for _, m := range g.Members {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", g.Group, clip(m.MemberID, 48), rbDash(m.ClientID), rbDash(rbWho(m.Client)), rbDash(m.InstanceID), rbDash(clip(view.PartitionsText(m.Assignment), 60)))
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
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", started, rb.Group, rb.Generation, stw, clip(m.MemberID, 48), rbDash(m.ClientID), rbSecondsCell(m.DelaySeconds), clip(reason, 80))
		}
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "TIME\tGROUP\tAPI\tMEMBER\tCLIENT ID\tGENERATION\tLATENCY\tERROR\tDETAIL")
	for _, e := range v.Events {
		gen := "-"
		if e.Generation != nil {
			gen = strconv.Itoa(int(*e.Generation))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format("15:04:05.000000"), e.Group, e.API, rbDash(clip(e.MemberID, 48)),
			rbDash(e.ClientID), gen, rbSecondsCell(e.LatencySeconds), rbDash(e.Error), clip(e.Detail, 60))
	}
	return tw.Flush()
}

func rbDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
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
	return time.Duration(*s * float64(time.Second)).Round(time.Microsecond).String()
}
