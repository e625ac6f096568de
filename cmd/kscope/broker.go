package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kfake"

	"kscope/internal/broker"
)

func brokerCmd() *cobra.Command {
	var (
		cfg     broker.Config
		verbose bool
		configs map[string]string
	)
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run the embedded Kafka cluster alone, for trying clients against",
		Long: `Run the embedded Kafka cluster (franz-go kfake) on 127.0.0.1 until
interrupted. It prints the bootstrap addresses on one line, then serves
clients: topics are created on first use, and old clients (librdkafka,
kafka-python) are answered like a Kafka 3.x broker.

With --sasl-user every client must log in with SASL/PLAIN or SCRAM-SHA-256/512
as that user. The password comes from --sasl-password or, better, from the
` + saslPasswordEnv + ` environment variable.`,
		Example: `  kscope broker
  kscope broker --brokers 1 --port 19092 --topic orders --topic payments
  kscope broker --config group.consumer.heartbeat.interval.ms=1000
  KSCOPE_SASL_PASSWORD=secret kscope broker --sasl-user alice`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.SASLPassword == "" {
				cfg.SASLPassword = os.Getenv(saslPasswordEnv)
			}
			if cfg.SASLUser == "" && cfg.SASLPassword != "" {
				return fmt.Errorf("a SASL password needs --sasl-user")
			}
			if cfg.SASLUser != "" && cfg.SASLPassword == "" {
				return fmt.Errorf("--sasl-user needs a password: set --sasl-password or %s", saslPasswordEnv)
			}
			level := slog.LevelWarn
			if verbose {
				level = slog.LevelDebug
			}
			cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			if len(configs) > 0 {
				cfg.Options = append(cfg.Options, kfake.BrokerConfigs(configs))
			}

			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			cluster, err := broker.StartCluster(ctx, cfg)
			if err != nil {
				return err
			}
			defer cluster.Close()
			fmt.Fprintln(cmd.OutOrStdout(), cluster.Bootstrap())
			<-ctx.Done()
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Brokers, "brokers", 3, "number of brokers")
	f.IntVar(&cfg.Port, "port", 9092, "port of the first broker; broker i listens on port+i (0: random ports)")
	f.IntVar(&cfg.Partitions, "partitions", 3, "partitions of each --topic and of automatically created topics")
	f.StringArrayVar(&cfg.Topics, "topic", nil, "topic to create at start (repeatable)")
	f.StringVar(&cfg.DataDir, "data-dir", "", "keep the cluster's state in this directory across restarts (default: in memory)")
	f.StringVar(&cfg.SASLUser, "sasl-user", "", "require SASL (PLAIN, SCRAM-SHA-256/512) and log this user in")
	f.StringVar(&cfg.SASLPassword, "sasl-password", "", "the SASL user's password (default $"+saslPasswordEnv+")")
	f.StringToStringVar(&configs, "config", nil, "a broker config, as key=value (repeatable; e.g. group.consumer.heartbeat.interval.ms=1000, the KIP-848 heartbeat interval, 5000 by default)")
	f.BoolVarP(&verbose, "verbose", "v", false, "log the cluster's requests and group changes to stderr")
	return cmd
}
