// Command kscope monitors Apache Kafka from its traffic.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := &cobra.Command{
		Use:           "kscope",
		Short:         "Kafka observability from the wire: who produces, who consumes, how fast, how late",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(demoCmd(), demoServiceCmd(), agentCmd(), analyzeCmd(), brokerCmd(), eventsCmd(),
		overviewCmd(), latencyCmd(), rebalancesCmd(), clientsCmd(), transactionsCmd(), lagCmd(), retentionCmd(), healthCmd(), alertsCmd(), benchCmd())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "kscope:", err)
		os.Exit(1)
	}
}
