package kafka

import (
	"bytes"
	"encoding/binary"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/capture"
)

// maxPending bounds the requests awaiting a response on one connection;
// beyond it the oldest is reported as lost (a real client keeps far fewer
// in flight: Kafka's default is 5).
const maxPending = 4096

// maxUndecided bounds the bytes buffered per direction while it is not yet
// known which side is the client.
const maxUndecided = 4 << 20

// undecidedWindow is how many bytes a connection may carry while its roles
// are unknown: then it takes the side with the stronger evidence, or, with
// none stronger, it is given up (Stats.Undecided) rather than searched
// forever.
const undecidedWindow = 2 * maxUndecided

// conn is the decoding state of one TCP connection.
type conn struct {
	d  *Decoder
	c  *capture.Conn
	st [2]*stream

	rolesKnown bool
	client     capture.Dir

	// seen counts bytes while the roles are unknown, seenDir per
	// direction; notKafka is the verdict that they never will be.
	seen     int64
	seenDir  [2]int64
	notKafka bool

	pending []*Request
	// early are whole responses that came before their request: a
	// traced client's writes and reads reach the ring from different
	// CPUs, and on loopback it may read a response before the write of
	// its request is recorded. Each waits for its request, until a later
	// response is matched (Kafka answers in order: the request will not
	// come), maxEarly newer ones, earlyHold, or the end.
	early   []frame
	cluster string
	// brokersSeen is Decoder.brokersAdded when cluster was last looked
	// up (before the first addition there is nothing to find).
	brokersSeen uint64
	mechanism   string  // from SaslHandshake
	clientID    *string // the last request's, shared by the next ones with the same
	names       names   // the last strings of Produce and Fetch frames, shared likewise
	sasl        saslRaw
	closed      [2]bool
}

// saslRaw follows the SASL tokens that a client sends without Kafka
// framing after a SaslHandshake v0 (KIP-43): each is a 4-byte size and an
// opaque token, answered by the broker the same way. They carry secrets:
// they are counted and skipped, never decoded.
type saslRaw struct {
	active    bool
	mechanism string
	// clientTokens is how many client frames are certainly tokens
	// (PLAIN sends one); after that a frame that is not a plausible
	// request is taken as a token too.
	clientTokens int
	serverTokens int
}

func newConn(d *Decoder, c *capture.Conn) *conn {
	k := &conn{d: d, c: c}
	k.st[0] = newStream(d.opts.MaxFrame, &d.stats)
	k.st[1] = newStream(d.opts.MaxFrame, &d.stats)
	k.st[0].growAhead, k.st[1].growAhead = d.opts.GrowAhead, d.opts.GrowAhead
	return k
}

func (k *conn) serverAddr() hostPort {
	a := k.c.A
	if k.client == capture.AtoB {
		a = k.c.B
	}
	return hostPort{a.Addr().String(), int32(a.Port())}
}

func (k *conn) feed(ch capture.Chunk) {
	dir := ch.Dir
	if k.notKafka {
		k.d.stats.BytesIgnored += int64(len(ch.Data))
		return
	}
	if !k.rolesKnown {
		k.seen += int64(len(ch.Data))
		k.seenDir[dir&1] += int64(len(ch.Data))
		if k.clientFirstFails(ch) {
			k.giveUp(&k.d.stats.NotKafka)
			return
		}
		k.st[dir].feed(ch.Data, ch.Time, ch.Lost, ch.Skipped, nil, nil)
		k.decide()
		if !k.rolesKnown && !k.notKafka && k.judgedNotKafka() {
			k.giveUp(&k.d.stats.NotKafka)
		}
		return
	}
	k.st[dir].feed(ch.Data, ch.Time, ch.Lost, ch.Skipped, k.finder(dir), k.handler(dir))
	if k.d.opts.OnBoundary != nil {
		if ahead := k.st[dir].nextFrame(); ahead >= 0 {
			k.d.opts.OnBoundary(k.c, dir, ahead, dir == k.client)
		}
	}
}

