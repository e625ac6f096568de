package pcap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"kscope/internal/capture"
)

// The tests describe TCP conversations between a client and a server with
// sequence numbers relative to each side's ISN, turn them into frames of
// some link type with gopacket's layers, and write those as pcap or pcapng.

type side int

const (
	cli side = 0
	srv side = 1
)

var epoch = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// tpkt is one TCP packet of a test conversation.
type tpkt struct {
	src, dst netip.AddrPort
	flags    string // S A F R
	seq, ack uint32
	data     string
	cut      int // bytes the snapshot length cut off the end of the frame
	at       time.Time
}

// conv builds a conversation between cli and srv.
type conv struct {
	ep    [2]netip.AddrPort
	isn   [2]uint32
	pkts  []tpkt
	pause time.Duration // added to the time of later packets
}

// wait lets d pass before the next packet.
func (c *conv) wait(d time.Duration) { c.pause += d }

func newConv(client, server string, isnCli, isnSrv uint32) *conv {
	return &conv{
		ep:  [2]netip.AddrPort{netip.MustParseAddrPort(client), netip.MustParseAddrPort(server)},
		isn: [2]uint32{isnCli, isnSrv},
	}
}

type opt func(c *conv, p *tpkt)

// ackAt makes the packet acknowledge the peer's stream up to offset off.
func ackAt(off int) opt {
	return func(c *conv, p *tpkt) {
		from := cli
		if p.src == c.ep[srv] {
			from = srv
		}
		p.ack = c.isn[1-from] + 1 + uint32(off)
	}
}

// cutBy truncates the captured frame by n bytes.
func cutBy(n int) opt { return func(_ *conv, p *tpkt) { p.cut = n } }

// add appends a packet from one side; off is the stream offset of its
// first data byte (ignored for a SYN, which carries the ISN).
func (c *conv) add(from side, flags string, off int, data string, opts ...opt) {
	p := tpkt{
		src:   c.ep[from],
		dst:   c.ep[1-from],
		flags: flags,
		data:  data,
		seq:   c.isn[from] + 1 + uint32(off),
		at:    epoch.Add(c.pause + time.Duration(len(c.pkts))*time.Millisecond),
	}
	if strings.Contains(flags, "S") {
		p.seq = c.isn[from]
	}
	if strings.Contains(flags, "A") {
		p.ack = c.isn[1-from] + 1
	}
	for _, o := range opts {
		o(c, &p)
	}
	c.pkts = append(c.pkts, p)
}

func (c *conv) handshake() {
	c.add(cli, "S", 0, "")
	c.add(srv, "SA", 0, "")
	c.add(cli, "A", 0, "")
}

// ipPacket serializes the IP and TCP headers and payload of p.
func ipPacket(t testing.TB, p tpkt) []byte {
	t.Helper()
	tcp := &layers.TCP{
		SrcPort: layers.TCPPort(p.src.Port()),
		DstPort: layers.TCPPort(p.dst.Port()),
		Seq:     p.seq,
		Ack:     p.ack,
		SYN:     strings.Contains(p.flags, "S"),
		ACK:     strings.Contains(p.flags, "A"),
		FIN:     strings.Contains(p.flags, "F"),
		RST:     strings.Contains(p.flags, "R"),
		PSH:     p.data != "",
		Window:  65535,
	}
	var ip gopacket.SerializableLayer
	if p.src.Addr().Is4() {
		ip4 := &layers.IPv4{
			Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, Flags: layers.IPv4DontFragment,
			SrcIP: net.IP(p.src.Addr().AsSlice()), DstIP: net.IP(p.dst.Addr().AsSlice()),
		}
		tcp.SetNetworkLayerForChecksum(ip4)
		ip = ip4
	} else {
		ip6 := &layers.IPv6{
			Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
			SrcIP: net.IP(p.src.Addr().AsSlice()), DstIP: net.IP(p.dst.Addr().AsSlice()),
		}
		tcp.SetNetworkLayerForChecksum(ip6)
		ip = ip6
	}
	return serialize(t, ip, tcp, gopacket.Payload(p.data))
}

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(buf.Bytes())
}

// linkSpec frames IP packets for one link type.
type linkSpec struct {
	name string
	link layers.LinkType
	only int // 4 or 6 if the link type carries one IP version only
	wrap func(t testing.TB, ip []byte) []byte
}

func ipVersion(ip []byte) int { return int(ip[0] >> 4) }

func etherType(ip []byte) layers.EthernetType {
	if ipVersion(ip) == 6 {
		return layers.EthernetTypeIPv6
	}
	return layers.EthernetTypeIPv4
}

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
)

