package pcap

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"time"
)

// The file formats are framed by hand rather than with pcapgo's readers so
// that every error can name the exact byte offset of the record at fault,
// packets can be handed on straight out of the read buffer, and pcapng
// interfaces of different link types can be mixed in one file (dumpcap
// writes such files).

const (
	pcapMagicMicro = 0xa1b2c3d4
	pcapMagicNano  = 0xa1b23c4d
	pcapngMagic    = 0x0a0d0d0a // the section header block type
	pcapngBOM      = 0x1a2b3c4d

	pcapngIDB = 1 // interface description
	pcapngPB  = 2 // obsolete packet block, still written by old tools
	pcapngSPB = 3 // simple packet
	pcapngEPB = 6 // enhanced packet

	// bufSize holds the largest record libpcap writes (MAXIMUM_SNAPLEN,
	// 262144) with room for its block's header and options, so almost
	// every record is read by peeking into the buffer without a copy. No
	// larger: every page of the buffer is written, and on a capture of
	// tens of MB the pages a 1 MiB buffer faulted in were a tenth of
	// analyze's time (a 16 MB capture: 69 ms with 1 MiB, 66 ms with this).
	bufSize = 256<<10 + 8<<10
	// maxRecord bounds one record. Lengths come from the file, so larger
	// ones are read as they arrive, never allocated up front.
	maxRecord = 64 << 20
	// libpcapMaxSnaplen is tcpdump's own limit, which it applies instead of
	// a file's smaller snaplen when reading; so do we.
	libpcapMaxSnaplen = 262144
)

// ErrTruncated is wrapped by the FormatError returned when the file ends in
// the middle of a record, as it does when tcpdump was killed while writing.
// Everything before the cut has been delivered by then.
var ErrTruncated = errors.New("file ends in the middle of a record")

// FormatError reports why a capture file cannot be read any further.
type FormatError struct {
	// Offset is the byte offset in the file (after gzip decompression,
	// for .gz files) of the record or block at fault.
	Offset int64
	// Packet is the 1-based number of the packet record being read, or 0
	// when the fault is in the file header or a non-packet block.
	Packet uint64
	Msg    string
	Err    error // ErrTruncated, or nil
}

func (e *FormatError) Error() string {
	where := fmt.Sprintf("at byte %d", e.Offset)
	if e.Packet > 0 {
		where = fmt.Sprintf("at byte %d (packet %d)", e.Offset, e.Packet)
	}
	kind := "corrupt"
	if e.Err == ErrTruncated {
		kind = "truncated"
	}
	return fmt.Sprintf("%s capture file %s: %s", kind, where, e.Msg)
}

func (e *FormatError) Unwrap() error { return e.Err }

// packet is one captured frame. data is valid until the next call to
// frames.next.
type packet struct {
	data    []byte
	origLen int // length on the wire; len(data) is shorter when truncated
	ts      time.Time
	link    uint32
}

// iface is a pcapng interface: the timestamps of its packets are counted
// in 1/div seconds since offset.
type iface struct {
	link   uint32
	snap   uint32
	div    uint64
	offset int64
}

// frames splits a pcap or pcapng file into packets.
type frames struct {
	br      *bufio.Reader
	off     int64  // bytes consumed so far
	packets uint64 // packet records returned so far
	big     []byte // holds records larger than the read buffer
	be      bool   // the file (or current pcapng section) is big-endian
	ng      bool
	gzipped bool

	// pcap
	nanoFactor int64
	snap       uint32
	link       uint32

	// pcapng: interfaces of the current section
	ifaces []iface
}

func newFrames(r io.Reader) (*frames, error) {
	f := &frames{br: bufio.NewReaderSize(r, bufSize)}
	head, _ := f.br.Peek(4)
	if len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(f.br)
		if err != nil {
			return nil, fmt.Errorf("read gzip header: %w", err)
		}
		f.br = bufio.NewReaderSize(zr, bufSize)
		f.gzipped = true
		head, _ = f.br.Peek(4)
	}
	if len(head) == 0 {
		return nil, errors.New("capture file is empty")
	}
	if len(head) < 4 {
		return nil, f.truncated(0, 0, 4, len(head))
	}
	switch binary.LittleEndian.Uint32(head) {
	case pcapMagicMicro, pcapMagicNano:
		return f, f.pcapHeader(false)
	}
	switch binary.BigEndian.Uint32(head) {
	case pcapMagicMicro, pcapMagicNano:
		return f, f.pcapHeader(true)
	case pcapngMagic:
		f.ng = true
		return f, nil
	}
	return nil, fmt.Errorf("not a pcap or pcapng file: it starts with bytes % x", head)
}

