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

// lagSource is where kscope latency and kscope clients get their view:
// a running agent's API, or capture files decoded here.
type lagSource struct {
	server, token, output string
	pcaps                 []string
	since                 string
}

func (o *lagSource) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.server, "server", "http://127.0.0.1:7070", "address of the kscope agent's API")
	f.StringVar(&o.token, "token", "", "the agent's API token (default $KSCOPE_TOKEN)")
	f.StringSliceVar(&o.pcaps, "pcap", nil, "read these capture files instead of asking an agent")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table or json (the API's JSON)")
	f.StringVar(&o.since, "since", "", "only since then: a duration (5m) before now, or before the capture's end with --pcap; or an RFC 3339 time")
}

func (o *lagSource) check() error {
	switch o.output {
	case "table", "json":
	default:
		return fmt.Errorf("unknown output %q: use table or json", o.output)
	}
	if o.token == "" {
		o.token = os.Getenv("KSCOPE_TOKEN")
	}
	return nil
}

// capture decodes the capture files: the exchanges the lag views read,
// and the window --since asks for (the whole capture by default).
func (o *lagSource) capture(ctx context.Context) ([]exchange.Exchange, view.Window, error) {
	res, err := analyze(ctx, o.pcaps, kafka.Options{}, exchange.Filter{}, exchange.Options{})
	if err != nil {
		return nil, view.Window{}, err
	}
	if len(res.Errors) > 0 {
		return nil, view.Window{}, errors.New(strings.Join(res.Errors, "\n"))
	}
	w := view.WindowOf(res.Exchanges)
	if o.since != "" {
		if d, err := time.ParseDuration(o.since); err == nil {
			w.From = w.To.Add(-max(d, -d))
		} else if w.From, err = time.Parse(time.RFC3339Nano, o.since); err != nil {
			return nil, view.Window{}, fmt.Errorf("--since %q is neither an RFC 3339 time nor a duration such as 5m", o.since)
		}
	}
	return res.Exchanges, w, nil
}

// ask gets path from the agent with the query q (and since) into v.
func (o *lagSource) ask(ctx context.Context, path string, q url.Values, v any) error {
	base, err := url.Parse(strings.TrimRight(o.server, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return fmt.Errorf("--server %q: use an address such as http://127.0.0.1:7070", o.server)
	}
	if o.since != "" {
		q.Set("since", o.since)
	}
	for k, vs := range q {
		if len(vs) == 1 && vs[0] == "" {
			delete(q, k)
		}
	}
	base.Path += path
	base.RawQuery = q.Encode()
	body, err := getAgent(ctx, eventsOptions{server: o.server, token: o.token}, base.String())
	if err != nil {
		return err
	}
	defer body.Close()
	if err := json.NewDecoder(body).Decode(v); err != nil {
		return fmt.Errorf("kscope agent at %s answered something that is not the %s view: %v", o.server, path, err)
	}
	return nil
}

func (o *lagSource) print(out io.Writer, v any, table func(io.Writer) error) error {
	if o.output == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	return table(out)
}

func latencyCmd() *cobra.Command {
	var (
		o lagSource
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
			var v view.LatencyView
			if len(o.pcaps) > 0 {
				xs, w, err := o.capture(ctx)
				if err != nil {
					return err
				}
				v = view.Latency(xs, w, f)
			} else if err := o.ask(ctx, "/api/v1/latency", url.Values{"topic": {f.Topic}, "consumer": {f.Consumer}, "producer": {f.Producer}}, &v); err != nil {
				return err
			}
			return o.print(cmd.OutOrStdout(), v, func(w io.Writer) error { return printLatency(w, v) })
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
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", s.Topic, s.Partition, clip(s.Consumer, 40), lagDash(clip(s.Producer, 40)),
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

func lagDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func lagIntCell(v *int64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatInt(*v, 10)
}
