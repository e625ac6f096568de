package exchange

import (
	"net"
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
	// Process names the process of a traced connection (Conn.PID), for
	// live sources; nil for capture files.
	Process func(pid uint32) (conn.Process, bool)
}

// Build turns a decoded request and its response into an exchange. Topic
// ids (Fetch v13+, Produce v13+, ConsumerGroupHeartbeat...) are named with
// ids, which may be nil; an id it does not know is shown as the id itself.
//
// Build never fails: what could not be decoded is left out of the summary
// and said in Detail.DecodeError.
func Build(p kafka.Pair, ids *kafka.TopicIDs, opt Options) Exchange {
	b := builder{p: p, ids: ids, opt: opt}
	b.header()
	if p.Req != nil {
		b.summary()
		if opt.Bodies && p.Req.Body != nil {
			b.x.Request = bodyJSON(p.Req.Body, p.Req.Records)
		}
	}
	if opt.Bodies && p.Resp != nil && p.Resp.Body != nil {
		b.x.Response = bodyJSON(p.Resp.Body, p.Resp.Records)
	}
	if len(b.ts.list) > 0 {
		b.x.Topics = b.ts.list
	}
	return b.x
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
}

// header fills what every exchange has, whatever its API.
func (b *builder) header() {
	p, x := &b.p, &b.x
	if c := p.Conn; c != nil {
		client, server := c.A, c.B
		if p.ClientDir != capture.AtoB {
			client, server = server, client
		}
		x.Client.Addr, x.Server.Addr = addr(client.String()), addr(server.String())
		if c.PID != 0 {
			// The traced process owns end A.
			traced := &x.Client
			x.Side = "client"
			if p.ClientDir != capture.AtoB {
				traced, x.Side = &x.Server, "server"
			}
			traced.PID, traced.Process = c.PID, c.Comm
			if b.opt.Process != nil {
				if pr, ok := b.opt.Process(c.PID); ok {
					traced.Process, traced.Cmdline = pr.Comm, pr.Cmdline
					traced.Container, traced.Pod = pr.ContainerID, pr.PodUID
				}
			}
		}
	}
	x.NoResponse = p.NoResponse
	if r := p.Req; r != nil {
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
			d := r.End.Sub(p.Req.Start)
			ns := int64(d)
			x.Latency, x.LatencyNS = &d, &ns
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
		b.x.Detail = new(Detail)
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
		if ms := int32(v.Field(c.throttle).Int()); ms != 0 {
			b.detail().ThrottleMS = ms
		}
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
			b.detail().TransactionalID = *req.TransactionalID
		}
		if r, ok := resp.(*kmsg.InitProducerIDResponse); ok {
			d := b.detail()
			d.ProducerID, d.ProducerEpoch = ptr(r.ProducerID), ptr(r.ProducerEpoch)
		}
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

// topicList holds the topics of an exchange in request order, with topics
// and partitions that only the response names appended. Responses list
// them in request order (or a subset of it, for incremental fetch
// sessions), so lookups start where the last one matched.
type topicList struct {
	list  []Topic
	keys  []topicKey
	phint []int
	hint  int
}

type topicKey struct {
	name string
	id   [16]byte
}

func (k topicKey) matches(o topicKey) bool {
	if k.name != "" && k.name == o.name {
		return true
	}
	return k.id != [16]byte{} && k.id == o.id
}

// topic returns the index of a topic, named by name or, when name is
// empty, by id; it adds the topic when new.
func (b *builder) topic(name string, id [16]byte) int {
	ts := &b.ts
	k := topicKey{name, id}
	n := len(ts.list)
	for i := range n {
		j := (ts.hint + i) % n
		if ts.keys[j].matches(k) {
			ts.hint = j + 1
			return j
		}
	}
	ts.list = append(ts.list, b.newTopic(name, id))
	ts.keys = append(ts.keys, k)
	ts.phint = append(ts.phint, 0)
	ts.hint = n + 1
	return n
}

func (b *builder) newTopic(name string, id [16]byte) Topic {
	if name != "" || id == [16]byte{} {
		return Topic{Name: name}
	}
	return Topic{Name: b.topicName(id), ID: kafka.FormatTopicID(id)}
}

// topicName resolves a topic id; an unknown id is shown as itself.
func (b *builder) topicName(id [16]byte) string {
	if b.ids != nil {
		if n, ok := b.ids.Name(b.p.Cluster, id); ok {
			return n
		}
	}
	return kafka.FormatTopicID(id)
}

// partition returns a partition of topic ti, adding it when new. The
// pointer is valid until the next call for the same topic.
func (b *builder) partition(ti int, p int32) *Partition {
	ts := &b.ts
	parts := ts.list[ti].Partitions
	n := len(parts)
	for i := range n {
		j := (ts.phint[ti] + i) % n
		if parts[j].Partition == p {
			ts.phint[ti] = j + 1
			return &parts[j]
		}
	}
	ts.list[ti].Partitions = append(parts, Partition{Partition: p})
	ts.phint[ti] = n + 1
	return &ts.list[ti].Partitions[n]
}

// addRecords adds the batch headers of one partition's record data.
func addRecords(pp *Partition, rs kafka.RecordSet) {
	pp.Bytes += int64(rs.Bytes)
	pp.Incomplete = pp.Incomplete || rs.Incomplete
	if pp.Batches == nil {
		pp.Batches = rs.Batches
	} else {
		// Clipped so that the append never writes into the backing
		// array that the record set shares with its neighbours.
		pp.Batches = append(pp.Batches[:len(pp.Batches):len(pp.Batches)], rs.Batches...)
	}
	for i := range rs.Batches {
		bt := &rs.Batches[i]
		if bt.Control {
			// Transaction markers (KIP-98) are not records a
			// consumer sees; the batch list still shows them.
			continue
		}
		pp.Records += int64(bt.Records)
		if !bt.FirstTimestamp.IsZero() && bt.FirstTimestamp.Unix() > 0 && (pp.FirstTimestamp == nil || bt.FirstTimestamp.Before(*pp.FirstTimestamp)) {
			pp.FirstTimestamp = ptr(bt.FirstTimestamp)
		}
		if !bt.MaxTimestamp.IsZero() && bt.MaxTimestamp.Unix() > 0 && (pp.MaxTimestamp == nil || bt.MaxTimestamp.After(*pp.MaxTimestamp)) {
			pp.MaxTimestamp = ptr(bt.MaxTimestamp)
		}
		if pp.TimestampType == "" {
			pp.TimestampType = bt.TimestampType
		}
	}
}

func (b *builder) produce(req *kmsg.ProduceRequest, resp *kmsg.ProduceResponse) {
	d := b.detail()
	d.Acks, d.TimeoutMS = ptr(req.Acks), ptr(req.TimeoutMillis)
	if req.TransactionID != nil {
		d.TransactionalID = *req.TransactionID
	}
	for _, t := range req.Topics {
		ti := b.topic(t.Topic, t.TopicID)
		for _, p := range t.Partitions {
			b.partition(ti, p.Partition)
		}
	}
	for _, rs := range b.p.Req.Records {
		if rs.Topic >= len(req.Topics) || rs.Partition >= len(req.Topics[rs.Topic].Partitions) {
			continue
		}
		t := &req.Topics[rs.Topic]
		addRecords(b.partition(b.topic(t.Topic, t.TopicID), t.Partitions[rs.Partition].Partition), rs)
	}
	if resp == nil {
		return
	}
	for _, t := range resp.Topics {
		ti := b.topic(t.Topic, t.TopicID)
		for _, p := range t.Partitions {
			pp := b.partition(ti, p.Partition)
			pp.Error = ErrorName(p.ErrorCode)
			if p.ErrorCode == 0 {
				pp.BaseOffset = ptr(p.BaseOffset)
			}
			// LogAppendTime is -1 unless the topic uses
			// message.timestamp.type=LogAppendTime (v2+).
			if resp.Version >= 2 && p.LogAppendTime != -1 {
				pp.LogAppendTime = ptr(time.UnixMilli(p.LogAppendTime).UTC())
			}
			if resp.Version >= 5 && p.LogStartOffset != -1 {
				pp.LogStartOffset = ptr(p.LogStartOffset)
			}
		}
	}
}

func isolation(level int8) string {
	switch level {
	case 0:
		return "read_uncommitted"
	case 1:
		return "read_committed"
	}
	return "unknown(" + strconv.Itoa(int(level)) + ")"
}

func (b *builder) fetch(req *kmsg.FetchRequest, resp *kmsg.FetchResponse) {
	d := b.detail()
	d.MaxWaitMS, d.MinBytes = ptr(req.MaxWaitMillis), ptr(req.MinBytes)
	// A broker fetching as a follower sets its id (v0-v14) or its
	// ReplicaState (v15+, KIP-903); consumers send -1.
	replica := req.ReplicaID
	if req.Version >= 15 {
		replica = req.ReplicaState.ID
	}
	if replica >= 0 {
		d.Replica, d.ReplicaID = true, ptr(replica)
	}
	if req.Version >= 4 {
		d.IsolationLevel = isolation(req.IsolationLevel)
	}
	if req.Version >= 7 {
		d.SessionID = ptr(req.SessionID)
		if resp != nil && resp.SessionID != 0 {
			d.SessionID = ptr(resp.SessionID)
		}
	}
	for _, t := range req.Topics {
		ti := b.topic(t.Topic, t.TopicID)
		for _, p := range t.Partitions {
			b.partition(ti, p.Partition).FetchOffset = ptr(p.FetchOffset)
		}
	}
	if resp == nil {
		return
	}
	for _, t := range resp.Topics {
		ti := b.topic(t.Topic, t.TopicID)
		for _, p := range t.Partitions {
			pp := b.partition(ti, p.Partition)
			pp.Error = ErrorName(p.ErrorCode)
			if p.HighWatermark >= 0 {
				pp.HighWatermark = ptr(p.HighWatermark)
			}
			if resp.Version >= 5 && p.LogStartOffset >= 0 {
				pp.LogStartOffset = ptr(p.LogStartOffset)
			}
		}
	}
	for _, rs := range b.p.Resp.Records {
		if rs.Topic >= len(resp.Topics) || rs.Partition >= len(resp.Topics[rs.Topic].Partitions) {
			continue
		}
		t := &resp.Topics[rs.Topic]
		pp := b.partition(b.topic(t.Topic, t.TopicID), t.Partitions[rs.Partition].Partition)
		addRecords(pp, rs)
		if len(pp.Batches) > 0 && pp.BaseOffset == nil {
			pp.BaseOffset = ptr(pp.Batches[0].BaseOffset)
		}
	}
}

func (b *builder) listOffsets(req *kmsg.ListOffsetsRequest, resp *kmsg.ListOffsetsResponse) {
	if req.ReplicaID >= 0 {
		d := b.detail()
		d.Replica, d.ReplicaID = true, ptr(req.ReplicaID)
	}
	if req.Version >= 2 {
		b.detail().IsolationLevel = isolation(req.IsolationLevel)
	}
	for _, t := range req.Topics {
		ti := b.topic(t.Topic, [16]byte{})
		for _, p := range t.Partitions {
			// The query: a time in ms, or -1 latest, -2 earliest,
			// -3 max timestamp (KIP-734)...
			b.partition(ti, p.Partition).Timestamp = ptr(p.Timestamp)
		}
	}
	if resp == nil {
		return
	}
	for _, t := range resp.Topics {
		ti := b.topic(t.Topic, [16]byte{})
		for _, p := range t.Partitions {
			pp := b.partition(ti, p.Partition)
			pp.Error = ErrorName(p.ErrorCode)
			if p.ErrorCode != 0 {
				continue
			}
			if resp.Version == 0 {
				if len(p.OldStyleOffsets) > 0 {
					pp.Offset = ptr(p.OldStyleOffsets[0])
				}
			} else {
				pp.Offset = ptr(p.Offset)
			}
		}
	}
}

func (b *builder) metadata(req *kmsg.MetadataRequest, resp *kmsg.MetadataResponse) {
	for _, t := range req.Topics {
		var name string
		if t.Topic != nil {
			name = *t.Topic
		}
		b.topic(name, t.TopicID)
	}
	if resp == nil {
		return
	}
	d := b.detail()
	if resp.ClusterID != nil {
		d.ClusterID = *resp.ClusterID
	}
	if resp.Version >= 1 {
		d.ControllerID = ptr(resp.ControllerID)
	}
	for _, br := range resp.Brokers {
		bb := Broker{NodeID: br.NodeID, Addr: net.JoinHostPort(br.Host, strconv.Itoa(int(br.Port)))}
		if br.Rack != nil {
			bb.Rack = *br.Rack
		}
		d.Brokers = append(d.Brokers, bb)
	}
	for _, t := range resp.Topics {
		var name string
		if t.Topic != nil {
			name = *t.Topic
		}
		ti := b.topic(name, t.TopicID)
		if t.ErrorCode != 0 {
			if d.TopicErrors == nil {
				d.TopicErrors = make(map[string]string)
			}
			d.TopicErrors[b.ts.list[ti].Name] = ErrorName(t.ErrorCode)
		}
		for _, p := range t.Partitions {
			b.partition(ti, p.Partition).Error = ErrorName(p.ErrorCode)
		}
	}
}

func (b *builder) offsetCommit(req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse) {
	b.x.Group = req.Group
	if req.Version >= 1 {
		b.x.Generation, b.x.MemberID = ptr(req.Generation), req.MemberID
	}
	for _, t := range req.Topics {
		ti := b.topic(t.Topic, t.TopicID)
		for _, p := range t.Partitions {
			b.partition(ti, p.Partition).CommittedOffset = ptr(p.Offset)
		}
	}
	if resp == nil {
		return
	}
	for _, t := range resp.Topics {
		ti := b.topic(t.Topic, t.TopicID)
		for _, p := range t.Partitions {
			b.partition(ti, p.Partition).Error = ErrorName(p.ErrorCode)
		}
	}
}

func (b *builder) offsetFetch(req *kmsg.OffsetFetchRequest, resp *kmsg.OffsetFetchResponse) {
	committed := func(pp *Partition, offset int64, code int16) {
		pp.Error = ErrorName(code)
		// -1: the group has no offset committed for the partition.
		if code == 0 && offset >= 0 {
			pp.CommittedOffset = ptr(offset)
		}
	}
	if req.Version < 8 {
		b.x.Group = req.Group
		for _, t := range req.Topics {
			ti := b.topic(t.Topic, [16]byte{})
			for _, p := range t.Partitions {
				b.partition(ti, p)
			}
		}
		if resp == nil {
			return
		}
		for _, t := range resp.Topics {
			ti := b.topic(t.Topic, [16]byte{})
			for _, p := range t.Partitions {
				committed(b.partition(ti, p.Partition), p.Offset, p.ErrorCode)
			}
		}
		return
	}
	// v8+ asks for several groups at once (KIP-709). Topics are shown
	// only for a single group, where they cannot be mixed up.
	if len(req.Groups) != 1 {
		if len(req.Groups) > 0 {
			d := b.detail()
			for _, g := range req.Groups {
				d.Groups = append(d.Groups, g.Group)
			}
		}
		if resp != nil {
			for _, g := range resp.Groups {
				b.firstError(g.ErrorCode)
			}
		}
		return
	}
	g := req.Groups[0]
	b.x.Group = g.Group
	if g.MemberID != nil {
		b.x.MemberID = *g.MemberID
		b.detail().MemberEpoch = ptr(g.MemberEpoch)
	}
	for _, t := range g.Topics {
		ti := b.topic(t.Topic, t.TopicID)
		for _, p := range t.Partitions {
			b.partition(ti, p)
		}
	}
	if resp == nil {
		return
	}
	for _, rg := range resp.Groups {
		if rg.Group != g.Group && len(resp.Groups) > 1 {
			continue
		}
		b.firstError(rg.ErrorCode)
		for _, t := range rg.Topics {
			ti := b.topic(t.Topic, t.TopicID)
			for _, p := range t.Partitions {
				committed(b.partition(ti, p.Partition), p.Offset, p.ErrorCode)
			}
		}
	}
}

func coordinatorType(t int8) string {
	switch t {
	case 0:
		return "group"
	case 1:
		return "transaction"
	case 2:
		return "share" // KIP-932
	}
	return "unknown(" + strconv.Itoa(int(t)) + ")"
}

func (b *builder) findCoordinator(req *kmsg.FindCoordinatorRequest, resp *kmsg.FindCoordinatorResponse) {
	d := b.detail()
	d.CoordinatorType = coordinatorType(req.CoordinatorType)
	if req.Version < 4 {
		d.CoordinatorKeys = []string{req.CoordinatorKey}
	} else {
		d.CoordinatorKeys = req.CoordinatorKeys
	}
	if req.CoordinatorType == 0 && len(d.CoordinatorKeys) == 1 {
		b.x.Group = d.CoordinatorKeys[0]
	}
	if resp == nil {
		return
	}
	if resp.Version < 4 {
		if resp.ErrorCode == 0 {
			d.Coordinator = net.JoinHostPort(resp.Host, strconv.Itoa(int(resp.Port)))
		}
		return
	}
	// v4 batches keys (KIP-699): one coordinator or error per key.
	for _, c := range resp.Coordinators {
		co := Coordinator{Key: c.Key, NodeID: c.NodeID, Error: ErrorName(c.ErrorCode)}
		if c.ErrorCode == 0 {
			co.Addr = net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port)))
		}
		d.Coordinators = append(d.Coordinators, co)
		b.firstError(c.ErrorCode)
	}
	if len(d.Coordinators) == 1 {
		d.Coordinator = d.Coordinators[0].Addr
	}
}