func (f *frames) u16(b []byte) uint16 {
	if f.be {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (f *frames) u32(b []byte) uint32 {
	if f.be {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (f *frames) u64(b []byte) uint64 {
	if f.be {
		return binary.BigEndian.Uint64(b)
	}
	return binary.LittleEndian.Uint64(b)
}

func (f *frames) corrupt(off int64, pkt uint64, format string, args ...any) error {
	return &FormatError{Offset: off, Packet: pkt, Msg: fmt.Sprintf(format, args...)}
}

// truncated reports a file that ends inside the record starting at start:
// at f.off, need more bytes were due and only have were left.
func (f *frames) truncated(start int64, pkt uint64, need, have int) error {
	return &FormatError{
		Offset: start,
		Packet: pkt,
		Msg: fmt.Sprintf("the file ends inside this record: %d bytes were due at byte %d, %d are left (was the capture stopped while writing?)",
			need, f.off, have),
		Err: ErrTruncated,
	}
}

// read consumes n bytes of the record that starts at start. It returns
// io.EOF only when the file ends exactly at f.off; the bytes are valid until
// the next call.
func (f *frames) read(n int, pkt uint64, start int64) ([]byte, error) {
	if n <= bufSize {
		b, err := f.br.Peek(n)
		if len(b) == n {
			f.br.Discard(n) // keeps b in the buffer until the next Peek
			f.off += int64(n)
			return b, nil
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			if len(b) == 0 {
				return nil, io.EOF
			}
			return nil, f.truncated(start, pkt, n, len(b))
		}
		return nil, f.readErr(err)
	}
	// Grow with the bytes that arrive, so a lying length in a small file
	// cannot make us allocate it.
	f.big = f.big[:0]
	for len(f.big) < n {
		chunk := min(n-len(f.big), bufSize)
		have := len(f.big)
		f.big = append(f.big, make([]byte, chunk)...)
		m, err := io.ReadFull(f.br, f.big[have:])
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				if have+m == 0 {
					return nil, io.EOF
				}
				return nil, f.truncated(start, pkt, n, have+m)
			}
			return nil, f.readErr(err)
		}
	}
	f.off += int64(n)
	return f.big, nil
}

func (f *frames) readErr(err error) error {
	return fmt.Errorf("read capture file at byte %d: %w", f.off, err)
}

func (f *frames) pcapHeader(be bool) error {
	f.be = be
	h, err := f.read(24, 0, 0)
	if err == io.EOF {
		err = f.truncated(0, 0, 24, 0)
	}
	if err != nil {
		return err
	}
	f.nanoFactor = 1000
	if f.u32(h) == pcapMagicNano {
		f.nanoFactor = 1
	}
	if major := f.u16(h[4:]); major != 2 {
		return f.corrupt(4, 0, "pcap version %d.%d is not supported (want 2.4)", major, f.u16(h[6:]))
	}
	f.snap = f.u32(h[16:])
	// The upper bits carry the FCS length; frames are cut at the IP length
	// anyway, so a trailing FCS never reaches the payload.
	f.link = f.u32(h[20:]) & 0xffff
	if !supportedLink(f.link) {
		return unsupportedLink(f.link)
	}
	return nil
}

// next returns the next packet, or io.EOF at the end of the file.
func (f *frames) next() (packet, error) {
	if f.ng {
		return f.nextNg()
	}
	return f.nextPcap()
}

func (f *frames) nextPcap() (packet, error) {
	start := f.off
	pkt := f.packets + 1
	h, err := f.read(16, pkt, start)
	if err != nil {
		return packet{}, err
	}
	sec, frac := f.u32(h), f.u32(h[4:])
	capLen, origLen := f.u32(h[8:]), f.u32(h[12:])
	limit := max(f.snap, libpcapMaxSnaplen)
	if capLen > limit || capLen > maxRecord {
		return packet{}, f.corrupt(start, pkt, "captured length %d exceeds the snapshot length %d", capLen, f.snap)
	}
	if capLen > origLen {
		return packet{}, f.corrupt(start, pkt, "captured length %d exceeds the original length %d", capLen, origLen)
	}
	data, err := f.read(int(capLen), pkt, start)
	if err == io.EOF {
		err = f.truncated(start, pkt, int(capLen), 0)
	}
	if err != nil {
		return packet{}, err
	}
	f.packets = pkt
	return packet{
		data:    data,
		origLen: int(origLen),
		ts:      time.Unix(int64(sec), int64(frac)*f.nanoFactor).UTC(),
		link:    f.link,
	}, nil
}

func (f *frames) nextNg() (packet, error) {
	for {
		start := f.off
		pkt := f.packets + 1
		h, err := f.br.Peek(12)
		if len(h) < 12 {
			if len(h) == 0 && (err == io.EOF || err == io.ErrUnexpectedEOF) {
				return packet{}, io.EOF
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return packet{}, f.truncated(start, 0, 12, len(h))
			}
			return packet{}, f.readErr(err)
		}
		typ := binary.LittleEndian.Uint32(h)
		if typ == pcapngMagic {
			// A section header sets the byte order of everything after it,
			// including its own length.
			switch {
			case binary.BigEndian.Uint32(h[8:]) == pcapngBOM:
				f.be = true
			case binary.LittleEndian.Uint32(h[8:]) == pcapngBOM:
				f.be = false
			default:
				return packet{}, f.corrupt(start, 0, "pcapng section header has a bad byte-order magic % x", h[8:12])
			}
		} else if f.off == 0 {
			return packet{}, f.corrupt(0, 0, "pcapng file does not start with a section header")
		}
		typ = f.u32(h)
		blen := f.u32(h[4:])
		if blen < 12 || blen%4 != 0 || blen > maxRecord {
			return packet{}, f.corrupt(start, 0, "pcapng block of type %#x has an invalid length %d", typ, blen)
		}
		isPacket := typ == pcapngEPB || typ == pcapngSPB || typ == pcapngPB
		if !isPacket {
			pkt = 0
		}
		block, err := f.read(int(blen), pkt, start)
		if err != nil {
			return packet{}, err
		}
		if trail := f.u32(block[blen-4:]); trail != blen {
			return packet{}, f.corrupt(start, pkt, "pcapng block length %d does not match its trailing length %d", blen, trail)
		}
		body := block[8 : blen-4]
		switch typ {
		case pcapngMagic:
			if len(body) < 16 {
				return packet{}, f.corrupt(start, 0, "pcapng section header is %d bytes, too short", blen)
			}
			if major := f.u16(body[4:]); major != 1 {
				return packet{}, f.corrupt(start, 0, "pcapng version %d.%d is not supported (want 1.0)", major, f.u16(body[6:]))
			}
			f.ifaces = f.ifaces[:0]
		case pcapngIDB:
			ifc, err := f.interfaceBlock(body, start)
			if err != nil {
				return packet{}, err
			}
			f.ifaces = append(f.ifaces, ifc)
		case pcapngEPB, pcapngPB:
			if len(body) < 20 {
				return packet{}, f.corrupt(start, pkt, "pcapng packet block is %d bytes, too short", blen)
			}
			var id uint32
			if typ == pcapngEPB {
				id = f.u32(body)
			} else {
				id = uint32(f.u16(body))
			}
			if id >= uint32(len(f.ifaces)) {
				return packet{}, f.corrupt(start, pkt, "packet names interface %d, but the section declares %d", id, len(f.ifaces))
			}
			ifc := &f.ifaces[id]
			ts := uint64(f.u32(body[4:]))<<32 | uint64(f.u32(body[8:]))
			capLen, origLen := f.u32(body[12:]), f.u32(body[16:])
			if capLen > uint32(len(body)-20) {
				return packet{}, f.corrupt(start, pkt, "captured length %d exceeds the %d bytes of its block", capLen, len(body)-20)
			}
			f.packets = pkt
			return packet{
				data:    body[20 : 20+capLen],
				origLen: int(max(origLen, capLen)),
				ts:      ifc.time(ts),
				link:    ifc.link,
			}, nil
		case pcapngSPB:
			if len(body) < 4 {
				return packet{}, f.corrupt(start, pkt, "pcapng simple packet block is %d bytes, too short", blen)
			}
			if len(f.ifaces) == 0 {
				return packet{}, f.corrupt(start, pkt, "simple packet block before any interface description")
			}
			ifc := &f.ifaces[0]
			origLen := f.u32(body)
			capLen := min(origLen, uint32(len(body)-4))
			if ifc.snap != 0 {
				capLen = min(capLen, ifc.snap)
			}
			f.packets = pkt
			// Simple packets carry no timestamp.
			return packet{data: body[4 : 4+capLen], origLen: int(origLen), link: ifc.link}, nil
		}
	}
}

func (f *frames) interfaceBlock(body []byte, start int64) (iface, error) {
	if len(body) < 8 {
		return iface{}, f.corrupt(start, 0, "pcapng interface description is too short")
	}
	ifc := iface{link: uint32(f.u16(body)), snap: f.u32(body[4:]), div: 1e6}
	opts := body[8:]
	for len(opts) >= 4 {
		code, n := f.u16(opts), int(f.u16(opts[2:]))
		opts = opts[4:]
		if code == 0 {
			break
		}
		if n > len(opts) {
			return iface{}, f.corrupt(start, 0, "pcapng interface option %d of %d bytes overruns its block", code, n)
		}
		v := opts[:n]
		switch {
		case code == 9 && n >= 1: // if_tsresol
			exp := uint(v[0] & 0x7f)
			if v[0]&0x80 != 0 {
				if exp > 63 {
					return iface{}, f.corrupt(start, 0, "pcapng timestamp resolution 2^-%d is not supported", exp)
				}
				ifc.div = 1 << exp
			} else {
				if exp > 19 {
					return iface{}, f.corrupt(start, 0, "pcapng timestamp resolution 10^-%d is not supported", exp)
				}
				ifc.div = 1
				for range exp {
					ifc.div *= 10
				}
			}
		case code == 14 && n >= 8: // if_tsoffset
			ifc.offset = int64(f.u64(v))
		}
		opts = opts[min(len(opts), (n+3)&^3):]
	}
	return ifc, nil
}

func (ifc *iface) time(ts uint64) time.Time {
	sec, frac := ts/ifc.div, ts%ifc.div
	// frac < div, so the 128-bit quotient fits and Div64 cannot panic.
	hi, lo := bits.Mul64(frac, 1e9)
	ns, _ := bits.Div64(hi, lo, ifc.div)
	return time.Unix(int64(sec)+ifc.offset, int64(ns)).UTC()
}
