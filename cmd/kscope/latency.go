package main

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"kscope/internal/exchange"
	"kscope/internal/view"
)

func latencyCmd() *cobra.Command {
	var (
		o viewSource
		f view.LatencyFilter
	)
	cmd := &cobra.Command{
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
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			q := url.Values{"topic": {f.Topic}, "consumer": {f.Consumer}, "producer": {f.Producer}}
			return show(ctx, cmd.OutOrStdout(), &o, "/api/v1/latency", q, exchange.Filter{},
				func(in view.Input) view.LatencyView { return view.Latency(in, f) }, printLatency)
		},
	}
	o.flags(cmd)
	cmd.Flags().StringVar(&f.Topic, "topic", "", "only this topic")
	cmd.Flags().StringVar(&f.Consumer, "consumer", "", "only this consumer (process name, pid, client id, or PROCESS column)")
	cmd.Flags().StringVar(&f.Producer, "producer", "", "only batches whose Produce was seen from this producer")
	return cmd
}

// printLatency is one row per series: its first and last delay show the
// trend, the max the worst.
func printLatency(w io.Writer, v view.LatencyView) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tCONSUMER\tPRODUCER\tBATCHES\tFIRST DELAY\tLAST DELAY\tMAX DELAY\tLAST EXACT\tTIMESTAMP")
	for _, s := range v.Series {
		if len(s.Points) == 0 {
			continue
		}
		first, last := s.Points[0], s.Points[len(s.Points)-1]
		worst := first.DelaySeconds
		for _, p := range s.Points {
			worst = max(worst, p.DelaySeconds)
		}
		exact := "-"
		if last.ExactDelaySeconds != nil {
			exact = lagSecondsCell(*last.ExactDelaySeconds)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", s.Topic, s.Partition, clip(s.Consumer, 40), dash(clip(s.Producer, 40)),
			len(s.Points), lagSecondsCell(first.DelaySeconds), lagSecondsCell(last.DelaySeconds), lagSecondsCell(worst), exact, last.TimestampType)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(v.Series) == 0 {
		fmt.Fprintln(w, "no consumer fetched record batches in this window")
	}
	return nil
}

// lagSecondsCell shows a duration in seconds as a person reads it.
func lagSecondsCell(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch a := max(d, -d); {
	case a < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case a < time.Second:
		return d.Round(100 * time.Microsecond).String()
	default:
		return d.Round(time.Millisecond).String()
	}
}

func lagIntCell(v *int64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatInt(*v, 10)
}
