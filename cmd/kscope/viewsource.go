package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"kscope/internal/exchange"
	"kscope/internal/kafka"
	"kscope/internal/view"
)

// viewSource is where the view commands (latency, clients, rebalances)
// get their view: a running agent's API, or capture files decoded here.
type viewSource struct {
	server, token, output string
	pcaps                 []string
	since                 string
}

func (o *viewSource) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.server, "server", "http://127.0.0.1:7070", "address of the kscope agent's API")
	f.StringVar(&o.token, "token", "", "the agent's API token (default $KSCOPE_TOKEN)")
	f.StringSliceVar(&o.pcaps, "pcap", nil, "read these capture files instead of asking an agent")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table or json (the API's JSON)")
	f.StringVar(&o.since, "since", "", "only since then: a duration (5m) before now, or before the capture's end with --pcap; or an RFC 3339 time")
}

func (o *viewSource) check() error {
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

// capture decodes the capture files (only the exchanges the view reads)
// and returns the window --since asks for (the whole capture by default).
func (o *viewSource) capture(ctx context.Context, only exchange.Filter) (view.Input, error) {
	res, err := analyze(ctx, o.pcaps, kafka.Options{}, only, exchange.Options{})
	if err != nil {
		return view.Input{}, err
	}
	if len(res.Errors) > 0 {
		return view.Input{}, errors.New(strings.Join(res.Errors, "\n"))
	}
	w := view.WindowOf(res.Exchanges)
	if o.since != "" {
		if d, err := time.ParseDuration(o.since); err == nil {
			w.From = w.To.Add(-max(d, -d))
		} else if w.From, err = time.Parse(time.RFC3339Nano, o.since); err != nil {
			return view.Input{}, fmt.Errorf("--since %q is neither an RFC 3339 time nor a duration such as 5m", o.since)
		}
	}
	return view.Of(res.Exchanges, w), nil
}

// ask gets path from the agent with the query q (and since) into v.
func (o *viewSource) ask(ctx context.Context, path string, q url.Values, v any) error {
	if o.since != "" {
		q.Set("since", o.since)
	}
	for k, vs := range q {
		if len(vs) == 1 && vs[0] == "" {
			delete(q, k)
		}
	}
	return askAPI(ctx, eventsOptions{server: o.server, token: o.token}, http.MethodGet, path, q, v, "the "+path+" view")
}

// askAPI sends method to path (with the query q) of the API at o.server
// and decodes the JSON answer into v; what names the answer expected.
func askAPI(ctx context.Context, o eventsOptions, method, path string, q url.Values, v any, what string) error {
	base, err := url.Parse(strings.TrimRight(o.server, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return fmt.Errorf("--server %q: use an address such as http://127.0.0.1:7070", o.server)
	}
	base.Path += path
	base.RawQuery = q.Encode()
	body, err := callAgent(ctx, o, method, base.String())
	if err != nil {
		return err
	}
	defer body.Close()
	if err := json.NewDecoder(body).Decode(v); err != nil {
		return fmt.Errorf("kscope at %s answered something that is not %s: %v", o.server, what, err)
	}
	return nil
}

func (o *viewSource) print(out io.Writer, v any, table func(io.Writer) error) error {
	if o.output == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	return table(out)
}

// show computes a view from the capture files (only the exchanges it
// reads), or asks the agent at path for it, and prints it.
func show[V any](ctx context.Context, out io.Writer, o *viewSource, path string, q url.Values, only exchange.Filter,
	compute func(view.Input) V, table func(io.Writer, V) error) error {
	var v V
	if len(o.pcaps) > 0 {
		in, err := o.capture(ctx, only)
		if err != nil {
			return err
		}
		v = compute(in)
	} else if err := o.ask(ctx, path, q, &v); err != nil {
		return err
	}
	return o.print(out, v, func(w io.Writer) error { return table(w, v) })
}

// dash shows a missing value in a table.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
