package kafka

import (
	"encoding/binary"
	"time"
)

// frame is one size-delimited Kafka frame, without its 4-byte size. Its
// bytes are only valid during the call that receives it.
type frame struct {
	data       []byte
	start, end time.Time
	// hole is the offset in data of the first byte that was not captured
	// (read as zero), or -1.
	hole int
}

// mark ties a buffer offset to the time its byte was captured.
type mark struct {
	off int
	t   time.Time
}

// stream frames the bytes of one direction of a connection. While synced
// it follows the size prefixes; a hole that swallows a frame's size or
// header, or a start in mid-stream, unsyncs it, and then a judge given by
// the connection (which knows what this direction carries) looks for the
// next frame boundary.
type stream struct {
	synced bool
	// buf holds a partial frame (synced) or bytes being searched.
	buf   []byte
	marks []mark
	holes []hole
	// scan is how far the search for a boundary got in buf; probe what
	// the connection learned of buf while the roles are unknown.
	scan  scan
	probe probe
	// skip counts bytes still to discard of an oversized frame.
	skip int64
	// zero: buf[zero:cap(buf)] was never written since buf was made, so
	// it holds zeros. Zeros for bytes not captured are then not written
	// there: a first write to a page costs the kernel a fault, and a
	// frame with a hole is mostly read before and after it.
	zero int

	maxFrame int
	// growAhead: Options.GrowAhead.
	growAhead bool
	stats     *Stats
	// started: a chunk was fed; clean: the first one began the
	// direction (Lost 0), so its first byte starts a frame.
	started, clean bool
}

func newStream(maxFrame int, stats *Stats) *stream {
	return &stream{maxFrame: maxFrame, stats: stats}
}

// feed adds the bytes of one chunk. lost is the number of bytes missed
// just before data (-1: unknown), elided the number the source skipped on
// purpose after them (record data, see capture.Chunk.Skipped). emit receives each complete frame; find
// locates boundaries while unsynced (nil: keep every byte, the roles are
// not known).
func (s *stream) feed(data []byte, t time.Time, lost, elided int64, find judge, emit func(frame)) {
	if !s.started {
		s.started, s.clean = true, lost == 0
	}
	if lost != 0 {
		s.lose(lost, t, emit)
		// Zeros may have completed a frame, or a candidate.
		if s.synced {
			s.drain(emit, find)
		} else if lost > 0 && len(s.buf) > 0 {
			s.search(find, emit)
		}
	}
	if elided > 0 {
		s.elide(elided, t, find, emit)
	}
	if s.skip > 0 {
		n := int64(len(data))
		if n > s.skip {
			n = s.skip
		}
		s.skip -= n
		s.stats.BytesSkipped += n
		data = data[n:]
	}
	if len(data) == 0 {
		return
	}
	if s.synced && len(s.buf) == 0 {
		data = s.frames(data, t, emit)
		if len(data) == 0 {
			return
		}
		if !s.synced {
			s.append(data, t)
			s.search(find, emit)
			return
		}
	}
	s.append(data, t)
	if s.synced {
		s.drain(emit, find)
	} else {
		s.search(find, emit)
	}
}

// maxReserve bounds how far ahead of the bytes received a stream's buffer
// grows for the frame it reads.
const maxReserve = 4 << 20

// growAheadFrom is how many bytes a direction searched holds before
// Options.GrowAhead reserves ahead: below, growing by 4 copies little.
const growAheadFrom = 64 << 10

func (s *stream) append(data []byte, t time.Time) {
	s.marks = append(s.marks, mark{off: len(s.buf), t: t})
	s.grow(len(data), data)
	s.buf = append(s.buf, data...)
	s.zero = max(s.zero, len(s.buf))
}

// grow makes room for n more bytes in buf, data being the first of them
// when they are at hand (to read a size prefix they complete).
func (s *stream) grow(n int, data []byte) {
	if need := len(s.buf) + n; need > cap(s.buf) {
		// Grow once to the end of the frame being read, or else
		// double: append grows a large slice by a quarter, and
		// copied each partial fetch response over and over. A size
		// prefix reserves at most 4 MiB ahead of the bytes received: a
		// corrupt one would otherwise claim up to MaxFrame at once.
		c := max(need, 2*cap(s.buf))
		if end := s.frameEnd(data); end > need {
			c = min(end, max(c, need+maxReserve))
		} else if !s.synced {
			// Searched bytes that grow are a direction joined in the
			// middle of large frames, held up to maxUndecided:
			// growing by 4 there instead of 2 cuts the copies of the
			// bytes held to a third, each into memory the kernel
			// faults in page by page (a fifth of the page faults of
			// analyze on a mid-stream capture), and leaves at most
			// 3/4 of the buffer unused, which costs no page until
			// written.
			c = max(need, 4*cap(s.buf))
			if s.growAhead && need > growAheadFrom {
				// Held past its first chunks: reserve ahead at
				// once (Options.GrowAhead). A consumer's Fetch
				// response joined in the middle was copied into
				// buffers of 64 KiB, 256 KiB and 1 MiB before its
				// successor, 1.9 MB, had it copied once more.
				c = max(c, need+maxReserve)
			}
		}
		buf := make([]byte, len(s.buf), c)
		copy(buf, s.buf)
		s.buf, s.zero = buf, len(buf)
	}
}

