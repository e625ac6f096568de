package broker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// SaslHandshake v0 (KIP-43) is followed by SASL tokens sent bare, each
// behind a 4-byte length, outside Kafka's request framing; the broker
// answers each with a bare token and closes the connection when
// authentication fails. Kafka 4.0 dropped it (KIP-896) and so does kfake,
// yet old clients still use it: kafka-python 2.0.2 always does. A
// saslV0Conn sits between the socket and kfake and translates, so that the
// wire carries the v0 exchange while kfake sees SaslHandshake v1 and
// SaslAuthenticate v0:
//
//	client → broker: SaslHandshake v0        → kfake: SaslHandshake v1 (same body)
//	client → broker: [len] token             → kfake: SaslAuthenticate v0 {token}
//	kfake → client:  SaslAuthenticate ok     → client: [len] server token
//	kfake:           SaslAuthenticate failed → the connection is closed
//
// kfake lists its mechanisms in a handshake answer only when it refuses the
// one asked for; a real broker always lists them, and kafka-python refuses
// a mechanism that is not in the list. The connection fills the list in.
//
// The connection inspects only its first requests (ApiVersions and the
// handshake) and is a plain pipe after that.

// maxInspected bounds the frames read while inspecting: the requests
// before authentication are tiny, and a larger size is passed on for kfake
// to judge.
const maxInspected = 1 << 20

type saslV0Listener struct{ net.Listener }

func (l saslV0Listener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &saslV0Conn{Conn: conn, pending: make(map[int32]pendingKind)}, nil
}

type readState uint8

const (
	readInspect readState = iota // reading whole frames, looking for a v0 handshake
	readTokens                   // bare SASL tokens follow a v0 handshake
	readPipe                     // authentication is behind us, or never was
)

// pendingKind says how to translate the answer to a request.
type pendingKind uint8

const (
	pendingHandshake    pendingKind = iota + 1 // fill in the mechanisms
	pendingAuthenticate                        // we made it up: answer with a bare token
)

// mechanisms are the SASL mechanisms kfake serves, in the order it lists
// them when it refuses one.
var mechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

type saslV0Conn struct {
	net.Conn

	// Owned by the one goroutine that reads (kfake's connection reader).
	state    readState
	rbuf     []byte  // translated bytes not yet handed to kfake
	tokens   int     // bare tokens still expected from the client
	clientID *string // the handshake's, reused on the requests we make up
	corr     int32   // the next correlation id we make up

	// wmu guards pending and wbuf, shared by the reading goroutine (which
	// adds pending ids) and kfake's writing goroutine.
	wmu     sync.Mutex
	pending map[int32]pendingKind // by correlation id
	wbuf    []byte                // response bytes not yet translated
}

func (c *saslV0Conn) Read(p []byte) (int, error) {
	for len(c.rbuf) == 0 {
		var err error
		switch c.state {
		case readPipe:
			return c.Conn.Read(p)
		case readInspect:
			err = c.inspectFrame()
		case readTokens:
			err = c.translateToken()
		}
		if err != nil {
			return 0, err
		}
	}
	n := copy(p, c.rbuf)
	c.rbuf = c.rbuf[n:]
	return n, nil
}

