package broker

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

const (
	testUser     = "alice"
	testPassword = "kscope-secret-pw-7741"
)

func startCluster(t *testing.T, cfg Config) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := StartCluster(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func newClient(t *testing.T, c *Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Addrs()...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func TestStartClusterConfig(t *testing.T) {
	c := startCluster(t, Config{Brokers: 2, Topics: []string{"orders"}, Partitions: 4})
	addrs := c.Addrs()
	if len(addrs) != 2 {
		t.Fatalf("addrs = %v, want 2 brokers", addrs)
	}
	for _, a := range addrs {
		if !strings.HasPrefix(a, Host+":") {
			t.Errorf("broker %s does not listen on %s", a, Host)
		}
	}
	if got, want := c.Bootstrap(), strings.Join(addrs, ","); got != want {
		t.Errorf("Bootstrap() = %q, want %q", got, want)
	}

	cl := newClient(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr("orders")
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Brokers) != 2 {
		t.Errorf("metadata lists %d brokers, want 2", len(resp.Brokers))
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 4 {
		t.Errorf("seed topic orders: %+v, want 4 partitions", resp.Topics)
	}
}

func TestStartClusterPorts(t *testing.T) {
	// Find a free range by listening on a random port and trying it and
	// the next; another process may take them meanwhile, so retry.
	for try := 0; try < 5; try++ {
		ln, err := net.Listen("tcp", Host+":0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if port+2 > 65535 {
			continue
		}
		c, err := StartCluster(context.Background(), Config{Brokers: 3, Port: port})
		if err != nil {
			continue
		}
		defer c.Close()
		want := fmt.Sprintf("%s:%d,%s:%d,%s:%d", Host, port, Host, port+1, Host, port+2)
		if got := c.Bootstrap(); got != want {
			t.Errorf("Bootstrap() = %q, want %q", got, want)
		}
		return
	}
	t.Skip("no free range of 3 ports found")
}

func TestStartClusterRefusesHalfSASL(t *testing.T) {
	for _, cfg := range []Config{{SASLUser: "u"}, {SASLPassword: "p"}, {Brokers: -1}} {
		if c, err := StartCluster(context.Background(), cfg); err == nil {
			c.Close()
			t.Errorf("StartCluster(%+v) succeeded, want an error", cfg)
		}
	}
}

// TestProduceConsume drives the cluster as an application would: a
// compressed producer writing to two topics at once, and a consumer group
// that reads everything back and commits.
func TestProduceConsume(t *testing.T) {
	c := startCluster(t, Config{Topics: []string{"orders", "payments"}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	prod := newClient(t, c, kgo.ProducerBatchCompression(kgo.ZstdCompression()), kgo.ProducerLinger(50*time.Millisecond))
	const n = 100
	want := make(map[string]bool)
	for i := 0; i < n; i++ {
		for _, topic := range []string{"orders", "payments"} {
			v := fmt.Sprintf("%s-%d", topic, i)
			want[v] = true
			prod.Produce(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}, nil)
		}
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	var (
		mu     sync.Mutex
		codecs = make(map[uint8]int)
	)
	hook := fetchBatchHook(func(m kgo.FetchBatchMetrics) {
		mu.Lock()
		codecs[m.CompressionType]++
		mu.Unlock()
	})
	cons := newClient(t, c,
		kgo.ConsumerGroup("shipping"),
		kgo.ConsumeTopics("orders", "payments"),
		kgo.DisableAutoCommit(),
		kgo.WithHooks(hook),
	)
	got := make(map[string]bool)
	for len(got) < len(want) {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", len(got), len(want), err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Errorf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) { got[string(r.Value)] = true })
	}
	for v := range want {
		if !got[v] {
			t.Errorf("record %q produced but not consumed", v)
		}
	}
	if err := cons.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	mu.Lock()
	if codecs[4] == 0 {
		t.Errorf("batches by codec = %v, want zstd (4) batches", codecs)
	}
	mu.Unlock()

	// The commit is visible to a fresh client.
	offs := kmsg.NewPtrOffsetFetchRequest()
	offs.Group = "shipping"
	resp, err := offs.RequestWith(ctx, newClient(t, c))
	if err != nil {
		t.Fatal(err)
	}
	var committed int64
	for _, topic := range resp.Topics {
		for _, p := range topic.Partitions {
			committed += max(p.Offset, 0)
		}
	}
	if committed != 2*n {
		t.Errorf("committed offsets add up to %d, want %d", committed, 2*n)
	}
}

type fetchBatchHook func(kgo.FetchBatchMetrics)

func (h fetchBatchHook) OnFetchBatchRead(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.FetchBatchMetrics) {
	h(m)
}

// rawConn speaks Kafka framing to one broker without a client library, so
// the test sees exactly what a client would.
type rawConn struct {
	t    *testing.T
	conn net.Conn
	corr int32
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { conn.Close() })
	return &rawConn{t: t, conn: conn}
}

func (r *rawConn) write(b []byte) {
	r.t.Helper()
	if _, err := r.conn.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

// roundTrip sends req and decodes the answer into resp; it returns an
// error when the broker closed the connection instead.
func (r *rawConn) roundTrip(req kmsg.Request, resp kmsg.Response) error {
	r.t.Helper()
	r.corr++
	r.write(kmsg.NewRequestFormatter(kmsg.FormatterClientID("raw-test")).AppendRequest(nil, req, r.corr))
	frame, err := r.readFrame()
	if err != nil {
		return err
	}
	if corr := int32(binary.BigEndian.Uint32(frame)); corr != r.corr {
		r.t.Fatalf("answer has correlation id %d, want %d", corr, r.corr)
	}
	body := frame[4:]
	if resp.IsFlexible() && resp.Key() != int16(kmsg.ApiVersions) {
		rd := kbin.Reader{Src: body}
		kmsg.SkipTags(&rd)
		body = rd.Src
	}
	if err := resp.ReadFrom(body); err != nil {
		r.t.Fatalf("decode %s v%d answer: %v", kmsg.NameForKey(resp.Key()), resp.GetVersion(), err)
	}
	return nil
}

func (r *rawConn) readFrame() ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r.conn, size[:]); err != nil {
		return nil, err
	}
	frame := make([]byte, binary.BigEndian.Uint32(size[:]))
	_, err := io.ReadFull(r.conn, frame)
	return frame, err
}

func apiKeys(resp *kmsg.ApiVersionsResponse) map[int16]kmsg.ApiVersionsResponseApiKey {
	m := make(map[int16]kmsg.ApiVersionsResponseApiKey)
	for _, k := range resp.ApiKeys {
		m[k.ApiKey] = k
	}
	return m
}

// TestApiVersions checks that the cluster answers like a Kafka 3.x broker:
// old minimums for the APIs librdkafka probes, everything else as kfake
// serves it, at every version a client may ask.
func TestApiVersions(t *testing.T) {
	c := startCluster(t, Config{Brokers: 1})
	addr := c.Addrs()[0]

	tests := []struct {
		name      string
		version   int16
		software  string
		wantVer   int16
		wantErr   error
		wantKeys  bool
		wantFeats bool
	}{
		{name: "v0", version: 0, wantVer: 0, wantKeys: true},
		{name: "v1", version: 1, wantVer: 1, wantKeys: true},
		{name: "v2", version: 2, wantVer: 2, wantKeys: true},
		{name: "v3 librdkafka", version: 3, software: "librdkafka", wantVer: 3, wantKeys: true, wantFeats: true},
		{name: "v4", version: 4, software: "kscope", wantVer: 4, wantKeys: true, wantFeats: true},
		{name: "v5", version: 5, software: "kscope", wantVer: 5, wantKeys: true, wantFeats: true},
		{name: "v3 bad software name", version: 3, software: "-bad-", wantVer: 3, wantErr: kerr.InvalidRequest},
		{name: "v6 unknown", version: 6, software: "kscope", wantVer: 0, wantErr: kerr.UnsupportedVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := kmsg.NewPtrApiVersionsRequest()
			req.Version = tt.version
			req.ClientSoftwareName, req.ClientSoftwareVersion = tt.software, "1.0"
			// An answer to an unknown version comes back at v0.
			resp := kmsg.NewPtrApiVersionsResponse()
			resp.Version = tt.wantVer
			if tt.version > 5 {
				// kmsg cannot encode v6; send v5's bytes labelled v6.
				raw := dialRaw(t, addr)
				b := kmsg.NewRequestFormatter(kmsg.FormatterClientID("raw-test")).AppendRequest(nil, req, 1)
				binary.BigEndian.PutUint16(b[6:], uint16(tt.version))
				raw.write(b)
				frame, err := raw.readFrame()
				if err != nil {
					t.Fatal(err)
				}
				if err := resp.ReadFrom(frame[4:]); err != nil {
					t.Fatal(err)
				}
			} else if err := dialRaw(t, addr).roundTrip(req, resp); err != nil {
				t.Fatal(err)
			}

			if err := kerr.ErrorForCode(resp.ErrorCode); !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			keys := apiKeys(resp)
			if tt.wantErr == kerr.UnsupportedVersion {
				if k, ok := keys[18]; len(keys) != 1 || !ok || k.MaxVersion != 5 {
					t.Errorf("unsupported version answer lists %v, want ApiVersions 0-5 alone", resp.ApiKeys)
				}
				return
			}
			if !tt.wantKeys {
				if len(keys) != 0 {
					t.Errorf("error answer lists %d keys, want none", len(keys))
				}
				return
			}
			for key, want := range map[int16]struct{ min, max int16 }{
				0:  {0, 13}, // Produce: kfake serves 3-13
				1:  {0, 18}, // Fetch: kfake serves 4-18
				17: {0, 1},  // SaslHandshake: kfake serves 1
				36: {0, 2},  // SaslAuthenticate: unchanged
				3:  {0, 13}, // Metadata: unchanged
				23: {3, 4},  // OffsetForLeaderEpoch: kfake's min 3 kept
			} {
				got, ok := keys[key]
				if !ok || got.MinVersion != want.min || got.MaxVersion < want.max {
					t.Errorf("%s: versions %d-%d, want %d-%d or newer max", kmsg.NameForKey(key), got.MinVersion, got.MaxVersion, want.min, want.max)
				}
			}
			if len(keys) < 50 {
				t.Errorf("answer lists %d keys, want all of kfake's", len(keys))
			}
			if tt.wantFeats && len(resp.SupportedFeatures) == 0 {
				t.Errorf("v%d answer has no supported features", tt.version)
			}
		})
	}
}

// TestOldVersionsRefused pins down what the lowered minimums do not
// change: kfake still refuses the pre-0.11 message formats by closing the
// connection. librdkafka never sends them (it picks Produce v7, Fetch v11).
func TestOldVersionsRefused(t *testing.T) {
	c := startCluster(t, Config{Brokers: 1, Topics: []string{"old"}})
	for _, tt := range []struct {
		req  kmsg.Request
		resp kmsg.Response
	}{
		{&kmsg.ProduceRequest{Version: 2, Acks: 1, TimeoutMillis: 1000}, &kmsg.ProduceResponse{Version: 2}},
		{&kmsg.FetchRequest{Version: 3, MaxWaitMillis: 10, MaxBytes: 1 << 20}, &kmsg.FetchResponse{Version: 3}},
	} {
		if err := dialRaw(t, c.Addrs()[0]).roundTrip(tt.req, tt.resp); err == nil {
			t.Errorf("%s v%d answered; kfake serves it now: lower kafka3Mins' comment", kmsg.NameForKey(tt.req.Key()), tt.req.GetVersion())
		}
	}
}

// TestApiVersionsControlRenewed checks that the answer survives the
// control replacing itself.
func TestApiVersionsControlRenewed(t *testing.T) {
	defer func(n int64) { renewControlEvery = n }(renewControlEvery)
	renewControlEvery = 2
	c := startCluster(t, Config{Brokers: 1})
	for i := 0; i < 5; i++ {
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = 2
		resp := kmsg.NewPtrApiVersionsResponse()
		resp.Version = 2
		if err := dialRaw(t, c.Addrs()[0]).roundTrip(req, resp); err != nil {
			t.Fatal(err)
		}
		if k := apiKeys(resp)[int16(kmsg.Produce)]; k.MinVersion != 0 {
			t.Fatalf("request %d: Produce min version %d, want 0", i, k.MinVersion)
		}
	}
}

func TestApiVersionsNamesCluster(t *testing.T) {
	c := startCluster(t, Config{Brokers: 2})
	for _, tt := range []struct {
		name    string
		cluster *string
		node    int32
		wantErr error
	}{
		{"neither", nil, -1, nil},
		{"this broker", kmsg.StringPtr("kfake"), 1, nil},
		{"other node", kmsg.StringPtr("kfake"), 0, kerr.RebootstrapRequired},
		{"other cluster", kmsg.StringPtr("elsewhere"), 1, kerr.RebootstrapRequired},
		{"node without cluster", nil, 1, kerr.InvalidRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := kmsg.NewPtrApiVersionsRequest()
			req.Version = 5
			req.ClientSoftwareName, req.ClientSoftwareVersion = "kscope", "1"
			req.ClusterID, req.NodeID = tt.cluster, tt.node
			resp := kmsg.NewPtrApiVersionsResponse()
			resp.Version = 5
			if err := dialRaw(t, c.Addrs()[1]).roundTrip(req, resp); err != nil {
				t.Fatal(err)
			}
			if err := kerr.ErrorForCode(resp.ErrorCode); !errors.Is(err, tt.wantErr) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestSASLPlain(t *testing.T) {
	c := startCluster(t, Config{Brokers: 1, Topics: []string{"audit"}, SASLUser: testUser, SASLPassword: testPassword})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	good := newClient(t, c, kgo.SASL(plain.Auth{User: testUser, Pass: testPassword}.AsMechanism()))
	if err := good.ProduceSync(ctx, &kgo.Record{Topic: "audit", Value: []byte("ok")}).FirstErr(); err != nil {
		t.Fatalf("produce as %s: %v", testUser, err)
	}

	bad := newClient(t, c,
		kgo.SASL(plain.Auth{User: testUser, Pass: "wrong"}.AsMechanism()),
		kgo.RequestRetries(0), kgo.RetryTimeout(time.Second))
	if err := bad.Ping(ctx); err == nil {
		t.Fatal("a wrong password logged in")
	}

	// Without SASL nothing but ApiVersions and the handshake is served.
	anon := dialRaw(t, c.Addrs()[0])
	if err := anon.roundTrip(kmsg.NewPtrMetadataRequest(), kmsg.NewPtrMetadataResponse()); err == nil {
		t.Fatal("metadata answered before authentication")
	}
}

// TestSASLHandshakeV0 logs in the way kafka-python 2.0.2 does: a v0
// handshake, then the PLAIN token bare, outside Kafka framing.
func TestSASLHandshakeV0(t *testing.T) {
	c := startCluster(t, Config{Brokers: 1, SASLUser: testUser, SASLPassword: testPassword})

	login := func(t *testing.T, password string) (*rawConn, error) {
		raw := dialRaw(t, c.Addrs()[0])
		hs := kmsg.NewPtrSASLHandshakeRequest()
		hs.Version = 0
		hs.Mechanism = "PLAIN"
		hsResp := kmsg.NewPtrSASLHandshakeResponse()
		if err := raw.roundTrip(hs, hsResp); err != nil {
			t.Fatalf("handshake v0: %v", err)
		}
		if hsResp.ErrorCode != 0 || !strings.Contains(strings.Join(hsResp.SupportedMechanisms, ","), "PLAIN") {
			t.Fatalf("handshake v0 answer: error %d, mechanisms %v; want PLAIN listed", hsResp.ErrorCode, hsResp.SupportedMechanisms)
		}
		token := []byte("\x00" + testUser + "\x00" + password)
		raw.write(binary.BigEndian.AppendUint32(nil, uint32(len(token))))
		raw.write(token)
		reply, err := raw.readFrame()
		if err != nil {
			return nil, err
		}
		if len(reply) != 0 {
			t.Fatalf("PLAIN reply token = %q, want empty", reply)
		}
		return raw, nil
	}

	t.Run("right password", func(t *testing.T) {
		raw, err := login(t, testPassword)
		if err != nil {
			t.Fatalf("login: %v", err)
		}
		md := kmsg.NewPtrMetadataRequest()
		md.Version = 1
		mdResp := kmsg.NewPtrMetadataResponse()
		mdResp.Version = 1
		if err := raw.roundTrip(md, mdResp); err != nil {
			t.Fatalf("metadata after v0 login: %v", err)
		}
		if len(mdResp.Brokers) != 1 {
			t.Errorf("metadata lists %d brokers, want 1", len(mdResp.Brokers))
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		if _, err := login(t, "wrong"); err == nil {
			t.Fatal("a wrong password logged in")
		}
	})
}

// TestLibrdkafka runs kcat (librdkafka) against the cluster: the reason for
// the ApiVersions answer. Without it librdkafka sends gzip batches
// uncompressed and refuses SASL/PLAIN.
func TestLibrdkafka(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat not installed (apt-get install kcat)")
	}
	c := startCluster(t, Config{Brokers: 1, SASLUser: testUser, SASLPassword: testPassword})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	auth := []string{"-b", c.Bootstrap(),
		"-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=PLAIN",
		"-X", "sasl.username=" + testUser, "-X", "sasl.password=" + testPassword}

	// librdkafka sends a batch uncompressed when gzip would not shrink
	// it: a record that went out alone (kcat reads stdin a line at a
	// time; in CI one did) is one short line. linger.ms holds the first
	// record until the others are read, so that they go in one batch.
	cmd := exec.CommandContext(ctx, kcat, append(auth, "-P", "-t", "gz", "-p", "0", "-z", "gzip", "-X", "linger.ms=1000")...)
	cmd.Stdin = strings.NewReader(strings.Repeat("compress me please\n", 200))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat produce: %v\n%s", err, out)
	}

	var (
		mu     sync.Mutex
		codecs = make(map[uint8]int)
	)
	cons := newClient(t, c,
		kgo.SASL(plain.Auth{User: testUser, Pass: testPassword}.AsMechanism()),
		kgo.ConsumeTopics("gz"),
		kgo.WithHooks(fetchBatchHook(func(m kgo.FetchBatchMetrics) {
			mu.Lock()
			codecs[m.CompressionType] += m.NumRecords
			mu.Unlock()
		})))
	n := 0
	for n < 200 {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of 200 records kcat produced", n)
		}
		n += fs.NumRecords()
	}
	mu.Lock()
	defer mu.Unlock()
	if codecs[1] != 200 {
		t.Errorf("records by codec = %v, want all 200 gzip (1)", codecs)
	}

	out, err := exec.CommandContext(ctx, kcat, append(auth, "-L", "-t", "gz")...).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte(`topic "gz"`)) {
		t.Errorf("kcat -L over SASL/PLAIN: %v\n%s", err, out)
	}
}

// Topic configs given at creation are the topic's.
func TestCreateTopicConfigs(t *testing.T) {
	c := startCluster(t, Config{Brokers: 1})
	ctx := context.Background()
	if err := c.CreateTopic(ctx, "audit", 2, 1, "retention.bytes=262144", "retention.ms=-1"); err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrDescribeConfigsRequest()
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "audit"
	rr.ConfigNames = []string{"retention.bytes", "retention.ms"}
	req.Resources = append(req.Resources, rr)
	resp, err := req.RequestWith(ctx, newClient(t, c))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, cfg := range resp.Resources[0].Configs {
		if cfg.Value != nil {
			got[cfg.Name] = *cfg.Value
		}
	}
	if got["retention.bytes"] != "262144" || got["retention.ms"] != "-1" {
		t.Errorf("configs %v", got)
	}
	if err := c.CreateTopic(ctx, "bad", 1, 1, "retention.bytes"); err == nil {
		t.Error("a config without a value: no error")
	}
}