// consumerProtocol is the protocol type of Kafka's consumer group protocol,
// whose member metadata and assignments have a known encoding
// (ConsumerProtocol; kmsg.ConsumerMemberMetadata and
// ConsumerMemberAssignment).
const consumerProtocol = "consumer"

func (b *builder) joinGroup(req *kmsg.JoinGroupRequest, resp *kmsg.JoinGroupResponse) {
	b.x.Group, b.x.MemberID = req.Group, req.MemberID
	d := b.detail()
	d.ProtocolType = req.ProtocolType
	d.SessionTimeoutMS = ptr(req.SessionTimeoutMillis)
	if req.Version >= 1 {
		d.RebalanceTimeoutMS = ptr(req.RebalanceTimeoutMillis)
	}
	for _, p := range req.Protocols {
		d.Protocols = append(d.Protocols, p.Name)
	}
	consumer := req.ProtocolType == consumerProtocol
	if consumer && len(req.Protocols) > 0 {
		// Every protocol of a consumer carries the same
		// subscription; the first is the preferred assignor.
		d.Subscription, _ = subscription(req.Protocols[0].Metadata, false)
	}
	if resp == nil {
		return
	}
	b.x.Generation = ptr(resp.Generation)
	if resp.MemberID != "" {
		// The member id the coordinator assigned (KIP-394: a first
		// join gets MEMBER_ID_REQUIRED with its id).
		b.x.MemberID = resp.MemberID
	}
	d.Leader = resp.LeaderID
	if resp.Protocol != nil {
		d.Protocol = *resp.Protocol
	}
	if resp.ProtocolType != nil && *resp.ProtocolType != "" {
		consumer = *resp.ProtocolType == consumerProtocol
	}
	// Only the leader gets the members, to compute the assignment.
	for _, m := range resp.Members {
		mm := Member{MemberID: m.MemberID}
		if m.InstanceID != nil {
			mm.InstanceID = *m.InstanceID
		}
		if consumer {
			mm.Subscription, _ = subscription(m.ProtocolMetadata, false)
		}
		d.Members = append(d.Members, mm)
	}
}

