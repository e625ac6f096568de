package exchange

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"hash/crc32"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/capture"
	"kscope/internal/kafka"
)

// Record data in these tests is encoded with kmsg's wire types the way a
// franz-go producer writes it (lengths and CRCs filled in); Build sees it
// only after kafka.ExtractRecords, as behind the real decoder.

const (
	secretKey   = "SECRET-RECORD-KEY-4471"
	secretValue = "SECRET-RECORD-VALUE-9913"
	ts0         = int64(1_700_000_000_000)
)

func recordBatch(base int64, attrs int16, firstTS, maxTS int64, n int) []byte {
	var recs []byte
	for i := range n {
		r := kmsg.Record{OffsetDelta: int32(i), Key: []byte(secretKey), Value: []byte(secretValue)}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		recs = r.AppendTo(recs)
	}
	b := kmsg.RecordBatch{
		FirstOffset: base, Magic: 2, Attributes: attrs, LastOffsetDelta: int32(n - 1),
		FirstTimestamp: firstTS, MaxTimestamp: maxTS, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		NumRecords: int32(n), Records: recs,
	}
	raw := b.AppendTo(nil)
	b.Length = int32(len(raw) - 12)
	b.CRC = int32(crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b.AppendTo(nil)
}

func messageV1(offset int64, ts int64) []byte {
	m := kmsg.MessageV1{Offset: offset, Magic: 1, Timestamp: ts, Key: []byte(secretKey), Value: []byte(secretValue)}
	m.MessageSize = int32(len(m.AppendTo(nil)) - 12)
	m.CRC = int32(crc32.ChecksumIEEE(m.AppendTo(nil)[16:]))
	return m.AppendTo(nil)
}

var (
	client = netip.MustParseAddrPort("10.0.0.5:51234")
	server = netip.MustParseAddrPort("10.0.0.9:9092")
	start  = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

	ordersID  = [16]byte{0xe6, 0xa4, 0xdf, 0xf2, 0xe5, 0x91, 0x4b, 0x57, 0xbd, 0x67, 0x7b, 0x54, 0xbc, 0x7d, 0x73, 0x1c}
	unknownID = [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
)

// topicIDs knows "orders" in cluster c1, learned as the decoder learns it.
func topicIDs() *kafka.TopicIDs {
	ids := new(kafka.TopicIDs)
	m := kmsg.NewPtrMetadataResponse()
	mt := kmsg.NewMetadataResponseTopic()
	mt.Topic, mt.TopicID = kmsg.StringPtr("orders"), ordersID
	m.Topics = append(m.Topics, mt)
	ids.Learn("c1", m)
	return ids
}

// pair wraps bodies as the decoder emits them: record data reduced to
// batch headers, client at A, 3ms between the request's first byte and
// the response's last.
func pair(req kmsg.Request, resp kmsg.Response) kafka.Pair {
	cid := "order-svc"
	p := kafka.Pair{
		Conn:      &capture.Conn{ID: 1, A: client, B: server},
		ClientDir: capture.AtoB,
		Cluster:   "c1",
		Req: &kafka.Request{
			Header: kafka.RequestHeader{Key: req.Key(), Version: req.GetVersion(), CorrelationID: 42, ClientID: &cid},
			Start:  start, End: start.Add(time.Millisecond), Size: 300,
			Body: req,
		},
	}
	p.Req.Records = kafka.ExtractRecords(req)
	if resp == nil {
		p.NoResponse = kafka.NoResponseAcks0
		return p
	}
	resp.SetVersion(req.GetVersion())
	p.Resp = &kafka.Response{CorrelationID: 42, Start: start.Add(2 * time.Millisecond), End: start.Add(3 * time.Millisecond), Size: 120, Body: resp}
	p.Resp.Records = kafka.ExtractRecords(resp)
	return p
}

func part(t *testing.T, x Exchange, topic string, p int32) Partition {
	t.Helper()
	for _, tp := range x.Topics {
		if tp.Name != topic {
			continue
		}
		for _, pp := range tp.Partitions {
			if pp.Partition == p {
				return pp
			}
		}
	}
	t.Fatalf("no partition %s/%d in %s", topic, p, js(x.Topics))
	return Partition{}
}

func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func eqp[T comparable](t *testing.T, what string, got *T, want T) {
	t.Helper()
	if got == nil {
		t.Errorf("%s missing, want %v", what, want)
	} else if *got != want {
		t.Errorf("%s = %v, want %v", what, *got, want)
	}
}

func TestErrorName(t *testing.T) {
	for code, want := range map[int16]string{
		0: "", -1: "UNKNOWN_SERVER_ERROR", 3: "UNKNOWN_TOPIC_OR_PARTITION",
		6: "NOT_LEADER_OR_FOLLOWER", 25: "UNKNOWN_MEMBER_ID", 999: "UNKNOWN_ERROR_CODE_999", -7: "UNKNOWN_ERROR_CODE_-7",
	} {
		eq(t, "ErrorName("+strconv.Itoa(int(code))+")", ErrorName(code), want)
	}
}

func TestBuildHeader(t *testing.T) {
	req := kmsg.NewPtrHeartbeatRequest()
	req.Version = 4
	resp := kmsg.NewPtrHeartbeatResponse()
	resp.ErrorCode = 27
	resp.ThrottleMillis = 15
	p := pair(req, resp)
	p.Resp.Truncated = true

	x := Build(p, nil, Options{})
	eq(t, "time", x.Time, start)
	eqp(t, "latency", x.Latency, 3*time.Millisecond)
	eqp(t, "latency_ns", x.LatencyNS, int64(3*time.Millisecond))
	eq(t, "client", x.Client.Addr, "10.0.0.5:51234")
	eq(t, "server", x.Server.Addr, "10.0.0.9:9092")
	eq(t, "api", x.API, "Heartbeat")
	eq(t, "api key", x.APIKey, 12)
	eq(t, "version", x.APIVersion, 4)
	eq(t, "correlation", x.CorrelationID, 42)
	eq(t, "client id", x.ClientID, "order-svc")
	eq(t, "error", x.Error, "REBALANCE_IN_PROGRESS")
	eq(t, "throttle", x.Detail.ThrottleMS, 15)
	eq(t, "request bytes", x.RequestBytes, 300)
	eq(t, "response bytes", x.ResponseBytes, 120)
	eq(t, "truncated", x.Truncated, true)

	// The client is B when the decoder learned it sends B->A.
	p.ClientDir = capture.BtoA
	x = Build(p, nil, Options{})
	eq(t, "client when B", x.Client.Addr, "10.0.0.9:9092")
	eq(t, "server when A", x.Server.Addr, "10.0.0.5:51234")

	// No response: no latency, the reason instead.
	p = pair(req, nil)
	p.NoResponse = kafka.NoResponseTimeout
	x = Build(p, nil, Options{Bodies: true})
	if x.Latency != nil || x.LatencyNS != nil {
		t.Errorf("latency without a response: %v", *x.Latency)
	}
	eq(t, "no response", x.NoResponse, "timeout")
	if !x.Response.IsZero() {
		t.Errorf("response JSON without a response: %s", x.Response.JSON())
	}
	if !strings.Contains(js(x), `"latency_ns":null`) {
		t.Errorf("latency_ns should be null: %s", js(x))
	}

	// A body that could not be decoded: the header still tells.
	p = pair(req, nil)
	p.Req.Body, p.Req.Err = nil, errTest("decode Heartbeat v4 request: not enough data")
	x = Build(p, nil, Options{Bodies: true})
	eq(t, "api of undecoded", x.API, "Heartbeat")
	eq(t, "decode error", x.Detail.DecodeError, "request: decode Heartbeat v4 request: not enough data")

	// Typed nil bodies and a missing connection do not crash.
	p = pair(req, resp)
	p.Conn, p.Req.Body, p.Resp.Body = nil, (*kmsg.HeartbeatRequest)(nil), (*kmsg.HeartbeatResponse)(nil)
	x = Build(p, nil, Options{Bodies: true})
	eq(t, "api of nil body", x.API, "Heartbeat")
	eq(t, "no client", x.Client.Addr, "")
}

type errTest string

func (e errTest) Error() string { return string(e) }

func TestBuildProduce(t *testing.T) {
	gz := recordBatch(200, 1, ts0, ts0+10, 2) // gzip by attributes; never decompressed
	plain := recordBatch(100, 0, ts0, ts0+50, 3)
	tests := []struct {
		name  string
		build func() (kmsg.Request, kmsg.Response)
		check func(t *testing.T, x Exchange)
	}{
		{
			name: "v9 two partitions, one failing",
			build: func() (kmsg.Request, kmsg.Response) {
				req := kmsg.NewPtrProduceRequest()
				req.Version, req.Acks, req.TimeoutMillis = 9, -1, 30000
				req.TransactionID = kmsg.StringPtr("txn-orders")
				req.Topics = []kmsg.ProduceRequestTopic{{Topic: "orders", Partitions: []kmsg.ProduceRequestTopicPartition{
					{Partition: 0, Records: bytes.Clone(plain)},
					{Partition: 1, Records: concat(gz, recordBatch(202, 1, ts0-5, ts0+99, 1))},
				}}}
				resp := kmsg.NewPtrProduceResponse()
				resp.Topics = []kmsg.ProduceResponseTopic{{Topic: "orders", Partitions: []kmsg.ProduceResponseTopicPartition{
					{Partition: 0, BaseOffset: 100, LogAppendTime: -1, LogStartOffset: 7},
					{Partition: 1, ErrorCode: 6, BaseOffset: -1, LogAppendTime: -1, LogStartOffset: -1},
				}}}
				return req, resp
			},
			check: func(t *testing.T, x Exchange) {
				eqp(t, "acks", x.Detail.Acks, -1)
				eqp(t, "timeout", x.Detail.TimeoutMS, 30000)
				eq(t, "transactional id", x.Detail.TransactionalID, "txn-orders")
				p0 := part(t, x, "orders", 0)
				eq(t, "p0 records", p0.Records, 3)
				eq(t, "p0 bytes", p0.Bytes, int64(len(plain)))
				eq(t, "p0 batches", len(p0.Batches), 1)
				eqp(t, "p0 base offset", p0.BaseOffset, 100)
				eqp(t, "p0 log start", p0.LogStartOffset, 7)
				eqp(t, "p0 first ts", p0.FirstTimestamp, time.UnixMilli(ts0).UTC())
				eqp(t, "p0 max ts", p0.MaxTimestamp, time.UnixMilli(ts0+50).UTC())
				eq(t, "p0 ts type", p0.TimestampType, "CreateTime")
				eq(t, "p0 error", p0.Error, "")
				if p0.LogAppendTime != nil {
					t.Errorf("log append time %v for a CreateTime topic", p0.LogAppendTime)
				}
				p1 := part(t, x, "orders", 1)
				eq(t, "p1 error", p1.Error, "NOT_LEADER_OR_FOLLOWER")
				eq(t, "p1 records", p1.Records, 3)
				eq(t, "p1 batches", len(p1.Batches), 2)
				eq(t, "p1 compression", p1.Batches[0].Compression, "gzip")
				eqp(t, "p1 first ts across batches", p1.FirstTimestamp, time.UnixMilli(ts0-5).UTC())
				eqp(t, "p1 max ts across batches", p1.MaxTimestamp, time.UnixMilli(ts0+99).UTC())
				if p1.BaseOffset != nil || p1.LogStartOffset != nil {
					t.Errorf("offsets shown for a failed partition: %s", js(p1))
				}
			},
		},
		{
			name: "v2 magic 1 message set, log append time",
			build: func() (kmsg.Request, kmsg.Response) {
				req := kmsg.NewPtrProduceRequest()
				req.Version, req.Acks, req.TimeoutMillis = 2, 1, 1500
				req.Topics = []kmsg.ProduceRequestTopic{{Topic: "legacy", Partitions: []kmsg.ProduceRequestTopicPartition{
					{Partition: 3, Records: concat(messageV1(0, ts0), messageV1(1, ts0+1))},
				}}}
				resp := kmsg.NewPtrProduceResponse()
				resp.Topics = []kmsg.ProduceResponseTopic{{Topic: "legacy", Partitions: []kmsg.ProduceResponseTopicPartition{
					{Partition: 3, BaseOffset: 55, LogAppendTime: ts0 + 3},
				}}}
				return req, resp
			},
			check: func(t *testing.T, x Exchange) {
				p := part(t, x, "legacy", 3)
				eq(t, "records", p.Records, 2)
				eq(t, "magic", p.Batches[0].Magic, 1)
				eqp(t, "base offset", p.BaseOffset, 55)
				eqp(t, "log append time", p.LogAppendTime, time.UnixMilli(ts0+3).UTC())
				if p.LogStartOffset != nil {
					t.Error("log start offset before v5")
				}
			},
		},
		{
			name: "v13 topic ids, acks=0",
			build: func() (kmsg.Request, kmsg.Response) {
				req := kmsg.NewPtrProduceRequest()
				req.Version, req.Acks = 13, 0
				req.Topics = []kmsg.ProduceRequestTopic{
					{TopicID: ordersID, Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: bytes.Clone(plain)}}},
					{TopicID: unknownID, Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 4, Records: bytes.Clone(gz)}}},
				}
				return req, nil
			},
			check: func(t *testing.T, x Exchange) {
				eq(t, "no response", x.NoResponse, "acks=0")
				eq(t, "records by id", part(t, x, "orders", 0).Records, 3)
				eq(t, "topic id", x.Topics[0].ID, kafka.FormatTopicID(ordersID))
				eq(t, "unknown id named by itself", x.Topics[1].Name, kafka.FormatTopicID(unknownID))
				eq(t, "unknown id", x.Topics[1].ID, kafka.FormatTopicID(unknownID))
				eq(t, "unknown id records", part(t, x, kafka.FormatTopicID(unknownID), 4).Records, 2)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, resp := tt.build()
			p := pair(req, resp)
			x := Build(p, topicIDs(), Options{Bodies: true})
			tt.check(t, x)
			noRecordData(t, x)
			sameAsWire(t, p, x)
		})
	}
}

