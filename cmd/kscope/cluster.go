package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"kscope/internal/inspect"
)

// Environment variables of the cluster connection: the bootstrap list, and
// the SASL password, which a command line would show to every process.
const (
	brokersEnv      = "KSCOPE_BROKERS"
	saslPasswordEnv = "KSCOPE_SASL_PASSWORD"
)

// clusterFlags are how every command that talks to a cluster reaches it.
type clusterFlags struct {
	name                              string // the bootstrap flag: --brokers, or the agent's --cluster
	brokers                           string
	saslMechanism, saslUser, passFile string
	tls, tlsInsecure                  bool
	tlsCA, tlsCert, tlsKey            string
	requestTimeout                    time.Duration
}

func (c *clusterFlags) register(cmd *cobra.Command, name, help string) {
	c.name = name
	f := cmd.Flags()
	f.StringVar(&c.brokers, name, "", help+" (host:port, comma-separated; default $"+brokersEnv+")")
	f.StringVar(&c.saslMechanism, "sasl-mechanism", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	f.StringVar(&c.saslUser, "sasl-user", "", "SASL user")
	f.StringVar(&c.passFile, "sasl-password-file", "", "read the SASL password from this file (default $"+saslPasswordEnv+")")
	f.BoolVar(&c.tls, "tls", false, "reach the brokers over TLS")
	f.StringVar(&c.tlsCA, "tls-ca", "", "CA certificates (PEM) that sign the brokers' (default: the system's)")
	f.StringVar(&c.tlsCert, "tls-cert", "", "client certificate (PEM)")
	f.StringVar(&c.tlsKey, "tls-key", "", "client certificate's key (PEM)")
	f.BoolVar(&c.tlsInsecure, "tls-insecure", false, "do not verify the brokers' certificates")
	f.DurationVar(&c.requestTimeout, "request-timeout", inspect.DefaultRequestTimeout, "deadline of each request to a broker: one that does not answer in time is reported")
}

// brokersList is the bootstrap list, for logs.
func (c *clusterFlags) brokersList() string {
	if c.brokers != "" {
		return c.brokers
	}
	return os.Getenv(brokersEnv)
}

// set reports whether a cluster was named (by flag or environment).
func (c *clusterFlags) set() bool {
	return c.brokers != "" || os.Getenv(brokersEnv) != ""
}

// config is the inspector's configuration from the flags and environment.
func (c *clusterFlags) config() (inspect.Config, error) {
	brokers := c.brokers
	if brokers == "" {
		brokers = os.Getenv(brokersEnv)
	}
	cfg := inspect.Config{
		SASL:           inspect.SASL{Mechanism: c.saslMechanism, User: c.saslUser},
		TLS:            inspect.TLS{Enabled: c.tls, CAFile: c.tlsCA, CertFile: c.tlsCert, KeyFile: c.tlsKey, Insecure: c.tlsInsecure},
		RequestTimeout: c.requestTimeout,
	}
	for _, b := range strings.Split(brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			cfg.Brokers = append(cfg.Brokers, b)
		}
	}
	if len(cfg.Brokers) == 0 {
		return cfg, fmt.Errorf("--%s: name a broker, host:port", c.name)
	}
	cfg.SASL.Password = os.Getenv(saslPasswordEnv)
	if c.passFile != "" {
		b, err := os.ReadFile(c.passFile)
		if err != nil {
			return cfg, fmt.Errorf("--sasl-password-file: %w", err)
		}
		cfg.SASL.Password = strings.TrimRight(string(b), "\r\n")
	}
	return cfg, nil
}
