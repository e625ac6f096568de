package offline

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"hash/crc32"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/view"
)

// The flag is not called -update: other tests of this package may want
// that name, and two flags of one name panic.
var updateReplica = flag.Bool("update-replica", false, "rewrite testdata/captures/replica-fetch.pcap from its generator")

const replicaCapture = captures + "replica-fetch.pcap"

// TestReplicaCaptureUpToDate: the committed replica-fetch.pcap is exactly
// what writeReplicaCapture makes (run with -update-replica to rewrite it).
// No Kafka client in testdata can act as a follower broker, so this
// capture is crafted, not recorded: see testdata/captures/README.md.
func TestReplicaCaptureUpToDate(t *testing.T) {
	var buf bytes.Buffer
	if err := writeReplicaCapture(&buf); err != nil {
		t.Fatal(err)
	}
	if *updateReplica {
		if err := os.WriteFile(replicaCapture, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old, err := os.ReadFile(replicaCapture)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(old, buf.Bytes()) {
		t.Errorf("%s differs from what its generator writes: go test ./internal/offline -run TestReplicaCaptureUpToDate -update-replica", replicaCapture)
	}
}

// TestReplicaFetchDecoded: on a capture where brokers 1 and 2 replicate
// each other's partitions (Fetch v11 with ReplicaID, Fetch v15 with
// ReplicaState, KIP-903) while one client produces and one consumes, every
// Fetch is decoded with its response, and told replica or consumer right.
// (The views on it: internal/view, TestReplicaFetchNoPhantomConsumer.)
func TestReplicaFetchDecoded(t *testing.T) {
	// The fixture holds what the test is about: replica fetches of both
	// encodings, and a consumer Fetch v16 that has no ReplicaState.
	res, err := Analyze(context.Background(), []string{replicaCapture}, Options{})
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("analyze: %v %v", err, res.Errors)
	}
	replicas := map[int16]int{}
	consumerFetches := map[int16]int{}
	for _, e := range res.Exchanges {
		if e.APIKey != 1 {
			continue
		}
		if e.Latency == nil {
			t.Errorf("Fetch v%d corr %d from %s has no response", e.APIVersion, e.CorrelationID, e.Client.Addr)
		}
		if view.IsReplication(&e) {
			replicas[e.APIVersion]++
			if e.Detail.ReplicaID == nil || !strings.HasPrefix(e.ClientID, "broker-") {
				t.Errorf("replica Fetch v%d from %s (%s): replica id %v", e.APIVersion, e.Client.Addr, e.ClientID, e.Detail.ReplicaID)
			}
		} else {
			consumerFetches[e.APIVersion]++
			if e.ClientID != "shop-consumer" {
				t.Errorf("Fetch v%d from %s (%s) is not a replica fetch", e.APIVersion, e.Client.Addr, e.ClientID)
			}
		}
	}
	if replicas[11] == 0 || replicas[15] == 0 || consumerFetches[11] == 0 || consumerFetches[16] == 0 {
		t.Fatalf("replica fetches by version %v, consumer fetches %v: want v11 and v15 replicas, v11 and v16 consumers", replicas, consumerFetches)
	}

}

// The crafted cluster: brokers 1 and 2, a client host running one
// producer and one consumer. Topic ids as a Metadata v12 response gives
// them (Fetch v13+ names topics by id only).
var (
	rcBroker1 = rcHost{net.IPv4(10, 0, 0, 1), net.HardwareAddr{0x02, 0, 0, 0, 0, 1}}
	rcBroker2 = rcHost{net.IPv4(10, 0, 0, 2), net.HardwareAddr{0x02, 0, 0, 0, 0, 2}}
	rcClient  = rcHost{net.IPv4(10, 0, 0, 9), net.HardwareAddr{0x02, 0, 0, 0, 0, 9}}
	rcOrders  = [16]byte{0x6f, 0x72, 0x64, 0x65, 0x72, 0x73, 0x4b, 0x31, 0x9a, 0x01, 0, 0, 0, 0, 0, 1}
	rcAudit   = [16]byte{0x61, 0x75, 0x64, 0x69, 0x74, 0x00, 0x4b, 0x31, 0x9a, 0x02, 0, 0, 0, 0, 0, 2}
)

type rcHost struct {
	ip  net.IP
	mac net.HardwareAddr
}

// rcConn is one TCP connection and the next sequence number each way.
type rcConn struct {
	g            *rcGen
	cli, srv     rcHost
	cport, sport uint16
	cseq, sseq   uint32
	clientID     string
	corr         int32
	reqs         map[int32]kmsg.Request
}

// rcGen writes packets in time order; every packet advances the clock.
type rcGen struct {
	w   *pcapgo.Writer
	now time.Time
	err error
}

func (g *rcGen) tick(d time.Duration) { g.now = g.now.Add(d) }

func (g *rcGen) packet(src, dst rcHost, sport, dport uint16, seq, ack uint32, syn, fin, hasAck bool, payload []byte) {
	if g.err != nil {
		return
	}
	eth := &layers.Ethernet{SrcMAC: src.mac, DstMAC: dst.mac, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src.ip.To4(), DstIP: dst.ip.To4(), Flags: layers.IPv4DontFragment}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: seq, Ack: ack, SYN: syn, FIN: fin, ACK: hasAck, PSH: len(payload) > 0, Window: 64240}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		g.err = err
		return
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp, gopacket.Payload(payload)); err != nil {
		g.err = err
		return
	}
	b := buf.Bytes()
	g.err = g.w.WritePacket(gopacket.CaptureInfo{Timestamp: g.now, CaptureLength: len(b), Length: len(b)}, b)
	g.tick(40 * time.Microsecond)
}

