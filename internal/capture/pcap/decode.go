package pcap

import (
	"encoding/binary"
	"fmt"
)

// Link types (https://www.tcpdump.org/linktypes.html).
const (
	linkNull     = 0   // BSD loopback: 4-byte address family in host order
	linkEthernet = 1   //
	linkRawOld   = 12  // raw IP on some BSDs
	linkRawAlt   = 14  // raw IP on others
	linkRaw      = 101 // raw IP
	linkLoop     = 108 // OpenBSD loopback: family in network order
	linkSLL      = 113 // Linux cooked, tcpdump -i any before libpcap 1.10
	linkIPv4     = 228
	linkIPv6     = 229
	linkSLL2     = 276 // Linux cooked v2, tcpdump -i any since libpcap 1.10
)

func supportedLink(l uint32) bool {
	switch l {
	case linkNull, linkEthernet, linkRawOld, linkRawAlt, linkRaw, linkLoop, linkSLL, linkIPv4, linkIPv6, linkSLL2:
		return true
	}
	return false
}

func unsupportedLink(l uint32) error {
	return fmt.Errorf("capture link type %d is not supported (want Ethernet, Linux cooked, loopback or raw IP): capture on an Ethernet interface, lo or \"any\"", l)
}

// What decode made of a packet.
type verdict uint8

const (
	isTCP      verdict = iota
	notTCP             // another protocol, or too damaged to find TCP in
	isFragment         // a non-first IP fragment: no TCP header to go by
)

// segment is the part of a TCP packet that reassembly needs.
type segment struct {
	v6       bool
	src, dst [16]byte // IPv4 addresses use the first 4 bytes
	sport    uint16
	dport    uint16
	seq, ack uint32
	flags    uint8
	// payload is what was captured; size is what the IP header says was
	// sent. They differ when snaplen cut the packet.
	payload []byte
	size    int
}

const (
	flagFIN = 0x01
	flagSYN = 0x02
	flagRST = 0x04
	flagACK = 0x10
)

// decode finds the TCP segment in a frame. cut is the number of bytes of
// the frame that were not captured. It never allocates: this runs once per
// packet.
func decode(link uint32, b []byte, cut int, s *segment) verdict {
	var ipv byte // 4 or 6 as told by the link layer; 0: read the IP header
	switch link {
	case linkEthernet:
		if len(b) < 14 {
			return notTCP
		}
		et := binary.BigEndian.Uint16(b[12:])
		b = b[14:]
		return decodeEther(et, b, cut, s)
	case linkSLL:
		if len(b) < 16 {
			return notTCP
		}
		return decodeEther(binary.BigEndian.Uint16(b[14:]), b[16:], cut, s)
	case linkSLL2:
		if len(b) < 20 {
			return notTCP
		}
		return decodeEther(binary.BigEndian.Uint16(b), b[20:], cut, s)
	case linkNull, linkLoop:
		if len(b) < 4 {
			return notTCP
		}
		// The family is in the byte order of the machine that wrote the
		// file (network order for LOOP), and AF_INET6 differs between
		// BSDs; both orders of every known value are tried.
		fam := binary.LittleEndian.Uint32(b)
		if fam > 0xffff {
			fam = binary.BigEndian.Uint32(b)
		}
		switch fam {
		case 2:
			ipv = 4
		case 10, 24, 28, 30:
			ipv = 6
		default:
			return notTCP
		}
		b = b[4:]
	case linkRaw, linkRawOld, linkRawAlt:
	case linkIPv4:
		ipv = 4
	case linkIPv6:
		ipv = 6
	default:
		return notTCP
	}
	if len(b) == 0 {
		return notTCP
	}
	if ipv == 0 {
		ipv = b[0] >> 4
	}
	switch ipv {
	case 4:
		return decodeIPv4(b, cut, s)
	case 6:
		return decodeIPv6(b, cut, s)
	}
	return notTCP
}

