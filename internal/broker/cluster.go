// Package broker runs the embedded Kafka cluster that kscope demo, kscope
// broker and the tests use when there is no real cluster at hand: franz-go's
// kfake, made to look like a Kafka 3.x broker to older clients (see
// apiversions.go and saslv0.go). Nothing here is on the decoding path: the
// capture, kafka and exchange stages must never import this package.
package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// Host is the only address the cluster listens on: kfake binds its brokers
// to the loopback, and the cluster is never meant to be reachable from
// outside.
const Host = "127.0.0.1"

// Config says what cluster to start. The zero value is a 3-broker cluster
// on random ports without SASL.
type Config struct {
	// Brokers is the number of brokers; 0 means 3.
	Brokers int
	// Port is the first broker's port; broker i listens on Port+i. 0 picks
	// random free ports.
	Port int
	// Partitions is the partition count of seed topics and of topics that
	// are created automatically or with -1 partitions; 0 means 3.
	Partitions int
	// Topics are created at start, each with Partitions partitions.
	Topics []string
	// DataDir, if set, keeps the cluster's state on disk across restarts.
	DataDir string
	// SASLUser and SASLPassword, if set, require SASL: the user may log in
	// with PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 and is a superuser.
	SASLUser     string
	SASLPassword string
	// TLS, if set, is the brokers' server side: they accept TLS only.
	TLS *tls.Config
	// Options are more kfake options, after kscope's (tests: users with
	// ACLs, kfake.EnableACLs).
	Options []kfake.Opt
	// Logger receives kfake's log lines; nil discards them.
	Logger *slog.Logger

	// Replication makes the cluster model replication as a real one
	// does, which kfake alone does not (replication.go): brokers can be
	// stopped and started (StopBroker), ISRs shrink and grow with them,
	// leaders move to in-sync replicas, coordinators to live brokers,
	// and acks=all produce below min.insync.replicas is refused. Not
	// with SASL or ACLs: the model asks kfake over connections of its
	// own, which do not log in.
	Replication bool
	// Racks are the brokers' racks, by node id (Replication only): one
	// for each broker, or none, and brokers report no rack.
	Racks []string
}

// Cluster is a running embedded cluster.
type Cluster struct {
	kc    *kfake.Cluster
	addrs []string
	lns   *listeners
	repl  *replication // nil without Config.Replication
}

// StartCluster starts a cluster as cfg says. ctx bounds only the start:
// the cluster runs until Close.
func StartCluster(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.Brokers < 0 || cfg.Partitions < 0 || cfg.Port < 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("start cluster: brokers, partitions and port must not be negative")
	}
	if cfg.Brokers == 0 {
		cfg.Brokers = 3
	}
	if cfg.Partitions == 0 {
		cfg.Partitions = 3
	}
	if (cfg.SASLUser == "") != (cfg.SASLPassword == "") {
		return nil, errors.New("start cluster: SASL needs both a user and a password")
	}
	switch {
	case len(cfg.Racks) > 0 && !cfg.Replication:
		return nil, errors.New("start cluster: racks need the replication model (Config.Replication)")
	case len(cfg.Racks) > 0 && len(cfg.Racks) != cfg.Brokers:
		return nil, fmt.Errorf("start cluster: %d racks for %d brokers: give one for each", len(cfg.Racks), cfg.Brokers)
	case cfg.Replication && cfg.SASLUser != "":
		return nil, errors.New("start cluster: the replication model does not work with SASL")
	}

	lns := &listeners{by: map[string]*listener{}}
	opts := []kfake.Opt{
		kfake.NumBrokers(cfg.Brokers),
		kfake.DefaultNumPartitions(cfg.Partitions),
		kfake.AllowAutoTopicCreation(),
		kfake.ListenFn(lns.listen),
	}
	if cfg.Port != 0 {
		if last := cfg.Port + cfg.Brokers - 1; last > 65535 {
			return nil, fmt.Errorf("start cluster: ports %d-%d: past 65535", cfg.Port, last)
		}
		ports := make([]int, cfg.Brokers)
		for i := range ports {
			ports[i] = cfg.Port + i
		}
		opts = append(opts, kfake.Ports(ports...))
	}
	if len(cfg.Topics) > 0 {
		opts = append(opts, kfake.SeedTopics(int32(cfg.Partitions), cfg.Topics...))
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	if cfg.SASLUser != "" {
		opts = append(opts,
			kfake.EnableSASL(),
			kfake.Superuser("PLAIN", cfg.SASLUser, cfg.SASLPassword),
			kfake.Superuser("SCRAM-SHA-256", cfg.SASLUser, cfg.SASLPassword),
			kfake.Superuser("SCRAM-SHA-512", cfg.SASLUser, cfg.SASLPassword),
		)
	}
	if cfg.Logger != nil {
		opts = append(opts, kfake.WithLogger(kfakeLogger{cfg.Logger.With("component", "kfake")}))
	}
	if cfg.TLS != nil {
		opts = append(opts, kfake.TLS(cfg.TLS))
	}
	opts = append(opts, cfg.Options...)

	kc, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start cluster: %w", err)
	}
	c := &Cluster{kc: kc, addrs: kc.ListenAddrs(), lns: lns}

	// kfake builds its ApiVersions answer internally; ask for it once,
	// before our handler replaces kfake's, and serve an edited copy.
	base, clusterID, err := c.probe(ctx, cfg)
	if err != nil {
		kc.Close()
		return nil, fmt.Errorf("start cluster: ask kfake for its api versions: %w", err)
	}
	av := &apiVersions{base: base, clusterID: clusterID, node: kc.CurrentNode}
	c.controlAPIVersions(av)
	if cfg.Replication {
		log := slog.New(slog.DiscardHandler)
		if cfg.Logger != nil {
			log = cfg.Logger.With("component", "replication")
		}
		c.repl, err = newReplication(kc, c.addrs, cfg.Racks, cfg.TLS != nil, log)
		if err != nil {
			kc.Close()
			return nil, fmt.Errorf("start cluster: %w", err)
		}
	}
	return c, nil
}