// dial is the three-way handshake.
func (g *rcGen) dial(cli, srv rcHost, cport uint16, clientID string) *rcConn {
	c := &rcConn{g: g, cli: cli, srv: srv, cport: cport, sport: 9092, cseq: 1000 + uint32(cport)*7, sseq: 5000 + uint32(cport)*13, clientID: clientID, reqs: map[int32]kmsg.Request{}}
	g.packet(cli, srv, c.cport, c.sport, c.cseq, 0, true, false, false, nil)
	g.packet(srv, cli, c.sport, c.cport, c.sseq, c.cseq+1, true, false, true, nil)
	c.cseq++
	c.sseq++
	g.packet(cli, srv, c.cport, c.sport, c.cseq, c.sseq, false, false, true, nil)
	return c
}

// send writes b from one side in segments of at most 1448 bytes.
func (c *rcConn) send(fromClient bool, b []byte) {
	for len(b) > 0 {
		n := min(len(b), 1448)
		if fromClient {
			c.g.packet(c.cli, c.srv, c.cport, c.sport, c.cseq, c.sseq, false, false, true, b[:n])
			c.cseq += uint32(n)
		} else {
			c.g.packet(c.srv, c.cli, c.sport, c.cport, c.sseq, c.cseq, false, false, true, b[:n])
			c.sseq += uint32(n)
		}
		b = b[n:]
	}
}

// request frames req with a request header v1, or v2 (tagged fields)
// when the version is flexible, and sends it; it returns its
// correlation id.
func (c *rcConn) request(req kmsg.Request) int32 {
	c.corr++
	b := binary.BigEndian.AppendUint16(nil, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, uint32(c.corr))
	b = binary.BigEndian.AppendUint16(b, uint16(len(c.clientID)))
	b = append(b, c.clientID...)
	if req.IsFlexible() {
		b = append(b, 0)
	}
	b = req.AppendTo(b)
	c.send(true, append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...))
	c.reqs[c.corr] = req
	return c.corr
}

