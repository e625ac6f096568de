package exchange

import (
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/capture"
	"kscope/internal/conn"
	"kscope/internal/kafka"
)

// Options say how much Build renders.
type Options struct {
	// Bodies renders the whole request and response as JSON into
	// Exchange.Request and Exchange.Response. It is most of Build's
	// cost; a consumer that only reads the summary leaves it off.
	Bodies bool
	// WireBodies keeps the bodies of Produce, Fetch and the other
	// frequent APIs without secrets (wireKept) in their wire form
	// instead, record data removed, rendered when asked for (Body): for
	// a store that keeps many and shows few.
	WireBodies bool
	// Process names the process of a traced connection (Conn.PID), for
	// live sources; nil for capture files.
	Process func(pid uint32) (conn.Process, bool)
	// Cache, when set, shares what repeats between exchanges (see
	// Cache): for a pipeline that builds many and keeps them.
	Cache *Cache
}

// Build turns a decoded request and its response into an exchange. Topic
// ids (Fetch v13+, Produce v13+, ConsumerGroupHeartbeat...) are named with
// ids, which may be nil; an id it does not know is shown as the id itself.
//
// Build never fails: what could not be decoded is left out of the summary
// and said in Detail.DecodeError.
func Build(p kafka.Pair, ids *kafka.TopicIDs, opt Options) Exchange {
	b := builder{p: p, ids: ids, opt: opt}
	if c := opt.Cache; c != nil {
		// The topic index is scratch: the cache's, reused.
		b.ts.keys, b.ts.phint = c.keys[:0], c.phint[:0]
		defer func() {
			clear(b.ts.keys)
			c.keys, c.phint = b.ts.keys[:0], b.ts.phint[:0]
		}()
	}
	b.header()
	if p.Req != nil {
		b.summary()
		if opt.Bodies && p.Req.Body != nil {
			b.x.Request = b.body(p.Req.Body, nil, p.Req.Raw, p.Req.Size, p.Req.Records)
		}
	}
	if opt.Bodies && p.Resp != nil && p.Resp.Body != nil {
		b.x.Response = b.body(nil, p.Resp.Body, p.Resp.Raw, p.Resp.Size, p.Resp.Records)
	}
	if len(b.ts.list) > 0 {
		b.x.Topics = b.ts.list
	}
	b.x.Detail, b.x.detailShared = opt.Cache.detail(b.x.Detail)
	return b.x
}

// body renders the exchange's request (req) or response (resp), whichever
// is not nil, or keeps it in wire form (Options.WireBodies) at its own
// version: a v0 ApiVersions answer to a later request is read as v0.
// Neither is made into an interface of the methods both have: that
// would cost a lookup of the type's method table for every body.
func (b *builder) body(req kmsg.Request, resp kmsg.Response, raw []byte, frame int, records []kafka.RecordSet) Body {
	var msg any = req
	if req == nil {
		msg = resp
	}
	if h := b.p.Req.Header; b.opt.WireBodies && wireKept(h.Key) {
		if req != nil {
			return newWireBody(msg, raw, h.Key, req.GetVersion(), false, frame, records)
		}
		return newWireBody(msg, raw, h.Key, resp.GetVersion(), true, frame, records)
	}
	return JSONBody(bodyJSON(msg, records))
}

// ErrorName is Kafka's name for an error code (as in the protocol guide and
// org.apache.kafka.common.protocol.Errors), "" for 0 (no error) and
// UNKNOWN_ERROR_CODE_<n> for a code this build does not know.
func ErrorName(code int16) string {
	switch code {
	case 0:
		return ""
	case 6:
		// KIP-392 renamed NOT_LEADER_FOR_PARTITION, as followers
		// serve fetches too; kerr keeps the old name.
		return "NOT_LEADER_OR_FOLLOWER"
	}
	e := kerr.TypedErrorForCode(code)
	if e == nil || (e == kerr.UnknownServerError && code != -1) {
		return "UNKNOWN_ERROR_CODE_" + strconv.Itoa(int(code))
	}
	return e.Message
}

