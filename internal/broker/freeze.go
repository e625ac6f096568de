package broker

import (
	"fmt"
	"net"
	"sync"
)

// A broker can be frozen, to show how kscope copes with one that stops
// answering while its port stays open (a hung process, a full disk, a
// network that drops packets): it reads nothing more from its clients,
// which are left waiting, until it thaws. The other brokers go on.

// gate holds back what a broker's connections read while it is frozen.
type gate struct {
	mu     sync.Mutex
	cond   *sync.Cond
	frozen bool
}

func newGate() *gate {
	g := &gate{}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *gate) set(frozen bool) {
	g.mu.Lock()
	g.frozen = frozen
	g.mu.Unlock()
	g.cond.Broadcast()
}

func (g *gate) wait() {
	g.mu.Lock()
	for g.frozen {
		g.cond.Wait()
	}
	g.mu.Unlock()
}

// gatedConn passes what it reads on only when its broker is not frozen.
type gatedConn struct {
	net.Conn
	g *gate
}

func (c gatedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.g.wait()
	return n, err
}

// gates are the gates of one cluster's listeners, by listen address.
type gates struct {
	mu sync.Mutex
	by map[string]*gate
}

// listen is kfake's listener for address: SaslHandshake v0 support, and a
// gate.
func (gs *gates) listen(network, address string) (net.Listener, error) {
	ln, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	g := newGate()
	gs.mu.Lock()
	gs.by[ln.Addr().String()] = g
	gs.mu.Unlock()
	return gatedListener{saslV0Listener{ln}, g}, nil
}

type gatedListener struct {
	net.Listener
	g *gate
}

func (l gatedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return gatedConn{c, l.g}, nil
}

func (l gatedListener) Close() error {
	l.g.set(false) // no connection stays blocked
	return l.Listener.Close()
}

// Freeze stops broker i (in Addrs order) answering, or lets it answer
// again: its port stays open and it accepts connections, but it reads no
// request until it thaws.
func (c *Cluster) Freeze(i int, frozen bool) error {
	if i < 0 || i >= len(c.addrs) {
		return fmt.Errorf("broker %d: the cluster has brokers 0 to %d", i, len(c.addrs)-1)
	}
	c.gates.mu.Lock()
	g := c.gates.by[c.addrs[i]]
	c.gates.mu.Unlock()
	if g == nil {
		return fmt.Errorf("broker %d (%s): no listener", i, c.addrs[i])
	}
	g.set(frozen)
	return nil
}