func (k *conn) finder(dir capture.Dir) judge {
	if dir == k.client {
		return k.judgeRequest
	}
	return k.judgeResponse
}

func (k *conn) handler(dir capture.Dir) func(frame) {
	if dir == k.client {
		return k.request
	}
	return k.response
}

// decide learns which side is the client: the side whose bytes hold
// requests that decode whole. A response can pass for a request (its
// correlation id reads as a key and a version), so a side wins on evidence,
// strongest first: the other side answers its request (a frame with its
// correlation id that decodes as that request's response); or its requests
// follow each other with rising correlation ids; or the side was captured
// from its first byte and a request starts there.
func (k *conn) decide() {
	var score [2]int
	for d := range 2 {
		score[d] = k.evidence(capture.Dir(d))
	}
	var client capture.Dir
	a, b := score[capture.AtoB], score[capture.BtoA]
	switch {
	case a > b && (a >= 2 || k.seen > undecidedWindow):
		client = capture.AtoB
	case b > a && (b >= 2 || k.seen > undecidedWindow):
		client = capture.BtoA
	case k.seen > undecidedWindow:
		// No decisive evidence in megabytes, and as much for either
		// side: searching on would only cost more.
		k.giveUp(&k.d.stats.Undecided)
		return
	default:
		for _, s := range k.st {
			if len(s.buf) > maxUndecided {
				n := len(s.buf) - maxUndecided/2
				s.stats.BytesSkipped += int64(n)
				s.consume(n)
			}
		}
		return
	}
	k.rolesKnown = true
	k.client = client
	k.d.stats.KafkaConnections++
	if k.d.opts.OnVerdict != nil {
		k.d.opts.OnVerdict(k.c, true)
	}
	// Requests first, so that the responses find them pending.
	k.st[client].rescan(k.finder(client), k.handler(client))
	k.st[client.Reverse()].rescan(k.finder(client.Reverse()), k.handler(client.Reverse()))
}

// maxChain is how many consecutive requests evidence looks at.
const maxChain = 3

// evidence scores direction d as the client's: 0 no request found, 1 a
// request, 2 requests with rising correlation ids or a request at the first
// byte of a cleanly started direction, 3 a request the other side answers.
// It goes on from what the last call learned (stream.probe).
func (k *conn) evidence(d capture.Dir) int {
	s, other := k.st[d], k.st[d.Reverse()]
	p := &s.probe
	p.advance(s.buf, k.judgeRequest)
	if !p.found {
		return 0
	}
	if other.probe.answers(other.buf, p.chain, p.gen) {
		return 3
	}
	rising := len(p.chain) >= 2
	for i := 1; i < len(p.chain); i++ {
		rising = rising && p.chain[i].CorrelationID > p.chain[i-1].CorrelationID
	}
	if rising || (p.first == 0 && s.clean) {
		return 2
	}
	return 1
}

// minRequest is the smallest request frame: size, key, version,
// correlation id and an empty client id.
const minRequest = 4 + 10

// judgeRequest tells whether a request starts at buf[i]: a plausible
// header whose body decodes, followed by the end of the data or by another
// plausible request. A candidate whose end has not arrived waits only if
// its header is plausible: zeros, say, read as a Produce v0 header.
func (k *conn) judgeRequest(buf []byte, i int) (verdict, int) {
	if len(buf)-i < minRequest {
		return vHold, i + minRequest
	}
	max := int64(k.d.opts.MaxFrame)
	if !k.requestMayStart(buf, i) {
		return vNone, k.nextRequestStart(buf, i+1)
	}
	size := int64(int32(binary.BigEndian.Uint32(buf[i:])))
	end := i + 4 + int(size)
	if end > len(buf) {
		return vLater, end
	}
	f := buf[i+4 : end]
	if !plausibleRequest(f) {
		return vNone, 0
	}
	h, n, _ := parseRequestHeader(f)
	if _, err := decodeRequest(h, f[n:]); err != nil {
		return vNone, 0
	}
	rest := buf[end:]
	if len(rest) >= 4 {
		ns := int64(int32(binary.BigEndian.Uint32(rest)))
		if ns < minRequest-4 || ns > max {
			return vNone, 0
		}
	}
	if len(rest) < 12 {
		return vMaybe, end + 12
	}
	if !plausibleHeaderPrefix(rest[4:]) {
		return vNone, 0
	}
	return vFrame, 0
}