// respond frames resp (at its request's version) with a response header
// v0, or v1 when flexible (ApiVersions answers with v0 always).
func (c *rcConn) respond(corr int32, resp kmsg.Response) {
	resp.SetVersion(c.reqs[corr].GetVersion())
	b := binary.BigEndian.AppendUint32(nil, uint32(corr))
	if resp.IsFlexible() && resp.Key() != 18 {
		b = append(b, 0)
	}
	b = resp.AppendTo(b)
	c.send(false, append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...))
}

// close: the client's FIN, the broker's FIN, the last ACK.
func (c *rcConn) close() {
	c.g.packet(c.cli, c.srv, c.cport, c.sport, c.cseq, c.sseq, false, true, true, nil)
	c.cseq++
	c.g.packet(c.srv, c.cli, c.sport, c.cport, c.sseq, c.cseq, false, true, true, nil)
	c.sseq++
	c.g.packet(c.cli, c.srv, c.cport, c.sport, c.cseq, c.sseq, false, false, true, nil)
}

// rcBatch is a magic 2 record batch of values, uncompressed, CreateTime
// from at (one millisecond per record), with its length and CRC-32C.
func rcBatch(base int64, at time.Time, values ...string) []byte {
	var recs []byte
	for i, v := range values {
		r := kmsg.Record{TimestampDelta64: int64(i), OffsetDelta: int32(i), Key: nil, Value: []byte(v)}
		r.Length = int32(len(r.AppendTo(nil)) - 1) // the body after a one-byte zero length
		recs = r.AppendTo(recs)
	}
	ms := at.UnixMilli()
	b := kmsg.RecordBatch{
		FirstOffset: base, Magic: 2, LastOffsetDelta: int32(len(values) - 1),
		FirstTimestamp: ms, MaxTimestamp: ms + int64(len(values)-1),
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		NumRecords: int32(len(values)), Records: recs,
	}
	raw := b.AppendTo(nil)
	// Length counts from PartitionLeaderEpoch; the CRC covers from
	// Attributes (offset 21) to the end.
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

func rcValues(prefix string, n int) []string {
	var vs []string
	for i := range n {
		vs = append(vs, prefix+"-"+string(rune('a'+i)))
	}
	return vs
}

func rcString(s string) *string { return &s }

func rcMetadata(c *rcConn) {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	corr := c.request(req)
	c.g.tick(300 * time.Microsecond)
	resp := kmsg.NewPtrMetadataResponse()
	resp.ClusterID = rcString("kscope-crafted")
	resp.ControllerID = 1
	for _, b := range []struct {
		id   int32
		host rcHost
	}{{1, rcBroker1}, {2, rcBroker2}} {
		br := kmsg.NewMetadataResponseBroker()
		br.NodeID, br.Host, br.Port = b.id, b.host.ip.String(), 9092
		resp.Brokers = append(resp.Brokers, br)
	}
	topic := func(name string, id [16]byte, leaders ...int32) kmsg.MetadataResponseTopic {
		t := kmsg.NewMetadataResponseTopic()
		t.Topic, t.TopicID = rcString(name), id
		for p, leader := range leaders {
			mp := kmsg.NewMetadataResponseTopicPartition()
			mp.Partition, mp.Leader, mp.Replicas, mp.ISR = int32(p), leader, []int32{1, 2}, []int32{1, 2}
			t.Partitions = append(t.Partitions, mp)
		}
		return t
	}
	resp.Topics = []kmsg.MetadataResponseTopic{topic("orders", rcOrders, 1, 2), topic("audit", rcAudit, 1)}
	c.respond(corr, resp)
}

// rcProduce sends a Produce v7 (acks=all) of batches per topic/partition.
func rcProduce(c *rcConn, parts map[string]map[int32][]byte, order ...string) int32 {
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 7, -1, 30000
	for _, name := range order {
		t := kmsg.NewProduceRequestTopic()
		t.Topic = name
		for p := int32(0); p < 4; p++ {
			if b, ok := parts[name][p]; ok {
				rp := kmsg.NewProduceRequestTopicPartition()
				rp.Partition, rp.Records = p, b
				t.Partitions = append(t.Partitions, rp)
			}
		}
		req.Topics = append(req.Topics, t)
	}
	return c.request(req)
}

func rcProduced(c *rcConn, corr int32, bases map[string]map[int32]int64, order ...string) {
	resp := kmsg.NewPtrProduceResponse()
	for _, name := range order {
		t := kmsg.NewProduceResponseTopic()
		t.Topic = name
		for p := int32(0); p < 4; p++ {
			if base, ok := bases[name][p]; ok {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition, rp.BaseOffset, rp.LogAppendTime, rp.LogStartOffset = p, base, -1, 0
				t.Partitions = append(t.Partitions, rp)
			}
		}
		resp.Topics = append(resp.Topics, t)
	}
	c.respond(corr, resp)
}

// rcFetchPart is one partition of a fetch and of its answer.
type rcFetchPart struct {
	topic     string
	id        [16]byte
	partition int32
	offset    int64
	hw        int64
	batches   []byte
}

// rcFetch sends a Fetch: replica >= 0 is a follower broker, in ReplicaID
// (v0-v14) or ReplicaState (v15+, KIP-903); -1 a consumer.
func rcFetch(c *rcConn, version int16, replica int32, parts ...rcFetchPart) int32 {
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = version, 500, 1, 10<<20
	req.SessionID, req.SessionEpoch = 0, -1
	if version >= 15 {
		if replica >= 0 {
			req.ReplicaState.ID, req.ReplicaState.Epoch = replica, 7
		}
	} else {
		req.ReplicaID = replica
	}
	for _, p := range parts {
		if n := len(req.Topics); n == 0 || req.Topics[n-1].Topic != p.topic {
			t := kmsg.NewFetchRequestTopic()
			t.Topic, t.TopicID = p.topic, p.id
			req.Topics = append(req.Topics, t)
		}
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes, fp.CurrentLeaderEpoch = p.partition, p.offset, 1<<20, 0
		if replica >= 0 {
			fp.LogStartOffset = 0
		}
		t := &req.Topics[len(req.Topics)-1]
		t.Partitions = append(t.Partitions, fp)
	}
	return c.request(req)
}

func rcFetched(c *rcConn, corr int32, parts ...rcFetchPart) {
	resp := kmsg.NewPtrFetchResponse()
	for _, p := range parts {
		if n := len(resp.Topics); n == 0 || resp.Topics[n-1].Topic != p.topic {
			t := kmsg.NewFetchResponseTopic()
			t.Topic, t.TopicID = p.topic, p.id
			resp.Topics = append(resp.Topics, t)
		}
		fp := kmsg.NewFetchResponseTopicPartition()
		fp.Partition, fp.HighWatermark, fp.LastStableOffset, fp.LogStartOffset = p.partition, p.hw, p.hw, 0
		// An empty answer carries empty records, not null, as a
		// broker's empty MemoryRecords does.
		fp.RecordBatches = append([]byte{}, p.batches...)
		t := &resp.Topics[len(resp.Topics)-1]
		t.Partitions = append(t.Partitions, fp)
	}
	c.respond(corr, resp)
}

// writeReplicaCapture writes the crafted capture (see
// testdata/captures/README.md, replica-fetch.pcap).
func writeReplicaCapture(w *bytes.Buffer) error {
	pw := pcapgo.NewWriterNanos(w)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return err
	}
	g := &rcGen{w: pw, now: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)}

	// The followers' fetchers connect first and long-poll.
	f2 := g.dial(rcBroker2, rcBroker1, 50001, "broker-2-fetcher-0") // broker 2 follows broker 1 (Fetch v11)
	f1 := g.dial(rcBroker1, rcBroker2, 50002, "broker-1-fetcher-0") // broker 1 follows broker 2 (Fetch v15)
	g.tick(time.Millisecond)
	orders0 := rcFetchPart{topic: "orders", id: rcOrders, partition: 0}
	orders1 := rcFetchPart{topic: "orders", id: rcOrders, partition: 1}
	audit0 := rcFetchPart{topic: "audit", id: rcAudit, partition: 0}
	r2 := rcFetch(f2, 11, 2, orders0, audit0)
	r1 := rcFetch(f1, 15, 1, orders1)
	g.tick(20 * time.Millisecond)

	// The producer learns the leaders, then writes orders/0 and audit/0
	// to broker 1 in one request, orders/1 to broker 2.
	p1 := g.dial(rcClient, rcBroker1, 40001, "shop-producer")
	rcMetadata(p1)
	g.tick(2 * time.Millisecond)
	p2 := g.dial(rcClient, rcBroker2, 40002, "shop-producer")
	g.tick(time.Millisecond)
	b0 := rcBatch(0, g.now, rcValues("order", 5)...)
	ba := rcBatch(0, g.now, rcValues("audit", 3)...)
	pc1 := rcProduce(p1, map[string]map[int32][]byte{"orders": {0: b0}, "audit": {0: ba}}, "orders", "audit")
	b1 := rcBatch(0, g.now, rcValues("order", 4)...)
	pc2 := rcProduce(p2, map[string]map[int32][]byte{"orders": {1: b1}}, "orders")
	// acks=all: the leaders answer their followers' pending fetches
	// with the new batches, the followers fetch again (which moves the
	// high watermark), then the producer gets its answer.
	g.tick(500 * time.Microsecond)
	withData := func(p rcFetchPart, hw int64, b []byte) rcFetchPart { p.hw, p.batches = hw, b; return p }
	at := func(p rcFetchPart, off, hw int64) rcFetchPart { p.offset, p.hw = off, hw; return p }
	rcFetched(f2, r2, withData(orders0, 0, b0), withData(audit0, 0, ba))
	rcFetched(f1, r1, withData(orders1, 0, b1))
	g.tick(300 * time.Microsecond)
	r2 = rcFetch(f2, 11, 2, at(orders0, 5, 0), at(audit0, 3, 0))
	r1 = rcFetch(f1, 15, 1, at(orders1, 4, 0))
	g.tick(400 * time.Microsecond)
	rcProduced(p1, pc1, map[string]map[int32]int64{"orders": {0: 0}, "audit": {0: 0}}, "orders", "audit")
	rcProduced(p2, pc2, map[string]map[int32]int64{"orders": {1: 0}}, "orders")

	// The consumer reads orders from both leaders: Fetch v11 from
	// broker 1, Fetch v16 (topic ids, no ReplicaState) from broker 2.
	g.tick(15 * time.Millisecond)
	c1 := g.dial(rcClient, rcBroker1, 40003, "shop-consumer")
	c2 := g.dial(rcClient, rcBroker2, 40004, "shop-consumer")
	cc1 := rcFetch(c1, 11, -1, orders0)
	cc2 := rcFetch(c2, 16, -1, orders1)
	g.tick(800 * time.Microsecond)
	rcFetched(c1, cc1, withData(orders0, 5, b0))
	rcFetched(c2, cc2, withData(orders1, 4, b1))
	// Caught up: the next fetches long-poll and come back empty, as do
	// the followers'.
	g.tick(2 * time.Millisecond)
	cc1 = rcFetch(c1, 11, -1, at(orders0, 5, 0))
	cc2 = rcFetch(c2, 16, -1, at(orders1, 4, 0))
	g.tick(480 * time.Millisecond)
	rcFetched(f2, r2, at(orders0, 5, 5), at(audit0, 3, 3))
	rcFetched(f1, r1, at(orders1, 4, 4))
	g.tick(15 * time.Millisecond)
	rcFetched(c1, cc1, at(orders0, 5, 5))
	rcFetched(c2, cc2, at(orders1, 4, 4))
	g.tick(time.Millisecond)
	for _, c := range []*rcConn{c1, c2, p1, p2, f1, f2} {
		c.close()
	}
	return g.err
}
