package broker

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A sideConn is a connection of the cluster's own to one of its brokers,
// over which the replication model asks kfake what it answers. A kfake
// control answers a request in kfake's place and cannot have kfake answer
// it first, so a control that edits kfake's answer sleeps
// (kfake.Cluster.SleepControl, which frees kfake's loop) while the same
// request, marked as ours, goes to kfake over this connection and is let
// through by the control. Requests on it are one at a time.
type sideConn struct {
	addr string
	tls  bool // the brokers accept TLS only

	mu     sync.Mutex
	conn   net.Conn
	corr   int32
	closed bool
}

// sideTimeout bounds one request on a side connection: kfake answers the
// requests sent there at once.
const sideTimeout = 5 * time.Second

// maxSideResponse bounds an answer read from kfake (the Metadata of a very
// large cluster).
const maxSideResponse = 256 << 20

// ReplicationClientID is the client id of the side connections: their
// requests are the cluster talking to itself, which a tracer of the
// cluster's ports should leave out.
const ReplicationClientID = "kscope-replication"

var sideFormatter = kmsg.NewRequestFormatter(kmsg.FormatterClientID(ReplicationClientID))

// request sends req and returns kfake's answer. A connection found broken
// (its broker was stopped and started) is dialled again, once: what goes
// over it only reads, so sending it twice is harmless.
func (s *sideConn) request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for try := 0; ; try++ {
		if s.closed {
			return nil, net.ErrClosed
		}
		fresh := s.conn == nil
		resp, err := s.roundTrip(ctx, req)
		if err == nil {
			return resp, nil
		}
		s.drop()
		if fresh || try > 0 || ctx.Err() != nil {
			return nil, fmt.Errorf("ask %s for %s: %w", s.addr, kmsg.NameForKey(req.Key()), err)
		}
	}
}

func (s *sideConn) roundTrip(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	deadline := time.Now().Add(sideTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if s.conn == nil {
		d := net.Dialer{Deadline: deadline}
		c, err := d.DialContext(ctx, "tcp", s.addr)
		if err != nil {
			return nil, err
		}
		if s.tls {
			// Its own brokers, on loopback, whatever names their
			// certificate gives.
			c = tls.Client(c, &tls.Config{InsecureSkipVerify: true})
		}
		s.conn = c
	}
	s.conn.SetDeadline(deadline)
	s.corr++
	if _, err := s.conn.Write(sideFormatter.AppendRequest(nil, req, s.corr)); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(s.conn, size[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n < 4 || n > maxSideResponse {
		return nil, fmt.Errorf("answer of %d bytes", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(s.conn, body); err != nil {
		return nil, err
	}
	r := kbin.Reader{Src: body}
	if corr := r.Int32(); corr != s.corr {
		return nil, fmt.Errorf("answer to request %d, want %d", corr, s.corr)
	}
	resp := req.ResponseKind()
	// ApiVersions answers have no header tags, whatever the version.
	if resp.IsFlexible() && req.Key() != int16(kmsg.ApiVersions) {
		kmsg.SkipTags(&r)
	}
	if !r.Ok() {
		return nil, errors.New("truncated answer")
	}
	if err := resp.ReadFrom(r.Src); err != nil {
		return nil, err
	}
	return resp, nil
}

func (s *sideConn) drop() {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

// close closes the connection for good: the cluster is closing.
func (s *sideConn) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop()
	s.closed = true
}