// requestMayStart is the quick test of judgeRequest, for a position with at
// least minRequest bytes: a size in bounds and a plausible fixed header.
func (k *conn) requestMayStart(buf []byte, i int) bool {
	size := int64(int32(binary.BigEndian.Uint32(buf[i:])))
	return size >= minRequest-4 && size <= int64(k.d.opts.MaxFrame) && plausibleHeaderPrefix(buf[i+4:])
}

// nextRequestStart skips the positions from i on that fail
// requestMayStart, and returns the first other one (or the first too close
// to the end to judge). Most bytes fail on one of three bytes: the top
// byte of the size (above MaxFrame), or the high bytes of the api key and
// version (all below 256). It goes from one zero byte where the api key
// starts to the next with bytes.IndexByte, which reads many bytes at a
// time: record data, the most of a stream, has few zeros.
func (k *conn) nextRequestStart(buf []byte, i int) int {
	top := byte(min(k.d.opts.MaxFrame>>24, 0x7f))
	last := len(buf) - minRequest // the last position with enough bytes to judge
	for i <= last {
		z := bytes.IndexByte(buf[i+4:last+5], 0)
		if z < 0 {
			return last + 1
		}
		i += z
		if buf[i] <= top && buf[i+6] == 0 && k.requestMayStart(buf, i) {
			return i
		}
		i++
	}
	return i
}

// plausibleHeaderPrefix checks the fixed part of a request header only.
func plausibleHeaderPrefix(b []byte) bool {
	if len(b) < 8 {
		return true
	}
	key := int16(binary.BigEndian.Uint16(b))
	ver := int16(binary.BigEndian.Uint16(b[2:]))
	return KnownVersion(key, ver) && int32(binary.BigEndian.Uint32(b[4:])) >= 0
}

// judgeResponse tells whether a response starts at buf[i]: a size
// followed by the correlation id of a pending request, whose body decodes.
func (k *conn) judgeResponse(buf []byte, i int) (verdict, int) {
	if len(k.pending) == 0 {
		// No position answers anything: none needs judging.
		return vNone, len(buf)
	}
	if len(buf)-i < 8 {
		return vHold, i + 8
	}
	if !k.responseMayStart(buf, i) {
		return vNone, k.nextResponseStart(buf, i+1)
	}
	size := int64(int32(binary.BigEndian.Uint32(buf[i:])))
	req := k.pendingFor(int32(binary.BigEndian.Uint32(buf[i+4:])))
	if req == nil {
		return vNone, 0
	}
	end := i + 4 + int(size)
	if end > len(buf) {
		// The answer to the oldest pending request is the one Kafka
		// sends next: wait for it rather than take a later match
		// inside it.
		if req == k.pending[0] {
			return vHold, end
		}
		return vLater, end
	}
	if _, err := decodeResponse(req.Header, buf[i+4:end]); err != nil {
		return vNone, 0
	}
	// kmsg reads a body's fields and ignores the bytes after them: a
	// body that decodes may start record data that only looks like a
	// frame. The next frame's size, when in view, must be a response's;
	// record data's next four bytes mostly are not, and taken as a size
	// they swallowed the direction's later responses.
	if rest := buf[end:]; len(rest) >= 4 && !k.responseMayStart(rest, 0) {
		return vNone, 0
	}
	return vFrame, 0
}