func concat(b ...[]byte) []byte { return bytes.Join(b, nil) }

// noRecordData fails if record keys or values, raw or base64, reached the
// exchange's JSON.
func noRecordData(t *testing.T, x Exchange) {
	t.Helper()
	out := js(x)
	for _, s := range []string{secretKey, secretValue} {
		for _, form := range []string{s, base64.StdEncoding.EncodeToString([]byte(s)), base64.StdEncoding.EncodeToString([]byte(s))[:16]} {
			if strings.Contains(out, form) {
				t.Fatalf("record data %q in exchange JSON: %s", form, out)
			}
		}
	}
}

// sameAsWire checks that the bodies kept in wire form (WireBodies) render
// as those rendered at once, and hold no record data. The agent's bodies
// come from the decoder: p's, built here, go through the wire first, as
// the decoder's would have (fields a version lacks get kmsg's defaults).
func sameAsWire(t *testing.T, p kafka.Pair, _ Exchange) {
	t.Helper()
	dec := p
	req := *p.Req
	req.Body = kmsg.RequestForKey(p.Req.Body.Key())
	req.Body.SetVersion(p.Req.Body.GetVersion())
	if err := req.Body.ReadFrom(p.Req.Body.AppendTo(nil)); err != nil {
		t.Fatal(err)
	}
	dec.Req = &req
	if p.Resp != nil {
		resp := *p.Resp
		resp.Body = kmsg.ResponseForKey(p.Resp.Body.Key())
		resp.Body.SetVersion(p.Resp.Body.GetVersion())
		if err := resp.Body.ReadFrom(p.Resp.Body.AppendTo(nil)); err != nil {
			t.Fatal(err)
		}
		dec.Resp = &resp
	}
	x := Build(dec, topicIDs(), Options{Bodies: true})
	w := Build(dec, topicIDs(), Options{Bodies: true, WireBodies: true})
	for _, b := range []struct {
		name      string
		now, wire Body
	}{{"request", x.Request, w.Request}, {"response", x.Response, w.Response}} {
		if !b.wire.wire && !b.now.IsZero() {
			t.Errorf("%s not kept in wire form", b.name)
			continue
		}
		if got, want := string(b.wire.JSON()), string(b.now.JSON()); got != want {
			t.Errorf("%s in wire form renders\n%s\nwant\n%s", b.name, got, want)
		}
		for _, secret := range []string{secretKey, secretValue} {
			if bytes.Contains(b.wire.raw(), []byte(secret)) {
				t.Errorf("%s in wire form holds record data %q", b.name, secret)
			}
		}
	}
	if js(w) != js(x) {
		t.Errorf("the exchange with bodies in wire form marshals as\n%s\nwant\n%s", js(w), js(x))
	}
}