func (b *builder) leaveGroup(req *kmsg.LeaveGroupRequest, resp *kmsg.LeaveGroupResponse) {
	b.x.Group = req.Group
	if req.Version < 3 {
		b.x.MemberID = req.MemberID
		return
	}
	// v3+ lets one request remove several static members (KIP-345).
	d := b.detail()
	for _, m := range req.Members {
		mm := Member{MemberID: m.MemberID}
		if m.InstanceID != nil {
			mm.InstanceID = *m.InstanceID
		}
		if m.Reason != nil {
			mm.Reason = *m.Reason
		}
		d.Members = append(d.Members, mm)
	}
	if len(req.Members) == 1 {
		b.x.MemberID = req.Members[0].MemberID
	}
	if resp == nil {
		return
	}
	for _, rm := range resp.Members {
		found := false
		for i := range d.Members {
			m := &d.Members[i]
			if m.MemberID == rm.MemberID && (rm.InstanceID == nil || m.InstanceID == *rm.InstanceID) {
				m.Error, found = ErrorName(rm.ErrorCode), true
				break
			}
		}
		if !found {
			mm := Member{MemberID: rm.MemberID, Error: ErrorName(rm.ErrorCode)}
			if rm.InstanceID != nil {
				mm.InstanceID = *rm.InstanceID
			}
			d.Members = append(d.Members, mm)
		}
	}
}

