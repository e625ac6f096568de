package exchange

import (
	"maps"
	"net/netip"
	"slices"
	"time"
	"unsafe"

	"kscope/internal/conn"
)

// Cache lets Build share, between the exchanges it builds, what repeats
// from one to the next: the endpoints' address strings and the Details of
// Produce and Fetch, which a client sends the same each time (acks and
// timeout, max wait and min bytes, its fetch session). A shared value is
// never changed once built. The store keeps many exchanges: one value for
// thousands is less to allocate and less for the collector to mark.
//
// A Cache is used by one goroutine at a time; it holds at most cacheMax
// values of each kind, then starts over.
type Cache struct {
	addrs   map[netip.AddrPort]string
	details map[detailKey]*Detail
	// scratch is the Detail being built (newDetail): copied to the heap
	// only when no shared one equals it.
	scratch Detail
	// meta is the Detail of the last Metadata response built, shared
	// with the next ones while they answer the same (metadata).
	meta *Detail
	// keys and phint: the topic index of the exchange being built
	// (topicList).
	keys  []topicKey
	phint []int
	// procs are the processes Options.Process found, by pid, each
	// asked again only once a second of traffic has passed.
	procs map[uint32]procSeen
}

// procSeen is a process as Options.Process gave it, at the time of the
// exchange that asked.
type procSeen struct {
	at time.Time
	p  conn.Process
}

const cacheMax = 4096

// procAsk is how long, in traffic time, Build uses the process it last
// looked up for the same pid (as long as conn.Resolver trusts its own).
const procAsk = time.Second

// process is look(pid), or what it gave for pid less than procAsk
// before at (the time of the exchange asking; zero: no time, ask).
func (c *Cache) process(pid uint32, at time.Time, look func(uint32) (conn.Process, bool)) (conn.Process, bool) {
	if c == nil {
		return look(pid)
	}
	if s, ok := c.procs[pid]; ok && !at.IsZero() && !at.Before(s.at) && at.Sub(s.at) < procAsk {
		return s.p, true
	}
	p, ok := look(pid)
	switch {
	case !ok:
		delete(c.procs, pid)
	case c.procs == nil:
		c.procs = map[uint32]procSeen{pid: {at, p}}
	default:
		if len(c.procs) >= cacheMax {
			clear(c.procs)
		}
		c.procs[pid] = procSeen{at, p}
	}
	return p, ok
}

// allZero reads a Detail by machine words.
var _ = [1]struct{}{}[unsafe.Sizeof(Detail{})%unsafe.Sizeof(uintptr(0))]

// NewCache returns an empty cache.
func NewCache() *Cache {
	return &Cache{addrs: make(map[netip.AddrPort]string), details: make(map[detailKey]*Detail)}
}

// addr is a.String(), "" when a is not set.
func (c *Cache) addr(a netip.AddrPort) string {
	if c == nil {
		return addr(a.String())
	}
	s, ok := c.addrs[a]
	if !ok {
		if len(c.addrs) >= cacheMax {
			clear(c.addrs)
		}
		s = addr(a.String())
		c.addrs[a] = s
	}
	return s
}

// detailKey is a Detail made only of the fields Produce and Fetch set,
// which are comparable: set says which pointers are non-nil.
type detailKey struct {
	set                                                   uint8
	acks                                                  int16
	timeout, maxWait, minBytes, replicaID, session, throt int32
	replica                                               bool
	txnID, isolation                                      string
}

const (
	keyAcks = 1 << iota
	keyTimeout
	keyMaxWait
	keyMinBytes
	keyReplicaID
	keySession
)

// newDetail is the Detail for Build to fill, which detail then returns
// shared or copied.
func (c *Cache) newDetail() *Detail {
	if c == nil {
		return new(Detail)
	}
	return &c.scratch
}

// detail returns the shared Detail equal to d (and true), or a copy of d
// (shared from then on when it is a Produce, Fetch or Metadata Detail),
// when d is the cache's scratch; else d.
func (c *Cache) detail(d *Detail) (*Detail, bool) {
	if c == nil || d != &c.scratch {
		return d, false
	}
	k, ok := keyOf(d)
	if !ok {
		return c.metadata(d)
	}
	s, shared := c.details[k]
	if !shared {
		s = new(*d)
		if len(c.details) >= cacheMax {
			clear(c.details)
		}
		c.details[k] = s
	}
	c.scratch = Detail{}
	return s, shared
}

// metadata returns the last Metadata response's Detail (and true) when d,
// the scratch, equals it; else a copy of d, which becomes the last when it
// is a Metadata response's. A client asks for metadata every few seconds
// and gets the same brokers, controller and cluster id each time.
func (c *Cache) metadata(d *Detail) (*Detail, bool) {
	defer func() { c.scratch = Detail{} }()
	if !isMetadata(d) {
		return new(*d), false
	}
	if m := c.meta; m != nil && m.ClusterID == d.ClusterID && m.ThrottleMS == d.ThrottleMS &&
		equalPtr(m.ControllerID, d.ControllerID) && slices.Equal(m.Brokers, d.Brokers) && (m.Brokers == nil) == (d.Brokers == nil) &&
		maps.Equal(m.TopicErrors, d.TopicErrors) && (m.TopicErrors == nil) == (d.TopicErrors == nil) {
		return m, true
	}
	c.meta = new(*d)
	return c.meta, false
}

// isMetadata says d sets only what a Metadata response does.
func isMetadata(d *Detail) bool {
	rest := *d
	rest.ClusterID, rest.ControllerID, rest.Brokers, rest.TopicErrors, rest.ThrottleMS = "", nil, nil, nil, 0
	return allZero(&rest) && (d.ControllerID != nil || d.Brokers != nil || d.ClusterID != "")
}

func equalPtr[T comparable](a, b *T) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

// keyOf is d's key, false when d sets a field the key does not hold.
func keyOf(d *Detail) (detailKey, bool) {
	rest := *d
	var k detailKey
	ptr16 := func(p **int16, bit uint8, v *int16) {
		if *p != nil {
			k.set |= bit
			*v = **p
			*p = nil
		}
	}
	ptr32 := func(p **int32, bit uint8, v *int32) {
		if *p != nil {
			k.set |= bit
			*v = **p
			*p = nil
		}
	}
	ptr16(&rest.Acks, keyAcks, &k.acks)
	ptr32(&rest.TimeoutMS, keyTimeout, &k.timeout)
	ptr32(&rest.MaxWaitMS, keyMaxWait, &k.maxWait)
	ptr32(&rest.MinBytes, keyMinBytes, &k.minBytes)
	ptr32(&rest.ReplicaID, keyReplicaID, &k.replicaID)
	ptr32(&rest.SessionID, keySession, &k.session)
	k.throt, rest.ThrottleMS = rest.ThrottleMS, 0
	k.replica, rest.Replica = rest.Replica, false
	k.txnID, rest.TransactionalID = rest.TransactionalID, ""
	k.isolation, rest.IsolationLevel = rest.IsolationLevel, ""
	return k, allZero(&rest)
}

// allZero says every byte of d is zero: every field is nil, zero or an
// empty string without storage. A new field of Detail is then never lost
// in a shared value, only keeps its Detail from being shared.
func allZero(d *Detail) bool {
	words := unsafe.Slice((*uintptr)(unsafe.Pointer(d)), unsafe.Sizeof(*d)/unsafe.Sizeof(uintptr(0)))
	for _, w := range words {
		if w != 0 {
			return false
		}
	}
	return true
}