func TestBuildFetch(t *testing.T) {
	b1 := recordBatch(500, 0, ts0, ts0+20, 4)
	b2 := recordBatch(504, 8, ts0, ts0+900, 2) // LogAppendTime
	tests := []struct {
		name  string
		build func() (kmsg.Request, kmsg.Response)
		check func(t *testing.T, x Exchange)
	}{
		{
			name: "v13 by topic id, partitions on one side only",
			build: func() (kmsg.Request, kmsg.Response) {
				req := kmsg.NewPtrFetchRequest()
				req.Version, req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.IsolationLevel = 13, -1, 500, 1, 1
				req.SessionID = 0
				req.Topics = []kmsg.FetchRequestTopic{
					{TopicID: ordersID, Partitions: []kmsg.FetchRequestTopicPartition{
						{Partition: 0, FetchOffset: 500}, {Partition: 1, FetchOffset: 77},
					}},
					{TopicID: unknownID, Partitions: []kmsg.FetchRequestTopicPartition{{Partition: 2, FetchOffset: 9}}},
				}
				resp := kmsg.NewPtrFetchResponse()
				resp.SessionID = 1234
				resp.Topics = []kmsg.FetchResponseTopic{
					{TopicID: ordersID, Partitions: []kmsg.FetchResponseTopicPartition{
						{Partition: 0, HighWatermark: 900, LastStableOffset: 900, LogStartOffset: 10,
							RecordBatches: concat(b1, b2, b1[:30])},
						{Partition: 5, ErrorCode: 74, HighWatermark: -1, LogStartOffset: -1},
					}},
				}
				return req, resp
			},
			check: func(t *testing.T, x Exchange) {
				d := x.Detail
				eqp(t, "max wait", d.MaxWaitMS, 500)
				eqp(t, "min bytes", d.MinBytes, 1)
				eq(t, "isolation", d.IsolationLevel, "read_committed")
				eqp(t, "session", d.SessionID, 1234)
				eq(t, "replica", d.Replica, false)
				if d.ReplicaID != nil {
					t.Error("replica id for a consumer")
				}
				eq(t, "topic id", x.Topics[0].ID, kafka.FormatTopicID(ordersID))
				p0 := part(t, x, "orders", 0)
				eqp(t, "fetch offset", p0.FetchOffset, 500)
				eqp(t, "high watermark", p0.HighWatermark, 900)
				eqp(t, "log start", p0.LogStartOffset, 10)
				eqp(t, "base offset is the first batch's", p0.BaseOffset, 500)
				eq(t, "records", p0.Records, 6)
				eq(t, "batches", len(p0.Batches), 2)
				eq(t, "bytes as sent, partial batch included", p0.Bytes, int64(len(b1)*2+len(b2)-len(b1)+30))
				eq(t, "incomplete", p0.Incomplete, true)
				eqp(t, "first ts", p0.FirstTimestamp, time.UnixMilli(ts0).UTC())
				eqp(t, "max ts", p0.MaxTimestamp, time.UnixMilli(ts0+900).UTC())
				p1 := part(t, x, "orders", 1)
				eqp(t, "request-only partition keeps its offset", p1.FetchOffset, 77)
				if p1.HighWatermark != nil || p1.Records != 0 {
					t.Errorf("request-only partition has response data: %s", js(p1))
				}
				p5 := part(t, x, "orders", 5)
				eq(t, "response-only partition error", p5.Error, "FENCED_LEADER_EPOCH")
				if p5.FetchOffset != nil {
					t.Error("response-only partition has a fetch offset")
				}
				unk := part(t, x, kafka.FormatTopicID(unknownID), 2)
				eqp(t, "unknown topic fetch offset", unk.FetchOffset, 9)
				eq(t, "unknown topic id", x.Topics[1].ID, kafka.FormatTopicID(unknownID))
			},
		},
		{
			name: "v11 replica fetch by replica id",
			build: func() (kmsg.Request, kmsg.Response) {
				req := kmsg.NewPtrFetchRequest()
				req.Version, req.ReplicaID = 11, 2
				req.Topics = []kmsg.FetchRequestTopic{{Topic: "orders", Partitions: []kmsg.FetchRequestTopicPartition{{Partition: 0, FetchOffset: 1}}}}
				resp := kmsg.NewPtrFetchResponse()
				resp.Topics = []kmsg.FetchResponseTopic{{Topic: "orders", Partitions: []kmsg.FetchResponseTopicPartition{{Partition: 0, HighWatermark: 3}}}}
				return req, resp
			},
			check: func(t *testing.T, x Exchange) {
				eq(t, "replica", x.Detail.Replica, true)
				eqp(t, "replica id", x.Detail.ReplicaID, 2)
				eq(t, "isolation", x.Detail.IsolationLevel, "read_uncommitted")
				eq(t, "no records", part(t, x, "orders", 0).Records, 0)
			},
		},
		{
			name: "v15 replica fetch by ReplicaState",
			build: func() (kmsg.Request, kmsg.Response) {
				req := kmsg.NewPtrFetchRequest()
				req.Version = 15
				req.ReplicaState.ID, req.ReplicaState.Epoch = 3, 17
				req.Topics = []kmsg.FetchRequestTopic{{TopicID: ordersID, Partitions: []kmsg.FetchRequestTopicPartition{{Partition: 0}}}}
				return req, kmsg.NewPtrFetchResponse()
			},
			check: func(t *testing.T, x Exchange) {
				eq(t, "replica", x.Detail.Replica, true)
				eqp(t, "replica id", x.Detail.ReplicaID, 3)
			},
		},
		{
			name: "v15 consumer",
			build: func() (kmsg.Request, kmsg.Response) {
				req := kmsg.NewPtrFetchRequest() // ReplicaState.ID defaults to -1
				req.Version = 15
				return req, kmsg.NewPtrFetchResponse()
			},
			check: func(t *testing.T, x Exchange) { eq(t, "replica", x.Detail.Replica, false) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, resp := tt.build()
			p := pair(req, resp)
			x := Build(p, topicIDs(), Options{Bodies: true})
			tt.check(t, x)
			noRecordData(t, x)
			sameAsWire(t, p, x)
		})
	}
}

