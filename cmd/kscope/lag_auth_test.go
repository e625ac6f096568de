package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"kscope/internal/broker"
	"kscope/internal/broker/brokertest"
	"kscope/internal/view"
)

// testCA makes a CA and a certificate it signs for 127.0.0.1: the
// brokers' TLS config, and the CA's PEM file for --tls-ca.
func testCA(t *testing.T) (*tls.Config, string) {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, srvKey := key(), key()
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kscope test CA"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "broker"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}}}, caFile
}

// TestLagCommandSASLAndTLS: kscope lag reaches a cluster that wants TLS
// and SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), the password from the
// environment or a file; a wrong password, a wrong mechanism or an unknown
// CA is one clear error that never shows the password. A user without
// Read on the topic still gets offsets and offset lag, with the times
// null and the refused Fetch named.
func TestLagCommandSASLAndTLS(t *testing.T) {
	const pass = "s3cret-monitor-pass"
	srvTLS, caFile := testCA(t)
	c := brokertest.Start(t, broker.Config{Brokers: 1, Partitions: 1, Topics: []string{"orders"}, SASLUser: "monitor", SASLPassword: pass, TLS: srvTLS,
		Options: []kfake.Opt{kfake.EnableACLs(), kfake.User("SCRAM-SHA-256", "reader", "reader-pass",
			kfake.ACL{Resource: kmsg.ACLResourceTypeCluster, Name: "kafka-cluster", Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationDescribe, Allow: true},
			kfake.ACL{Resource: kmsg.ACLResourceTypeTopic, Name: "orders", Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationDescribe, Allow: true},
			kfake.ACL{Resource: kmsg.ACLResourceTypeTopic, Name: "orders", Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationDescribeConfigs, Allow: true},
			kfake.ACL{Resource: kmsg.ACLResourceTypeGroup, Name: "billing", Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationDescribe, Allow: true},
		)}})
	billing20Behind(t, brokertest.Client(t, c, kgo.DialTLSConfig(&tls.Config{InsecureSkipVerify: true}),
		kgo.SASL(scram.Auth{User: "monitor", Pass: pass}.AsSha512Mechanism())))
	brokers := strings.Join(c.Addrs(), ",")
	passFile := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(passFile, []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lag := func(args ...string) (view.LagView, string, error) {
		t.Helper()
		out, err := run(t, lagCmd(), append([]string{"--brokers", brokers, "--interval", "100ms", "--request-timeout", "2s", "-o", "json", "--tls", "--tls-ca", caFile}, args...)...)
		if strings.Contains(out, pass) || (err != nil && strings.Contains(err.Error(), pass)) {
			t.Errorf("kscope lag %v shows the password", args)
		}
		var v view.LagView
		if err == nil {
			if jerr := json.Unmarshal([]byte(out), &v); jerr != nil {
				t.Fatalf("%v: %s", jerr, out)
			}
		}
		return v, out, err
	}
	billing := func(v view.LagView) *view.PartitionLag {
		for _, g := range v.Groups {
			if g.Group == "billing" && len(g.Partitions) == 1 {
				return &g.Partitions[0]
			}
		}
		return nil
	}

	t.Setenv("KSCOPE_SASL_PASSWORD", pass)
	for _, m := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		v, out, err := lag("--sasl-mechanism", m, "--sasl-user", "monitor")
		if err != nil {
			t.Fatalf("%s: %v\n%s", m, err, out)
		}
		if p := billing(v); p == nil || *p.OffsetLag != 20 || p.AppendLagSeconds == nil || len(v.Errors) != 0 {
			t.Errorf("%s over TLS: billing %+v, errors %+v", m, p, v.Errors)
		}
	}
	t.Setenv("KSCOPE_SASL_PASSWORD", "")
	if v, out, err := lag("--sasl-mechanism", "SCRAM-SHA-512", "--sasl-user", "monitor", "--sasl-password-file", passFile); err != nil || billing(v) == nil {
		t.Errorf("password from a file: %v\n%s", err, out)
	}

	// What goes wrong says what.
	for _, bad := range []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"--sasl-mechanism", "SCRAM-SHA-512", "--sasl-user", "monitor"}, "not-" + pass, "check the SASL mechanism, user and password"},
		{[]string{"--sasl-mechanism", "GSSAPI", "--sasl-user", "monitor"}, pass, "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"},
		{[]string{"--sasl-mechanism", "PLAIN", "--sasl-user", "monitor"}, "", "KSCOPE_SASL_PASSWORD"},
	} {
		t.Setenv("KSCOPE_SASL_PASSWORD", bad.env)
		start := time.Now()
		_, out, err := lag(bad.args...)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v: err %v, want it to say %q\n%s", bad.args, err, bad.want, out)
		} else {
			t.Logf("%v: %v (after %v)", bad.args, err, time.Since(start).Round(time.Millisecond))
		}
	}
	t.Setenv("KSCOPE_SASL_PASSWORD", pass)
	out, err := run(t, lagCmd(), "--brokers", brokers, "--interval", "100ms", "--request-timeout", "2s", "--tls", "--sasl-mechanism", "PLAIN", "--sasl-user", "monitor")
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a CA it does not know: %v\n%s", err, out)
	} else {
		t.Logf("unknown CA: %v", err)
	}

	// Without Read on the topic: offsets, no times, the refusal named.
	t.Setenv("KSCOPE_SASL_PASSWORD", "reader-pass")
	v, out, err := lag("--sasl-mechanism", "SCRAM-SHA-256", "--sasl-user", "reader")
	if err != nil {
		t.Fatalf("reader: %v\n%s", err, out)
	}
	p := billing(v)
	refused := false
	for _, e := range v.Errors {
		refused = refused || e.Request == "Fetch" && strings.Contains(strings.ToLower(e.Error), "authoriz")
	}
	if p != nil && p.OffsetLag != nil {
		t.Logf("reader: billing offset lag %d, Append Lag %v, status %s; errors %+v", *p.OffsetLag, p.AppendLagSeconds, p.Status, v.Errors)
	}
	if p == nil || p.OffsetLag == nil || *p.OffsetLag != 20 || p.AppendLagSeconds != nil || !refused {
		t.Errorf("reader without Read: billing %+v, errors %+v: want offset lag 20, Append Lag null, the Fetch refused", p, v.Errors)
	}
}
