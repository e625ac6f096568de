package broker

import (
	"fmt"
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

// Freeze stops broker i (in Addrs order) answering, or lets it answer
// again: its port stays open and it accepts connections, but it reads no
// request until it thaws.
func (c *Cluster) Freeze(i int, frozen bool) error {
	l, err := c.listener(i)
	if err != nil {
		return err
	}
	l.gate.set(frozen)
	return nil
}

// listener returns broker i's listener.
func (c *Cluster) listener(i int) (*listener, error) {
	if i < 0 || i >= len(c.addrs) {
		return nil, fmt.Errorf("broker %d: the cluster has brokers 0 to %d", i, len(c.addrs)-1)
	}
	l := c.lns.get(c.addrs[i])
	if l == nil {
		return nil, fmt.Errorf("broker %d (%s): no listener", i, c.addrs[i])
	}
	return l, nil
}