func consumerMeta(topics ...string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Version, m.Topics, m.UserData = 3, topics, []byte("opaque user data")
	return m.AppendTo(nil)
}

func consumerAssign(topic string, parts ...int32) []byte {
	a := kmsg.NewConsumerMemberAssignment()
	a.Version = 3
	a.Topics = []kmsg.ConsumerMemberAssignmentTopic{{Topic: topic, Partitions: parts}}
	return a.AppendTo(nil)
}

func TestBuildGroupsAndOthers(t *testing.T) {
	tests := []struct {
		name  string
		build func() (kmsg.Request, kmsg.Response)
		check func(t *testing.T, x Exchange)
	}{
		{
			name: "ListOffsets",
			build: func() (kmsg.Request, kmsg.Response) {
				req := kmsg.NewPtrListOffsetsRequest()
				req.Version, req.IsolationLevel = 7, 1
				req.Topics = []kmsg.ListOffsetsRequestTopic{{Topic: "orders", Partitions: []kmsg.ListOffsetsRequestTopicPartition{
					{Partition: 0, Timestamp: -1}, {Partition: 1, Timestamp: -2},
				}}}
				resp := kmsg.NewPtrListOffsetsResponse()
				resp.Topics = []kmsg.ListOffsetsResponseTopic{{Topic: "orders", Partitions: []kmsg.ListOffsetsResponseTopicPartition{
					{Partition: 0, Offset: 900, Timestamp: -1}, {Partition: 1, ErrorCode: 3},
				}}}
				return req, resp
			},
			check: func(t *testing.T, x Exchange) {
				p0 := part(t, x, "orders", 0)
				eqp(t, "p0 query", p0.Timestamp, -1)
				eqp(t, "p0 offset", p0.Offset, 900)
				p1 := part(t, x, "orders", 1)
				eqp(t, "p1 query", p1.Timestamp, -2)
				eq(t, "p1 error", p1.Error, "UNKNOWN_TOPIC_OR_PARTITION")
				eq(t, "isolation", x.Detail.IsolationLevel, "read_committed")
			},
		},
		{
			name: "Metadata",
			build: func() (kmsg.Request, kmsg.Response) {
				req := kmsg.NewPtrMetadataRequest()
				req.Version = 12
				req.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("orders")}, {Topic: kmsg.StringPtr("missing")}}
				resp := kmsg.NewPtrMetadataResponse()
				resp.ClusterID, resp.ControllerID = kmsg.StringPtr("c1"), 1
				resp.Brokers = []kmsg.MetadataResponseBroker{
					{NodeID: 1, Host: "b1.kafka", Port: 9092, Rack: kmsg.StringPtr("az1")},
					{NodeID: 2, Host: "::1", Port: 9093},
				}
				resp.Topics = []kmsg.MetadataResponseTopic{
					{Topic: kmsg.StringPtr("orders"), TopicID: ordersID, Partitions: []kmsg.MetadataResponseTopicPartition{
						{Partition: 0, Leader: 1}, {Partition: 1, Leader: -1, ErrorCode: 5}, {Partition: 2, Leader: 2},
					}},
					{Topic: kmsg.StringPtr("missing"), ErrorCode: 3},
				}
				return req, resp
			},
			check: func(t *testing.T, x Exchange) {
				d := x.Detail
				eq(t, "cluster", d.ClusterID, "c1")
				eqp(t, "controller", d.ControllerID, 1)
				eq(t, "brokers", js(d.Brokers), `[{"node_id":1,"addr":"b1.kafka:9092","rack":"az1"},{"node_id":2,"addr":"[::1]:9093"}]`)
				eq(t, "topics", len(x.Topics), 2)
				eq(t, "orders partitions", len(x.Topics[0].Partitions), 3)
				eq(t, "partition error", part(t, x, "orders", 1).Error, "LEADER_NOT_AVAILABLE")
				eq(t, "topic error", d.TopicErrors["missing"], "UNKNOWN_TOPIC_OR_PARTITION")
				eq(t, "named topic has no id field", x.Topics[0].ID, "")
			},
		},
		{
			name: "OffsetCommit",
			build: func() (kmsg.Request, kmsg.Response) {
				req := kmsg.NewPtrOffsetCommitRequest()
				req.Version, req.Group, req.Generation, req.MemberID = 8, "shipping", 12, "m-1"
				req.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "orders", Partitions: []kmsg.OffsetCommitRequestTopicPartition{
					{Partition: 0, Offset: 640}, {Partition: 1, Offset: 10},
				}}}
				resp := kmsg.NewPtrOffsetCommitResponse()
				resp.Topics = []kmsg.OffsetCommitResponseTopic{{Topic: "orders", Partitions: []kmsg.OffsetCommitResponseTopicPartition{
					{Partition: 0}, {Partition: 1, ErrorCode: 22},
				}}}
				return req, resp
			},
			check: func(t *testing.T, x Exchange) {
				eq(t, "group", x.Group, "shipping")
				eqp(t, "generation", x.Generation, 12)
				eq(t, "member", x.MemberID, "m-1")
				eqp(t, "p0 committed", part(t, x, "orders", 0).CommittedOffset, 640)
				eq(t, "p1 error", part(t, x, "orders", 1).Error, "ILLEGAL_GENERATION")
			},
		},
		{
			name: "OffsetFetch v7",
			build: func() (kmsg.Request, kmsg.Response) {
				req := kmsg.NewPtrOffsetFetchRequest()
				req.Version, req.Group = 7, "shipping"
				req.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "orders", Partitions: []int32{0, 1}}}
				resp := kmsg.NewPtrOffsetFetchResponse()
				resp.Topics = []kmsg.OffsetFetchResponseTopic{{Topic: "orders", Partitions: []kmsg.OffsetFetchResponseTopicPartition{
					{Partition: 0, Offset: 640}, {Partition: 1, Offset: -1},
				}}}
				return req, resp
			},
			check: func(t *testing.T, x Exchange) {
				eq(t, "group", x.Group, "shipping")
				eqp(t, "p0 committed", part(t, x, "orders", 0).CommittedOffset, 640)
				if c := part(t, x, "orders", 1).CommittedOffset; c != nil {
					t.Errorf("nothing committed shown as %d", *c)
				}
			},
		},
		{
			name: "OffsetFetch v9 one group",
			build: func() (kmsg.Request, kmsg.Response) {
				req := kmsg.NewPtrOffsetFetchRequest()
				req.Version = 9
				req.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "invoicing", MemberID: kmsg.StringPtr("m-9"), MemberEpoch: 4,
					Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "orders", Partitions: []int32{2}}}}}
				resp := kmsg.NewPtrOffsetFetchResponse()
				resp.Groups = []kmsg.OffsetFetchResponseGroup{{Group: "invoicing", Topics: []kmsg.OffsetFetchResponseGroupTopic{
					{Topic: "orders", Partitions: []kmsg.OffsetFetchResponseGroupTopicPartition{{Partition: 2, Offset: 33}}},
				}}}
				return req, resp
			},
			check: func(t *testing.T, x Exchange) {
				eq(t, "group", x.Group, "invoicing")
				eq(t, "member", x.MemberID, "m-9")
				eqp(t, "member epoch", x.Detail.MemberEpoch, 4)
				eqp(t, "committed", part(t, x, "orders", 2).CommittedOffset, 33)
			},
		},
		{
			name: "OffsetFetch v8 several groups",
			build: func() (kmsg.Request, kmsg.Response) {
				req := kmsg.NewPtrOffsetFetchRequest()
				req.Version = 8
				req.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "a"}, {Group: "b"}}
				resp := kmsg.NewPtrOffsetFetchResponse()
				resp.Groups = []kmsg.OffsetFetchResponseGroup{{Group: "a"}, {Group: "b", ErrorCode: 16}}
				return req, resp
			},
			check: func(t *testing.T, x Exchange) {
				eq(t, "groups", js(x.Detail.Groups), `["a","b"]`)
				eq(t, "group", x.Group, "")
				eq(t, "error", x.Error, "NOT_COORDINATOR")
			},
		},
		{
			name: "FindCoordinator v3",
			build: func() (kmsg.Request, kmsg.Response) {
				req := kmsg.NewPtrFindCoordinatorRequest()
				req.Version, req.CoordinatorKey = 3, "shipping"
				resp := kmsg.NewPtrFindCoordinatorResponse()
				resp.NodeID, resp.Host, resp.Port = 2, "b2.kafka", 9092
				return req, resp
			},
			check: func(t *testing.T, x Exchange) {
				eq(t, "keys", js(x.Detail.CoordinatorKeys), `["shipping"]`)
				eq(t, "type", x.Detail.CoordinatorType, "group")
				eq(t, "coordinator", x.Detail.Coordinator, "b2.kafka:9092")
				eq(t, "group", x.Group, "shipping")
			},
		},
		{
			name: "FindCoordinator v4 batched transactions",
			build: func() (kmsg.Request, kmsg.Response) {
				req := kmsg.NewPtrFindCoordinatorRequest()
				req.Version, req.CoordinatorType, req.CoordinatorKeys = 4, 1, []string{"t1", "t2"}
				resp := kmsg.NewPtrFindCoordinatorResponse()
				resp.Coordinators = []kmsg.FindCoordinatorResponseCoordinator{
					{Key: "t1", NodeID: 1, Host: "b1", Port: 9092},
					{Key: "t2", NodeID: -1, ErrorCode: 15},
				}
				return req, resp
			},
			check: func(t *testing.T, x Exchange) {
				eq(t, "type", x.Detail.CoordinatorType, "transaction")
				eq(t, "coordinators", js(x.Detail.Coordinators),
					`[{"key":"t1","node_id":1,"addr":"b1:9092"},{"key":"t2","node_id":-1,"error":"COORDINATOR_NOT_AVAILABLE"}]`)
				eq(t, "error", x.Error, "COORDINATOR_NOT_AVAILABLE")
				eq(t, "no group for transactions", x.Group, "")
			},
		},
		{
			name: "JoinGroup leader",
			build: func() (kmsg.Request, kmsg.Response) {
				req := kmsg.NewPtrJoinGroupRequest()
				req.Version, req.Group, req.ProtocolType = 9, "shipping", "consumer"
				req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 45000, 300000
				req.Protocols = []kmsg.JoinGroupRequestProtocol{
					{Name: "cooperative-sticky", Metadata: consumerMeta("orders", "returns")},
					{Name: "range", Metadata: consumerMeta("orders", "returns")},
				}
				resp := kmsg.NewPtrJoinGroupResponse()
				resp.Generation, resp.LeaderID, resp.MemberID = 13, "m-1", "m-1"
				resp.Protocol, resp.ProtocolType = kmsg.StringPtr("cooperative-sticky"), kmsg.StringPtr("consumer")
				resp.Members = []kmsg.JoinGroupResponseMember{
					{MemberID: "m-1", ProtocolMetadata: consumerMeta("orders", "returns")},
					{MemberID: "m-2", InstanceID: kmsg.StringPtr("pod-2"), ProtocolMetadata: consumerMeta("orders")},
				}
				return req, resp
			},
			check: func(t *testing.T, x Exchange) {
				d := x.Detail
				eq(t, "group", x.Group, "shipping")
				eq(t, "member", x.MemberID, "m-1")
				eqp(t, "generation", x.Generation, 13)
				eq(t, "protocol type", d.ProtocolType, "consumer")
				eq(t, "protocols", js(d.Protocols), `["cooperative-sticky","range"]`)
				eq(t, "protocol", d.Protocol, "cooperative-sticky")
				eq(t, "leader", d.Leader, "m-1")
				eqp(t, "session timeout", d.SessionTimeoutMS, 45000)
				eqp(t, "rebalance timeout", d.RebalanceTimeoutMS, 300000)
				eq(t, "subscription", js(d.Subscription), `["orders","returns"]`)
				eq(t, "members", js(d.Members),
					`[{"member_id":"m-1","subscription":["orders","returns"]},{"member_id":"m-2","instance_id":"pod-2","subscription":["orders"]}]`)
			},
		},
		{
			name: "SyncGroup v5 leader",
			build: func() (kmsg.Request, kmsg.Response) {
				req := kmsg.NewPtrSyncGroupRequest()
				req.Version, req.Group, req.Generation, req.MemberID = 5, "shipping", 13, "m-1"
				req.ProtocolType, req.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
				req.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{
					{MemberID: "m-1", MemberAssignment: consumerAssign("orders", 0, 1)},
					{MemberID: "m-2", MemberAssignment: consumerAssign("orders", 2)},
				}
				resp := kmsg.NewPtrSyncGroupResponse()
				resp.MemberAssignment = consumerAssign("orders", 0, 1)
				return req, resp
			},
			check: func(t *testing.T, x Exchange) {
				eqp(t, "generation", x.Generation, 13)
				eq(t, "protocol", x.Detail.Protocol, "range")
				eq(t, "assignment", js(x.Detail.Assignment), `[{"topic":"orders","partitions":[0,1]}]`)
				eq(t, "members", js(x.Detail.Members),
					`[{"member_id":"m-1","assignment":[{"topic":"orders","partitions":[0,1]}]},{"member_id":"m-2","assignment":[{"topic":"orders","partitions":[2]}]}]`)
			},
		},
		{
			name: "SyncGroup v3 follower: consumer assignment recognised",
			build: func() (kmsg.Request, kmsg.Response) {
				req := kmsg.NewPtrSyncGroupRequest()
				req.Version, req.Group, req.Generation, req.MemberID = 3, "shipping", 13, "m-2"
				resp := kmsg.NewPtrSyncGroupResponse()
				resp.MemberAssignment = consumerAssign("orders", 2)
				return req, resp
			},
			check: func(t *testing.T, x Exchange) {
				eq(t, "assignment", js(x.Detail.Assignment), `[{"topic":"orders","partitions":[2]}]`)
			},
		},
		{
			name: "SyncGroup v5 connect: not decoded",
			build: func() (kmsg.Request, kmsg.Response) {
				req := kmsg.NewPtrSyncGroupRequest()
				req.Version, req.Group = 5, "connect-cluster"
				req.ProtocolType = kmsg.StringPtr("connect")
				resp := kmsg.NewPtrSyncGroupResponse()
				resp.MemberAssignment = consumerAssign("orders", 2)
				return req, resp
			},
			check: func(t *testing.T, x Exchange) {
				if x.Detail.Assignment != nil {
					t.Errorf("connect assignment decoded as consumer: %s", js(x.Detail.Assignment))
				}
			},
		},
		{
			name: "LeaveGroup v5 batch",
			build: func() (kmsg.Request, kmsg.Response) {
				req := kmsg.NewPtrLeaveGroupRequest()
				req.Version, req.Group = 5, "shipping"
				req.Members = []kmsg.LeaveGroupRequestMember{
					{MemberID: "m-1", InstanceID: kmsg.StringPtr("pod-1"), Reason: kmsg.StringPtr("shutdown")},
					{MemberID: "m-2"},
				}
				resp := kmsg.NewPtrLeaveGroupResponse()
				resp.Members = []kmsg.LeaveGroupResponseMember{{MemberID: "m-1", InstanceID: kmsg.StringPtr("pod-1")}, {MemberID: "m-2", ErrorCode: 25}}
				return req, resp
			},
			check: func(t *testing.T, x Exchange) {
				eq(t, "members", js(x.Detail.Members),
					`[{"member_id":"m-1","instance_id":"pod-1","reason":"shutdown"},{"member_id":"m-2","error":"UNKNOWN_MEMBER_ID"}]`)
			},
		},
		{
			name: "DescribeGroups",
			build: func() (kmsg.Request, kmsg.Response) {
				req := kmsg.NewPtrDescribeGroupsRequest()
				req.Version, req.Groups = 5, []string{"shipping"}
				resp := kmsg.NewPtrDescribeGroupsResponse()
				resp.Groups = []kmsg.DescribeGroupsResponseGroup{{
					Group: "shipping", State: "Stable", ProtocolType: "consumer", Protocol: "range",
					Members: []kmsg.DescribeGroupsResponseGroupMember{{
						MemberID: "m-1", ClientID: "shipping-1", ClientHost: "/10.0.0.5",
						ProtocolMetadata: consumerMeta("orders"), MemberAssignment: consumerAssign("orders", 0),
					}},
				}}
				return req, resp
			},
			check: func(t *testing.T, x Exchange) {
				eq(t, "group", x.Group, "shipping")
				eq(t, "described", js(x.Detail.Described),
					`[{"group":"shipping","state":"Stable","protocol_type":"consumer","protocol":"range","members":[{"member_id":"m-1","client_id":"shipping-1","client_host":"/10.0.0.5","subscription":["orders"],"assignment":[{"topic":"orders","partitions":[0]}]}]}]`)
			},
		},
		{
			name: "ConsumerGroupHeartbeat",
			build: func() (kmsg.Request, kmsg.Response) {
				req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
				req.Group, req.MemberID, req.MemberEpoch, req.RebalanceTimeoutMillis = "invoicing", "", 0, 300000
				req.SubscribedTopicNames = []string{"orders"}
				req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{} // a join owns none
				resp := kmsg.NewPtrConsumerGroupHeartbeatResponse()
				resp.MemberID, resp.MemberEpoch = kmsg.StringPtr("u-7"), 5
				resp.Assignment = &kmsg.ConsumerGroupHeartbeatResponseAssignment{Topics: []kmsg.ConsumerGroupHeartbeatResponseAssignmentTopic{
					{TopicID: ordersID, Partitions: []int32{0, 1}}, {TopicID: unknownID, Partitions: []int32{3}},
				}}
				return req, resp
			},
			check: func(t *testing.T, x Exchange) {
				eq(t, "group", x.Group, "invoicing")
				eq(t, "member from response", x.MemberID, "u-7")
				eqp(t, "epoch", x.Detail.MemberEpoch, 5)
				eqp(t, "request epoch", x.Detail.RequestMemberEpoch, 0)
				eqp(t, "generation (the member epoch)", x.Generation, 5)
				eq(t, "owned (none, not unchanged)", js(x.Detail.Owned), `[]`)
				eq(t, "subscription", js(x.Detail.Subscription), `["orders"]`)
				eq(t, "assignment", js(x.Detail.Assignment),
					`[{"topic":"orders","partitions":[0,1]},{"topic":"`+kafka.FormatTopicID(unknownID)+`","partitions":[3]}]`)
			},
		},
		{
			name: "ApiVersions",
			build: func() (kmsg.Request, kmsg.Response) {
				req := kmsg.NewPtrApiVersionsRequest()
				req.Version, req.ClientSoftwareName, req.ClientSoftwareVersion = 3, "kgo", "1.18.0"
				resp := kmsg.NewPtrApiVersionsResponse()
				resp.ApiKeys = make([]kmsg.ApiVersionsResponseApiKey, 60)
				return req, resp
			},
			check: func(t *testing.T, x Exchange) {
				eq(t, "software", x.Detail.ClientSoftware, "kgo 1.18.0")
				eq(t, "keys", x.Detail.APIKeys, 60)
			},
		},
		{
			name: "InitProducerId",
			build: func() (kmsg.Request, kmsg.Response) {
				req := kmsg.NewPtrInitProducerIDRequest()
				req.Version, req.TransactionalID = 4, kmsg.StringPtr("txn-orders")
				resp := kmsg.NewPtrInitProducerIDResponse()
				resp.ProducerID, resp.ProducerEpoch = 7001, 3
				return req, resp
			},
			check: func(t *testing.T, x Exchange) {
				eq(t, "txn id", x.Detail.TransactionalID, "txn-orders")
				eqp(t, "producer id", x.Detail.ProducerID, 7001)
				eqp(t, "producer epoch", x.Detail.ProducerEpoch, 3)
			},
		},
		{
			name: "SaslHandshake",
			build: func() (kmsg.Request, kmsg.Response) {
				req := kmsg.NewPtrSASLHandshakeRequest()
				req.Version, req.Mechanism = 1, "SCRAM-SHA-512"
				resp := kmsg.NewPtrSASLHandshakeResponse()
				resp.ErrorCode = 33
				return req, resp
			},
			check: func(t *testing.T, x Exchange) {
				eq(t, "mechanism", x.Detail.Mechanism, "SCRAM-SHA-512")
				eq(t, "error", x.Error, "UNSUPPORTED_SASL_MECHANISM")
			},
		},
		{
			name: "EndTxn: no summary, top-level error and transactional id",
			build: func() (kmsg.Request, kmsg.Response) {
				req := kmsg.NewPtrEndTxnRequest()
				req.Version, req.TransactionalID = 3, "txn-orders"
				resp := kmsg.NewPtrEndTxnResponse()
				resp.ErrorCode = 48
				return req, resp
			},
			check: func(t *testing.T, x Exchange) {
				eq(t, "api", x.API, "EndTxn")
				eq(t, "error", x.Error, "INVALID_TXN_STATE")
				eq(t, "txn id", x.Detail.TransactionalID, "txn-orders")
			},
		},
		{
			name: "TxnOffsetCommit: group",
			build: func() (kmsg.Request, kmsg.Response) {
				req := kmsg.NewPtrTxnOffsetCommitRequest()
				req.Version, req.Group, req.TransactionalID = 3, "shipping", "txn-orders"
				return req, kmsg.NewPtrTxnOffsetCommitResponse()
			},
			check: func(t *testing.T, x Exchange) {
				eq(t, "group", x.Group, "shipping")
				eq(t, "error", x.Error, "")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, resp := tt.build()
			x := Build(pair(req, resp), topicIDs(), Options{Bodies: true})
			tt.check(t, x)
			if !json.Valid(x.Request.JSON()) || !json.Valid(x.Response.JSON()) {
				t.Errorf("invalid body JSON:\n%s\n%s", x.Request.JSON(), x.Response.JSON())
			}
		})
	}
}