// responseMayStart says the size at i is one a response frame may have.
func (k *conn) responseMayStart(buf []byte, i int) bool {
	size := int64(int32(binary.BigEndian.Uint32(buf[i:])))
	return size >= 4 && size <= int64(k.d.opts.MaxFrame)
}

// nextResponseStart skips the positions from i on that fail
// responseMayStart, and returns the first other one (or the first too
// close to the end to judge). The top byte of a size at most MaxFrame is
// at most MaxFrame>>24: the bytes of record data, the most of a stream,
// fail on that one byte, in a loop that calls no judge.
func (k *conn) nextResponseStart(buf []byte, i int) int {
	top := byte(min(k.d.opts.MaxFrame>>24, 0x7f))
	last := len(buf) - 8 // the last position with enough bytes to judge
	for ; i <= last; i++ {
		if buf[i] <= top && k.responseMayStart(buf, i) {
			return i
		}
	}
	return i
}

func (k *conn) pendingFor(corr int32) *Request {
	for _, r := range k.pending {
		if r.Header.CorrelationID == corr {
			return r
		}
	}
	return nil
}

// request handles a frame of the client.
func (k *conn) request(f frame) {
	st := &k.d.stats
	if k.sasl.active {
		if k.sasl.clientTokens > 0 || !plausibleRequest(f.data) {
			k.sasl.clientTokens = max(k.sasl.clientTokens-1, 0)
			k.sasl.serverTokens++
			st.SASLTokens++
			return
		}
		k.sasl = saslRaw{}
	}
	h, id, n, err := splitRequestHeader(f.data)
	if err != nil || (f.hole >= 0 && f.hole < n) {
		st.HeadersLost++
		return
	}
	if id != nil {
		// A client sends the same id in every request: one string
		// for them all.
		if k.clientID == nil || *k.clientID != string(id) {
			s := string(id)
			k.clientID = &s
		}
		h.ClientID = k.clientID
	}
	st.Requests++
	body := f.data[n:]
	var req *Request
	var sets []RecordSet
	var batches []Batch
	if h.Key != kmsg.Produce.Int16() {
		// Bodies alias their input; only Produce's record bytes are
		// large, and those are dropped right after decoding.
		body = append([]byte(nil), body...)
	}
	switch h.Key {
	case kmsg.Produce.Int16():
		rs := &k.d.rooms.produceReq
		if p := rs.get(); rs.keep(p, readProduceRequest(h.Version, body, &k.names, p) != nil) {
			req, sets, batches = inRoom(&p.req, &p.body, p), p.set[:], p.batch[:]
		}
	case kmsg.Fetch.Int16():
		rs := &k.d.rooms.fetchReq
		if p := rs.get(); rs.keep(p, readFetchRequest(h.Version, body, &k.names, p) != nil) {
			req = inRoom(&p.req, &p.body, p)
		}
	}
	if req == nil {
		req = new(Request)
		req.Body, req.Err = decodeRequest(h, body)
	}
	req.Header, req.Start, req.End, req.Size = h, f.start, f.end, len(f.data)+4
	req.Truncated = f.hole >= 0
	if req.Truncated {
		st.Truncated++
	}
	if req.Err != nil {
		st.DecodeErrors++
	} else {
		var cut []byte
		req.Records, cut = extractRecords(req.Body, body, sets, batches)
		if !req.Truncated && !secretAPI(h.Key) {
			req.Raw = body
			if h.Key == kmsg.Produce.Int16() {
				req.Raw = cut
			}
		}
	}
	if hs, ok := req.Body.(*kmsg.SASLHandshakeRequest); ok {
		k.mechanism = hs.Mechanism
	}
	if p, ok := req.Body.(*kmsg.ProduceRequest); ok && p.Acks == 0 {
		// acks=0: the broker sends no response (KIP-98 keeps it so).
		k.emit(req, nil, NoResponseAcks0)
		return
	}
	if len(k.pending) >= maxPending {
		k.emit(k.pending[0], nil, NoResponseLost)
		k.dropPending(1)
	}
	k.pending = append(k.pending, req)
	for i, e := range k.early {
		if int32(binary.BigEndian.Uint32(e.data)) == h.CorrelationID {
			// Those held before it answered requests sent before
			// this one, which will not come now.
			k.dropEarly(i)
			k.early = k.early[1:]
			k.answer(e, true)
			break
		}
	}
}