type builder struct {
	p   kafka.Pair
	ids *kafka.TopicIDs
	opt Options
	x   Exchange
	ts  topicList
	// ints holds the exchange's partition offsets that Partition points
	// to (i64): one allocation for several.
	ints []int64
	// arena, for Produce and Fetch, holds their first topic, partition,
	// offsets, latency and batch: one allocation where there were four.
	arena *buildArena
	// Taken in the arena: its partition, its batch.
	arenaPartition, arenaBatch bool
}

// buildArena is what a Produce or Fetch exchange of one topic and one
// partition points to, allocated at once; more topics or partitions
// allocate as before. The exchange is its only user.
type buildArena struct {
	topic     [1]Topic
	partition [1]Partition
	ints      [4]int64
	latency   latency
	// batch is the exchange's copy of a record set's only batch, which
	// the decoder may have read into the frame's own allocation: kept,
	// it would keep all of that alive with the exchange (the store
	// holds some exchanges' summaries for a while, Store.Add).
	batch [1]Batch
}

// latency is Exchange.Latency and LatencyNS, one allocation for both.
type latency struct {
	d  time.Duration
	ns int64
}

// i64 returns a pointer to v. The values share allocations: a Fetch
// partition has four of them, each an allocation of its own with ptr.
func (b *builder) i64(v int64) *int64 {
	if len(b.ints) == cap(b.ints) {
		if b.ints == nil && b.arena != nil {
			b.ints = b.arena.ints[:0]
		} else {
			b.ints = make([]int64, 0, max(4, 2*cap(b.ints)))
		}
	}
	b.ints = append(b.ints, v)
	return &b.ints[len(b.ints)-1]
}

// header fills what every exchange has, whatever its API.
func (b *builder) header() {
	p, x := &b.p, &b.x
	if c := p.Conn; c != nil {
		client, server := c.A, c.B
		if p.ClientDir != capture.AtoB {
			client, server = server, client
		}
		x.Client.Addr, x.Server.Addr = b.opt.Cache.addr(client), b.opt.Cache.addr(server)
		if c.PID != 0 {
			// The traced process owns end A.
			traced := &x.Client
			x.Side = "client"
			if p.ClientDir != capture.AtoB {
				traced, x.Side = &x.Server, "server"
			}
			traced.PID, traced.Process = c.PID, c.Comm
			if b.opt.Process != nil {
				var at time.Time
				if p.Req != nil {
					at = p.Req.Start
				}
				if pr, ok := b.opt.Cache.process(c.PID, at, b.opt.Process); ok {
					traced.Process, traced.Cmdline = pr.Comm, pr.Cmdline
					traced.Container, traced.Pod = pr.ContainerID, pr.PodUID
				}
			}
		}
	}
	x.NoResponse = p.NoResponse
	if r := p.Req; r != nil {
		if k := kmsg.Key(r.Header.Key); (k == kmsg.Produce || k == kmsg.Fetch) && r.Err == nil {
			b.arena = new(buildArena)
		}
		x.Time = r.Start
		x.APIKey = r.Header.Key
		x.API = kmsg.NameForKey(r.Header.Key)
		x.APIVersion = r.Header.Version
		x.CorrelationID = r.Header.CorrelationID
		if r.Header.ClientID != nil {
			x.ClientID = *r.Header.ClientID
		}
		x.RequestBytes = r.Size
		x.Truncated = r.Truncated
		if r.Err != nil {
			b.detail().DecodeError = "request: " + r.Err.Error()
		}
	}
	if r := p.Resp; r != nil {
		// Latency is from the first byte of the request to the last
		// byte of the response: what the client waited, including
		// both transfers and, for Fetch, the broker's long-poll wait.
		if p.Req != nil && !p.Req.Start.IsZero() && !r.End.IsZero() {
			// One allocation for both.
			var l *latency
			if b.arena != nil {
				l = &b.arena.latency
			} else {
				l = new(latency)
			}
			l.d = r.End.Sub(p.Req.Start)
			l.ns = int64(l.d)
			x.Latency, x.LatencyNS = &l.d, &l.ns
		}
		x.ResponseBytes = r.Size
		x.Truncated = x.Truncated || r.Truncated
		if r.Err != nil {
			d := b.detail()
			if d.DecodeError != "" {
				d.DecodeError += "; "
			}
			d.DecodeError += "response: " + r.Err.Error()
		}
		if r.Body != nil {
			b.common(r.Body)
		}
	}
}

