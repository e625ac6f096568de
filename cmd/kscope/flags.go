package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"kscope/internal/api"
	"kscope/internal/exchange"
	"kscope/internal/offline"
	"kscope/internal/server"
	"kscope/internal/view"
)

// apiFlags are --server and --token, for every command that asks a
// running agent or demo.
type apiFlags struct {
	server, token string
}

func (f *apiFlags) register(cmd *cobra.Command, what string) {
	cmd.Flags().StringVar(&f.server, "server", "http://"+server.DefaultListen, "address of the "+what+"'s API")
	cmd.Flags().StringVar(&f.token, "token", "", "the API's token (default $"+api.TokenEnv+")")
}

// client asks the agent's API at --server.
func (f *apiFlags) client() *api.Client {
	return &api.Client{Server: f.server, Token: api.Token(f.token)}
}

// viewFlags say where a view comes from: a running agent, or capture files
// decoded here; the window; and how to print it.
type viewFlags struct {
	apiFlags
	pcaps        []string
	since, until string
	output       string
}

func (o *viewFlags) register(cmd *cobra.Command, sinceHelp string) {
	o.apiFlags.register(cmd, "kscope agent")
	f := cmd.Flags()
	f.StringSliceVar(&o.pcaps, "pcap", nil, "compute from these capture files instead of asking an agent (repeatable or comma-separated)")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table or json (the API's JSON)")
	f.StringVar(&o.since, "since", "", "start of the window: a duration before now (before the capture's end with --pcap), or an RFC 3339 time; "+sinceHelp)
	f.StringVar(&o.until, "until", "", "end of the window, as --since (default now, or the capture's end)")
}

func (o *viewFlags) check() error {
	return checkOutput(o.output, "table", "json")
}

// checkOutput accepts the formats named.
func checkOutput(output string, formats ...string) error {
	for _, f := range formats {
		if output == f {
			return nil
		}
	}
	return fmt.Errorf("unknown output %q: use %s", output, orList(formats))
}

func orList(s []string) string {
	switch len(s) {
	case 1:
		return s[0]
	case 2:
		return s[0] + " or " + s[1]
	}
	out := ""
	for i, x := range s {
		switch {
		case i == len(s)-1:
			out += " or "
		case i > 0:
			out += ", "
		}
		out += x
	}
	return out
}

// capture decodes the capture files (only the exchanges n reads) into the
// input of the window --since and --until ask for, counted back from the
// capture's end; the whole capture by default.
func (o *viewFlags) capture(ctx context.Context, n view.Needs) (view.Input, error) {
	a, err := offline.Analyze(ctx, o.pcaps, offline.Options{Filter: exchange.Filter{APIs: n.APIs}, Build: exchange.Options{Cache: exchange.NewCache()}})
	if err != nil {
		return view.Input{}, err
	}
	if err := a.Err(); err != nil {
		return view.Input{}, err
	}
	w := view.WindowOf(a.Exchanges)
	end := w.To
	for _, b := range []struct {
		flag, value string
		dst         *time.Time
	}{{"--since", o.since, &w.From}, {"--until", o.until, &w.To}} {
		t, err := view.ParseTime(b.value, end)
		if err != nil {
			return view.Input{}, fmt.Errorf("%s: %w", b.flag, err)
		}
		if !t.IsZero() {
			*b.dst = t
		}
	}
	if !w.From.Before(w.To) && len(a.Exchanges) > 0 {
		return view.Input{}, fmt.Errorf("--since %s is not before --until %s", w.From.Format(time.RFC3339Nano), w.To.Format(time.RFC3339Nano))
	}
	return view.Of(a.Exchanges, w), nil
}

// show computes a view from capture files, or asks the agent at path for
// it (with q, and the window), and prints it: as a table, or as the JSON
// the API answers (the agent's own bytes when it answered).
func show[V any](ctx context.Context, out io.Writer, o *viewFlags, path string, q url.Values, n view.Needs,
	compute func(view.Input) V, table func(io.Writer, *V) error) error {
	var v V
	if len(o.pcaps) > 0 {
		in, err := o.capture(ctx, n)
		if err != nil {
			return err
		}
		v = compute(in)
		if o.output == "json" {
			enc := json.NewEncoder(out)
			enc.SetIndent("", "  ")
			return enc.Encode(v)
		}
		return table(out, &v)
	}
	q.Set("since", o.since)
	q.Set("until", o.until)
	c := o.client()
	raw, err := c.GetRaw(ctx, path, q)
	if err != nil {
		return err
	}
	if o.output == "json" {
		_, err := out.Write(raw)
		return err
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return c.ReadError(ctx, path, err)
	}
	return table(out, &v)
}

// repeat runs fn once, or (watch) every interval until ctx ends or fn
// fails; an interrupt while watching is no error.
func repeat(ctx context.Context, watch bool, interval time.Duration, fn func() error) error {
	for {
		err := fn()
		if !watch || err != nil {
			if watch && ctx.Err() != nil {
				return nil
			}
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}