// elide places n bytes the source did not copy on purpose: record data
// inside the frame being read, which the source only skips once it has
// passed the frame's size and header. They are not a hole: the frame
// decodes as whole, its batches counted from their headers, and the
// record bytes, which nothing reads, are not even cleared. A
// stream that is not inside a frame there is out of step with the source
// and resynchronises.
func (s *stream) elide(n int64, t time.Time, find judge, emit func(frame)) {
	s.stats.BytesElided += n
	if s.skip > 0 {
		m := min(n, s.skip)
		s.skip -= m
		if n -= m; n == 0 {
			return
		}
	}
	if !s.synced {
		if len(s.buf) > 0 && n <= int64(s.maxFrame) {
			// Zeros: the search reads every byte.
			s.pad(int(n), t, true)
			s.search(find, emit)
		}
		return
	}
	if len(s.buf) < 4 {
		s.unsync()
		return
	}
	remaining := 4 + int64(int32(binary.BigEndian.Uint32(s.buf))) - int64(len(s.buf))
	fill := min(n, remaining)
	// Inside a frame followed by its size, the bytes are record data
	// that only the batch headers around them delimit: nothing reads
	// them, and they are not cleared (about 16 KiB a batch).
	s.pad(int(fill), t, false)
	s.drain(emit, find)
	if n > fill {
		s.unsync()
	}
}

// nextFrame is how many bytes after those fed the next frame starts, or
// -1 when the stream does not know (searching for a boundary).
func (s *stream) nextFrame() int64 {
	switch {
	case !s.synced:
		return -1
	case s.skip > 0:
		return s.skip
	case len(s.buf) == 0:
		return 0
	case len(s.buf) < 4:
		return -1
	}
	size := int64(int32(binary.BigEndian.Uint32(s.buf)))
	if size < 0 || size > int64(s.maxFrame) {
		return -1
	}
	return 4 + size - int64(len(s.buf))
}

// pad appends n bytes: zeros when zero, else whatever the buffer's
// capacity held there (zeros, or bytes of earlier frames).
func (s *stream) pad(n int, t time.Time, zero bool) {
	s.marks = append(s.marks, mark{off: len(s.buf), t: t})
	s.grow(n, nil)
	end := len(s.buf)
	s.buf = s.buf[:end+n]
	if zero && end < s.zero {
		clear(s.buf[end:min(end+n, s.zero)])
	}
}

// frameEnd is the end in buf of the frame that buf starts with once data
// is appended, when synced (0 otherwise): the size the stream follows.
func (s *stream) frameEnd(data []byte) int {
	if !s.synced || len(s.buf)+len(data) < 4 {
		return 0
	}
	var p [4]byte
	n := copy(p[:], s.buf)
	copy(p[n:], data)
	size := int64(int32(binary.BigEndian.Uint32(p[:])))
	if size < 0 || size > int64(s.maxFrame) {
		return 0
	}
	return 4 + int(size)
}

// frames emits the whole frames at the front of data, read in place, and
// returns what is left (a partial frame). Frames above the cap are skipped.
func (s *stream) frames(data []byte, t time.Time, emit func(frame)) []byte {
	for len(data) >= 4 {
		size := int64(int32(binary.BigEndian.Uint32(data)))
		if size < 0 || size > int64(s.maxFrame) {
			s.oversize(size)
			n := int64(len(data)) - 4
			if n > s.skip {
				n = s.skip
			}
			s.skip -= n
			s.stats.BytesSkipped += 4 + n
			data = data[4+n:]
			if size < 0 {
				return nil
			}
			continue
		}
		if int64(len(data)) < 4+size {
			return data
		}
		emit(frame{data: data[4 : 4+size], start: t, end: t, hole: -1})
		data = data[4+size:]
	}
	return data
}

// oversize handles a size prefix beyond the cap. A negative size is no
// frame at all: the stream lost its boundaries.
func (s *stream) oversize(size int64) {
	if size < 0 {
		s.stats.Resyncs++
		s.synced = false
		return
	}
	s.stats.Oversized++
	s.skip = size
}

// drain emits complete frames from buf while synced.
func (s *stream) drain(emit func(frame), find judge) {
	r := 0
	var clock marksClock
	for s.synced && len(s.buf)-r >= 4 {
		size := int64(int32(binary.BigEndian.Uint32(s.buf[r:])))
		if size < 0 || size > int64(s.maxFrame) {
			s.oversize(size)
			if size < 0 {
				break
			}
			n := int64(len(s.buf)-r) - 4
			if n > s.skip {
				n = s.skip
			}
			s.skip -= n
			s.stats.BytesSkipped += 4 + n
			r += 4 + int(n)
			continue
		}
		end := r + 4 + int(size)
		if end > len(s.buf) {
			break
		}
		f := frame{data: s.buf[r+4 : end], start: clock.at(s.marks, r), end: clock.at(s.marks, end-1), hole: -1}
		if len(s.holes) > 0 {
			if h := s.firstHole(r, end); h >= 0 {
				f.hole = max(h-4, 0)
			}
		}
		emit(f)
		r = end
	}
	s.consume(r)
	if !s.synced {
		s.search(find, emit)
	}
}

