package pcap

import (
	"bytes"
	"net/netip"
	"slices"
	"sort"
	"time"

	"kscope/internal/capture"
)

// Sequence numbers are compared as serial numbers (RFC 1982): int32(a-b) is
// the signed distance from b to a, which stays right across the 2^32 wrap.

// endpoint is an address (IPv4 in the first 4 bytes) and a port.
type endpoint [18]byte

// connKey names a 4-tuple regardless of direction: lo is the smaller
// endpoint.
type connKey struct {
	v6     bool
	lo, hi endpoint
}

type conn struct {
	c       *capture.Conn
	aLo     bool // Conn.A is key.lo
	half    [2]half
	done    bool      // both directions ended
	payload bool      // carried at least one byte
	last    time.Time // last packet
}

// half is one direction of a connection.
type half struct {
	started   bool
	syn       bool // the SYN was seen, isn is valid
	isn       uint32
	next      uint32 // sequence number of the next byte to deliver
	midStream bool   // nothing delivered yet and the start was not seen
	lost      int64  // bytes known missing, reported with the next chunk

	ooo      []oooSegment // buffered ahead of next: sorted, disjoint
	oooBytes int

	finSeen bool
	finSeq  uint32
	closed  bool

	ackSeen bool
	acked   uint32 // highest acknowledgment the peer sent for this direction

	// pendIdx is this direction's last chunk in Reader.pending, valid if
	// pendGen is the Reader's gen; a Closed flag is set on it rather than
	// sent as a chunk of its own.
	pendGen uint64
	pendIdx int
}

// oooSegment covers size bytes from seq. data holds the captured ones;
// when it is shorter, the rest was cut by the snapshot length and is lost.
type oooSegment struct {
	seq  uint32
	size int
	data []byte
	t    time.Time
}

func (s *oooSegment) end() uint32 { return s.seq + uint32(s.size) }

// segmentOverhead is charged against MaxBuffered for each buffered segment
// besides its bytes, so a flood of 1-byte segments is bounded too.
const segmentOverhead = 64

// maxBufferedSegments bounds the segments buffered per direction, because
// inserting into the sorted buffer costs time linear in its length; it is
// above what MaxBuffered's default holds in full-size segments.
const maxBufferedSegments = 4096

func cost(s *oooSegment) int { return len(s.data) + segmentOverhead }

// tcp places one segment in its connection and direction.
func (r *Reader) tcp(s *segment, t time.Time) {
	var src, dst endpoint
	copy(src[:], s.src[:])
	copy(dst[:], s.dst[:])
	src[16], src[17] = byte(s.sport>>8), byte(s.sport)
	dst[16], dst[17] = byte(s.dport>>8), byte(s.dport)
	srcLo := bytes.Compare(src[:], dst[:]) < 0
	key := connKey{v6: s.v6, lo: dst, hi: src}
	if srcLo {
		key.lo, key.hi = src, dst
	}
	c := r.last
	if c == nil || key != r.lastKey {
		c = r.conns[key]
	}
	if c != nil && s.flags&flagSYN != 0 && startsNew(c, srcLo, s) {
		r.flush(c, capture.AtoB, t, true)
		r.flush(c, capture.BtoA, t, true)
		c = nil
	}
	if c == nil {
		r.nextID++
		r.stats.Connections++
		c = &conn{
			c:   &capture.Conn{ID: r.nextID, A: addrPort(src, s.v6), B: addrPort(dst, s.v6)},
			aLo: srcLo,
		}
		r.conns[key] = c
	}
	r.lastKey, r.last = key, c
	c.last = t

	d := capture.AtoB
	if srcLo != c.aLo {
		d = capture.BtoA
	}
	if s.flags&flagACK != 0 {
		r.ack(c, d.Reverse(), s.ack, t)
	}
	h := &c.half[d]
	seq := s.seq
	if s.flags&flagSYN != 0 {
		if !h.started {
			h.started, h.syn, h.isn, h.next = true, true, seq, seq+1
		}
		seq++ // the SYN takes a sequence number
	} else if !h.started {
		h.started, h.midStream, h.next = true, true, seq
		r.stats.MidStream++
	}
	if s.flags&flagRST != 0 {
		// Whatever was in flight is not coming: both directions end.
		r.flush(c, d, t, true)
		r.flush(c, d.Reverse(), t, true)
		return
	}
	if s.size > 0 {
		c.payload = true
		r.data(c, d, seq, s.payload, s.size, t)
	}
	if s.flags&flagFIN != 0 {
		r.fin(c, d, seq+uint32(s.size), t)
	}
}