func TestSASLPlainNeverShowsThePassword(t *testing.T) {
	const password = "hunter2-Pa55word!"
	tests := []struct {
		name     string
		token    string
		wantUser string
	}{
		{"PLAIN", "\x00alice\x00" + password, "alice"},
		{"PLAIN with authzid", "admin\x00alice\x00" + password, "alice"},
		{"SCRAM client-first: nothing from the bytes", "n,,n=alice,r=" + password, ""},
		{"OAUTHBEARER: nothing from the bytes", "n,,\x01auth=Bearer " + password + "\x01\x01", ""},
		{"binary: nothing", "\x60\x82\x01\x00alice\x00\x05" + password, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := kmsg.NewPtrSASLAuthenticateRequest()
			req.Version, req.SASLAuthBytes = 2, []byte(tt.token)
			resp := kmsg.NewPtrSASLAuthenticateResponse()
			resp.SASLAuthBytes = []byte("server-final " + password)
			resp.SessionLifetimeMillis = 3600000
			x := Build(pair(req, resp), nil, Options{Bodies: true})
			out := js(x)
			if strings.Contains(out, password) || strings.Contains(out, base64.StdEncoding.EncodeToString([]byte(password))[:12]) {
				t.Fatalf("password in exchange JSON: %s", out)
			}
			var user string
			if x.Detail != nil {
				user = x.Detail.User
			}
			eq(t, "user", user, tt.wantUser)
			if tt.wantUser != "" {
				eq(t, "mechanism", x.Detail.Mechanism, "PLAIN")
				if !strings.Contains(out, `"user":"`+tt.wantUser+`"`) {
					t.Errorf("user not in JSON: %s", out)
				}
			}
			if !strings.Contains(string(x.Request.JSON()), `"sasl_auth_bytes":"[redacted `) {
				t.Errorf("request token not redacted: %s", x.Request.JSON())
			}
			if !strings.Contains(string(x.Response.JSON()), `"sasl_auth_bytes":"[redacted `) {
				t.Errorf("response token not redacted: %s", x.Response.JSON())
			}
		})
	}
}

