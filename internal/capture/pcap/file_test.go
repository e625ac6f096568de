package pcap

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"kscope/internal/capture"
)

// sampleConv is a short exchange with reordering and both FINs.
func sampleConv(v6 bool) *conv {
	client, server := "10.0.0.1:40000", "10.0.0.2:9092"
	if v6 {
		client, server = "[2001:db8::1]:40000", "[2001:db8::2]:9092"
	}
	c := newConv(client, server, 1000, 5000)
	c.handshake()
	c.add(cli, "A", 0, "hello ")
	c.add(cli, "A", 11, "!")
	c.add(cli, "A", 6, "world")
	c.add(srv, "A", 0, "pong", ackAt(12))
	c.add(cli, "FA", 12, "", ackAt(4))
	c.add(srv, "FA", 4, "", ackAt(13))
	c.add(cli, "A", 13, "", ackAt(5))
	// Timestamps that survive microsecond files exactly.
	for i := range c.pkts {
		c.pkts[i].at = c.pkts[i].at.Add(7 * time.Microsecond)
	}
	return c
}

var sampleWant = []string{
	"#1 A->B cli>srv hello world![closed]",
	"#1 B->A srv>cli pong[closed]",
}

func TestLinkTypesAndFormats(t *testing.T) {
	for _, f := range fileFormats {
		for _, l := range linkSpecs {
			for _, v := range []int{4, 6} {
				if l.only != 0 && l.only != v {
					continue
				}
				t.Run(fmt.Sprintf("%s/%s/ipv%d", f.name, l.name, v), func(t *testing.T) {
					c := sampleConv(v == 6)
					chunks, st, err := readAll(t, f.write(t, l.link, c.frames(t, l)), Options{})
					if err != nil {
						t.Fatal(err)
					}
					diffLines(t, transcript(chunks, c.names()), sampleWant)
					if first := chunks[0]; !first.Time.Equal(c.pkts[3].at) {
						t.Errorf("first chunk at %v, want %v", first.Time, c.pkts[3].at)
					}
					if st.Packets != uint64(len(c.pkts)) || st.TCPSegments != st.Packets || st.Skipped != 0 {
						t.Errorf("stats %+v: every packet should be a TCP segment", st)
					}
				})
			}
		}
	}
}