func (b *builder) syncGroup(req *kmsg.SyncGroupRequest, resp *kmsg.SyncGroupResponse) {
	b.x.Group, b.x.MemberID = req.Group, req.MemberID
	b.x.Generation = ptr(req.Generation)
	d := b.detail()
	// The protocol type is in SyncGroup only from v5 (KIP-559); before,
	// an assignment is decoded when it reads as a consumer assignment
	// and nothing else.
	var ptype *string
	if req.ProtocolType != nil {
		ptype = req.ProtocolType
		d.ProtocolType = *req.ProtocolType
	}
	if req.Protocol != nil {
		d.Protocol = *req.Protocol
	}
	if resp != nil {
		if resp.ProtocolType != nil {
			ptype = resp.ProtocolType
			d.ProtocolType = *resp.ProtocolType
		}
		if resp.Protocol != nil {
			d.Protocol = *resp.Protocol
		}
	}
	decode := ptype == nil || *ptype == consumerProtocol
	strict := ptype == nil
	// The leader sends everyone's assignment.
	for _, a := range req.GroupAssignment {
		m := Member{MemberID: a.MemberID}
		if decode {
			m.Assignment, _ = assignment(a.MemberAssignment, strict)
		}
		d.Members = append(d.Members, m)
	}
	if resp != nil && decode {
		d.Assignment, _ = assignment(resp.MemberAssignment, strict)
	}
}