func TestBodyJSON(t *testing.T) {
	t.Run("fetch response with records reduced", func(t *testing.T) {
		resp := kmsg.NewPtrFetchResponse()
		resp.Version = 13
		batch := recordBatch(0, 0, ts0, ts0, 2)
		resp.Topics = []kmsg.FetchResponseTopic{{TopicID: ordersID, Partitions: []kmsg.FetchResponseTopicPartition{
			{Partition: 0, HighWatermark: 2, RecordBatches: bytes.Clone(batch)},
			{Partition: 1, HighWatermark: 0},
		}}}
		sets := kafka.ExtractRecords(resp)
		got := string(bodyJSON(resp, sets))
		for _, want := range []string{
			`"topic_id":"` + kafka.FormatTopicID(ordersID) + `"`,
			`"high_watermark":2`,
			`"record_batches":{"bytes":` + itoa(len(batch)) + `,"batches":1}`,
			`"record_batches":null`,
			`"throttle_millis":0`,
		} {
			if !strings.Contains(got, want) {
				t.Errorf("missing %s in %s", want, got)
			}
		}
		for _, bad := range []string{`"version"`, `"unknown_tags"`, `"Topic"`, `"topic":""`} {
			if bad == `"topic":""` {
				continue // v13 has no name; the field is still in the struct
			}
			if strings.Contains(got, bad) {
				t.Errorf("unexpected %s in %s", bad, got)
			}
		}
		if !json.Valid([]byte(got)) {
			t.Fatalf("invalid JSON: %s", got)
		}
	})
	t.Run("bytes by length, zero uuid left out, odd strings valid", func(t *testing.T) {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group = "bad\xffutf8 \"quoted\" \x01 \u2028"
		req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte(secretValue)}}
		got := BodyJSON(req)
		if !json.Valid(got) {
			t.Fatalf("invalid JSON: %s", got)
		}
		var back struct {
			Group     string
			Protocols []struct {
				Name     string
				Metadata struct{ Bytes int }
			}
		}
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatal(err)
		}
		eq(t, "group", back.Group, "bad\ufffdutf8 \"quoted\" \x01 \u2028")
		eq(t, "metadata by length", back.Protocols[0].Metadata.Bytes, len(secretValue))
		if strings.Contains(string(got), secretValue) {
			t.Errorf("bytes rendered: %s", got)
		}
		meta := kmsg.NewPtrMetadataRequest()
		meta.Version = 12
		meta.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("orders")}}
		if s := string(BodyJSON(meta)); strings.Contains(s, "topic_id") {
			t.Errorf("zero topic id rendered: %s", s)
		}
	})
	t.Run("secret configs redacted", func(t *testing.T) {
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		res := kmsg.NewIncrementalAlterConfigsRequestResource()
		res.ResourceName = "1"
		res.Configs = []kmsg.IncrementalAlterConfigsRequestResourceConfig{
			{Name: "listener.name.sasl_ssl.plain.sasl.jaas.config", Value: kmsg.StringPtr(`PlainLoginModule required username="a" password="jaas-secret-1";`)},
			{Name: "ssl.key.password", Value: kmsg.StringPtr("key-secret-2")},
			{Name: "log.retention.ms", Value: kmsg.StringPtr("604800000")},
		}
		req.Resources = append(req.Resources, res)
		got := string(BodyJSON(req))
		if strings.Contains(got, "jaas-secret-1") || strings.Contains(got, "key-secret-2") {
			t.Errorf("secret config in %s", got)
		}
		if !strings.Contains(got, `"value":"604800000"`) || !strings.Contains(got, `"value":"[redacted]"`) {
			t.Errorf("config values: %s", got)
		}
		resp := kmsg.NewPtrDescribeConfigsResponse()
		r := kmsg.NewDescribeConfigsResponseResource()
		r.Configs = []kmsg.DescribeConfigsResponseResourceConfig{{Name: "custom.thing", Value: kmsg.StringPtr("flagged-secret-3"), IsSensitive: true}}
		resp.Resources = append(resp.Resources, r)
		if got := string(BodyJSON(resp)); strings.Contains(got, "flagged-secret-3") {
			t.Errorf("IsSensitive value shown: %s", got)
		}
	})
	t.Run("nil", func(t *testing.T) {
		if BodyJSON(nil) != nil || BodyJSON((*kmsg.FetchRequest)(nil)) != nil {
			t.Error("nil body rendered")
		}
	})
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestSnake(t *testing.T) {
	for in, want := range map[string]string{
		"TopicID": "topic_id", "SASLAuthBytes": "sasl_auth_bytes", "ISR": "isr", "MaxWaitMillis": "max_wait_millis",
		"ApiKeys": "api_keys", "LeaderEpoch": "leader_epoch", "ClusterID": "cluster_id", "V2Thing": "v2_thing",
	} {
		eq(t, in, snake(in), want)
	}
}