// Bounds of the responses held for their request (conn.early). A client
// that writes several pipelined requests in one system call can have all
// their responses read before the write is recorded: with 8 kept, kscope
// bench wire at 100,000/s with up to 10 requests per writev paired all
// but 2 and 5 of 1,000,000.
const (
	maxEarly      = 64
	maxEarlyBytes = 1 << 20
	earlyHold     = 2 * time.Second
)

// hold keeps f, a whole response to no pending request, for its request.
func (k *conn) hold(f frame) {
	if len(f.data) > maxEarlyBytes {
		k.d.stats.UnmatchedResponses++
		return
	}
	f.data = append([]byte(nil), f.data...) // the stream's buffer moves on
	k.early = append(k.early, f)
	n := 0
	for _, e := range k.early {
		n += len(e.data)
	}
	for len(k.early) > maxEarly || n > maxEarlyBytes {
		n -= len(k.early[0].data)
		k.dropEarly(1)
	}
}

// dropEarly counts the first n held responses as unmatched.
func (k *conn) dropEarly(n int) {
	k.d.stats.UnmatchedResponses += int64(n)
	k.early = append(k.early[:0], k.early[n:]...)
}

// response handles a frame of the server.
func (k *conn) response(f frame) { k.answer(f, false) }

// answer handles a response frame: one from the stream, or a held one its
// request has come for (replay).
func (k *conn) answer(f frame, replay bool) {
	st := &k.d.stats
	idx := -1
	var corr int32
	if len(f.data) >= 4 {
		corr = int32(binary.BigEndian.Uint32(f.data))
		for i, r := range k.pending {
			if r.Header.CorrelationID == corr {
				idx = i
				break
			}
		}
	}
	switch {
	case idx < 0 && k.sasl.serverTokens > 0:
		k.sasl.serverTokens--
		st.SASLTokens++
		return
	case f.hole >= 0 && f.hole < 4:
		st.HeadersLost++
		return
	case idx < 0 && f.hole < 0 && len(f.data) >= 4:
		k.hold(f)
		return
	case idx < 0:
		st.UnmatchedResponses++
		return
	}
	if !replay && len(k.early) > 0 {
		// The responses held came before this one: they answered
		// requests sent before its own, which will not come now.
		k.dropEarly(len(k.early))
	}
	// Kafka answers the requests of a connection in order: those before
	// this one will get no response (it was lost in a capture hole).
	for _, r := range k.pending[:idx] {
		k.emit(r, nil, NoResponseLost)
	}
	req := k.pending[idx]
	k.dropPending(idx + 1)
	st.Responses++
	data := f.data
	records := false
	if k := kmsg.Key(req.Header.Key); k == kmsg.Fetch || k == kmsg.ShareFetch {
		records = true
	} else {
		data = append([]byte(nil), data...)
	}
	var resp *Response
	var raw []byte
	var sets []RecordSet
	var batches []Batch
	if h := req.Header; h.Key == kmsg.Produce.Int16() || h.Key == kmsg.Fetch.Int16() {
		if off, err := responseBodyOffset(data, h.Key, h.Version); err == nil {
			raw = data[off:]
			if h.Key == kmsg.Produce.Int16() {
				rs := &k.d.rooms.produceResp
				if p := rs.get(); rs.keep(p, readProduceResponse(h.Version, raw, &k.names, p) != nil) {
					resp = inRoomResp(&p.resp, &p.body, p)
				}
			} else {
				rs := &k.d.rooms.fetchResp
				if p := rs.get(); rs.keep(p, readFetchResponse(h.Version, raw, &k.names, p) != nil) {
					resp, sets, batches = inRoomResp(&p.resp, &p.body, p), p.set[:], p.batch[:]
				}
			}
		}
	}
	if resp == nil {
		resp = new(Response)
		resp.Body, raw, resp.Err = decodeResponseBody(req.Header, data)
	}
	resp.CorrelationID, resp.Start, resp.End, resp.Size = corr, f.start, f.end, len(f.data)+4
	resp.Truncated = f.hole >= 0
	if resp.Truncated {
		st.Truncated++
	}
	if resp.Err != nil {
		st.DecodeErrors++
	} else {
		var cut []byte
		src := raw
		if kmsg.Key(req.Header.Key) == kmsg.ShareFetch {
			src = nil // not kept in wire form: no Raw
		}
		resp.Records, cut = extractRecords(resp.Body, src, sets, batches)
		if !resp.Truncated && !secretAPI(req.Header.Key) {
			resp.Raw = raw
			if records {
				resp.Raw = cut
			}
		}
		k.learn(req, resp)
	}
	k.emit(req, resp, "")
}