func (b *builder) describeGroups(req *kmsg.DescribeGroupsRequest, resp *kmsg.DescribeGroupsResponse) {
	d := b.detail()
	d.Groups = req.Groups
	if len(req.Groups) == 1 {
		b.x.Group = req.Groups[0]
	}
	if resp == nil {
		return
	}
	for _, g := range resp.Groups {
		gd := GroupDescription{
			Group: g.Group, Error: ErrorName(g.ErrorCode), State: g.State,
			ProtocolType: g.ProtocolType, Protocol: g.Protocol,
		}
		consumer := g.ProtocolType == consumerProtocol
		for _, m := range g.Members {
			mm := Member{MemberID: m.MemberID, ClientID: m.ClientID, ClientHost: m.ClientHost}
			if m.InstanceID != nil {
				mm.InstanceID = *m.InstanceID
			}
			if consumer {
				mm.Subscription, _ = subscription(m.ProtocolMetadata, false)
				mm.Assignment, _ = assignment(m.MemberAssignment, false)
			}
			gd.Members = append(gd.Members, mm)
		}
		d.Described = append(d.Described, gd)
		b.firstError(g.ErrorCode)
	}
}

// consumerGroupHeartbeat is the KIP-848 group protocol: membership and
// assignment in one request, partitions named by topic id.
func (b *builder) consumerGroupHeartbeat(req *kmsg.ConsumerGroupHeartbeatRequest, resp *kmsg.ConsumerGroupHeartbeatResponse) {
	b.x.Group, b.x.MemberID = req.Group, req.MemberID
	d := b.detail()
	d.MemberEpoch = ptr(req.MemberEpoch)
	// -1 and null mean "unchanged since the last heartbeat".
	if req.RebalanceTimeoutMillis != -1 {
		d.RebalanceTimeoutMS = ptr(req.RebalanceTimeoutMillis)
	}
	d.Subscription = req.SubscribedTopicNames
	if req.SubscribedTopicRegex != nil {
		d.SubscriptionRegex = *req.SubscribedTopicRegex
	}
	for _, t := range req.Topics {
		d.Owned = append(d.Owned, TopicPartitions{Topic: b.topicName(t.TopicID), Partitions: nonNil(t.Partitions)})
	}
	if resp == nil {
		return
	}
	if resp.MemberID != nil && *resp.MemberID != "" {
		b.x.MemberID = *resp.MemberID
	}
	d.MemberEpoch = ptr(resp.MemberEpoch)
	if resp.Assignment != nil {
		d.Assignment = []TopicPartitions{}
		for _, t := range resp.Assignment.Topics {
			d.Assignment = append(d.Assignment, TopicPartitions{Topic: b.topicName(t.TopicID), Partitions: nonNil(t.Partitions)})
		}
	}
}