// addr drops the "invalid AddrPort" that an unset endpoint prints.
func addr(s string) string {
	if s == "invalid AddrPort" {
		return ""
	}
	return s
}

func (b *builder) detail() *Detail {
	if b.x.Detail == nil {
		b.x.Detail = b.opt.Cache.newDetail()
	}
	return b.x.Detail
}

// commonFields are the indices of the top-level response fields that many
// APIs share, so that an API without a summary still shows its error.
type commonFields struct{ errorCode, throttle int }

var commonCache sync.Map // reflect.Type -> commonFields

func fieldsOf(t reflect.Type) commonFields {
	if c, ok := commonCache.Load(t); ok {
		return c.(commonFields)
	}
	c := commonFields{-1, -1}
	if f, ok := t.FieldByName("ErrorCode"); ok && f.Type.Kind() == reflect.Int16 && len(f.Index) == 1 {
		c.errorCode = f.Index[0]
	}
	if f, ok := t.FieldByName("ThrottleMillis"); ok && f.Type.Kind() == reflect.Int32 && len(f.Index) == 1 {
		c.throttle = f.Index[0]
	}
	commonCache.Store(t, c)
	return c
}

// common reads the top-level error code and throttle time of any response.
func (b *builder) common(body kmsg.Response) {
	// The frequent APIs without reflection (a nil body is left alone).
	var code int16
	var ms int32
	switch r := body.(type) {
	case *kmsg.ProduceResponse:
		if r != nil {
			b.throttle(r.ThrottleMillis)
		}
		return
	case *kmsg.MetadataResponse:
		if r == nil {
			return
		}
		code, ms = r.ErrorCode, r.ThrottleMillis
	case *kmsg.FetchResponse:
		if r == nil {
			return
		}
		code, ms = r.ErrorCode, r.ThrottleMillis
	case *kmsg.HeartbeatResponse:
		if r == nil {
			return
		}
		code, ms = r.ErrorCode, r.ThrottleMillis
	default:
		b.commonReflect(body)
		return
	}
	b.x.Error = ErrorName(code)
	b.throttle(ms)
}

// commonReflect is common for any response type, by reflection.
func (b *builder) commonReflect(body kmsg.Response) {
	v := reflect.ValueOf(body)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return
	}
	v = v.Elem()
	c := fieldsOf(v.Type())
	if c.errorCode >= 0 {
		b.x.Error = ErrorName(int16(v.Field(c.errorCode).Int()))
	}
	if c.throttle >= 0 {
		b.throttle(int32(v.Field(c.throttle).Int()))
	}
}

// throttle keeps a response's throttle time.
func (b *builder) throttle(ms int32) {
	if ms != 0 {
		b.detail().ThrottleMS = ms
	}
}

// firstError sets the exchange's error from batched APIs that answer one
// error per group or key: a user looking for failed exchanges finds them.
func (b *builder) firstError(code int16) {
	if b.x.Error == "" && code != 0 {
		b.x.Error = ErrorName(code)
	}
}