var linkSpecs = []linkSpec{
	{name: "ethernet", link: layers.LinkTypeEthernet, wrap: func(t testing.TB, ip []byte) []byte {
		return serialize(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: etherType(ip)}, gopacket.Payload(ip))
	}},
	{name: "vlan-qinq", link: layers.LinkTypeEthernet, wrap: func(t testing.TB, ip []byte) []byte {
		return serialize(t,
			&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeQinQ},
			&layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: 42, Type: etherType(ip)},
			gopacket.Payload(ip))
	}},
	{name: "sll", link: layers.LinkTypeLinuxSLL, wrap: func(_ testing.TB, ip []byte) []byte {
		h := make([]byte, 16)
		binary.BigEndian.PutUint16(h[0:], 4)   // sent by us
		binary.BigEndian.PutUint16(h[2:], 772) // ARPHRD_LOOPBACK
		binary.BigEndian.PutUint16(h[4:], 6)
		binary.BigEndian.PutUint16(h[14:], uint16(etherType(ip)))
		return append(h, ip...)
	}},
	{name: "sll2", link: layers.LinkTypeLinuxSLL2, wrap: func(_ testing.TB, ip []byte) []byte {
		h := make([]byte, 20)
		binary.BigEndian.PutUint16(h[0:], uint16(etherType(ip)))
		binary.BigEndian.PutUint32(h[4:], 1)   // ifindex
		binary.BigEndian.PutUint16(h[8:], 772) // ARPHRD_LOOPBACK
		h[10], h[11] = 0, 6
		return append(h, ip...)
	}},
	{name: "null", link: layers.LinkTypeNull, wrap: func(t testing.TB, ip []byte) []byte {
		fam := layers.ProtocolFamilyIPv4
		if ipVersion(ip) == 6 {
			fam = layers.ProtocolFamilyIPv6Darwin
		}
		return serialize(t, &layers.Loopback{Family: fam}, gopacket.Payload(ip))
	}},
	{name: "null-bigendian", link: layers.LinkTypeNull, wrap: func(_ testing.TB, ip []byte) []byte {
		h := []byte{0, 0, 0, 2}
		if ipVersion(ip) == 6 {
			h[3] = 24 // AF_INET6 on NetBSD and OpenBSD
		}
		return append(h, ip...)
	}},
	{name: "loop", link: layers.LinkTypeLoop, wrap: func(_ testing.TB, ip []byte) []byte {
		h := []byte{0, 0, 0, 2}
		if ipVersion(ip) == 6 {
			h[3] = 24
		}
		return append(h, ip...)
	}},
	{name: "raw", link: layers.LinkTypeRaw, wrap: rawIP},
	{name: "raw12", link: 12, wrap: rawIP},
	{name: "raw14", link: 14, wrap: rawIP},
	{name: "ipv4", link: layers.LinkTypeIPv4, only: 4, wrap: rawIP},
	{name: "ipv6", link: layers.LinkTypeIPv6, only: 6, wrap: rawIP},
}

func rawIP(_ testing.TB, ip []byte) []byte { return bytes.Clone(ip) }

var ethernet = linkSpecs[0]

// frame is one captured packet.
type frame struct {
	at      time.Time
	data    []byte // as captured
	origLen int
}

func (c *conv) frames(t testing.TB, l linkSpec) []frame {
	t.Helper()
	var fs []frame
	for _, p := range c.pkts {
		b := l.wrap(t, ipPacket(t, p))
		fs = append(fs, frame{at: p.at, data: b[:len(b)-p.cut], origLen: len(b)})
	}
	return fs
}

// fileFormat writes frames as a capture file.
type fileFormat struct {
	name  string
	write func(t testing.TB, link layers.LinkType, fs []frame) []byte
}

var fileFormats = []fileFormat{
	{"pcap-le-micro", func(t testing.TB, l layers.LinkType, fs []frame) []byte {
		return writePcap(t, binary.LittleEndian, false, l, fs)
	}},
	{"pcap-be-micro", func(t testing.TB, l layers.LinkType, fs []frame) []byte {
		return writePcap(t, binary.BigEndian, false, l, fs)
	}},
	{"pcap-le-nano", func(t testing.TB, l layers.LinkType, fs []frame) []byte {
		return writePcap(t, binary.LittleEndian, true, l, fs)
	}},
	{"pcap-be-nano", func(t testing.TB, l layers.LinkType, fs []frame) []byte {
		return writePcap(t, binary.BigEndian, true, l, fs)
	}},
	{"pcapgo", writePcapgo},
	{"pcapng", writePcapng},
}