// learn takes from a response what later decoding needs: topic ids and the
// cluster (Metadata), the start of raw SASL tokens (SaslHandshake v0).
func (k *conn) learn(req *Request, resp *Response) {
	switch r := resp.Body.(type) {
	case *kmsg.MetadataResponse:
		if r.ClusterID != nil {
			k.cluster = *r.ClusterID
			added := false
			for _, b := range r.Brokers {
				a := hostPort{b.Host, b.Port}
				if c, ok := k.d.brokers[a]; !ok || c != k.cluster {
					k.d.brokers[a] = k.cluster
					added = true
				}
			}
			if added {
				k.d.brokersAdded++
			}
		}
		k.d.ids.Learn(k.clusterID(), r)
	case *kmsg.SASLHandshakeResponse:
		if req.Header.Version == 0 && r.ErrorCode == 0 {
			mech := req.Body.(*kmsg.SASLHandshakeRequest).Mechanism
			k.sasl = saslRaw{active: true, mechanism: mech}
			if mech == "PLAIN" {
				k.sasl.clientTokens = 1
			}
		}
	}
}

func (k *conn) clusterID() string {
	if k.cluster == "" && k.brokersSeen != k.d.brokersAdded {
		// Looked up again only once another connection's Metadata
		// named brokers: most connections never see one of their own.
		k.brokersSeen = k.d.brokersAdded
		k.cluster = k.d.brokers[k.serverAddr()]
	}
	return k.cluster
}

func (k *conn) emit(req *Request, resp *Response, none string) {
	if resp == nil {
		k.d.stats.NoResponse++
	}
	k.d.stats.Exchanges++
	k.d.emit(Pair{Conn: k.c, ClientDir: k.client, Req: req, Resp: resp, NoResponse: none, Cluster: k.clusterID(), SASLMechanism: k.mechanism})
	k.d.release(req, resp)
}

// deadline is when a request is given up as unanswered: the response
// timeout on top of the time the broker may legitimately hold it.
func (k *conn) deadline(r *Request) time.Time {
	var wait time.Duration
	switch b := r.Body.(type) {
	case *kmsg.FetchRequest:
		wait = time.Duration(b.MaxWaitMillis) * time.Millisecond
	case *kmsg.ProduceRequest:
		wait = time.Duration(b.TimeoutMillis) * time.Millisecond
	case *kmsg.JoinGroupRequest:
		wait = time.Duration(b.RebalanceTimeoutMillis) * time.Millisecond
	}
	return r.Start.Add(wait + k.d.opts.ResponseTimeout)
}