func TestGzip(t *testing.T) {
	c := sampleConv(false)
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(pcapLE.write(t, ethernet.link, c.frames(t, ethernet)))
	zw.Close()
	chunks, _, err := readAll(t, z.Bytes(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	diffLines(t, transcript(chunks, c.names()), sampleWant)
}

// TestPcapngInterfaces reads a pcapng file with two interfaces of different
// link types, as dumpcap writes when capturing on several at once.
func TestPcapngInterfaces(t *testing.T) {
	var b bytes.Buffer
	w, err := pcapgo.NewNgWriter(&b, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := w.AddInterface(pcapgo.NgInterface{LinkType: layers.LinkTypeRaw, TimestampResolution: 9})
	if err != nil {
		t.Fatal(err)
	}
	eth := sampleConv(false)
	ip := sampleConv(true)
	efs, ifs := eth.frames(t, ethernet), ip.frames(t, linkSpecs[7])
	for i := range efs {
		for _, x := range []struct {
			f  frame
			id int
		}{{efs[i], 0}, {ifs[i], raw}} {
			ci := gopacket.CaptureInfo{Timestamp: x.f.at, CaptureLength: len(x.f.data), Length: x.f.origLen, InterfaceIndex: x.id}
			if err := w.WritePacket(ci, x.f.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	w.Flush()
	chunks, _, err := readAll(t, b.Bytes(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	names := eth.names()
	names[ip.ep[cli]], names[ip.ep[srv]] = "cli6", "srv6"
	diffLines(t, transcript(chunks, names), []string{
		"#1 A->B cli>srv hello world![closed]",
		"#1 B->A srv>cli pong[closed]",
		"#2 A->B cli6>srv6 hello world![closed]",
		"#2 B->A srv6>cli6 pong[closed]",
	})
}

// TestDecode covers packets that are not, or not simply, TCP.
func TestDecode(t *testing.T) {
	c := newConv("10.0.0.1:40000", "10.0.0.2:9092", 1000, 5000)
	c.handshake()
	c.add(cli, "A", 0, "abc")
	tcpFrame := ethernet.wrap(t, ipPacket(t, c.pkts[3]))
	udp := func() []byte {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP{10, 0, 0, 2}}
		u := &layers.UDP{SrcPort: 53, DstPort: 53}
		u.SetNetworkLayerForChecksum(ip)
		return serialize(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}, ip, u, gopacket.Payload("dns"))
	}()
	arp := serialize(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: 1, SourceHwAddress: macA, SourceProtAddress: []byte{10, 0, 0, 1}, DstHwAddress: make([]byte, 6), DstProtAddress: []byte{10, 0, 0, 2}})
	// A later fragment of the TCP packet: offset 8 (64 bytes).
	frag := bytes.Clone(tcpFrame)
	binary.BigEndian.PutUint16(frag[14+6:], 8)
	// Ethernet padding after a short packet must not become payload.
	padded := append(bytes.Clone(tcpFrame), "PADPADPAD"...)
	// IPv4 options (NOP, NOP, NOP, end) between the IP and TCP headers.
	opts4 := append(append(bytes.Clone(tcpFrame[:14+20]), 1, 1, 1, 0), tcpFrame[14+20:]...)
	opts4[14] = 0x46
	binary.BigEndian.PutUint16(opts4[14+2:], binary.BigEndian.Uint16(tcpFrame[14+2:])+4)
	// TCP inside IPv6 behind hop-by-hop and destination options.
	c6 := newConv("[2001:db8::1]:40000", "[2001:db8::2]:9092", 1000, 5000)
	c6.add(cli, "A", 0, "ext")
	ip6 := ipPacket(t, c6.pkts[0])
	ext := []byte{
		60, 0, 1, 4, 0, 0, 0, 0, // hop-by-hop, next: destination options; PadN
		6, 0, 1, 4, 0, 0, 0, 0, // destination options, next: TCP
	}
	ip6ext := append(append(bytes.Clone(ip6[:40]), ext...), ip6[40:]...)
	ip6ext[6] = 0
	binary.BigEndian.PutUint16(ip6ext[4:], uint16(len(ip6ext)-40))
	ip6frag := append(append(bytes.Clone(ip6[:40]), 6, 0, 0, 16, 0, 0, 0, 1), ip6[40:]...) // offset 2 (16 bytes)
	ip6frag[6] = 44
	binary.BigEndian.PutUint16(ip6frag[4:], uint16(len(ip6frag)-40))

	tests := []struct {
		name      string
		link      layers.LinkType
		data      []byte
		want      string // the stream, or "" for none
		skipped   uint64
		fragments uint64
	}{
		{"udp", layers.LinkTypeEthernet, udp, "", 1, 0},
		{"arp", layers.LinkTypeEthernet, arp, "", 1, 0},
		{"ipv4 later fragment", layers.LinkTypeEthernet, frag, "", 1, 1},
		{"ethernet padding", layers.LinkTypeEthernet, padded, "abc", 0, 0},
		{"ipv4 options", layers.LinkTypeEthernet, opts4, "abc", 0, 0},
		{"ipv6 extension headers", layers.LinkTypeRaw, ip6ext, "ext", 0, 0},
		{"ipv6 later fragment", layers.LinkTypeRaw, ip6frag, "", 1, 1},
		{"runt ethernet", layers.LinkTypeEthernet, tcpFrame[:10], "", 1, 0},
		{"ipv4 header cut", layers.LinkTypeEthernet, tcpFrame[:14+12], "", 1, 0},
		{"not ip on raw", layers.LinkTypeRaw, []byte{0x20, 1, 2, 3}, "", 1, 0},
		{"unknown loopback family", layers.LinkTypeNull, append([]byte{99, 0, 0, 0}, tcpFrame[14:]...), "", 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := pcapLE.write(t, tc.link, []frame{{at: epoch, data: tc.data, origLen: len(tc.data)}})
			chunks, st, err := readAll(t, file, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			for _, ch := range chunks {
				got = append(got, ch.Data...)
			}
			if string(got) != tc.want {
				t.Errorf("stream %q, want %q", got, tc.want)
			}
			if st.Skipped != tc.skipped || st.Fragments != tc.fragments {
				t.Errorf("skipped %d, fragments %d; want %d, %d", st.Skipped, st.Fragments, tc.skipped, tc.fragments)
			}
		})
	}
}

// ngBlocks returns the offsets of the blocks of a little-endian pcapng file.
func ngBlocks(b []byte) []int {
	var offs []int
	for off := 0; off+8 <= len(b); off += int(binary.LittleEndian.Uint32(b[off+4:])) {
		offs = append(offs, off)
	}
	return offs
}

func TestCorruptFiles(t *testing.T) {
	c := sampleConv(false)
	fs := c.frames(t, ethernet)
	good := pcapLE.write(t, ethernet.link, fs)
	// record[i] is the offset of packet i+1.
	var record []int
	for off, i := 24, 0; i < len(fs); i++ {
		record = append(record, off)
		off += 16 + len(fs[i].data)
	}
	ng := writePcapng(t, ethernet.link, fs)
	blocks := ngBlocks(ng) // SHB, IDB, then one EPB per packet
	edit := func(b []byte, f func(b []byte)) []byte {
		b = bytes.Clone(b)
		f(b)
		return b
	}
	tests := []struct {
		name      string
		file      []byte
		wantErr   string
		offset    int64 // -1: not a FormatError
		packet    uint64
		truncated bool
		chunks    int // chunks delivered before the error
	}{
		{name: "empty", file: nil, wantErr: "empty", offset: -1},
		{name: "not a capture", file: []byte("GET / HTTP/1.1\r\n"), wantErr: "not a pcap or pcapng file", offset: -1},
		{name: "short magic", file: good[:3], wantErr: "ends inside", truncated: true},
		{name: "pcap header cut", file: good[:10], wantErr: "ends inside", truncated: true},
		{name: "pcap version", file: edit(good, func(b []byte) { b[4] = 3 }), wantErr: "version 3.4", offset: 4},
		{name: "unsupported link type", file: edit(good, func(b []byte) { b[20] = 105 }), wantErr: "link type 105 is not supported", offset: -1},
		{name: "last record cut", file: good[:len(good)-3], wantErr: "ends inside", offset: int64(record[len(record)-1]),
			packet: uint64(len(record)), truncated: true, chunks: 6},
		{name: "record header cut", file: good[:record[5]+7], wantErr: "ends inside", offset: int64(record[5]), packet: 6, truncated: true, chunks: 1},
		{name: "huge captured length", file: edit(good, func(b []byte) { binary.LittleEndian.PutUint32(b[record[4]+8:], 0x7fffffff) }),
			wantErr: "captured length 2147483647 exceeds the snapshot length", offset: int64(record[4]), packet: 5, chunks: 1},
		{name: "captured longer than original", file: edit(good, func(b []byte) { binary.LittleEndian.PutUint32(b[record[4]+12:], 10) }),
			wantErr: "exceeds the original length 10", offset: int64(record[4]), packet: 5, chunks: 1},
		{name: "pcapng block length", file: edit(ng, func(b []byte) { binary.LittleEndian.PutUint32(b[blocks[4]+4:], 13) }),
			wantErr: "invalid length 13", offset: int64(blocks[4])},
		{name: "pcapng trailing length", file: edit(ng, func(b []byte) {
			binary.LittleEndian.PutUint32(b[blocks[5]-4:], 4)
		}), wantErr: "does not match its trailing length 4", offset: int64(blocks[4]), packet: 3},
		{name: "pcapng interface id", file: edit(ng, func(b []byte) { binary.LittleEndian.PutUint32(b[blocks[3]+8:], 7) }),
			wantErr: "interface 7", offset: int64(blocks[3]), packet: 2},
		{name: "pcapng byte-order magic", file: edit(ng, func(b []byte) { b[8] = 0 }), wantErr: "byte-order magic", offset: 0},
		{name: "pcapng cut", file: ng[:len(ng)-5], wantErr: "ends inside", offset: int64(blocks[len(blocks)-1]),
			packet: uint64(len(blocks) - 2), truncated: true, chunks: 6},
		{name: "pcapng unsupported link type", file: edit(ng, func(b []byte) { b[blocks[1]+8] = 105 }),
			wantErr: "packet 1: capture link type 105 is not supported", offset: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			chunks, _, err := readAll(t, tc.file, Options{})
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not say %q", err, tc.wantErr)
			}
			if len(chunks) != tc.chunks {
				t.Errorf("%d chunks before the error, want %d", len(chunks), tc.chunks)
			}
			if tc.offset < 0 {
				return
			}
			fe := asFormatError(t, err)
			if fe.Offset != tc.offset || fe.Packet != tc.packet {
				t.Errorf("error at byte %d packet %d, want byte %d packet %d", fe.Offset, fe.Packet, tc.offset, tc.packet)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("byte %d", tc.offset)) {
				t.Errorf("error %q does not name byte %d", err, tc.offset)
			}
			if got := errors.Is(err, ErrTruncated); got != tc.truncated {
				t.Errorf("errors.Is(err, ErrTruncated) = %v, want %v", got, tc.truncated)
			}
		})
	}
}

// TestRecordLargerThanBuffer: a pcapng record beyond the read buffer (a
// capture without a snapshot length, or a lying block) is read by the
// slow path and the packets around it are not disturbed.
func TestRecordLargerThanBuffer(t *testing.T) {
	c := sampleConv(false)
	fs := c.frames(t, ethernet)
	big := frame{at: fs[0].at, data: bytes.Repeat([]byte{0xee}, 3*bufSize/2)}
	big.origLen = len(big.data)
	fs = append(fs[:2:2], append([]frame{big}, fs[2:]...)...)
	chunks, st, err := readAll(t, writePcapng(t, ethernet.link, fs), Options{})
	if err != nil {
		t.Fatal(err)
	}
	diffLines(t, transcript(chunks, c.names()), sampleWant)
	if st.Packets != uint64(len(fs)) || st.Skipped != 1 {
		t.Errorf("stats %+v: want %d packets, the large one skipped as not TCP", st, len(fs))
	}
}

// TestEmptyCapture: a valid file without TCP is not an error; finding no
// Kafka in it is for the caller to say.
func TestEmptyCapture(t *testing.T) {
	for _, f := range fileFormats {
		chunks, st, err := readAll(t, f.write(t, layers.LinkTypeEthernet, nil), Options{})
		if err != nil || len(chunks) != 0 || st != (Stats{}) {
			t.Errorf("%s: %d chunks, stats %+v, error %v; want nothing", f.name, len(chunks), st, err)
		}
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	c := sampleConv(false)
	path := filepath.Join(dir, "sample.pcap")
	if err := os.WriteFile(path, pcapLE.write(t, ethernet.link, c.frames(t, ethernet)), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var chunks []capture.Chunk
	for {
		ch, err := r.Next()
		if err != nil {
			break
		}
		ch.Data = bytes.Clone(ch.Data)
		chunks = append(chunks, ch)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	diffLines(t, transcript(chunks, c.names()), sampleWant)
	if _, err := r.Next(); err == nil {
		t.Error("Next after Close returned no error")
	}

	bad := filepath.Join(dir, "bad.pcap")
	os.WriteFile(bad, []byte("not a capture at all"), 0o644)
	if _, err := Open(bad, Options{}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("Open(bad) = %v, want an error naming %s", err, bad)
	}
	if _, err := Open(filepath.Join(dir, "missing.pcap"), Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want not-exist", err)
	}
}

func TestPcapngTimestamps(t *testing.T) {
	tests := []struct {
		resol  byte
		offset int64
		ts     uint64
		want   time.Time
	}{
		{6, 0, 1714564800_123456, time.Unix(1714564800, 123456000)},
		{9, 0, 1714564800_123456789, time.Unix(1714564800, 123456789)},
		{3, 10, 5_250, time.Unix(15, 250e6)},
		{0x80 | 10, 0, 3<<10 | 512, time.Unix(3, 5e8)}, // 2^-10 s
		{0x80 | 63, 0, 1<<63 | 1<<62, time.Unix(1, 5e8)},
		{19, 0, 1e19 - 1, time.Unix(0, 999999999)},
	}
	for _, tc := range tests {
		f := &frames{}
		opts := []byte{9, 0, 1, 0, tc.resol, 0, 0, 0, 14, 0, 8, 0}
		opts = binary.LittleEndian.AppendUint64(opts, uint64(tc.offset))
		ifc, err := f.interfaceBlock(append([]byte{1, 0, 0, 0, 0, 0, 0, 0}, opts...), 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := ifc.time(tc.ts); !got.Equal(tc.want) {
			t.Errorf("resolution %#x, ts %d: %v, want %v", tc.resol, tc.ts, got, tc.want)
		}
	}
	f := &frames{}
	if _, err := f.interfaceBlock([]byte{1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 0, 20, 0, 0, 0}, 0); err == nil {
		t.Error("resolution 10^-20 accepted")
	}
}
