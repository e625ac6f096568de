// Package capture defines what every traffic source yields: the bytes that
// one side of a TCP connection sent, in order, with the bytes it knows it
// missed. Sources (pcap files, eBPF) live in sub-packages. A source never
// interprets the bytes: Kafka is decoded by later stages.
package capture

import (
	"fmt"
	"net/netip"
	"time"
)

// Conn identifies one TCP connection for the life of a source. A source
// hands out one *Conn per connection and the same pointer with every chunk
// of it, so later stages may key maps by it.
type Conn struct {
	// ID is unique within a source; a reused 4-tuple gets a new ID.
	ID uint64
	// A is the endpoint that sent the first segment the source saw (the
	// SYN when the handshake was captured); B is its peer. Which side is
	// the Kafka client is learned from the traffic, not from A and B.
	A, B netip.AddrPort
	// PID and FD are set by live sources (eBPF): the traced process
	// owns end A of the connection, so AtoB is what it wrote and BtoA
	// what it read. Both are 0 for capture files.
	PID uint32
	FD  int32
	// Comm is the traced process's command name when the source saw
	// its first event, for processes gone before /proc is read.
	Comm string
}

func (c *Conn) String() string { return fmt.Sprintf("#%d %s-%s", c.ID, c.A, c.B) }

// Dir is the direction of a chunk within its connection.
type Dir uint8

const (
	AtoB Dir = iota // sent by Conn.A
	BtoA            // sent by Conn.B
)

// Reverse is the other direction.
func (d Dir) Reverse() Dir { return d ^ 1 }

func (d Dir) String() string {
	if d == AtoB {
		return "A->B"
	}
	return "B->A"
}

// Chunk is a run of contiguous bytes sent in one direction of a connection.
type Chunk struct {
	Conn *Conn
	Dir  Dir
	// Time is when the first byte of Data was seen.
	Time time.Time
	// Lost is the number of bytes of this direction the source knows it
	// missed immediately before Data (a capture hole, a truncated packet,
	// an overrun buffer). -1 means an unknown amount: the stream position
	// is lost and the consumer must resynchronise. The first chunk of a
	// direction has Lost -1 when the source did not see that direction
	// from its first byte (a capture started mid-connection), 0 when it
	// did.
	Lost int64
	// Skipped is the number of bytes the source did not copy on purpose,
	// after the Lost ones and just before Data: record data inside a
	// Kafka frame (the records of a v2 record batch, after its header),
	// which no stage needs. Their count is exact, so positions in the
	// stream hold: consumers read them as zeros, and they are not lost.
	Skipped int64
	// Data is valid only until the next call to Source.Next.
	Data []byte
	// Closed reports that this direction ended (FIN, RST, close). Data may
	// be empty.
	Closed bool
}

// Source yields chunks in time order. Next returns io.EOF at the end. A
// live source may return a chunk with a nil Conn: a tick, saying only
// that its clock reached Time (so that unanswered requests can expire
// while the traffic is quiet).
type Source interface {
	Next() (Chunk, error)
	Close() error
}