// startsNew reports whether a SYN on an existing 4-tuple opens a new
// connection (port reuse) rather than being a retransmission.
func startsNew(c *conn, srcLo bool, s *segment) bool {
	h := &c.half[0]
	if srcLo != c.aLo {
		h = &c.half[1]
	}
	if h.syn && h.isn == s.seq {
		return false
	}
	if s.flags&flagACK == 0 {
		return true // a fresh SYN never belongs to an open connection
	}
	// A SYN-ACK answers the SYN that already opened this connection,
	// unless the old one is over or this side already chose another ISN.
	return c.done || h.syn
}

func addrPort(e endpoint, v6 bool) netip.AddrPort {
	port := uint16(e[16])<<8 | uint16(e[17])
	if v6 {
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(e[:16])), port)
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(e[:4])), port)
}

// data takes a segment of size bytes at seq, of which payload was captured.
func (r *Reader) data(c *conn, d capture.Dir, seq uint32, payload []byte, size int, t time.Time) {
	h := &c.half[d]
	if h.closed {
		if int32(seq-h.next) < 0 {
			r.stats.RetransmittedBytes += uint64(size)
		}
		return
	}
	if h.finSeen {
		// Nothing follows a FIN.
		room := int64(int32(h.finSeq - seq))
		if room <= 0 {
			return
		}
		if room < int64(size) {
			size = int(room)
			payload = payload[:min(len(payload), size)]
		}
	}
	rel := int32(seq - h.next)
	if rel > 0 {
		r.buffer(c, d, seq, payload, size, t)
		return
	}
	if rel < 0 {
		k := int(-int64(rel))
		if k >= size {
			r.stats.RetransmittedBytes += uint64(size)
			return
		}
		r.stats.RetransmittedBytes += uint64(k)
		payload = payload[min(k, len(payload)):]
		size -= k
	}
	r.deliver(c, d, payload, size, t)
	r.drain(c, d, t)
}

// deliver hands on the next size bytes of a direction, of which data were
// captured.
func (r *Reader) deliver(c *conn, d capture.Dir, data []byte, size int, t time.Time) {
	h := &c.half[d]
	if len(data) > 0 {
		r.emit(c, d, data, t)
	}
	// Bytes cut off by the snapshot length were sent and will not be
	// seen. Say so at once: a frame they end is then complete at this
	// packet's time, not at the next data segment's, which may come
	// seconds later (or never, before a FIN).
	if cut := int64(size - len(data)); cut > 0 {
		h.lost += cut
		r.emit(c, d, nil, t)
	}
	h.next += uint32(size)
}

func (r *Reader) emit(c *conn, d capture.Dir, data []byte, t time.Time) {
	h := &c.half[d]
	lost := h.lost
	r.stats.LostBytes += uint64(lost)
	r.stats.PayloadBytes += uint64(len(data))
	if h.midStream {
		lost = -1
		h.midStream = false
	}
	h.lost = 0
	r.pending = append(r.pending, capture.Chunk{Conn: c.c, Dir: d, Time: t, Lost: lost, Data: data})
	h.pendGen, h.pendIdx = r.gen, len(r.pending)-1
}

// buffer keeps a segment that arrived ahead of a gap. Overlaps with what
// is already buffered are trimmed so that every byte is held once.
func (r *Reader) buffer(c *conn, d capture.Dir, seq uint32, payload []byte, size int, t time.Time) {
	h := &c.half[d]
	r.stats.OutOfOrder++
	end := seq + uint32(size)
	i := sort.Search(len(h.ooo), func(i int) bool { return int32(h.ooo[i].end()-seq) > 0 })
	if i < len(h.ooo) && int32(h.ooo[i].seq-seq) <= 0 {
		// The front is already held.
		e := h.ooo[i].end()
		if int32(end-e) <= 0 {
			r.stats.RetransmittedBytes += uint64(size)
			return
		}
		k := int(e - seq)
		r.stats.RetransmittedBytes += uint64(k)
		payload = payload[min(k, len(payload)):]
		size -= k
		seq = e
		i++
	}
	j := i
	for j < len(h.ooo) && int32(h.ooo[j].seq-end) < 0 {
		if int32(h.ooo[j].end()-end) <= 0 {
			// Wholly covered by the new segment, which replaces it.
			r.stats.RetransmittedBytes += uint64(h.ooo[j].size)
			h.oooBytes -= cost(&h.ooo[j])
			j++
			continue
		}
		// The tail is already held.
		k := int(end - h.ooo[j].seq)
		r.stats.RetransmittedBytes += uint64(k)
		size -= k
		payload = payload[:min(len(payload), size)]
		break
	}
	s := oooSegment{seq: seq, size: size, data: bytes.Clone(payload), t: t}
	h.ooo = slices.Replace(h.ooo, i, j, s)
	h.oooBytes += cost(&s)
	for len(h.ooo) > 0 && (h.oooBytes > r.maxBuf || len(h.ooo) > maxBufferedSegments) {
		r.skipTo(c, d, h.ooo[0].seq, t)
	}
	r.resolveAcked(c, d, t)
}

