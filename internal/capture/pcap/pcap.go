// Package pcap reads the TCP streams in a capture file (pcap or pcapng, as
// written by tcpdump, dumpcap and Wireshark, optionally gzipped) and yields
// them as capture.Chunks: each direction of each connection in sequence
// order, every byte once, retransmissions and overlaps trimmed, reordered
// segments put back in order.
//
// It must never guess missing bytes. A hole in the capture (packets the
// kernel dropped, a snapshot length that cut packets short, a gap that never
// filled) is reported in Chunk.Lost with the exact number of bytes the
// sequence numbers prove missing, or -1 when nothing can be proved (a
// direction whose start was not captured). The bytes are never filled in,
// and data after a hole is never presented as if it followed on from the data
// before it.
package pcap

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"kscope/internal/capture"
)

// DefaultMaxBuffered is the default for Options.MaxBuffered: a few windows'
// worth of a fast connection, enough to ride out ordinary reordering.
const DefaultMaxBuffered = 4 << 20

// Options tune a Reader. The zero value is ready to use.
type Options struct {
	// MaxBuffered bounds the memory held for one direction of a
	// connection while out-of-order segments wait for a gap before them to
	// fill. Past it (or past 4096 segments) the oldest gap is given up
	// and reported as lost. 0 means DefaultMaxBuffered.
	MaxBuffered int
}

// Stats counts what a Reader saw. Byte counts are TCP payload bytes.
type Stats struct {
	Packets     uint64 // packet records in the file
	TCPSegments uint64 // packets that carried a TCP segment
	Skipped     uint64 // packets that were not TCP over IP, or too damaged to place; includes Fragments
	Fragments   uint64 // non-first IP fragments: they carry no TCP header to place them by
	Truncated   uint64 // packets cut short by the snapshot length (captured < original length)
	Connections uint64 // distinct capture.Conns handed out
	MidStream   uint64 // directions whose start was not captured (their first chunk has Lost -1)
	OutOfOrder  uint64 // segments that arrived ahead of a gap and were buffered

	PayloadBytes       uint64 // bytes delivered in chunks
	LostBytes          uint64 // bytes reported missing in Chunk.Lost
	RetransmittedBytes uint64 // bytes seen again (retransmission, overlap, duplicate capture) and dropped
}

// Add adds o's counts to s: the stats of several files.
func (s *Stats) Add(o Stats) {
	s.Packets += o.Packets
	s.TCPSegments += o.TCPSegments
	s.Skipped += o.Skipped
	s.Fragments += o.Fragments
	s.Truncated += o.Truncated
	s.Connections += o.Connections
	s.MidStream += o.MidStream
	s.OutOfOrder += o.OutOfOrder
	s.PayloadBytes += o.PayloadBytes
	s.LostBytes += o.LostBytes
	s.RetransmittedBytes += o.RetransmittedBytes
}

// Reader is a capture.Source over one capture file. It is not safe for
// concurrent use.
type Reader struct {
	frames  *frames
	file    io.Closer // set by Open
	name    string
	maxBuf  int
	stats   Stats
	seg     segment // reused for every packet
	conns   map[connKey]*conn
	lastKey connKey // consecutive packets mostly belong to one connection
	last    *conn
	nextID  uint64
	now     time.Time // latest packet time seen
	sweepAt time.Time
	// sinceSweep counts packets since the last sweep; a sweep waits for
	// as many packets as there are connections, so that its cost is
	// constant per packet whatever the timestamps say.
	sinceSweep int

	// pending holds the chunks produced by the current packet (or the
	// final flush); they are handed out before the next packet is read,
	// which is what lets Data point into the read buffer.
	pending []capture.Chunk
	head    int
	gen     uint64 // incremented whenever pending restarts
	err     error  // sticky: io.EOF or the error that stopped the reader
}

var _ capture.Source = (*Reader)(nil)

var errClosed = errors.New("pcap: Next called after Close")

// Open opens a capture file. The format (pcap in either byte order, with
// micro- or nanosecond timestamps, or pcapng; optionally gzipped) is found
// from its first bytes.
func Open(path string, opts Options) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := newReader(f, opts, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.file = f
	return r, nil
}

// NewReader reads a capture file from r; see Open.
func NewReader(r io.Reader, opts Options) (*Reader, error) {
	return newReader(r, opts, "")
}

