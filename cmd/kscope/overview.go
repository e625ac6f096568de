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
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"kscope/internal/exchange"
	"kscope/internal/kafka"
	"kscope/internal/view"
)

// overviewOptions are the flags of kscope overview.
type overviewOptions struct {
	server, token, output, since, until string
	pcap, topics                        []string
}

func overviewCmd() *cobra.Command {
	var o overviewOptions
	cmd := &cobra.Command{
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
			return overview(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", "http://127.0.0.1:7070", "address of the kscope agent's API")
	f.StringVar(&o.token, "token", "", "the agent's API token (default $KSCOPE_TOKEN)")
	f.StringSliceVar(&o.pcap, "pcap", nil, "compute from these capture files instead of an agent (repeatable or comma-separated)")
	f.StringVar(&o.since, "since", "5m", "the window: a duration before now or an RFC 3339 time (agent only; a capture is taken whole)")
	f.StringVar(&o.until, "until", "", "end of the window: a duration before now or an RFC 3339 time (default now; agent only)")
	f.StringSliceVar(&o.topics, "topic", nil, "only these topics (repeatable or comma-separated)")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table or json (the API's JSON)")
	return cmd
}

func overview(ctx context.Context, out, errw io.Writer, o overviewOptions) error {
	var (
		ov  view.OverviewView
		raw []byte
	)
	if len(o.pcap) > 0 {
		res, err := analyze(ctx, o.pcap, kafka.Options{}, exchange.Filter{}, exchange.Options{})
		if err != nil {
			return err
		}
		if len(res.Errors) > 0 {
			return errors.New(strings.Join(res.Errors, "\n"))
		}
		ov = view.Overview(view.Of(res.Exchanges, view.WindowOf(res.Exchanges)), view.OverviewFilter{Topics: o.topics})
	} else {
		u, err := overviewURL(o)
		if err != nil {
			return err
		}
		body, err := getAgent(ctx, eventsOptions{server: o.server, token: o.token}, u)
		if err != nil {
			return err
		}
		defer body.Close()
		raw, err = io.ReadAll(body)
		if err != nil {
			return fmt.Errorf("lost the kscope agent at %s: %v", o.server, err)
		}
		if err := json.Unmarshal(raw, &ov); err != nil {
			return fmt.Errorf("kscope agent at %s answered something that is not an overview: %v", o.server, err)
		}
	}
	if o.output == "json" {
		if raw != nil {
			_, err := out.Write(raw)
			return err
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(ov)
	}
	return printOverview(out, &ov)
}

// overviewURL is the API request for o.
func overviewURL(o overviewOptions) (string, error) {
	base, err := url.Parse(strings.TrimRight(o.server, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return "", fmt.Errorf("--server %q: use an address such as http://127.0.0.1:7070", o.server)
	}
	v := url.Values{}
	if o.since != "" {
		v.Set("since", o.since)
	}
	if o.until != "" {
		v.Set("until", o.until)
	}
	if len(o.topics) > 0 {
		v.Set("topic", strings.Join(o.topics, ","))
	}
	base.Path += "/api/v1/overview"
	base.RawQuery = v.Encode()
	return base.String(), nil
}

func printOverview(w io.Writer, o *view.OverviewView) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%d exchanges over %s s, %s to %s\n\n", o.Exchanges, ovNum(o.Seconds),
		o.From.UTC().Format("2006-01-02 15:04:05"), o.To.UTC().Format("15:04:05"))

	labels := map[string]string{}
	for _, n := range o.Nodes {
		labels[n.ID] = n.Label
	}
	// The flow: each producer -> topic -> consumer, topic by topic.
	fmt.Fprintln(tw, "FLOW\tBYTES/S\tRECORDS/S\tREQUESTS/S")
	for _, t := range o.Topics {
		id := view.KindTopic + ":" + t.Name
		var ins, outs []view.Edge
		for _, e := range o.Edges {
			if e.To == id {
				ins = append(ins, e)
			}
			if e.From == id {
				outs = append(outs, e)
			}
		}
		if len(ins) == 0 {
			fmt.Fprintf(tw, "(no producer seen) -> %s\t\t\t\n", t.Name)
		}
		for _, e := range ins {
			fmt.Fprintf(tw, "%s -> %s\t%s\t%s\t%s\n", labels[e.From], t.Name, ovNum(e.BytesPerSec), ovNum(e.RecordsPerSec), ovNum(e.RequestsPerSec))
		}
		if len(outs) == 0 {
			fmt.Fprintf(tw, "%s -> (no consumer seen)\t\t\t\n", t.Name)
		}
		for _, e := range outs {
			fmt.Fprintf(tw, "%s -> %s\t%s\t%s\t%s\n", t.Name, labels[e.To], ovNum(e.BytesPerSec), ovNum(e.RecordsPerSec), ovNum(e.RequestsPerSec))
		}
	}

	fmt.Fprintln(tw, "\nTOPIC\tPARTITIONS\tPRODUCERS\tCONSUMERS\tBYTES IN/S\tBYTES OUT/S\tRECORDS IN/S\tRECORDS OUT/S\tREPLICATION B/S")
	for _, t := range o.Topics {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.Partitions, t.Producers, t.Consumers,
			ovNum(t.BytesInPerSec), ovNum(t.BytesOutPerSec), ovNum(t.RecordsInPerSec), ovNum(t.RecordsOutPerSec), ovNum(t.ReplicationBytesPerSec))
	}

	fmt.Fprintln(tw, "\nBROKER\tREQUESTS/S\tPRODUCE/S\tFETCH/S\tREPLICA FETCH/S\tBYTES IN/S\tBYTES OUT/S\tREPLICATION B/S\tLATENCY P50/P99")
	for _, b := range o.Brokers {
		var lat []string
		for _, l := range b.Latency {
			if l.Answered > 0 && (l.API == "Produce" || strings.HasPrefix(l.API, "Fetch")) {
				lat = append(lat, fmt.Sprintf("%s %s/%s", l.API, ovDur(l.P50), ovDur(l.P99)))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", b.Broker, ovNum(b.RequestsPerSec), ovNum(b.ProduceRequestsPerSec),
			ovNum(b.FetchRequestsPerSec), ovNum(b.ReplicaFetchRequestsPerSec), ovNum(b.BytesInPerSec), ovNum(b.BytesOutPerSec),
			ovNum(b.ReplicationBytesPerSec), strings.Join(lat, ", "))
	}

	for _, sec := range []struct {
		title string
		rows  []view.ClientRow
	}{{"PRODUCER", o.Producers}, {"CONSUMER", o.Consumers}} {
		fmt.Fprintf(tw, "\n%s\tCLIENT ID\tGROUP\tTOPICS\tREQUESTS\tREQUESTS/S\tBYTES/S\tRECORDS/S\tERRORS\n", sec.title)
		for _, r := range sec.rows {
			who := r.Process
			if who == "" {
				who = r.Host
			}
			if r.Pod != "" {
				who = "pod " + r.Pod + " " + who
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", who, dash(r.ClientID), dash(r.Group), strings.Join(r.Topics, ","),
				r.Requests, ovNum(r.RequestsPerSec), ovNum(r.BytesPerSec), ovNum(r.RecordsPerSec), ovErrors(r.Errors, r.ErrorsByCode))
		}
	}

	fmt.Fprintln(tw, "\nAPI\tREQUESTS\tREQUESTS/S\tP50\tP90\tP99\tMAX\tERRORS")
	for _, r := range o.Latency.ByAPI {
		p := func(v float64) string {
			if r.Answered == 0 {
				return "-"
			}
			return ovDur(v)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.API, r.Requests, ovNum(r.RequestsPerSec),
			p(r.P50), p(r.P90), p(r.P99), p(r.Max), ovErrors(r.Errors, r.ErrorsByCode))
	}
	return tw.Flush()
}

func ovNum(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

func ovDur(seconds float64) string {
	switch {
	case seconds >= 1:
		return strconv.FormatFloat(seconds, 'f', 2, 64) + "s"
	case seconds >= 0.001:
		return strconv.FormatFloat(seconds*1e3, 'f', 1, 64) + "ms"
	}
	return strconv.FormatFloat(seconds*1e6, 'f', 0, 64) + "µs"
}

func ovErrors(n int64, byCode map[string]int64) string {
	if n == 0 {
		return "0"
	}
	codes := make([]string, 0, len(byCode))
	for c := range byCode {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for i, c := range codes {
		codes[i] = c + "×" + strconv.FormatInt(byCode[c], 10)
	}
	return strconv.FormatInt(n, 10) + " (" + strings.Join(codes, ", ") + ")"
}