// inspectFrame reads one request and queues it for kfake, a v0 handshake
// turned into v1.
func (c *saslV0Conn) inspectFrame() error {
	var size [4]byte
	if _, err := io.ReadFull(c.Conn, size[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n < 8 || n > maxInspected {
		c.state = readPipe
		c.rbuf = size[:]
		return nil
	}
	frame := make([]byte, 4+n)
	copy(frame, size[:])
	if _, err := io.ReadFull(c.Conn, frame[4:]); err != nil {
		return err
	}
	c.rbuf = frame

	key := int16(binary.BigEndian.Uint16(frame[4:]))
	version := int16(binary.BigEndian.Uint16(frame[6:]))
	switch {
	case key == int16(kmsg.ApiVersions):
		return nil // still before authentication
	case key != int16(kmsg.SASLHandshake):
		c.state = readPipe
		return nil
	}
	c.expect(int32(binary.BigEndian.Uint32(frame[8:])), pendingHandshake)
	if version != 0 {
		c.state = readPipe // SaslAuthenticate requests follow
		return nil
	}

	req := kmsg.NewPtrSASLHandshakeRequest()
	clientID, body, ok := splitHeader(frame[4:])
	if !ok || req.ReadFrom(body) != nil {
		c.state = readPipe // kfake will refuse it
		return nil
	}
	// v0 and v1 share the request and response bodies; only what follows
	// differs.
	binary.BigEndian.PutUint16(frame[6:], 1)
	c.clientID = clientID
	c.corr = math.MaxInt32
	switch req.Mechanism {
	case "PLAIN":
		c.tokens = 1 // authzid\0user\0password (RFC 4616)
	case "SCRAM-SHA-256", "SCRAM-SHA-512":
		c.tokens = 2 // client-first, client-final (RFC 5802)
	default:
		c.state = readPipe // kfake answers UNSUPPORTED_SASL_MECHANISM
		return nil
	}
	c.state = readTokens
	return nil
}

// splitHeader returns the client id and the body of a request with a v1
// header (the handshake is never flexible).
func splitHeader(b []byte) (clientID *string, body []byte, ok bool) {
	if len(b) < 10 {
		return nil, nil, false
	}
	l := int16(binary.BigEndian.Uint16(b[8:]))
	b = b[10:]
	if l < 0 {
		return nil, b, true
	}
	if int(l) > len(b) {
		return nil, nil, false
	}
	s := string(b[:l])
	return &s, b[l:], true
}

// translateToken reads one bare token and queues it for kfake as a
// SaslAuthenticate request.
func (c *saslV0Conn) translateToken() error {
	var size [4]byte
	if _, err := io.ReadFull(c.Conn, size[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n > maxInspected {
		return fmt.Errorf("sasl v0 token of %d bytes", n)
	}
	token := make([]byte, n)
	if _, err := io.ReadFull(c.Conn, token); err != nil {
		return err
	}
	req := kmsg.NewPtrSASLAuthenticateRequest()
	req.Version = 0
	req.SASLAuthBytes = token
	var opts []kmsg.RequestFormatterOpt
	if c.clientID != nil {
		opts = append(opts, kmsg.FormatterClientID(*c.clientID))
	}
	corr := c.corr
	c.corr--
	c.expect(corr, pendingAuthenticate)
	c.rbuf = kmsg.NewRequestFormatter(opts...).AppendRequest(nil, req, corr)
	if c.tokens--; c.tokens == 0 {
		c.state = readPipe
	}
	return nil
}

// expect marks the answer to a request for translation. It is called
// before kfake sees the request, so before the answer can come.
func (c *saslV0Conn) expect(corr int32, kind pendingKind) {
	c.wmu.Lock()
	c.pending[corr] = kind
	c.wmu.Unlock()
}

var errSASLv0Failed = errors.New("sasl v0 authentication failed")

// Write passes kfake's responses on, the answers to the SaslAuthenticate
// requests we made up turned into bare tokens.
func (c *saslV0Conn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if len(c.pending) == 0 && len(c.wbuf) == 0 {
		return c.Conn.Write(b)
	}
	c.wbuf = append(c.wbuf, b...)
	for len(c.wbuf) >= 8 {
		n := int(binary.BigEndian.Uint32(c.wbuf))
		if len(c.wbuf) < 4+n {
			break
		}
		frame := c.wbuf[:4+n]
		corr := int32(binary.BigEndian.Uint32(frame[4:]))
		out := frame
		switch c.pending[corr] {
		case pendingHandshake:
			delete(c.pending, corr)
			out = withMechanisms(frame)
		case pendingAuthenticate:
			delete(c.pending, corr)
			resp := kmsg.NewPtrSASLAuthenticateResponse()
			resp.Version = 0
			if err := resp.ReadFrom(frame[8:]); err != nil || resp.ErrorCode != 0 {
				c.Conn.Close()
				return 0, errSASLv0Failed
			}
			out = binary.BigEndian.AppendUint32(nil, uint32(len(resp.SASLAuthBytes)))
			out = append(out, resp.SASLAuthBytes...)
		}
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
		c.wbuf = c.wbuf[4+n:]
	}
	if len(c.wbuf) == 0 {
		c.wbuf = nil
	}
	return len(b), nil
}

// withMechanisms returns a successful SaslHandshake answer frame with the
// mechanisms listed, as a real broker lists them.
func withMechanisms(frame []byte) []byte {
	resp := kmsg.NewPtrSASLHandshakeResponse()
	resp.Version = 1 // v0 and v1 bodies are the same
	if err := resp.ReadFrom(frame[8:]); err != nil || resp.ErrorCode != 0 || len(resp.SupportedMechanisms) > 0 {
		return frame
	}
	resp.SupportedMechanisms = mechanisms
	out := append([]byte(nil), frame[:8]...)
	out = resp.AppendTo(out)
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	return out
}