// summary dispatches on the request type; the response, when there is one
// of the matching type, completes it.
func (b *builder) summary() {
	var resp kmsg.Response
	if b.p.Resp != nil && !nilBody(b.p.Resp.Body) {
		resp = b.p.Resp.Body
	}
	if nilBody(b.p.Req.Body) {
		return
	}
	switch req := b.p.Req.Body.(type) {
	case *kmsg.ProduceRequest:
		r, _ := resp.(*kmsg.ProduceResponse)
		b.produce(req, r)
	case *kmsg.FetchRequest:
		r, _ := resp.(*kmsg.FetchResponse)
		b.fetch(req, r)
	case *kmsg.ListOffsetsRequest:
		r, _ := resp.(*kmsg.ListOffsetsResponse)
		b.listOffsets(req, r)
	case *kmsg.MetadataRequest:
		r, _ := resp.(*kmsg.MetadataResponse)
		b.metadata(req, r)
	case *kmsg.OffsetCommitRequest:
		r, _ := resp.(*kmsg.OffsetCommitResponse)
		b.offsetCommit(req, r)
	case *kmsg.OffsetFetchRequest:
		r, _ := resp.(*kmsg.OffsetFetchResponse)
		b.offsetFetch(req, r)
	case *kmsg.FindCoordinatorRequest:
		r, _ := resp.(*kmsg.FindCoordinatorResponse)
		b.findCoordinator(req, r)
	case *kmsg.JoinGroupRequest:
		r, _ := resp.(*kmsg.JoinGroupResponse)
		b.joinGroup(req, r)
	case *kmsg.HeartbeatRequest:
		b.x.Group, b.x.MemberID = req.Group, req.MemberID
		b.x.Generation = ptr(req.Generation)
	case *kmsg.LeaveGroupRequest:
		r, _ := resp.(*kmsg.LeaveGroupResponse)
		b.leaveGroup(req, r)
	case *kmsg.SyncGroupRequest:
		r, _ := resp.(*kmsg.SyncGroupResponse)
		b.syncGroup(req, r)
	case *kmsg.DescribeGroupsRequest:
		r, _ := resp.(*kmsg.DescribeGroupsResponse)
		b.describeGroups(req, r)
	case *kmsg.ConsumerGroupHeartbeatRequest:
		r, _ := resp.(*kmsg.ConsumerGroupHeartbeatResponse)
		b.consumerGroupHeartbeat(req, r)
	case *kmsg.ApiVersionsRequest:
		if req.ClientSoftwareName != "" || req.ClientSoftwareVersion != "" {
			b.detail().ClientSoftware = req.ClientSoftwareName + " " + req.ClientSoftwareVersion
		}
		if r, ok := resp.(*kmsg.ApiVersionsResponse); ok && len(r.ApiKeys) > 0 {
			b.detail().APIKeys = len(r.ApiKeys)
		}
	case *kmsg.InitProducerIDRequest:
		if req.TransactionalID != nil {
			d := b.detail()
			d.TransactionalID = *req.TransactionalID
			d.TransactionTimeoutMS = ptr(req.TransactionTimeoutMillis)
		}
		if r, ok := resp.(*kmsg.InitProducerIDResponse); ok {
			d := b.detail()
			d.ProducerID, d.ProducerEpoch = ptr(r.ProducerID), ptr(r.ProducerEpoch)
		}
	case *kmsg.EndTxnRequest:
		d := b.detail()
		d.TransactionalID, d.Commit = req.TransactionalID, ptr(req.Commit)
		d.ProducerID, d.ProducerEpoch = ptr(req.ProducerID), ptr(req.ProducerEpoch)
	case *kmsg.SASLHandshakeRequest:
		b.detail().Mechanism = req.Mechanism
	case *kmsg.SASLAuthenticateRequest:
		// The mechanism comes from the connection's handshake; only
		// PLAIN tokens are read, and only for the user name.
		mech := b.p.SASLMechanism
		if mech != "" {
			b.detail().Mechanism = mech
		}
		switch {
		case mech == "PLAIN" || mech == "":
			if user, ok := plainUser(req.SASLAuthBytes); ok {
				d := b.detail()
				d.Mechanism, d.User = "PLAIN", user
			}
		case strings.HasPrefix(mech, "SCRAM-"):
			if user, ok := scramUser(req.SASLAuthBytes); ok {
				b.detail().User = user
			}
		}
	default:
		b.other(req)
		b.genericTopics(req)
		if resp != nil {
			b.genericTopics(resp)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// nilBody reports a missing body, also a typed nil one.
func nilBody(body any) bool {
	if body == nil {
		return true
	}
	v := reflect.ValueOf(body)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
