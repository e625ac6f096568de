package inspect

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Config says which cluster to inspect and how to reach it.
type Config struct {
	// Brokers are bootstrap addresses, host:port.
	Brokers []string
	SASL    SASL
	TLS     TLS
	// RequestTimeout bounds each request of a poll (default 5s): a broker
	// that does not answer in time is reported, and the rest of the
	// cluster is still polled.
	RequestTimeout time.Duration
	// MaxLookups bounds the record batches one poll reads for append
	// times (default DefaultMaxLookups); the rest wait for the next
	// poll, and are counted.
	MaxLookups int
	// ClientID names kscope to the brokers (default ClientID).
	ClientID string
	Logger   *slog.Logger
}

// SASL is the login, when the cluster wants one. The password never leaves
// this struct: not in logs, errors or snapshots.
type SASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty for none.
	Mechanism      string
	User, Password string
}

// TLS is how to reach brokers over TLS.
type TLS struct {
	Enabled bool
	// CAFile verifies the brokers (default: the system's roots);
	// CertFile and KeyFile are a client certificate; Insecure skips the
	// brokers' verification.
	CAFile, CertFile, KeyFile string
	Insecure                  bool
}

// ClientID is the client id the inspector sends by default: the agent
// leaves the exchanges of its own inspector out of the traffic it shows.
const ClientID = "kscope-inspector"

// Defaults of Config.
const (
	DefaultRequestTimeout = 5 * time.Second
	DefaultMaxLookups     = 20000
)

func (c *Config) defaults() {
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.MaxLookups <= 0 {
		c.MaxLookups = DefaultMaxLookups
	}
	if c.ClientID == "" {
		c.ClientID = ClientID
	}
}

// ClientOpts are the franz-go options that reach the cluster as c says,
// after its defaults: for other packages that talk to the same cluster
// (internal/retention). The password goes into the SASL mechanism only.
func (c Config) ClientOpts() ([]kgo.Opt, error) {
	c.defaults()
	return c.opts()
}

// opts are the franz-go options that reach the cluster as c says.
func (c *Config) opts() ([]kgo.Opt, error) {
	if len(c.Brokers) == 0 {
		return nil, errors.New("inspect: no broker to start from: pass --brokers host:port (or set KSCOPE_BROKERS)")
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ClientID(c.ClientID),
		kgo.DialTimeout(c.RequestTimeout),
		kgo.RequestTimeoutOverhead(c.RequestTimeout),
		kgo.RetryTimeout(c.RequestTimeout),
		kgo.MetadataMinAge(time.Second),
	}
	switch m := strings.ToUpper(c.SASL.Mechanism); m {
	case "":
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: c.SASL.User, Pass: c.SASL.Password}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASL.User, Pass: c.SASL.Password}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASL.User, Pass: c.SASL.Password}.AsSha512Mechanism()))
	default:
		return nil, fmt.Errorf("inspect: SASL mechanism %q: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.SASL.Mechanism)
	}
	if c.SASL.Mechanism != "" && (c.SASL.User == "" || c.SASL.Password == "") {
		return nil, errors.New("inspect: SASL needs a user (--sasl-user) and a password (KSCOPE_SASL_PASSWORD or --sasl-password-file)")
	}
	if c.TLS.Enabled || c.TLS.CAFile != "" || c.TLS.CertFile != "" {
		tc, err := c.TLS.config()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	return opts, nil
}

func (t TLS) config() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.Insecure}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("inspect: --tls-ca: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("inspect: --tls-ca %s holds no PEM certificate", t.CAFile)
		}
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, errors.New("inspect: a client certificate needs both --tls-cert and --tls-key")
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("inspect: client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
