package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"kscope/internal/inspect"
	"kscope/internal/table"
	"kscope/internal/view"
)

func healthCmd() *cobra.Command {
	var (
		server   apiFlags
		cluster  clusterFlags
		f        view.HealthFilter
		tables   table.HealthTables
		all      bool
		output   string
		interval time.Duration
		watch    bool
	)
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Is the cluster safe: replication tiers, brokers, racks, leaders, retention, and what changed",
		Long: `Show whether any partition is one failure away from losing data or refusing
producers, as Kafka defines it: under-replicated (ISR smaller than the
replicas, not counting those a reassignment adds), at-min-isr (the ISR is
min.insync.replicas: one more failure and acks=all producers are refused),
under-min-isr (they are refused now), offline (no leader). Then the
brokers (up, fenced, missing; leaders, replicas, size, offline log
directories, elections, the traffic each serves), replicas sharing a
rack, leader balance, and retention by time and by size: how long each
topic's log really covers, and when size-based deletion cuts into the
time configured.

First a one-screen summary with the findings, worst first, each with what
to do; then the tables asked for. With --brokers it polls the cluster
itself (no root needed; --watch keeps polling and shows what changes);
otherwise it asks a kscope agent started with --cluster, whose polls show
what changed over the last hour (--events).`,
		Example: `  kscope health --brokers kafka-1:9092
  kscope health --brokers kafka-1:9092 --partitions --tier under-min-isr
  kscope health --brokers-table --racks --events
  kscope health --server http://127.0.0.1:7070 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "table", "json"); err != nil {
				return err
			}
			if f.Tier != "" && !slices.Contains(inspect.Tiers, f.Tier) {
				return fmt.Errorf("--tier %s: one of %s", f.Tier, strings.Join(inspect.Tiers, ", "))
			}
			if f.Tier != "" || f.All {
				tables.Partitions = true
			}
			if all {
				tables = table.HealthTables{Brokers: true, Partitions: true, Racks: true, Retention: true, Events: true}
			}
			print := func(v *view.HealthView) error { return printHealth(cmd.OutOrStdout(), v, tables, output, watch) }
			return runHealth(cmd, server, cluster, f, interval, watch, print)
		},
	}
	server.register(cmd, "kscope agent")
	cluster.register(cmd, "brokers", "ask this cluster itself instead of an agent")
	fl := cmd.Flags()
	fl.BoolVar(&tables.Brokers, "brokers-table", false, "the brokers: state, rack, leaders and skew, replicas, size, log directories, elections, traffic")
	fl.BoolVar(&tables.Partitions, "partitions", false, "the partitions not ok (or --tier's, or --all-partitions)")
	fl.BoolVar(&tables.Racks, "racks", false, "the racks and the partitions with replicas sharing one")
	fl.BoolVar(&tables.Retention, "retention", false, "each topic's retention: limits, fullest partition, time covered, when size-based deletion cuts in")
	fl.BoolVar(&tables.Events, "events", false, "what changed between polls: ISR shrinks and expands, leader changes, brokers gone and back, configs")
	fl.BoolVar(&all, "all", false, "every table")
	fl.StringVar(&f.Tier, "tier", "", "only the partitions in this tier: "+strings.Join(inspect.Tiers[1:], ", "))
	fl.BoolVar(&f.All, "all-partitions", false, "every partition in the partitions table, ok ones too")
	fl.StringVar(&f.Topic, "topic", "", "only this topic's partitions, retention and events")
	fl.DurationVar(&interval, "interval", 5*time.Second, "time between polls (--brokers --watch), or between refreshes (--watch)")
	fl.BoolVar(&watch, "watch", false, "keep polling and printing every --interval")
	fl.StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

// runHealth gets the health view from the cluster itself (cluster set)
// or from an agent, once or (watch) every interval, and prints each.
func runHealth(cmd *cobra.Command, server apiFlags, cluster clusterFlags, f view.HealthFilter, interval time.Duration, watch bool, print func(*view.HealthView) error) error {
	if interval <= 0 {
		return fmt.Errorf("--interval must be above 0")
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	defer stop()
	var next func(context.Context) (*view.HealthView, error)
	if cluster.set() {
		cfg, err := cluster.config()
		if err != nil {
			return err
		}
		in, err := inspect.New(cfg)
		if err != nil {
			return err
		}
		defer in.Close()
		var polls []inspect.Snapshot
		next = func(ctx context.Context) (*view.HealthView, error) {
			s := in.Poll(ctx)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if !slices.ContainsFunc(s.Brokers, func(b inspect.Broker) bool { return b.Up() }) {
				msg := "no broker answered"
				if len(s.Errors) > 0 {
					msg = s.Errors[0].Error
				}
				return nil, fmt.Errorf("cannot reach the cluster at %v: %s", cfg.Brokers, msg)
			}
			// The polls of the last hour, as an agent keeps them; of
			// those between the first and the last, the view reads
			// only their events and counts: the rest is let go, so
			// that watching a large cluster for an hour holds two
			// polls, not 720.
			if n := len(polls); n > 1 {
				polls[n-1] = inspect.Snapshot{Time: polls[n-1].Time, Events: polls[n-1].Events, Changes: polls[n-1].Changes}
			}
			polls = append(polls, s)
			for len(polls) > 1 && s.Time.Sub(polls[0].Time) > time.Hour {
				polls = polls[1:]
			}
			v := view.Health(view.Input{Window: view.Window{From: polls[0].Time, To: time.Now()}, Cluster: polls}, f)
			return &v, nil
		}
	} else {
		q := url.Values{"tier": {f.Tier}, "topic": {f.Topic}, "all": {strconv.FormatBool(f.All)}}
		c := server.client()
		next = func(ctx context.Context) (*view.HealthView, error) {
			var v view.HealthView
			if err := c.Get(ctx, "/api/v1/health", q, &v); err != nil {
				return nil, err
			}
			return &v, nil
		}
	}
	return repeat(ctx, watch, interval, func() error {
		v, err := next(ctx)
		if err != nil {
			return err
		}
		return print(v)
	})
}

func printHealth(out io.Writer, v *view.HealthView, t table.HealthTables, output string, watch bool) error {
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
	return table.Health(out, v, t)
}

// showRetention makes kscope retention, without a subcommand, show each
// topic's retention as kscope health --retention does: its limits, the
// time its log covers, when size-based deletion cuts in.
func showRetention(cmd *cobra.Command) {
	var (
		server   apiFlags
		cluster  clusterFlags
		f        view.HealthFilter
		output   string
		interval time.Duration
		watch    bool
	)
	cmd.Args = cobra.NoArgs
	cmd.Example = `  kscope retention --brokers kafka-1:9092
  kscope retention --topic clicks -o json
  kscope retention bump clicks --to 72h --reason "consumers down, INC-1234"`
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(output, "table", "json"); err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		return runHealth(cmd, server, cluster, f, interval, watch, func(v *view.HealthView) error {
			if output == "json" {
				enc := json.NewEncoder(out)
				if !watch {
					enc.SetIndent("", "  ")
				}
				return enc.Encode(v.Retention)
			}
			if watch {
				fmt.Fprintln(out)
			}
			if v.AsOf.IsZero() {
				_, err := fmt.Fprintln(out, "no poll of the cluster yet: the inspector polls every few seconds, try again")
				return err
			}
			return table.Retention(out, v)
		})
	}
	server.register(cmd, "kscope agent")
	cluster.register(cmd, "brokers", "ask this cluster itself instead of an agent")
	fl := cmd.Flags()
	fl.StringVar(&f.Topic, "topic", "", "only this topic")
	fl.DurationVar(&interval, "interval", 5*time.Second, "time between polls (--brokers --watch), or between refreshes (--watch)")
	fl.BoolVar(&watch, "watch", false, "keep polling and printing every --interval")
	fl.StringVarP(&output, "output", "o", "table", "output format: table or json")
}
