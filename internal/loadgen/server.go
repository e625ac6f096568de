package loadgen

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// maxIOV is the most frames handed to one writev: the agent copies 16
// iovecs of a message (MAX_IOV in its BPF program) and counts later ones as
// lost bytes, so more would measure the capture's limit, not its cost.
const maxIOV = 16

// Server answers the generator's requests with the pre-encoded response of
// each request's kind, as a broker does: it reads requests with read(2)
// and writes the responses of what one read brought with writev(2).
type Server struct {
	exs [numKinds]Exchange
	// byKey maps an api key to its exchange.
	byKey map[int16]*Exchange
	// PerWrite is the most responses written by one writev (1: one
	// response per system call, as a Kafka broker writes them).
	PerWrite int
}

// NewServer answers exchanges of shape s.
func NewServer(s Shape) (*Server, error) {
	exs, err := Exchanges(s)
	if err != nil {
		return nil, err
	}
	srv := &Server{exs: exs, byKey: make(map[int16]*Exchange), PerWrite: 1}
	for k := range srv.exs {
		srv.byKey[srv.exs[k].Key] = &srv.exs[k]
	}
	return srv, nil
}

// Serve accepts connections on ln until ctx is done, answering each in a
// goroutine of its own.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	defer wg.Wait()
	conns := make(map[net.Conn]struct{})
	var mu sync.Mutex
	defer func() {
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accept: %w", err)
		}
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.answer(c)
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
			c.Close()
		}()
	}
}

// answer serves one connection until the client closes it.
func (s *Server) answer(c net.Conn) error {
	perWrite := min(max(s.PerWrite, 1), maxIOV)
	// Each response in one writev needs its own copy to patch: a ring
	// of perWrite copies of each kind's response.
	var copies [numKinds][][]byte
	for k := range copies {
		for range perWrite {
			copies[k] = append(copies[k], append([]byte(nil), s.exs[k].Response.Bytes...))
		}
	}
	var used [numKinds]int
	largest := 0
	for _, e := range s.exs {
		largest = max(largest, len(e.Request.Bytes))
	}
	buf := make([]byte, max(256<<10, 2*largest))
	have := 0
	out := make(net.Buffers, 0, perWrite)
	flush := func() error {
		if len(out) == 0 {
			return nil
		}
		w := out // WriteTo consumes its receiver
		_, err := w.WriteTo(c)
		out = out[:0]
		used = [numKinds]int{}
		return err
	}
	for {
		n, err := c.Read(buf[have:])
		have += n
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		off := 0
		for have-off >= 12 {
			size := int(binary.BigEndian.Uint32(buf[off:]))
			if size < 8 || size > len(buf)-4 {
				return fmt.Errorf("request frame of %d bytes", size)
			}
			if have-off < 4+size {
				break
			}
			key := int16(binary.BigEndian.Uint16(buf[off+4:]))
			corr := int32(binary.BigEndian.Uint32(buf[off+8:]))
			e := s.byKey[key]
			if e == nil {
				return fmt.Errorf("request of api key %d: not one of the generator's", key)
			}
			if used[e.Kind] == perWrite {
				if err := flush(); err != nil {
					return err
				}
			}
			r := copies[e.Kind][used[e.Kind]]
			used[e.Kind]++
			e.Response.SetCorrelation(r, corr)
			out = append(out, r)
			if len(out) == perWrite {
				if err := flush(); err != nil {
					return err
				}
			}
			off += 4 + size
		}
		if err := flush(); err != nil {
			return err
		}
		have = copy(buf, buf[off:have])
	}
}