var pcapLE = fileFormats[0]

// writePcap writes a classic pcap file by hand: pcapgo writes only
// little-endian files.
func writePcap(t testing.TB, order binary.ByteOrder, nano bool, link layers.LinkType, fs []frame) []byte {
	t.Helper()
	var b bytes.Buffer
	h := make([]byte, 24)
	order.PutUint32(h[0:], pcapMagicMicro)
	if nano {
		order.PutUint32(h[0:], pcapMagicNano)
	}
	order.PutUint16(h[4:], 2)
	order.PutUint16(h[6:], 4)
	order.PutUint32(h[16:], 262144)
	order.PutUint32(h[20:], uint32(link))
	b.Write(h)
	for _, f := range fs {
		r := make([]byte, 16)
		frac := f.at.Nanosecond() / 1000
		if nano {
			frac = f.at.Nanosecond()
		}
		order.PutUint32(r[0:], uint32(f.at.Unix()))
		order.PutUint32(r[4:], uint32(frac))
		order.PutUint32(r[8:], uint32(len(f.data)))
		order.PutUint32(r[12:], uint32(f.origLen))
		b.Write(r)
		b.Write(f.data)
	}
	return b.Bytes()
}

func writePcapgo(t testing.TB, link layers.LinkType, fs []frame) []byte {
	t.Helper()
	var b bytes.Buffer
	w := pcapgo.NewWriterNanos(&b)
	if err := w.WriteFileHeader(262144, link); err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		ci := gopacket.CaptureInfo{Timestamp: f.at, CaptureLength: len(f.data), Length: f.origLen}
		if err := w.WritePacket(ci, f.data); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func writePcapng(t testing.TB, link layers.LinkType, fs []frame) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := pcapgo.NewNgWriter(&b, link)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		ci := gopacket.CaptureInfo{Timestamp: f.at, CaptureLength: len(f.data), Length: f.origLen}
		if err := w.WritePacket(ci, f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// readAll reads every chunk of a file.
func readAll(t testing.TB, file []byte, opts Options) ([]capture.Chunk, Stats, error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(file), opts)
	if err != nil {
		return nil, Stats{}, err
	}
	defer r.Close()
	var out []capture.Chunk
	for {
		c, err := r.Next()
		if err == io.EOF {
			return out, r.Stats(), nil
		}
		if err != nil {
			return out, r.Stats(), err
		}
		c.Data = bytes.Clone(c.Data) // valid only until the next call
		out = append(out, c)
	}
}

// transcript renders chunks as one line per connection and direction, the
// way a consumer sees the streams: "#1 A->B cli>srv hello[lost 5]world[closed]".
// Lost -1 shows as [resync]. names maps endpoints to short names.
func transcript(chunks []capture.Chunk, names map[netip.AddrPort]string) []string {
	type key struct {
		id  uint64
		dir capture.Dir
	}
	var order []key
	lines := map[key]*strings.Builder{}
	name := func(ap netip.AddrPort) string {
		if n, ok := names[ap]; ok {
			return n
		}
		return ap.String()
	}
	for _, c := range chunks {
		k := key{c.Conn.ID, c.Dir}
		sb := lines[k]
		if sb == nil {
			sb = &strings.Builder{}
			from, to := c.Conn.A, c.Conn.B
			if c.Dir == capture.BtoA {
				from, to = to, from
			}
			fmt.Fprintf(sb, "#%d %v %s>%s ", c.Conn.ID, c.Dir, name(from), name(to))
			lines[k] = sb
			order = append(order, k)
		}
		switch {
		case c.Lost < 0:
			sb.WriteString("[resync]")
		case c.Lost > 0:
			fmt.Fprintf(sb, "[lost %d]", c.Lost)
		}
		sb.Write(c.Data)
		if c.Closed {
			sb.WriteString("[closed]")
		}
	}
	// Connection order, then A->B before B->A.
	out := make([]string, 0, len(order))
	for id := uint64(1); len(out) < len(order); id++ {
		for _, d := range []capture.Dir{capture.AtoB, capture.BtoA} {
			if sb := lines[key{id, d}]; sb != nil {
				out = append(out, sb.String())
			}
		}
	}
	return out
}

func (c *conv) names() map[netip.AddrPort]string {
	return map[netip.AddrPort]string{c.ep[cli]: "cli", c.ep[srv]: "srv"}
}

func diffLines(t testing.TB, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("streams differ\n got:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

func asFormatError(t testing.TB, err error) *FormatError {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *FormatError", err, err)
	}
	return fe
}
