package main

import (
	"bufio"
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

	"github.com/spf13/cobra"

	"kscope/internal/api"
	"kscope/internal/exchange"
	"kscope/internal/store"
	"kscope/internal/table"
)

// eventsOptions are the flags of kscope events.
type eventsOptions struct {
	apiFlags
	output           string
	filter           exchange.Filter
	since, until     string
	limit            int
	follow, noBodies bool
}

func eventsCmd() *cobra.Command {
	var o eventsOptions
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Show the Kafka exchanges a running kscope agent saw",
		Long: `Show the Kafka exchanges a running kscope agent saw, newest last: the same
table as kscope analyze, with the traced process and its side (client or
broker), or JSON lines / JSON with each exchange's sequence number.

--follow keeps printing new exchanges as the agent sees them, until Ctrl-C.`,
		Example: `  kscope events --since 5m
  kscope events --api Produce,Fetch --topic orders --min-latency 100ms
  kscope events --process shipping --follow
  kscope events -o jsonl --limit 100000 | jq 'select(.error != null)'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.filter.Validate(); err != nil {
				return err
			}
			if err := checkOutput(o.output, "table", "jsonl", "json"); err != nil {
				return err
			}
			if o.follow && o.output == "json" {
				return errors.New("--follow writes as exchanges come: use -o table or -o jsonl")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			err := events(ctx, cmd.OutOrStdout(), o)
			if o.follow && ctx.Err() != nil {
				return nil // Ctrl-C ends following; not an error
			}
			return err
		},
	}
	o.register(cmd, "kscope agent")
	f := cmd.Flags()
	f.StringVarP(&o.output, "output", "o", "table", "output format: table, jsonl (one exchange per line) or json")
	f.StringSliceVar(&o.filter.APIs, "api", nil, "only these APIs (name or key, repeatable or comma-separated)")
	f.StringSliceVar(&o.filter.Topics, "topic", nil, "only exchanges naming these topics")
	f.StringSliceVar(&o.filter.Clients, "client", nil, "only these clients (client id, ip or ip:port)")
	f.StringSliceVar(&o.filter.Processes, "process", nil, "only these traced processes (command name or pid)")
	f.StringVar(&o.filter.Side, "side", "", "only exchanges traced on this side: client or server")
	f.DurationVar(&o.filter.MinLatency, "min-latency", 0, "only exchanges at least this slow (e.g. 50ms)")
	f.StringVar(&o.since, "since", "", "only exchanges since then: a duration before now (5m) or an RFC 3339 time")
	f.StringVar(&o.until, "until", "", "only exchanges before then: a duration before now or an RFC 3339 time")
	f.IntVar(&o.limit, "limit", 1000, "at most this many exchanges, the newest (1 to 100000)")
	f.BoolVarP(&o.follow, "follow", "f", false, "keep printing new exchanges as they come")
	f.BoolVar(&o.noBodies, "no-bodies", false, "leave the whole request and response out of JSON output")
	return cmd
}

const exchangesPath = "/api/v1/exchanges"

// query is the API request for o.
func (o *eventsOptions) query() url.Values {
	v := url.Values{
		"api":     {strings.Join(o.filter.APIs, ",")},
		"topic":   {strings.Join(o.filter.Topics, ",")},
		"client":  {strings.Join(o.filter.Clients, ",")},
		"process": {strings.Join(o.filter.Processes, ",")},
		"side":    {o.filter.Side},
		"since":   {o.since},
		"until":   {o.until},
		"limit":   {strconv.Itoa(o.limit)},
	}
	if o.filter.MinLatency > 0 {
		v.Set("min_latency", o.filter.MinLatency.String())
	}
	if o.follow {
		v.Set("follow", "1")
	}
	if o.noBodies || o.output == "table" {
		v.Set("bodies", "0")
	}
	return v
}

// events asks the agent and prints what it answers.
func events(ctx context.Context, out io.Writer, o eventsOptions) error {
	c := o.client()
	open := c.Open
	if o.follow {
		open = c.Stream
	}
	body, err := open(ctx, exchangesPath, o.query())
	if err != nil {
		return err
	}
	defer body.Close()
	r := bufio.NewReaderSize(body, 64<<10)
	if o.follow {
		return follow(ctx, out, c, r, o.output)
	}
	var recs []store.Record
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			var rec store.Record
			if err := json.Unmarshal(line, &rec); err != nil {
				return c.ReadError(ctx, exchangesPath, fmt.Errorf("a line that is not an exchange: %v", err))
			}
			recs = append(recs, rec)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return c.Lost(ctx, err)
		}
	}
	switch o.output {
	case "jsonl":
		enc := json.NewEncoder(out)
		for i := range recs {
			if err := enc.Encode(recs[i]); err != nil {
				return err
			}
		}
	case "json":
		if recs == nil {
			recs = []store.Record{}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Server    string         `json:"server"`
			Exchanges []store.Record `json:"exchanges"`
		}{o.server, recs})
	default:
		xs := make([]exchange.Exchange, len(recs))
		for i := range recs {
			xs[i] = recs[i].Exchange
		}
		if err := table.Exchanges(out, xs); err != nil {
			return err
		}
		fmt.Fprintln(out)
		fmt.Fprintf(out, "%d exchanges shown, newest last", len(recs))
		if len(recs) == o.limit {
			fmt.Fprintf(out, "; older ones may match: raise --limit or narrow --since")
		}
		fmt.Fprintln(out)
	}
	return nil
}

// follow prints each exchange the agent streams, as it comes, until the
// stream or ctx ends.
func follow(ctx context.Context, out io.Writer, c *api.Client, r *bufio.Reader, output string) error {
	if output == "table" {
		table.FollowHeader(out)
	}
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			if output == "jsonl" {
				if _, err := out.Write(line); err != nil {
					return err
				}
			} else {
				var rec store.Record
				if err := json.Unmarshal(line, &rec); err != nil {
					return c.ReadError(ctx, exchangesPath, fmt.Errorf("a line that is not an exchange: %v", err))
				}
				if err := table.FollowRow(out, &rec.Exchange); err != nil {
					return err
				}
			}
		}
		if err == io.EOF {
			return c.Lost(ctx, errors.New("it closed the stream"))
		}
		if err != nil {
			return c.Lost(ctx, err)
		}
	}
}