func newReader(r io.Reader, opts Options, name string) (*Reader, error) {
	fr, err := newFrames(r)
	if err != nil {
		return nil, named(name, err)
	}
	maxBuf := opts.MaxBuffered
	if maxBuf <= 0 {
		maxBuf = DefaultMaxBuffered
	}
	return &Reader{
		frames: fr,
		name:   name,
		maxBuf: maxBuf,
		conns:  make(map[connKey]*conn),
	}, nil
}

func named(name string, err error) error {
	if name == "" {
		return err
	}
	return fmt.Errorf("%s: %w", name, err)
}

// Next returns the next chunk, in the order the packets that complete them
// appear in the file. At the end of the file it first hands out what was
// still buffered (with Lost for gaps that never filled), then io.EOF.
func (r *Reader) Next() (capture.Chunk, error) {
	for {
		if r.head < len(r.pending) {
			c := r.pending[r.head]
			r.pending[r.head] = capture.Chunk{} // let buffered data go
			r.head++
			return c, nil
		}
		r.pending, r.head = r.pending[:0], 0
		r.gen++
		if r.err != nil {
			return capture.Chunk{}, r.err
		}
		p, err := r.frames.next()
		switch {
		case err == io.EOF:
			r.flushAll()
			r.err = io.EOF
		case err != nil:
			r.err = named(r.name, err)
		default:
			r.packet(&p)
		}
	}
}

// Stats reports what was read so far.
func (r *Reader) Stats() Stats { return r.stats }

// Close releases the file opened by Open. It does not close a reader given
// to NewReader.
func (r *Reader) Close() error {
	if r.err == nil || r.err == io.EOF {
		r.err = errClosed
	}
	r.pending, r.head = nil, 0
	r.conns, r.last = nil, nil
	if r.file != nil {
		f := r.file
		r.file = nil
		return f.Close()
	}
	return nil
}

func (r *Reader) packet(p *packet) {
	r.stats.Packets++
	if p.ts.After(r.now) {
		r.now = p.ts
	}
	cut := p.origLen - len(p.data)
	if cut > 0 {
		r.stats.Truncated++
	}
	if !supportedLink(p.link) {
		// Only pcapng gets here: a pcap file's single link type is
		// checked with its header.
		r.err = named(r.name, fmt.Errorf("packet %d: %w", r.frames.packets, unsupportedLink(p.link)))
		return
	}
	switch decode(p.link, p.data, cut, &r.seg) {
	case notTCP:
		r.stats.Skipped++
		return
	case isFragment:
		r.stats.Fragments++
		r.stats.Skipped++
		return
	}
	r.stats.TCPSegments++
	r.tcp(&r.seg, p.ts)
	r.sinceSweep++
	if r.now.Sub(r.sweepAt) > sweepEvery && r.sinceSweep >= len(r.conns) {
		r.sweep()
	}
}

// Connections that ended are kept a while so that their stragglers (the
// last ACK, retransmitted FINs) are recognised rather than taken for new
// mid-stream connections; after that they are forgotten to bound memory on
// long captures. Time is capture time.
const (
	sweepEvery = 30 * time.Second
	// closedLinger is longer than any TIME_WAIT (Linux: 60s; 2*MSL: 4m
	// at most on old stacks, but stragglers come within seconds).
	closedLinger = 2 * time.Minute
	// idleEmpty forgets connections that never carried a byte, such as
	// unanswered SYNs of a port scan.
	idleEmpty = 10 * time.Minute
)

func (r *Reader) sweep() {
	r.sweepAt, r.sinceSweep = r.now, 0
	for k, c := range r.conns {
		idle := r.now.Sub(c.last)
		if (c.done && idle > closedLinger) || (!c.payload && idle > idleEmpty) {
			delete(r.conns, k)
		}
	}
	r.last = nil
}

// flushAll ends the file: buffered data is delivered with its gaps
// reported as lost. Connections are flushed in the order they started, so
// the output does not depend on map order.
func (r *Reader) flushAll() {
	all := make([]*conn, 0, len(r.conns))
	for _, c := range r.conns {
		all = append(all, c)
	}
	slices.SortFunc(all, func(a, b *conn) int { return cmp.Compare(a.c.ID, b.c.ID) })
	for _, c := range all {
		r.flush(c, capture.AtoB, r.now, false)
		r.flush(c, capture.BtoA, r.now, false)
	}
	clear(r.conns)
	r.last = nil
}