// FuzzBuild feeds Build what the decoder would give it for arbitrary
// bytes: any key and version kmsg decodes, any request and response body.
func FuzzBuild(f *testing.F) {
	seed := func(req kmsg.Request, resp kmsg.Response) {
		f.Add(req.Key(), req.GetVersion(), req.AppendTo(nil), resp.AppendTo(nil), true)
	}
	prod := kmsg.NewPtrProduceRequest()
	prod.Version = 9
	prod.Topics = []kmsg.ProduceRequestTopic{{Topic: "orders", Partitions: []kmsg.ProduceRequestTopicPartition{{Records: recordBatch(0, 1, ts0, ts0, 2)}}}}
	prodResp := kmsg.NewPtrProduceResponse()
	prodResp.Version = 9
	seed(prod, prodResp)
	fr := kmsg.NewPtrFetchRequest()
	fr.Version = 13
	fr.Topics = []kmsg.FetchRequestTopic{{TopicID: ordersID, Partitions: []kmsg.FetchRequestTopicPartition{{Partition: 1}}}}
	fresp := kmsg.NewPtrFetchResponse()
	fresp.Version = 13
	fresp.Topics = []kmsg.FetchResponseTopic{{TopicID: ordersID, Partitions: []kmsg.FetchResponseTopicPartition{{RecordBatches: recordBatch(5, 0, ts0, ts0, 1)}}}}
	seed(fr, fresp)
	jg := kmsg.NewPtrJoinGroupRequest()
	jg.Version, jg.ProtocolType = 6, "consumer"
	jg.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: consumerMeta("orders")}}
	jgr := kmsg.NewPtrJoinGroupResponse()
	jgr.Version = 6
	jgr.Members = []kmsg.JoinGroupResponseMember{{MemberID: "m", ProtocolMetadata: consumerMeta("orders")}}
	seed(jg, jgr)
	sg := kmsg.NewPtrSyncGroupRequest()
	sg.Version = 3
	sgr := kmsg.NewPtrSyncGroupResponse()
	sgr.Version = 3
	sgr.MemberAssignment = consumerAssign("orders", 1)
	seed(sg, sgr)
	sa := kmsg.NewPtrSASLAuthenticateRequest()
	sa.Version, sa.SASLAuthBytes = 1, []byte("\x00u\x00p")
	sar := kmsg.NewPtrSASLAuthenticateResponse()
	sar.Version = 1
	seed(sa, sar)
	for _, k := range []int16{2, 3, 8, 9, 10, 12, 13, 14, 15, 17, 18, 22, 68} {
		req := kmsg.RequestForKey(k)
		req.SetVersion(req.MaxVersion())
		resp := req.ResponseKind()
		resp.SetVersion(req.MaxVersion())
		seed(req, resp)
	}
	ids := topicIDs()
	f.Fuzz(func(t *testing.T, key, version int16, reqBytes, respBytes []byte, withResp bool) {
		req := kmsg.RequestForKey(key)
		if req == nil || version < 0 || version > req.MaxVersion() {
			return
		}
		req.SetVersion(version)
		p := pair(req, nil)
		if err := req.ReadFrom(reqBytes); err != nil {
			p.Req.Body, p.Req.Err = nil, err
		} else {
			p.Req.Records = kafka.ExtractRecords(req)
		}
		if withResp {
			resp := req.ResponseKind()
			resp.SetVersion(version)
			p.NoResponse = ""
			p.Resp = &kafka.Response{Start: start, End: start.Add(time.Millisecond), Size: len(respBytes), Body: resp}
			if err := resp.ReadFrom(respBytes); err != nil {
				p.Resp.Body, p.Resp.Err = nil, err
			} else {
				p.Resp.Records = kafka.ExtractRecords(resp)
			}
		}
		x := Build(p, ids, Options{Bodies: true})
		out, err := json.Marshal(x)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		if x.APIKey != key || !json.Valid(out) {
			t.Fatalf("bad exchange %s", out)
		}
	})
}

