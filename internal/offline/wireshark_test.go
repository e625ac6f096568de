package offline

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"kscope/internal/exchange"
	"kscope/internal/kafka"
	"kscope/internal/testenv"
)

// TestAgainstWireshark decodes every capture in testdata/captures with
// Wireshark's Kafka dissector (tshark) and with kscope, and checks, for
// every request and response Wireshark decodes, that kscope has the same
// exchange: API key, version, correlation id, client id, and the topics and
// partitions Wireshark names.
func TestAgainstWireshark(t *testing.T) {
	tshark := testenv.Command(t, "tshark", "tshark")
	// KSCOPE_CAPTURES points the comparison at other captures (a glob).
	glob := "../../testdata/captures/*.pcap*"
	if g := os.Getenv("KSCOPE_CAPTURES"); g != "" {
		glob = g
	}
	files, _ := filepath.Glob(glob)
	if len(files) == 0 {
		t.Fatal("no captures in testdata/captures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { compareWithWireshark(t, tshark, f) })
	}
}

// wsPDU is one Kafka PDU as Wireshark decoded it.
type wsPDU struct {
	response        bool
	key, version    int
	corr            int32
	clientID        string
	hasClientID     bool
	src, dst        string
	topics          map[string]bool
	partitions      map[string]bool // "topic/partition"
	packetNumber    int
	packetMalformed bool
}

type exKey struct {
	client, server string
	corr           int32
}

func compareWithWireshark(t *testing.T, tshark, file string) {
	res, err := Analyze(context.Background(), []string{file}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Exchanges) == 0 {
		t.Fatal("kscope found no exchanges")
	}
	ours := make(map[exKey]*exchange.Exchange)
	ports := make(map[string]bool)
	for i := range res.Exchanges {
		e := &res.Exchanges[i]
		ours[exKey{e.Client.Addr, e.Server.Addr, e.CorrelationID}] = e
		_, port, _ := net.SplitHostPort(e.Server.Addr)
		ports[port] = true
	}
	pdus := runTshark(t, tshark, file, ports)
	compared, reqs, resps := 0, 0, 0
	for _, p := range pdus {
		if !kafka.KnownVersion(int16(p.key), int16(p.version)) {
			continue // not a Kafka PDU to Wireshark either (SASL tokens read as one)
		}
		k := exKey{p.src, p.dst, p.corr}
		if p.response {
			k = exKey{p.dst, p.src, p.corr}
		}
		e := ours[k]
		where := func() string {
			dir := "request"
			if p.response {
				dir = "response"
			}
			return dir + " in packet " + strconv.Itoa(p.packetNumber) + " (" + p.src + " -> " + p.dst + " correlation id " + strconv.Itoa(int(p.corr)) + ")"
		}
		if e == nil {
			t.Errorf("Wireshark decodes a %s, kscope has no such exchange", where())
			continue
		}
		compared++
		if int(e.APIKey) != p.key || int(e.APIVersion) != p.version {
			t.Errorf("%s: Wireshark says key %d v%d, kscope %d v%d", where(), p.key, p.version, e.APIKey, e.APIVersion)
		}
		if p.response {
			resps++
			if e.LatencyNS == nil {
				t.Errorf("%s: kscope has no response (%s)", where(), e.NoResponse)
			}
		} else {
			reqs++
			if p.hasClientID && p.clientID != e.ClientID {
				t.Errorf("%s: client id %q, kscope %q", where(), p.clientID, e.ClientID)
			}
		}
		if p.packetMalformed {
			continue // Wireshark gave up on the body; compare the header only
		}
		names, parts := topicSets(e)
		for topic := range p.topics {
			if !names[topic] {
				t.Errorf("%s: Wireshark names topic %q, kscope has %v", where(), topic, keys(names))
			}
		}
		for tp := range p.partitions {
			if !parts[tp] {
				t.Errorf("%s: Wireshark names partition %s, kscope has %v", where(), tp, keys(parts))
			}
		}
	}
	if reqs == 0 {
		t.Fatal("Wireshark decoded no request: nothing compared")
	}
	t.Logf("%d PDUs compared (%d requests, %d responses); kscope: %d exchanges", compared, reqs, resps, len(res.Exchanges))
}

func topicSets(e *exchange.Exchange) (names, parts map[string]bool) {
	names, parts = map[string]bool{}, map[string]bool{}
	for _, tp := range e.Topics {
		names[tp.Name] = true
		for _, p := range tp.Partitions {
			parts[tp.Name+"/"+strconv.Itoa(int(p.Partition))] = true
		}
	}
	return names, parts
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func runTshark(t *testing.T, tshark, file string, ports map[string]bool) []wsPDU {
	args := []string{"-r", file, "-T", "json", "--no-duplicate-keys", "-J", "ip ipv6 tcp kafka _ws.malformed"}
	for p := range ports {
		args = append(args, "-d", "tcp.port=="+p+",kafka")
	}
	var stderr bytes.Buffer
	cmd := exec.Command(tshark, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v: %s", err, stderr.String())
	}
	var packets []struct {
		Source struct {
			Layers map[string]any `json:"layers"`
		} `json:"_source"`
	}
	if err := json.Unmarshal(out, &packets); err != nil {
		t.Fatalf("tshark json: %v", err)
	}
	var pdus []wsPDU
	for n, pk := range packets {
		l := pk.Source.Layers
		src, dst := endpoints(l)
		_, malformed := l["_ws.malformed"]
		for _, obj := range asList(l["kafka"]) {
			m, ok := obj.(map[string]any)
			if !ok {
				continue
			}
			p := wsPDU{src: src, dst: dst, packetNumber: n + 1, packetMalformed: malformed,
				topics: map[string]bool{}, partitions: map[string]bool{}}
			if v, ok := str(m["kafka.request_key"]); ok {
				p.key = atoi(v)
				p.version = atoi(first(m["kafka.request.version"]))
				if cid, ok := str(m["kafka.client_id"]); ok && cid != "[ Null ]" {
					p.clientID, p.hasClientID = cid, true
				}
			} else if v, ok := str(m["kafka.response_key"]); ok {
				p.response = true
				p.key = atoi(v)
				p.version = atoi(first(m["kafka.response.version"]))
			} else {
				continue
			}
			p.corr = int32(atoi(first(m["kafka.correlation_id"])))
			collectTopics(m, "", &p)
			pdus = append(pdus, p)
		}
	}
	return pdus
}

// collectTopics walks a PDU's tree: a partition belongs to the nearest
// enclosing topic.
func collectTopics(v any, topic string, p *wsPDU) {
	switch x := v.(type) {
	case map[string]any:
		// "[ Null ]" is Wireshark's rendering of a null topic list.
		if name, ok := str(x["kafka.topic_name"]); ok && name != "[ Null ]" {
			topic = name
			p.topics[name] = true
		}
		for _, id := range asList(x["kafka.partition_id"]) {
			if s, ok := id.(string); ok && topic != "" {
				p.partitions[topic+"/"+s] = true
			}
		}
		for k, c := range x {
			if k != "kafka.partition_id" && k != "kafka.topic_name" {
				collectTopics(c, topic, p)
			}
		}
	case []any:
		for _, c := range x {
			collectTopics(c, topic, p)
		}
	}
}

func endpoints(l map[string]any) (src, dst string) {
	ip, _ := first1(l["ip"]).(map[string]any)
	srcIP, dstIP := first(ip["ip.src"]), first(ip["ip.dst"])
	if ip == nil {
		ip6, _ := first1(l["ipv6"]).(map[string]any)
		srcIP, dstIP = first(ip6["ipv6.src"]), first(ip6["ipv6.dst"])
	}
	tcp, _ := first1(l["tcp"]).(map[string]any)
	return net.JoinHostPort(srcIP, first(tcp["tcp.srcport"])), net.JoinHostPort(dstIP, first(tcp["tcp.dstport"]))
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

func first1(v any) any {
	if l := asList(v); len(l) > 0 {
		return l[0]
	}
	return nil
}

func first(v any) string {
	s, _ := first1(v).(string)
	return s
}

func str(v any) (string, bool) {
	s, ok := v.(string)
	return s, ok
}

func atoi(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}
