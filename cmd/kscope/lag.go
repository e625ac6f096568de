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
	"time"

	"github.com/spf13/cobra"

	"kscope/internal/inspect"
	"kscope/internal/table"
	"kscope/internal/view"
)

func lagCmd() *cobra.Command {
	var (
		server   apiFlags
		cluster  clusterFlags
		f        view.LagFilter
		output   string
		interval time.Duration
		watch    bool
	)
	cmd := &cobra.Command{
		Use:   "lag",
		Short: "Consumer lag per group and partition, from the cluster itself: offsets, Append Lag, time to loss, status",
		Long: `Show each consumer group's lag per partition, as the cluster tells it, so
that it stays true when every consumer has stopped: the committed offset
and the log end (offset lag), Append Lag (append time of the last record
minus that of the last committed one: it keeps rising while nobody
commits), time lag (age of the first record not consumed), time to loss
(when retention will delete it) and a status judged over the last polls
as Burrow judges it: OK, WARN (lag not falling, or Append Lag past --lag-warn),
STALL (commits not moving), STOP (no commit for longer than the polls
span), REWIND (offset went back), ERR (Append Lag past --lag-error, or the
group's coordinator or the partition's leader not answering), LOST (records deleted before they were
consumed).

With --brokers it asks the cluster itself, polling twice --interval apart
(no root needed); otherwise it asks a kscope agent started with --cluster,
which also names the process that holds each partition.`,
		Example: `  kscope lag --brokers kafka-1:9092
  kscope lag --brokers kafka-1:9092 --group billing --watch
  KSCOPE_SASL_PASSWORD=... kscope lag --brokers kafka-1:9093 --tls --sasl-mechanism SCRAM-SHA-512 --sasl-user monitor
  kscope lag --server http://127.0.0.1:7070 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "table", "json"); err != nil {
				return err
			}
			if interval <= 0 {
				return errors.New("--interval must be above 0")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			out := cmd.OutOrStdout()
			if cluster.set() {
				cfg, err := cluster.config()
				if err != nil {
					return err
				}
				err = lagFromCluster(ctx, out, cfg, f, output, interval, watch)
				if watch && ctx.Err() != nil {
					return nil
				}
				return err
			}
			return repeat(ctx, watch, interval, func() error { return lagFromAgent(ctx, out, server, f, output) })
		},
	}
	server.register(cmd, "kscope agent")
	cluster.register(cmd, "brokers", "ask this cluster itself instead of an agent")
	fl := cmd.Flags()
	fl.StringVar(&f.Group, "group", "", "only this group")
	fl.StringVar(&f.Topic, "topic", "", "only this topic's partitions")
	fl.DurationVar(&f.WarnAfter, "lag-warn", view.DefaultLagWarn, "Append Lag past which a partition is WARN")
	fl.DurationVar(&f.ErrorAfter, "lag-error", view.DefaultLagError, "Append Lag past which a partition is ERR")
	fl.DurationVar(&interval, "interval", 5*time.Second, "time between polls (--brokers), or between refreshes (--watch)")
	fl.BoolVar(&watch, "watch", false, "keep polling and printing every --interval, the statuses judged over the last 10 polls")
	fl.StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

// lagFromCluster polls the cluster itself: twice, --interval apart, then
// prints; with watch, on every poll after.
func lagFromCluster(ctx context.Context, out io.Writer, cfg inspect.Config, f view.LagFilter, output string, interval time.Duration, watch bool) error {
	in, err := inspect.New(cfg)
	if err != nil {
		return err
	}
	defer in.Close()
	var polls []inspect.Snapshot
	for {
		s := in.Poll(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if len(s.Brokers) == 0 {
			msg := "no broker answered"
			if len(s.Errors) > 0 {
				msg = s.Errors[0].Error
			}
			return fmt.Errorf("cannot reach the cluster at %v: %s", cfg.Brokers, msg)
		}
		polls = append(polls, s)
		polls = polls[max(0, len(polls)-view.LagWindow):]
		if len(polls) >= 2 {
			v := view.Lag(view.Input{Window: view.Window{From: polls[0].Time, To: time.Now()}, Cluster: polls}, f)
			if err := printLag(out, &v, output, watch); err != nil || !watch {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// lagFromAgent asks a running agent.
func lagFromAgent(ctx context.Context, out io.Writer, server apiFlags, f view.LagFilter, output string) error {
	q := url.Values{"group": {f.Group}, "topic": {f.Topic}, "warn": {f.WarnAfter.String()}, "error": {f.ErrorAfter.String()}}
	c := server.client()
	raw, err := c.GetRaw(ctx, "/api/v1/lag", q)
	if err != nil {
		return err
	}
	if output == "json" {
		_, err := out.Write(raw)
		return err
	}
	var v view.LagView
	if err := json.Unmarshal(raw, &v); err != nil {
		return c.ReadError(ctx, "/api/v1/lag", err)
	}
	return printLag(out, &v, output, false)
}

func printLag(out io.Writer, v *view.LagView, output string, watch bool) error {
	if output == "json" {
		enc := json.NewEncoder(out)
		if !watch {
			enc.SetIndent("", "  ")
		}
		return enc.Encode(v)
	}
	if watch {
		fmt.Fprintln(out)
	}
	return table.GroupLag(out, v)
}