// renewControlEvery bounds the memory a control holds: kfake remembers, per
// control function, the last request of every connection it ever saw, so
// a control kept forever keeps every closed connection reachable.
var renewControlEvery int64 = 1000

// controlAPIVersions makes av answer every ApiVersions request in place of
// kfake, replacing itself by a fresh control now and then.
func (c *Cluster) controlAPIVersions(av *apiVersions) {
	var answered atomic.Int64
	c.kc.ControlKey(int16(kmsg.ApiVersions), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		if answered.Add(1)%renewControlEvery == 0 {
			c.kc.DropControl()
			c.controlAPIVersions(av)
		} else {
			c.kc.KeepControl()
		}
		return av.answer(kreq.(*kmsg.ApiVersionsRequest)), nil, true
	})
}

// probe asks the fresh cluster for its own ApiVersions answer and its
// cluster id, as a client would.
func (c *Cluster) probe(ctx context.Context, cfg Config) (*kmsg.ApiVersionsResponse, string, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(c.addrs...), kgo.ClientID("kscope-probe")}
	if cfg.SASLUser != "" {
		opts = append(opts, kgo.SASL(plain.Auth{User: cfg.SASLUser, Pass: cfg.SASLPassword}.AsMechanism()))
	}
	if cfg.TLS != nil {
		// Its own brokers, on loopback, whatever names their
		// certificate gives.
		opts = append(opts, kgo.DialTLSConfig(&tls.Config{InsecureSkipVerify: true}))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, "", err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()

	// kgo sends this at the highest version both sides know (v3+), so
	// the answer carries kfake's feature levels too.
	avReq := kmsg.NewPtrApiVersionsRequest()
	avReq.ClientSoftwareName = "kscope"
	avReq.ClientSoftwareVersion = "0"
	avResp, err := avReq.RequestWith(ctx, cl)
	if err != nil {
		return nil, "", err
	}
	if err := kerr.ErrorForCode(avResp.ErrorCode); err != nil {
		return nil, "", err
	}
	mdResp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	if err != nil {
		return nil, "", err
	}
	var clusterID string
	if mdResp.ClusterID != nil {
		clusterID = *mdResp.ClusterID
	}
	return avResp, clusterID, nil
}

// Addrs returns each broker's host:port, in node order.
func (c *Cluster) Addrs() []string { return append([]string(nil), c.addrs...) }

// Ports are the brokers' ports, in node order.
func (c *Cluster) Ports() []uint16 {
	ports := make([]uint16, len(c.addrs))
	for i, a := range c.addrs {
		_, p, _ := net.SplitHostPort(a)
		n, _ := strconv.ParseUint(p, 10, 16)
		ports[i] = uint16(n)
	}
	return ports
}

// Bootstrap returns the brokers' addresses as one comma-separated list, the
// form clients take for bootstrap servers.
func (c *Cluster) Bootstrap() string { return strings.Join(c.addrs, ",") }

// CreateTopic creates a topic with this many partitions and replicas, as
// an administrator would, with configs given as kafka-topics.sh --config
// takes them ("min.insync.replicas=2", "retention.bytes=262144"). A topic
// that exists already is left as it is.
func (c *Cluster) CreateTopic(ctx context.Context, name string, partitions int32, replicas int16, configs ...string) error {
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, replicas
	for _, kv := range configs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("create topic %s: config %q: want name=value", name, kv)
		}
		rc := kmsg.NewCreateTopicsRequestTopicConfig()
		rc.Name, rc.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, rc)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs...), kgo.ClientID("kscope-demo-admin"))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 10000
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("create topic %s: %w", name, err)
	}
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", name, err)
		}
	}
	return nil
}

// ApplyRetention deletes what retention.ms and retention.bytes leave out of
// every topic that sets them, now. kfake applies it by itself only every
// log.cleaner.backoff.ms (an hour by default), a batch at a time.
func (c *Cluster) ApplyRetention() { c.kc.ApplyRetention() }

// Close stops the cluster and, with a DataDir, saves its state.
func (c *Cluster) Close() {
	if c.repl != nil {
		c.repl.close()
	}
	c.kc.Close()
}

// kfakeLogger hands kfake's log lines to slog.
type kfakeLogger struct{ l *slog.Logger }

func (k kfakeLogger) Logf(level kfake.LogLevel, msg string, args ...any) {
	var sl slog.Level
	switch level {
	case kfake.LogLevelError:
		sl = slog.LevelError
	case kfake.LogLevelWarn:
		sl = slog.LevelWarn
	case kfake.LogLevelInfo:
		sl = slog.LevelInfo
	default:
		sl = slog.LevelDebug
	}
	if !k.l.Enabled(context.Background(), sl) {
		return
	}
	k.l.Log(context.Background(), sl, fmt.Sprintf(msg, args...))
}