func decodeEther(et uint16, b []byte, cut int, s *segment) verdict {
	// 802.1Q, 802.1ad and the old QinQ tag; stacked tags are peeled one by
	// one, each a bounded step forward.
	for et == 0x8100 || et == 0x88a8 || et == 0x9100 {
		if len(b) < 4 {
			return notTCP
		}
		et = binary.BigEndian.Uint16(b[2:])
		b = b[4:]
	}
	switch et {
	case 0x0800:
		return decodeIPv4(b, cut, s)
	case 0x86dd:
		return decodeIPv6(b, cut, s)
	}
	return notTCP
}

func decodeIPv4(b []byte, cut int, s *segment) verdict {
	if len(b) < 20 || b[0]>>4 != 4 {
		return notTCP
	}
	hl := int(b[0]&0x0f) * 4
	if hl < 20 || len(b) < hl {
		return notTCP
	}
	total := int(binary.BigEndian.Uint16(b[2:]))
	if total == 0 {
		// Segmentation offload hands the capture oversized packets with
		// a zero length; the frame itself is then the packet.
		total = len(b) + cut
	}
	// The IP length is the truth about what was sent, except that it
	// cannot exceed the frame: a longer one is damage, not lost bytes.
	total = min(total, len(b)+cut)
	if total < hl {
		return notTCP
	}
	if binary.BigEndian.Uint16(b[6:])&0x1fff != 0 {
		return isFragment
	}
	if b[9] != 6 {
		return notTCP
	}
	s.v6 = false
	s.src, s.dst = [16]byte{}, [16]byte{}
	copy(s.src[:4], b[12:16])
	copy(s.dst[:4], b[16:20])
	// A first fragment holds the TCP header and the start of the payload;
	// the size the IP header gives is then only that part, and the rest
	// shows up as a gap before the next segment.
	return decodeTCP(b[hl:min(len(b), total)], total-hl, s)
}

func decodeIPv6(b []byte, cut int, s *segment) verdict {
	if len(b) < 40 || b[0]>>4 != 6 {
		return notTCP
	}
	total := 40 + int(binary.BigEndian.Uint16(b[4:]))
	if total == 40 {
		// A jumbogram or an offloaded packet; take the frame's length.
		total = len(b) + cut
	}
	total = min(total, len(b)+cut)
	nh := b[6]
	off := 40
	// Each extension header moves off forward by at least 8 bytes, and
	// off is bounded by len(b), so the walk ends.
	for nh != 6 {
		if off+8 > len(b) {
			return notTCP
		}
		switch nh {
		case 0, 43, 60, 135, 139, 140: // hop-by-hop, routing, destination, mobility, HIP, shim6
			nh = b[off]
			off += (int(b[off+1]) + 1) * 8
		case 51: // AH counts in 4-byte units, less 2
			nh = b[off]
			off += (int(b[off+1]) + 2) * 4
		case 44: // fragment
			if binary.BigEndian.Uint16(b[off+2:])&0xfff8 != 0 {
				return isFragment
			}
			nh = b[off]
			off += 8
		default:
			return notTCP
		}
	}
	if off > len(b) || off > total {
		return notTCP
	}
	s.v6 = true
	copy(s.src[:], b[8:24])
	copy(s.dst[:], b[24:40])
	return decodeTCP(b[off:min(len(b), total)], total-off, s)
}

// decodeTCP parses a TCP header in b, the captured part of a segment of
// size bytes (header included).
func decodeTCP(b []byte, size int, s *segment) verdict {
	if len(b) < 20 {
		return notTCP
	}
	hl := int(b[12]>>4) * 4
	if hl < 20 || hl > len(b) || hl > size {
		return notTCP
	}
	s.sport = binary.BigEndian.Uint16(b)
	s.dport = binary.BigEndian.Uint16(b[2:])
	s.seq = binary.BigEndian.Uint32(b[4:])
	s.ack = binary.BigEndian.Uint32(b[8:])
	s.flags = b[13]
	s.payload = b[hl:]
	s.size = size - hl
	return isTCP
}
