package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"kscope/internal/exchange"
	"kscope/internal/store"
)

// eventsOptions are the flags of kscope events.
type eventsOptions struct {
	server, token, output string
	// who names the server in errors; "kscope agent" when empty.
	who              string
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
			switch o.output {
			case "table", "jsonl":
			case "json":
				if o.follow {
					return errors.New("--follow writes as exchanges come: use -o table or -o jsonl")
				}
			default:
				return fmt.Errorf("unknown output %q: use table, jsonl or json", o.output)
			}
			if o.token == "" {
				o.token = os.Getenv("KSCOPE_TOKEN")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			err := events(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
			if o.follow && ctx.Err() != nil {
				return nil // Ctrl-C ends following; not an error
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", "http://127.0.0.1:7070", "address of the kscope agent's API")
	f.StringVar(&o.token, "token", "", "the agent's API token (default $KSCOPE_TOKEN)")
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

// eventsURL is the API request for o.
func eventsURL(o eventsOptions) (string, error) {
	base, err := url.Parse(strings.TrimRight(o.server, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return "", fmt.Errorf("--server %q: use an address such as http://127.0.0.1:7070", o.server)
	}
	v := url.Values{}
	set := func(k string, vals []string) {
		if len(vals) > 0 {
			v.Set(k, strings.Join(vals, ","))
		}
	}
	set("api", o.filter.APIs)
	set("topic", o.filter.Topics)
	set("client", o.filter.Clients)
	set("process", o.filter.Processes)
	if o.filter.Side != "" {
		v.Set("side", o.filter.Side)
	}
	if o.filter.MinLatency > 0 {
		v.Set("min_latency", o.filter.MinLatency.String())
	}
	if o.since != "" {
		v.Set("since", o.since)
	}
	if o.until != "" {
		v.Set("until", o.until)
	}
	v.Set("limit", strconv.Itoa(o.limit))
	if o.follow {
		v.Set("follow", "1")
	}
	if o.noBodies || o.output == "table" {
		v.Set("bodies", "0")
	}
	base.Path += "/api/v1/exchanges"
	base.RawQuery = v.Encode()
	return base.String(), nil
}

// events asks the agent and prints what it answers.
func events(ctx context.Context, out, errw io.Writer, o eventsOptions) error {
	u, err := eventsURL(o)
	if err != nil {
		return err
	}
	body, err := getAgent(ctx, o, u)
	if err != nil {
		return err
	}
	defer body.Close()
	lost := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("lost the kscope agent at %s: %v", o.server, err)
	}
	r := bufio.NewReaderSize(body, 64<<10)
	if o.follow {
		if o.output == "table" {
			printFollowHeader(out)
		}
		for {
			line, err := r.ReadBytes('\n')
			if len(line) > 0 && line[len(line)-1] == '\n' {
				if err := printFollowLine(out, o.output, line); err != nil {
					return err
				}
			}
			if err == io.EOF {
				return lost(errors.New("it closed the stream"))
			}
			if err != nil {
				return lost(err)
			}
		}
	}
	var recs []store.Record
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			var rec store.Record
			if err := json.Unmarshal(line, &rec); err != nil {
				return fmt.Errorf("kscope agent at %s answered a line that is not an exchange: %v", o.server, err)
			}
			recs = append(recs, rec)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return lost(err)
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
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Server    string         `json:"server"`
			Exchanges []store.Record `json:"exchanges"`
		}{o.server, nonNil(recs)})
	default:
		xs := make([]exchange.Exchange, len(recs))
		for i := range recs {
			xs[i] = recs[i].Exchange
		}
		if err := printExchanges(out, xs); err != nil {
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

func nonNil(recs []store.Record) []store.Record {
	if recs == nil {
		return []store.Record{}
	}
	return recs
}

// getAgent sends the request and turns every failure into one line that
// says what to do. Only following may take as long as it likes.
func getAgent(ctx context.Context, o eventsOptions, u string) (io.ReadCloser, error) {
	return callAgent(ctx, o, http.MethodGet, u)
}

// callAgent sends a request without a body (GET, or a demo control's POST)
// and returns the body of a 200 answer; any other answer is an error that
// says what the agent said.
func callAgent(ctx context.Context, o eventsOptions, method, u string) (io.ReadCloser, error) {
	client := &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	}}
	if !o.follow {
		client.Timeout = 2 * time.Minute
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	if o.token != "" {
		req.Header.Set("Authorization", "Bearer "+o.token)
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("cannot reach kscope agent at %s: %s — is `kscope agent` running?", o.server, reason(err))
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var msg struct {
			Error string `json:"error"`
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		if json.Unmarshal(b, &msg) != nil || msg.Error == "" {
			msg.Error = strings.TrimSpace(string(b))
			if msg.Error == "" || len(msg.Error) > 200 {
				msg.Error = resp.Status
			}
			if resp.StatusCode == http.StatusNotFound {
				msg.Error = "no events API here (404): is this a kscope agent?"
			}
		}
		who := o.who
		if who == "" {
			who = "kscope agent"
		}
		return nil, fmt.Errorf("%s at %s: %s", who, o.server, msg.Error)
	}
	return resp.Body, nil
}

// reason is the innermost cause of a failed request, as a person says it.
func reason(err error) string {
	var nerr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &nerr) && nerr.Timeout():
		return "no answer (timed out)"
	}
	var oerr *net.OpError
	if errors.As(err, &oerr) && oerr.Err != nil {
		return oerr.Err.Error()
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err.Error()
	}
	return err.Error()
}

// Follow mode cannot wait to align a table on its widest cell: the
// columns have fixed widths, and longer cells are clipped.
var followColumns = []struct {
	name  string
	width int
}{
	{"TIME", 15}, {"CLIENT", 21}, {"SERVER", 21}, {"PROCESS", 20}, {"SIDE", 6},
	{"API", 26}, {"CLIENT ID", 20}, {"TOPICS", 32}, {"BYTES", 13}, {"LATENCY", 12}, {"ERROR", 0},
}

func printFollowHeader(w io.Writer) {
	cells := make([]string, len(followColumns))
	for i, c := range followColumns {
		cells[i] = c.name
	}
	io.WriteString(w, followRow(cells))
}

func followRow(cells []string) string {
	var b strings.Builder
	for i, c := range followColumns {
		s := cells[i]
		if c.width == 0 {
			b.WriteString(s)
			break
		}
		s = clip(s, c.width)
		b.WriteString(s)
		// Two spaces at least, as the tabwriter table has.
		b.WriteString(strings.Repeat(" ", max(0, c.width-len([]rune(s)))+2))
	}
	return strings.TrimRight(b.String(), " ") + "\n"
}

func printFollowLine(w io.Writer, output string, line []byte) error {
	if output == "jsonl" {
		_, err := w.Write(line)
		return err
	}
	var rec store.Record
	if err := json.Unmarshal(line, &rec); err != nil {
		return fmt.Errorf("kscope agent answered a line that is not an exchange: %v", err)
	}
	e := &rec.Exchange
	_, err := io.WriteString(w, followRow([]string{
		e.Time.UTC().Format("15:04:05.000000"), e.Client.Addr, e.Server.Addr, processCell(e), e.Side,
		e.API + " v" + strconv.Itoa(int(e.APIVersion)), e.ClientID, topicsCell(e), bytesCell(e), latencyCell(e), errorCell(e),
	}))
	return err
}
