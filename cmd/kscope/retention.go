package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"os/user"
	"strconv"

	"github.com/spf13/cobra"

	"kscope/internal/inspect"
	"kscope/internal/retention"
	"kscope/internal/server"
	"kscope/internal/table"
)

func retentionCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "retention",
		Short: "Retention per topic, and the Big Red Retention Button: raise it now, audited, revert it later",
		Long: `The Big Red Retention Button: when consumers are down and retention would
delete what they have not read yet, raise the topic's retention now
(kscope retention bump), and put it back once they caught up (kscope
retention revert). Every change is appended to an audit log (who, when,
why, the value before and where it came from), a JSON-lines file a team
can keep in git.

With --brokers the commands talk to the cluster themselves and write the
audit log here (--audit-log); otherwise they ask a kscope agent started
with --cluster (--server), which changes its cluster and writes its own
audit log.`,
	}
	cmd.AddCommand(retentionChangeCmd(retention.ActionBump), retentionChangeCmd(retention.ActionSet), retentionRevertCmd(), retentionHistoryCmd())
	showRetention(cmd)
	return cmd
}

// retentionFlags are where a retention command goes (an agent, or the
// cluster itself with the audit log here) and how it prints.
type retentionFlags struct {
	server   apiFlags
	cluster  clusterFlags
	auditLog string
	output   string
}

func (f *retentionFlags) register(cmd *cobra.Command) {
	f.server.register(cmd, "kscope agent")
	f.cluster.register(cmd, "brokers", "change this cluster itself instead of asking an agent")
	fl := cmd.Flags()
	fl.StringVar(&f.auditLog, "audit-log", "", "the audit log, with --brokers (default $XDG_STATE_HOME/kscope/"+retention.DefaultAuditLogName+", else ~/.local/state/kscope/"+retention.DefaultAuditLogName+")")
	fl.StringVarP(&f.output, "output", "o", "table", "output format: table or json")
}

func (f *retentionFlags) auditLogPath() (string, error) {
	if f.auditLog != "" {
		return f.auditLog, nil
	}
	return retention.DefaultAuditLog()
}

// admin reaches the cluster of --brokers, logging to the audit log here.
func (f *retentionFlags) admin() (*retention.Admin, error) {
	cfg, err := f.cluster.config()
	if err != nil {
		return nil, err
	}
	return newRetentionAdmin(cfg, f.auditLog)
}

// newRetentionAdmin changes the retention of the cluster cfg reaches,
// logging to the audit log at path (default: the state directory's).
func newRetentionAdmin(cfg inspect.Config, path string) (*retention.Admin, error) {
	if path == "" {
		var err error
		if path, err = retention.DefaultAuditLog(); err != nil {
			return nil, err
		}
	}
	return retention.New(cfg, path)
}

// changeFlags are what a change is asked with.
type changeFlags struct {
	reason, as string
	dryRun     bool
}

func (c *changeFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&c.reason, "reason", "", "why (required): the audit log keeps it")
	fl.StringVar(&c.as, "as", "", "who asked for the change, when it is not you (the audit log's requested_by)")
	fl.BoolVar(&c.dryRun, "dry-run", false, "show the change without making it or logging it")
}

func retentionChangeCmd(action retention.Action) *cobra.Command {
	var (
		f         retentionFlags
		c         changeFlags
		to, bytes string
	)
	cmd := &cobra.Command{
		Use:   string(action) + " TOPIC --to DURATION [--bytes SIZE] --reason TEXT",
		Short: "Raise a topic's retention (never lowers it), logged to the audit log",
		Long: `Raise a topic's retention.ms (--to) and retention.bytes (--bytes, per
partition) with IncrementalAlterConfigs, after reading the effective values
and where they come from (the topic, the broker, Kafka's default) with
DescribeConfigs, and print them before and after. It never lowers
retention (kscope retention set does): a value at or below the current
one is refused, and so is raising one that is unlimited already.`,
		Example: `  kscope retention bump orders --to 7d --reason "INC-1234: billing consumer down" --dry-run
  kscope retention bump orders --to 72h --bytes 50GiB --reason "INC-1234: billing consumer down"
  kscope retention bump orders --brokers kafka-1:9092 --to 14d --reason "replay for the audit" --as alice`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(f.output, "table", "json"); err != nil {
				return err
			}
			ch := retention.Change{Action: action, Topic: args[0], Reason: c.reason, RequestedBy: c.as, DryRun: c.dryRun}
			var err error
			if to != "" {
				if ch.Ms, err = retention.ParseDuration(to); err != nil {
					return fmt.Errorf("--to: %w", err)
				}
			}
			if bytes != "" {
				if ch.Bytes, err = retention.ParseBytes(bytes); err != nil {
					return fmt.Errorf("--bytes: %w", err)
				}
			}
			req := server.RetentionRequest{Topic: ch.Topic, To: to, Bytes: server.Size(bytes), Reason: c.reason, RequestedBy: c.as, DryRun: c.dryRun}
			return f.change(cmd, "/api/v1/retention/"+string(action), req, func(ctx context.Context, a *retention.Admin) (retention.Result, error) {
				ch.Who = osUser()
				return a.Apply(ctx, ch)
			})
		},
	}
	if action == retention.ActionSet {
		cmd.Short = "Set a topic's retention, lower or higher, logged to the audit log"
		cmd.Long = `Set a topic's retention.ms (--to) and retention.bytes (--bytes, per
partition), lower or higher, as kscope retention bump does otherwise.
Lowered retention lets the brokers delete older records at their next
retention check (every 5 minutes by default): what is deleted is gone.`
		cmd.Example = `  kscope retention set orders --to 3d --reason "back to normal after INC-1234"
  kscope retention set orders --bytes unlimited --reason "size limits move to tiered storage"`
	}
	f.register(cmd)
	c.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&to, "to", "", "new retention.ms, a duration: 72h, 7d, 1d12h, or unlimited")
	fl.StringVar(&bytes, "bytes", "", "new retention.bytes, per partition: 50GiB, 500MB, 1073741824, or unlimited")
	return cmd
}