func nonNil(p []int32) []int32 {
	if p == nil {
		return []int32{}
	}
	return p
}

// otherFields are the request fields that many APIs without a summary
// share.
type otherFields struct{ group, txn int }

var otherCache sync.Map // reflect.Type -> otherFields

// other summarises requests without a dedicated summary by the fields most
// of them name the same way: the group (TxnOffsetCommit, OffsetDelete,
// ShareGroupHeartbeat...) and the transactional id (AddPartitionsToTxn,
// EndTxn...).
func (b *builder) other(req kmsg.Request) {
	v := reflect.ValueOf(req)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return
	}
	v = v.Elem()
	t := v.Type()
	var f otherFields
	if c, ok := otherCache.Load(t); ok {
		f = c.(otherFields)
	} else {
		f = otherFields{-1, -1}
		if sf, ok := t.FieldByName("Group"); ok && sf.Type.Kind() == reflect.String && len(sf.Index) == 1 {
			f.group = sf.Index[0]
		}
		if sf, ok := t.FieldByName("TransactionalID"); ok && len(sf.Index) == 1 &&
			(sf.Type.Kind() == reflect.String || sf.Type.Kind() == reflect.Pointer && sf.Type.Elem().Kind() == reflect.String) {
			f.txn = sf.Index[0]
		}
		otherCache.Store(t, f)
	}
	if f.group >= 0 {
		b.x.Group = v.Field(f.group).String()
	}
	if f.txn >= 0 {
		fv := v.Field(f.txn)
		if fv.Kind() == reflect.Pointer {
			if fv.IsNil() {
				return
			}
			fv = fv.Elem()
		}
		if s := fv.String(); s != "" {
			b.detail().TransactionalID = s
		}
	}
}
