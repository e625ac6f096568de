package main

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"kscope/internal/exchange"
	"kscope/internal/view"
)

func clientsCmd() *cobra.Command {
	var (
		o viewSource
		f view.ClientsFilter
	)
	cmd := &cobra.Command{
		Use:   "clients",
		Short: "Show lag per consumer process and partition, and producer rates, from traffic",
		Long: `Show, per consumer process and partition (not per group), what its own last
fetch told: offset lag = the high watermark in the fetch response minus the
offset the consumer fetches next (one past the last complete batch returned,
or the fetch offset when none); time lag = the age of that next record when
kscope saw it produced, 0 when caught up; commit lag = the time of its last
OffsetCommit minus the append time of the last committed record (committed
offset - 1) when kscope saw it produced. What kscope did not see is shown
as "-", never estimated. Producers: records/s, bytes/s, acks, errors.

From a running agent (--server) or from capture files (--pcap).`,
		Example: `  kscope clients --since 5m
  kscope clients --topic orders --group invoicing -o json
  kscope clients --pcap testdata/captures/franz-go.pcap`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			q := url.Values{"topic": {f.Topic}, "client": {f.Client}, "group": {f.Group}}
			return show(ctx, cmd.OutOrStdout(), &o, "/api/v1/clients", q, exchange.Filter{},
				func(in view.Input) view.ClientsView { return view.Clients(in, f) }, printClients)
		},
	}
	o.flags(cmd)
	cmd.Flags().StringVar(&f.Topic, "topic", "", "only this topic")
	cmd.Flags().StringVar(&f.Client, "client", "", "only this client (process name, pid, client id, or PROCESS column)")
	cmd.Flags().StringVar(&f.Group, "group", "", "only consumers of this group (and no producers)")
	return cmd
}

func printClients(w io.Writer, v view.ClientsView) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CONSUMER\tCLIENT ID\tGROUP\tTOPIC\tPARTITION\tNEXT OFFSET\tHIGH WATERMARK\tOFFSET LAG\tTIME LAG\tCOMMITTED\tCOMMIT LAG\tRECORDS/S")
	for _, c := range v.Consumers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f\n", clip(c.Process, 40), clip(c.ClientID, 24), dash(c.Group), c.Topic, c.Partition,
			lagIntCell(c.NextOffset), lagIntCell(c.HighWatermark), lagIntCell(c.OffsetLag), lagSecondsPtr(c.TimeLagSeconds),
			lagIntCell(c.CommittedOffset), lagSecondsPtr(c.CommitLagSeconds), c.RecordsPerSec)
	}
	if len(v.Producers) == 0 { // --group shows none
		return tw.Flush()
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "PRODUCER\tCLIENT ID\tTOPIC\tREQUESTS\tRECORDS/S\tBYTES/S\tACKS\tNO RESPONSE\tERRORS")
	for _, p := range v.Producers {
		var errs []string
		for code, n := range p.Errors {
			errs = append(errs, fmt.Sprintf("%s×%d", code, n))
		}
		sort.Strings(errs)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.1f\t%.0f\t%s\t%d\t%s\n", clip(p.Process, 40), clip(p.ClientID, 24), p.Topic, p.Requests,
			p.RecordsPerSec, p.BytesPerSec, dash(p.Acks), p.NoResponse, dash(strings.Join(errs, ",")))
	}
	return tw.Flush()
}

func lagSecondsPtr(s *float64) string {
	if s == nil {
		return "-"
	}
	return lagSecondsCell(*s)
}