func retentionRevertCmd() *cobra.Command {
	var (
		f retentionFlags
		c changeFlags
	)
	cmd := &cobra.Command{
		Use:   "revert ID --reason TEXT",
		Short: "Put back what a logged change found, itself logged",
		Long: `Restore the values the change ID (kscope retention history) found: a value
the topic had of its own is set again; one it had from the broker or
Kafka's default is restored by deleting the topic's override
(IncrementalAlterConfigs DELETE), so that it follows the broker again.
Refused when the change was reverted already, when the value changed
since (kscope retention set changes it from there), and on a cluster
other than the change's.`,
		Example: `  kscope retention revert 20250314-093012-a1b2c3 --reason "INC-1234 over: billing caught up"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(f.output, "table", "json"); err != nil {
				return err
			}
			req := server.RevertRequest{ID: args[0], Reason: c.reason, RequestedBy: c.as, DryRun: c.dryRun}
			return f.change(cmd, "/api/v1/retention/revert", req, func(ctx context.Context, a *retention.Admin) (retention.Result, error) {
				return a.Revert(ctx, retention.Revert{ID: args[0], Reason: c.reason, Who: osUser(), RequestedBy: c.as, DryRun: c.dryRun})
			})
		},
	}
	f.register(cmd)
	c.register(cmd)
	return cmd
}

func retentionHistoryCmd() *cobra.Command {
	var f retentionFlags
	cmd := &cobra.Command{
		Use:   "history [TOPIC]",
		Short: "The audit log: every retention change, oldest first",
		Long: `List the audit log, every topic's or TOPIC's: each change's id (for kscope
retention revert), time, action, key, the value before and where it came
from, the value after, who made it, for whom, and why. With --brokers or
--audit-log it reads the audit log here; otherwise the agent's.`,
		Example: `  kscope retention history orders
  kscope retention history --audit-log ops/retention-audit.jsonl -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(f.output, "table", "json"); err != nil {
				return err
			}
			topic := ""
			if len(args) == 1 {
				topic = args[0]
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			var h server.RetentionHistory
			if f.cluster.set() || cmd.Flags().Changed("audit-log") {
				path, err := f.auditLogPath()
				if err != nil {
					return err
				}
				if h.Entries, err = retention.History(path, topic); err != nil {
					return err
				}
			} else if err := f.server.client().Get(ctx, "/api/v1/retention/history", url.Values{"topic": {topic}}, &h); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if f.output == "json" {
				return writeIndented(out, h)
			}
			if len(h.Entries) == 0 {
				_, err := fmt.Fprintln(out, "no retention change logged")
				return err
			}
			return table.RetentionHistory(out, h.Entries)
		},
	}
	f.register(cmd)
	return cmd
}

// printChange prints a change and what became of it.
func printChange(out io.Writer, r *retention.Result, output, where string) error {
	if output == "json" {
		return writeIndented(out, r)
	}
	if err := table.RetentionChange(out, r); err != nil {
		return err
	}
	for _, e := range r.Entries {
		if lowered(e) {
			fmt.Fprintf(out, "%s is lowered to %s: at their next retention check the brokers delete the segments past it.\n", e.Key, retention.Format(e.Key, e.New))
		}
	}
	if r.DryRun {
		_, err := fmt.Fprintln(out, "Dry run: nothing changed, nothing logged.")
		return err
	}
	if len(r.Entries) > 0 {
		_, err := fmt.Fprintf(out, "Changed, and logged as change %s in %s.\n", r.Entries[0].ID, where)
		return err
	}
	return nil
}

// lowered reports whether e lowers retention: less kept than before.
func lowered(e retention.Entry) bool {
	return e.New != retention.Unlimited && (e.Old == retention.Unlimited || e.New < e.Old)
}

func writeIndented(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// osUser is who runs kscope, for the audit log: the user sudo was run by
// when there is one.
func osUser() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if name == "" {
		name = "uid " + strconv.Itoa(os.Getuid())
	}
	if by := os.Getenv("SUDO_USER"); by != "" && by != name {
		name += " (sudo by " + by + ")"
	}
	return name
}

// change makes a retention change on the cluster itself (--brokers: local
// runs it, logged here) or through the agent (POST path with req), and
// prints what it did.
func (f *retentionFlags) change(cmd *cobra.Command, path string, req any, local func(context.Context, *retention.Admin) (retention.Result, error)) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	defer stop()
	var res retention.Result
	where := "the agent's audit log, at " + f.server.server
	if f.cluster.set() {
		a, err := f.admin()
		if err != nil {
			return err
		}
		defer a.Close()
		if res, err = local(ctx, a); err != nil {
			return err
		}
		where = a.AuditLog()
	} else if err := f.server.client().PostJSON(ctx, path, req, &res); err != nil {
		return err
	}
	return printChange(cmd.OutOrStdout(), &res, f.output, where)
}