// benchFetch is a consumer fetch of 8 partitions, each answered with one
// 16 KiB batch.
func benchFetch() kafka.Pair {
	req := kmsg.NewPtrFetchRequest()
	req.Version = 13
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = 13
	rt := kmsg.FetchRequestTopic{TopicID: ordersID}
	st := kmsg.FetchResponseTopic{TopicID: ordersID}
	for i := range int32(8) {
		rt.Partitions = append(rt.Partitions, kmsg.FetchRequestTopicPartition{Partition: i, FetchOffset: 1000})
		st.Partitions = append(st.Partitions, kmsg.FetchResponseTopicPartition{Partition: i, HighWatermark: 2000, RecordBatches: recordBatch(1000, 0, ts0, ts0, 300)})
	}
	req.Topics, resp.Topics = []kmsg.FetchRequestTopic{rt}, []kmsg.FetchResponseTopic{st}
	return pair(req, resp)
}

func BenchmarkBuild(b *testing.B) {
	p, ids := benchFetch(), topicIDs()
	for _, opt := range []Options{{}, {Bodies: true}, {Bodies: true, WireBodies: true}} {
		name := "summary"
		switch {
		case opt.WireBodies:
			name = "wire-bodies"
		case opt.Bodies:
			name = "bodies"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Build(p, ids, opt)
			}
		})
	}
}

// TestCommonFastPath holds the frequent APIs' typed reads of the top-level
// error code and throttle time to what reflection reads.
func TestCommonFastPath(t *testing.T) {
	fetch := kmsg.NewPtrFetchResponse()
	fetch.ErrorCode, fetch.ThrottleMillis = 71, 20
	produce := kmsg.NewPtrProduceResponse()
	produce.ThrottleMillis = 30
	meta := kmsg.NewPtrMetadataResponse()
	meta.ErrorCode, meta.ThrottleMillis = 3, 40
	hb := kmsg.NewPtrHeartbeatResponse()
	hb.ErrorCode, hb.ThrottleMillis = 27, 50
	for _, body := range []kmsg.Response{fetch, produce, meta, hb, kmsg.NewPtrFetchResponse(), (*kmsg.FetchResponse)(nil), (*kmsg.ProduceResponse)(nil)} {
		var typed, reflected builder
		typed.x.Error, reflected.x.Error = "before", "before"
		typed.common(body)
		reflected.commonReflect(body)
		if typed.x.Error != reflected.x.Error || (typed.x.Detail == nil) != (reflected.x.Detail == nil) ||
			typed.x.Detail != nil && typed.x.Detail.ThrottleMS != reflected.x.Detail.ThrottleMS {
			t.Errorf("%T: typed %q %+v, reflection %q %+v", body, typed.x.Error, typed.x.Detail, reflected.x.Error, reflected.x.Detail)
		}
	}
	var b builder
	b.common(fetch)
	if b.x.Error != "INVALID_FETCH_SESSION_EPOCH" || b.x.Detail.ThrottleMS != 20 {
		t.Errorf("fetch read as %q, %+v", b.x.Error, b.x.Detail)
	}
}

// TestBuildOwnsItsBatch: the only batch of a Produce or Fetch exchange is
// the exchange's copy, not the decoder's, which may share an allocation
// with the whole frame (kafka's Produce and Fetch readers): the store
// holds some summaries for seconds, and would keep all of it alive.
func TestBuildOwnsItsBatch(t *testing.T) {
	batch := recordBatch(100, 0, ts0, ts0+50, 3)
	preq := kmsg.NewPtrProduceRequest()
	preq.Version = 9
	preq.Topics = []kmsg.ProduceRequestTopic{{Topic: "orders", Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: bytes.Clone(batch)}}}}
	freq := kmsg.NewPtrFetchRequest()
	freq.Version = 12
	freq.Topics = []kmsg.FetchRequestTopic{{Topic: "orders", Partitions: []kmsg.FetchRequestTopicPartition{{Partition: 0}}}}
	fresp := kmsg.NewPtrFetchResponse()
	fresp.Topics = []kmsg.FetchResponseTopic{{Topic: "orders", Partitions: []kmsg.FetchResponseTopicPartition{{Partition: 0, RecordBatches: bytes.Clone(batch)}}}}
	for _, p := range []kafka.Pair{pair(preq, kmsg.NewPtrProduceResponse()), pair(freq, fresp)} {
		sets := p.Req.Records
		if p.Resp != nil && len(p.Resp.Records) > 0 {
			sets = p.Resp.Records
		}
		x := Build(p, nil, Options{})
		got := part(t, x, "orders", 0)
		if len(sets) != 1 || len(sets[0].Batches) != 1 || len(got.Batches) != 1 || got.Records != 3 {
			t.Fatalf("%s: sets %+v, partition %+v", x.API, sets, got)
		}
		if &got.Batches[0] == &sets[0].Batches[0] || got.FirstTimestamp == &sets[0].Batches[0].FirstTimestamp {
			t.Errorf("%s: the exchange points into the decoder's batch", x.API)
		}
		if got.Batches[0] != sets[0].Batches[0] || *got.FirstTimestamp != sets[0].Batches[0].FirstTimestamp {
			t.Errorf("%s: batch %+v, decoded %+v", x.API, got.Batches[0], sets[0].Batches[0])
		}
	}
}