// dropPending removes the first n pending requests. When few are left it
// moves them to the front, keeping the slice's room: slicing past them made
// the next append allocate, once per request. A long queue (responses
// lost, up to maxPending) is sliced instead of copied at every request.
func (k *conn) dropPending(n int) {
	if len(k.pending)-n > 8 {
		clear(k.pending[:n])
		k.pending = k.pending[n:]
		return
	}
	m := copy(k.pending, k.pending[n:])
	clear(k.pending[m:])
	k.pending = k.pending[:m]
}

func (k *conn) expire(now time.Time) {
	n := 0
	for _, r := range k.pending {
		if now.After(k.deadline(r)) {
			n++
			continue
		}
		break
	}
	for _, r := range k.pending[:n] {
		k.emit(r, nil, NoResponseTimeout)
	}
	k.dropPending(n)
	held := 0
	for _, e := range k.early {
		if !now.After(e.end.Add(earlyHold)) {
			break
		}
		held++
	}
	k.dropEarly(held)
}

func (k *conn) flush(reason string) {
	for _, r := range k.pending {
		k.emit(r, nil, reason)
	}
	k.pending = nil
	k.dropEarly(len(k.early))
	for _, s := range k.st {
		k.d.stats.BytesSkipped += int64(len(s.buf))
		s.consume(len(s.buf))
	}
}

// clientFirstFails reports a connection that cannot be Kafka: captured from
// its first byte, it began with something other than a request (a Kafka
// client always speaks first). HTTP, Redis and TLS fail here at once.
func (k *conn) clientFirstFails(ch capture.Chunk) bool {
	if k.st[0].started || k.st[1].started || ch.Lost != 0 || len(ch.Data) < 12 {
		return false
	}
	size := int64(int32(binary.BigEndian.Uint32(ch.Data)))
	return size < minRequest-4 || size > int64(k.d.opts.MaxFrame) || !plausibleHeaderPrefix(ch.Data[4:])
}

// secretAPI says the API's bodies may carry credentials or secret
// configs (SASL, delegation tokens, SCRAM, configs): their bytes are not
// offered as Raw, so that no stage can keep them as they came.
func secretAPI(key int16) bool {
	switch kmsg.Key(key) {
	case kmsg.SASLHandshake, kmsg.SASLAuthenticate, kmsg.CreateDelegationToken, kmsg.RenewDelegationToken,
		kmsg.ExpireDelegationToken, kmsg.DescribeDelegationToken, kmsg.AlterUserSCRAMCredentials,
		kmsg.DescribeConfigs, kmsg.AlterConfigs, kmsg.IncrementalAlterConfigs, kmsg.CreateTopics:
		return true
	}
	return false
}

// oneWayNotKafka is how many times NotKafkaAfter a connection joined in
// mid-stream may carry in one direction, the other nearly silent, before
// it is judged not Kafka: a consumer's large fetch responses can run for
// megabytes with no frame starting in them while it sends no request.
const oneWayNotKafka = 64

// judgedNotKafka says the connection, its roles unknown, has carried
// enough without a frame that could start a request or a response: past
// NotKafkaAfter when both directions carried a sixteenth of it, else past
// oneWayNotKafka times it.
func (k *conn) judgedNotKafka() bool {
	after := k.d.opts.NotKafkaAfter
	if !k.noCandidate() {
		return false
	}
	both := min(k.seenDir[0], k.seenDir[1]) >= after/16
	return (both && k.seen > after) || k.seen > oneWayNotKafka*after
}

// noCandidate reports that evidence found no request in either direction.
func (k *conn) noCandidate() bool {
	return !k.st[0].probe.found && !k.st[1].probe.found
}

// giveUp marks the connection as not Kafka, or not decodable, and counts
// it in count: its bytes are ignored from now on, and the source is told so
// it can stop copying them.
func (k *conn) giveUp(count *int64) {
	k.notKafka = true
	*count++
	for _, s := range k.st {
		k.d.stats.BytesIgnored += int64(len(s.buf))
		s.consume(len(s.buf))
	}
	if k.d.opts.OnVerdict != nil {
		k.d.opts.OnVerdict(k.c, false)
	}
}