// drain delivers the buffered segments that the stream has reached, and
// ends the direction when it reaches the FIN.
func (r *Reader) drain(c *conn, d capture.Dir, t time.Time) {
	h := &c.half[d]
	n := 0
	for ; n < len(h.ooo); n++ {
		s := &h.ooo[n]
		rel := int32(s.seq - h.next)
		if rel > 0 {
			break
		}
		h.oooBytes -= cost(s)
		data, size := s.data, s.size
		if rel < 0 {
			k := int(-int64(rel))
			if k >= size {
				r.stats.RetransmittedBytes += uint64(size)
				continue
			}
			r.stats.RetransmittedBytes += uint64(k)
			data = data[min(k, len(data)):]
			size -= k
		}
		r.deliver(c, d, data, size, s.t)
	}
	if n > 0 {
		h.ooo = slices.Delete(h.ooo, 0, n)
	}
	if h.finSeen && !h.closed && int32(h.next-h.finSeq) >= 0 {
		r.closeDir(c, d, t)
	}
}

// skipTo gives up the gap before seq: its bytes are lost.
func (r *Reader) skipTo(c *conn, d capture.Dir, seq uint32, t time.Time) {
	h := &c.half[d]
	if gap := int32(seq - h.next); gap > 0 {
		h.lost += int64(gap)
		h.next = seq
	}
	r.drain(c, d, t)
}

// ack records an acknowledgment of direction d's data.
func (r *Reader) ack(c *conn, d capture.Dir, ack uint32, t time.Time) {
	h := &c.half[d]
	if !h.ackSeen || int32(ack-h.acked) > 0 {
		h.acked, h.ackSeen = ack, true
	}
	r.resolveAcked(c, d, t)
}

// resolveAcked gives up gaps the peer has acknowledged: it received those
// bytes, so they will not be sent again, and the capture missed them.
func (r *Reader) resolveAcked(c *conn, d capture.Dir, t time.Time) {
	h := &c.half[d]
	if !h.ackSeen || h.closed {
		return
	}
	for len(h.ooo) > 0 && int32(h.acked-h.ooo[0].seq) >= 0 {
		r.skipTo(c, d, h.ooo[0].seq, t)
	}
	// The FIN takes a sequence number, so acking it acks finSeq+1.
	if h.finSeen && !h.closed && int32(h.acked-h.finSeq) > 0 {
		r.skipTo(c, d, h.finSeq, t)
	}
}

func (r *Reader) fin(c *conn, d capture.Dir, seq uint32, t time.Time) {
	h := &c.half[d]
	if h.closed || h.finSeen {
		return
	}
	h.finSeen, h.finSeq = true, seq
	// Buffered bytes past the FIN cannot be part of the stream.
	for len(h.ooo) > 0 {
		s := &h.ooo[len(h.ooo)-1]
		room := int64(int32(seq - s.seq))
		if room >= int64(s.size) {
			break
		}
		h.oooBytes -= cost(s)
		if room <= 0 {
			h.ooo = h.ooo[:len(h.ooo)-1]
			continue
		}
		s.size = int(room)
		s.data = s.data[:min(len(s.data), s.size)]
		h.oooBytes += cost(s)
		break
	}
	r.drain(c, d, t)
	r.resolveAcked(c, d, t)
}

// flush delivers what direction d has buffered, reporting the gaps as lost.
// If end is set the direction is over (RST, port reuse) and is closed;
// otherwise (end of file) it is closed only if its FIN was reached.
func (r *Reader) flush(c *conn, d capture.Dir, t time.Time, end bool) {
	h := &c.half[d]
	if h.closed {
		return
	}
	for len(h.ooo) > 0 {
		r.skipTo(c, d, h.ooo[0].seq, t)
	}
	if h.finSeen && !h.closed {
		r.skipTo(c, d, h.finSeq, t)
	}
	if h.closed {
		return
	}
	if end {
		r.closeDir(c, d, t)
		return
	}
	if h.lost > 0 {
		r.emit(c, d, nil, t)
	}
}

// closeDir ends direction d, reporting any bytes still known lost.
func (r *Reader) closeDir(c *conn, d capture.Dir, t time.Time) {
	h := &c.half[d]
	h.closed = true
	h.ooo, h.oooBytes = nil, 0
	if h.lost != 0 || h.pendGen != r.gen {
		r.emit(c, d, nil, t)
	}
	r.pending[h.pendIdx].Closed = true
	if c.half[d.Reverse()].closed {
		c.done = true
	}
}
