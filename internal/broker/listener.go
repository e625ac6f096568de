package broker

import (
	"net"
	"sync"
)

// Every broker listens through a listener of ours, handed to kfake as its
// kfake.ListenFn, so that a broker can be frozen (freeze.go) or stopped and
// started again (replication.go) while kfake goes on believing it listens.
// kfake runs one Accept loop per broker for the cluster's life and ends it
// at the first error, so a stopped listener does not fail Accept: it closes
// its socket (new connections are refused), closes every connection it
// accepted, and holds Accept until it listens again on the same address.

// listeners are one cluster's listeners, by listen address.
type listeners struct {
	mu sync.Mutex
	by map[string]*listener
}

// listen is kfake's ListenFn: SaslHandshake v0 support, a freeze gate, and
// stop and start.
func (ls *listeners) listen(network, address string) (net.Listener, error) {
	ln, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	l := &listener{
		network: network,
		addr:    ln.Addr(),
		ln:      ln,
		gate:    newGate(),
		conns:   make(map[*conn]struct{}),
	}
	l.cond = sync.NewCond(&l.mu)
	ls.mu.Lock()
	ls.by[ln.Addr().String()] = l
	ls.mu.Unlock()
	return l, nil
}

func (ls *listeners) get(addr string) *listener {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.by[addr]
}

// listener is one broker's.
type listener struct {
	network string
	addr    net.Addr // where it listens, also while stopped
	gate    *gate

	mu      sync.Mutex
	cond    *sync.Cond // signalled when stopped or closed changes
	ln      net.Listener
	stopped bool
	closed  bool // by kfake: for good
	conns   map[*conn]struct{}
}

func (l *listener) Addr() net.Addr { return l.addr }

func (l *listener) Accept() (net.Conn, error) {
	for {
		l.mu.Lock()
		for l.stopped && !l.closed {
			l.cond.Wait()
		}
		if l.closed {
			l.mu.Unlock()
			return nil, net.ErrClosed
		}
		ln := l.ln
		l.mu.Unlock()

		c, err := saslV0Listener{ln}.Accept()
		l.mu.Lock()
		switch {
		case err == nil && l.ln == ln && !l.stopped:
			tc := &conn{Conn: c, l: l}
			l.conns[tc] = struct{}{}
			l.mu.Unlock()
			return tc, nil
		case l.closed:
			l.mu.Unlock()
			if c != nil {
				c.Close()
			}
			return nil, net.ErrClosed
		case l.ln != ln || l.stopped:
			// Stopped while accepting: what it accepted, it drops.
			l.mu.Unlock()
			if c != nil {
				c.Close()
			}
			continue
		default:
			l.mu.Unlock()
			return nil, err
		}
	}
}

// Close is kfake's: the cluster is closing.
func (l *listener) Close() error {
	l.gate.set(false) // no connection stays blocked
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	l.cond.Broadcast()
	if l.stopped {
		return nil
	}
	return l.ln.Close()
}

// stop closes the socket and every connection: clients see the broker
// gone, as when its process ends. A frozen broker thaws.
func (l *listener) stop() {
	l.gate.set(false)
	l.mu.Lock()
	if l.stopped || l.closed {
		l.mu.Unlock()
		return
	}
	l.stopped = true
	l.ln.Close()
	conns := make([]*conn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// start listens again where it listened.
func (l *listener) start() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return net.ErrClosed
	}
	if !l.stopped {
		return nil
	}
	ln, err := net.Listen(l.network, l.addr.String())
	if err != nil {
		return err
	}
	l.ln, l.stopped = ln, false
	l.cond.Broadcast()
	return nil
}

// conn is an accepted connection: it passes what it reads on only when its
// broker is not frozen, and its listener knows it until it closes.
type conn struct {
	net.Conn
	l    *listener
	once sync.Once
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.l.gate.wait()
	return n, err
}

func (c *conn) Close() error {
	err := net.ErrClosed // closed before, as a net.Conn says
	c.once.Do(func() {
		err = c.Conn.Close()
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return err
}
