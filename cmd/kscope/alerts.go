package main

import (
	"encoding/json"
	"net/url"
	"os"
	"time"

	"github.com/spf13/cobra"

	"kscope/internal/alerting"
	"kscope/internal/table"
)

// AlertmanagerEnv is kscope alerts' default --alertmanager.
const AlertmanagerEnv = "KSCOPE_ALERTMANAGER"

func alertsCmd() *cobra.Command {
	var (
		server       apiFlags
		alertmanager string
		held         bool
		output       string
	)
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "What fires now: kscope's alerts in Alertmanager, by severity",
		Long: `Show the alerts Alertmanager holds now, page first, then warning and info:
what each is about (partition, broker, group), for how long, which
receivers it went to, and its summary. Alerts held back by an inhibition
or a silence are counted; --held lists them with what holds them (a broker
down holds back its replicas' alerts, a partition under min ISR its lower
ones).

kscope's rules (deploy/prometheus/kscope-rules.yml) run in Prometheus and
notify through Alertmanager (deploy/alertmanager/alertmanager.yml): kscope
has no alert engine of its own. Ask Alertmanager itself with
--alertmanager, or a kscope agent started with --alertmanager (kscope demo
runs its own) with --server.`,
		Example: `  kscope alerts --alertmanager http://127.0.0.1:9093
  kscope alerts --held
  kscope alerts --server http://127.0.0.1:7070 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "table", "json"); err != nil {
				return err
			}
			if alertmanager == "" {
				alertmanager = os.Getenv(AlertmanagerEnv)
			}
			var v alerting.View
			var err error
			if alertmanager != "" {
				v, err = alerting.Fetch(cmd.Context(), alertmanager, held)
			} else {
				q := url.Values{}
				if held {
					q.Set("held", "true")
				}
				err = server.client().Get(cmd.Context(), "/api/v1/alerts", q, &v)
			}
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			}
			return table.Alerts(cmd.OutOrStdout(), &v, time.Now())
		},
	}
	server.register(cmd, "kscope agent (or demo)")
	f := cmd.Flags()
	f.StringVar(&alertmanager, "alertmanager", "", "ask this Alertmanager (http://host:9093) instead of the agent (default $"+AlertmanagerEnv+")")
	f.BoolVar(&held, "held", false, "also list the alerts held back by an inhibition or a silence")
	f.StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}