// consume drops the first n bytes of buf.
func (s *stream) consume(n int) {
	if n == 0 {
		return
	}
	s.scan.shift(n)
	s.probe.shift(n)
	if n >= len(s.buf) {
		s.buf = s.buf[:0]
		s.marks = s.marks[:0]
		s.holes = s.holes[:0]
		return
	}
	// Keep the time of the first remaining byte.
	keep := 0
	for i, m := range s.marks {
		if m.off <= n {
			keep = i
		}
	}
	s.marks = s.marks[keep:]
	for i := range s.marks {
		s.marks[i].off -= n
		if s.marks[i].off < 0 {
			s.marks[i].off = 0
		}
	}
	s.zero = max(s.zero, len(s.buf))
	s.buf = append(s.buf[:0], s.buf[n:]...)
	holes := s.holes[:0]
	for _, h := range s.holes {
		if h.to > n {
			holes = append(holes, hole{from: max(h.from-n, 0), to: h.to - n})
		}
	}
	s.holes = holes
}

// marksClock reads the capture time of ascending buffer offsets, going on
// through the marks from where the last offset was: a buffer of many small
// chunks holding many frames (a rescan) is not walked from its start for
// each frame.
type marksClock struct{ i int }

// at is the time of the byte at off: that of the last mark at or before it.
func (c *marksClock) at(marks []mark, off int) time.Time {
	for c.i+1 < len(marks) && marks[c.i+1].off <= off {
		c.i++
	}
	if c.i >= len(marks) || marks[c.i].off > off {
		return time.Time{}
	}
	return marks[c.i].t
}

// lose accounts for bytes that were not captured. Inside a frame whose size
// is known they are read as zeros (the frame is marked) and framing goes
// on; when they swallow a size prefix, the stream must resynchronise.
func (s *stream) lose(lost int64, t time.Time, emit func(frame)) {
	s.stats.BytesLost += max(lost, 0)
	if lost > 0 && s.skip > 0 {
		n := min(lost, s.skip)
		s.skip -= n
		lost -= n
		if lost == 0 {
			return
		}
	}
	if lost > 0 && !s.synced && len(s.buf) > 0 && lost <= int64(s.maxFrame) {
		// Still searching: zeros keep every byte at its place, so a
		// frame that began before the hole can still be found.
		s.zeroFill(lost, t)
		return
	}
	if lost < 0 || !s.synced || len(s.buf) < 4 {
		s.unsync()
		return
	}
	total := 4 + int64(int32(binary.BigEndian.Uint32(s.buf)))
	remaining := total - int64(len(s.buf))
	fill := min(lost, remaining)
	s.zeroFill(fill, t)
	lost -= fill
	if lost > 0 {
		// The frame is complete (zero-filled to its end); the next
		// frame's start was lost.
		s.drain(emit, nil)
		s.unsync()
	}
}

func (s *stream) unsync() {
	if s.synced {
		s.stats.Resyncs++
	}
	s.stats.BytesSkipped += int64(len(s.buf))
	s.synced = false
	s.buf = s.buf[:0]
	s.marks = s.marks[:0]
	s.holes = s.holes[:0]
	s.scan = scan{}
	s.probe.reset()
}

// search looks for a frame boundary while unsynced, from where the last
// search stopped.
func (s *stream) search(find judge, emit func(frame)) {
	if find == nil {
		return
	}
	off, v := s.scan.find(s.buf, find)
	switch v {
	case vFrame, vMaybe:
		s.stats.BytesSkipped += int64(off)
		s.consume(off)
		s.synced = true
		s.scan = scan{}
		s.drain(emit, find)
	case vLater:
		// Keep the candidate (or the tail too short to judge); drop
		// what came before it.
		s.stats.BytesSkipped += int64(off)
		s.consume(off)
	case vNone:
		s.stats.BytesSkipped += int64(len(s.buf))
		s.consume(len(s.buf))
	}
}

// rescan searches buf again from its start with another judge (the
// roles were decided).
func (s *stream) rescan(find judge, emit func(frame)) {
	s.scan = scan{}
	s.probe = probe{}
	if !s.synced && len(s.buf) > 0 {
		s.search(find, emit)
	}
}

func (s *stream) zeroFill(n int64, t time.Time) {
	s.holes = append(s.holes, hole{from: len(s.buf), to: len(s.buf) + int(n)})
	s.pad(int(n), t, true)
}

// hole is a zero-filled range of buf.
type hole struct{ from, to int }

// firstHole returns the offset, relative to from, of the first zero-filled
// byte in buf[from:to], or -1.
func (s *stream) firstHole(from, to int) int {
	for _, h := range s.holes {
		if h.to > from && h.from < to {
			return max(h.from, from) - from
		}
	}
	return -1
}
