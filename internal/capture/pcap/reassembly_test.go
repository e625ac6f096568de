package pcap

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"kscope/internal/capture"
)

// indexOf returns the position of the first chunk carrying data, or -1.
func indexOf(chunks []capture.Chunk, data string) int {
	for i, c := range chunks {
		if string(c.Data) == data {
			return i
		}
	}
	return -1
}

func TestReassembly(t *testing.T) {
	const client, server = "10.0.0.1:40000", "10.0.0.2:9092"
	tests := []struct {
		name  string
		isn   [2]uint32
		opts  Options
		build func(c *conv)
		want  []string
		check func(t *testing.T, chunks []capture.Chunk, st Stats)
	}{{
		name: "in order with FIN both ways",
		build: func(c *conv) {
			c.handshake()
			c.add(cli, "A", 0, "hello ")
			c.add(cli, "A", 6, "world")
			c.add(srv, "A", 0, "ok", ackAt(11))
			c.add(cli, "FA", 11, "", ackAt(2))
			c.add(srv, "FA", 2, "", ackAt(12))
			c.add(cli, "A", 12, "", ackAt(3))
		},
		want: []string{
			"#1 A->B cli>srv hello world[closed]",
			"#1 B->A srv>cli ok[closed]",
		},
		check: func(t *testing.T, chunks []capture.Chunk, st Stats) {
			want := Stats{Packets: 9, TCPSegments: 9, Connections: 1, PayloadBytes: 13}
			if st != want {
				t.Errorf("stats %+v, want %+v", st, want)
			}
			if c := chunks[0]; c.Conn.A.String() != client || c.Conn.B.String() != server || c.Conn.ID != 1 {
				t.Errorf("conn %v, want #1 %s-%s", c.Conn, client, server)
			}
		},
	}, {
		name: "one-byte segments",
		build: func(c *conv) {
			c.handshake()
			for i, b := range "kafka!" {
				c.add(cli, "A", i, string(b))
			}
		},
		want: []string{"#1 A->B cli>srv kafka!"},
	}, {
		name: "out of order",
		build: func(c *conv) {
			c.handshake()
			c.add(cli, "A", 8, "89ab")
			c.add(cli, "A", 4, "4567")
			c.add(cli, "A", 0, "0123")
		},
		want: []string{"#1 A->B cli>srv 0123456789ab"},
		check: func(t *testing.T, chunks []capture.Chunk, st Stats) {
			// Each chunk carries the time its first byte was captured,
			// not the time it could be delivered.
			for data, ms := range map[string]int{"0123": 5, "4567": 4, "89ab": 3} {
				i := indexOf(chunks, data)
				if i < 0 {
					t.Fatalf("no chunk %q", data)
				}
				if want := epoch.Add(time.Duration(ms) * time.Millisecond); !chunks[i].Time.Equal(want) {
					t.Errorf("chunk %q at %v, want %v", data, chunks[i].Time, want)
				}
			}
			if st.OutOfOrder != 2 {
				t.Errorf("OutOfOrder = %d, want 2", st.OutOfOrder)
			}
		},
	}, {
		name: "retransmission and overlap",
		build: func(c *conv) {
			c.handshake()
			c.add(cli, "A", 0, "hello")
			c.add(cli, "A", 0, "hello")
			c.add(cli, "A", 2, "llo wor")
			c.add(cli, "A", 6, "world")
		},
		want: []string{"#1 A->B cli>srv hello world"},
		check: func(t *testing.T, _ []capture.Chunk, st Stats) {
			if st.RetransmittedBytes != 11 || st.PayloadBytes != 11 {
				t.Errorf("retransmitted %d, delivered %d bytes; want 11, 11", st.RetransmittedBytes, st.PayloadBytes)
			}
		},
	}, {
		name: "overlaps among buffered segments",
		build: func(c *conv) {
			c.handshake()
			c.add(cli, "A", 8, "r")     // buffered
			c.add(cli, "A", 6, "world") // covers it
			c.add(cli, "A", 4, "o wo")  // its tail is held already
			c.add(cli, "A", 0, "hell")
		},
		want: []string{"#1 A->B cli>srv hello world"},
		check: func(t *testing.T, _ []capture.Chunk, st Stats) {
			if st.RetransmittedBytes != 3 {
				t.Errorf("retransmitted %d bytes, want 3", st.RetransmittedBytes)
			}
		},
	}, {
		name: "hole the peer acknowledged",
		build: func(c *conv) {
			c.handshake()
			c.add(cli, "A", 0, "hello")
			c.add(cli, "A", 10, "after") // 5 bytes before it were never captured
			c.add(srv, "A", 0, "", ackAt(15))
			c.add(srv, "A", 0, "resp", ackAt(15))
		},
		want: []string{
			"#1 A->B cli>srv hello[lost 5]after",
			"#1 B->A srv>cli resp",
		},
		check: func(t *testing.T, chunks []capture.Chunk, st Stats) {
			// Given up when the ACK shows it, not at the end of the file.
			if indexOf(chunks, "after") > indexOf(chunks, "resp") {
				t.Error("the gap was resolved only after later packets")
			}
			if st.LostBytes != 5 {
				t.Errorf("LostBytes = %d, want 5", st.LostBytes)
			}
		},
	}, {
		name: "hole at end of file",
		build: func(c *conv) {
			c.handshake()
			c.add(cli, "A", 0, "hello")
			c.add(cli, "A", 10, "after")
		},
		want: []string{"#1 A->B cli>srv hello[lost 5]after"},
	}, {
		name: "hole given up when the buffer is full",
		opts: Options{MaxBuffered: 200},
		build: func(c *conv) {
			c.handshake()
			c.add(cli, "A", 0, "a")
			for i, s := range []string{"bbbbbbbbbb", "cccccccccc", "dddddddddd", "eeeeeeeeee"} {
				c.add(cli, "A", 11+10*i, s)
			}
			c.add(srv, "A", 0, "resp")
		},
		want: []string{
			"#1 A->B cli>srv a[lost 10]bbbbbbbbbbccccccccccddddddddddeeeeeeeeee",
			"#1 B->A srv>cli resp",
		},
		check: func(t *testing.T, chunks []capture.Chunk, _ Stats) {
			if indexOf(chunks, "bbbbbbbbbb") > indexOf(chunks, "resp") {
				t.Error("the gap was not given up when the buffer overflowed")
			}
		},
	}, {
		name: "hole given up when too many segments wait",
		build: func(c *conv) {
			c.handshake()
			c.add(cli, "A", 0, "a")
			for i := range maxBufferedSegments + 1 {
				c.add(cli, "A", 2+i, "b")
			}
			c.add(srv, "A", 0, "resp")
		},
		want: []string{
			"#1 A->B cli>srv a[lost 1]" + strings.Repeat("b", maxBufferedSegments+1),
			"#1 B->A srv>cli resp",
		},
		check: func(t *testing.T, chunks []capture.Chunk, _ Stats) {
			if indexOf(chunks, "b") > indexOf(chunks, "resp") {
				t.Error("the gap was not given up when the buffer held too many segments")
			}
		},
	}, {
		name: "hole before an acknowledged FIN",
		build: func(c *conv) {
			c.handshake()
			c.add(cli, "A", 0, "hello")
			c.add(cli, "FA", 10, "after")
			c.add(srv, "A", 0, "", ackAt(16))
		},
		want: []string{"#1 A->B cli>srv hello[lost 5]after[closed]"},
	}, {
		name: "FIN seen before the last data",
		build: func(c *conv) {
			c.handshake()
			c.add(cli, "A", 0, "ab")
			c.add(cli, "FA", 4, "")
			c.add(cli, "A", 2, "cd")
		},
		want: []string{"#1 A->B cli>srv abcd[closed]"},
	}, {
		name: "RST ends both directions and gives up gaps",
		build: func(c *conv) {
			c.handshake()
			c.add(cli, "A", 0, "ab")
			c.add(cli, "A", 5, "cd")
			c.add(srv, "RA", 0, "")
			c.add(cli, "A", 2, "xyz") // too late
		},
		want: []string{
			"#1 A->B cli>srv ab[lost 3]cd[closed]",
			"#1 B->A srv>cli [closed]",
		},
	}, {
		name: "snaplen cut",
		build: func(c *conv) {
			c.handshake()
			c.add(cli, "A", 0, "hello world", cutBy(6))
			c.add(cli, "A", 11, "next")
		},
		want: []string{"#1 A->B cli>srv hello[lost 6]next"},
		check: func(t *testing.T, _ []capture.Chunk, st Stats) {
			if st.Truncated != 1 || st.LostBytes != 6 {
				t.Errorf("Truncated %d, LostBytes %d; want 1, 6", st.Truncated, st.LostBytes)
			}
		},
	}, {
		name: "snaplen cut before FIN",
		build: func(c *conv) {
			c.handshake()
			c.add(cli, "A", 0, "abcdef", cutBy(3))
			c.add(cli, "FA", 6, "")
		},
		want: []string{"#1 A->B cli>srv abc[lost 3][closed]"},
	}, {
		name: "snaplen cut at end of file",
		build: func(c *conv) {
			c.handshake()
			c.add(cli, "A", 0, "abcdef", cutBy(3))
		},
		want: []string{"#1 A->B cli>srv abc[lost 3]"},
	}, {
		name: "snaplen cut through the TCP header",
		build: func(c *conv) {
			c.handshake()
			c.add(cli, "A", 0, "aaaa")
			c.add(cli, "A", 4, "bbbb", cutBy(4+10))
			c.add(cli, "A", 8, "cccc")
		},
		want: []string{"#1 A->B cli>srv aaaa[lost 4]cccc"},
		check: func(t *testing.T, _ []capture.Chunk, st Stats) {
			if st.Skipped != 1 || st.Truncated != 1 {
				t.Errorf("Skipped %d, Truncated %d; want 1, 1", st.Skipped, st.Truncated)
			}
		},
	}, {
		name: "mid-stream start",
		build: func(c *conv) {
			c.add(cli, "A", 100, "abc")
			c.add(srv, "A", 50, "xyz")
			c.add(cli, "A", 103, "def")
		},
		want: []string{
			"#1 A->B cli>srv [resync]abcdef",
			"#1 B->A srv>cli [resync]xyz",
		},
		check: func(t *testing.T, _ []capture.Chunk, st Stats) {
			if st.MidStream != 2 || st.LostBytes != 0 {
				t.Errorf("MidStream %d, LostBytes %d; want 2, 0", st.MidStream, st.LostBytes)
			}
		},
	}, {
		name: "mid-stream start, server first",
		build: func(c *conv) {
			c.add(srv, "A", 0, "xyz")
			c.add(cli, "A", 0, "abc")
		},
		want: []string{
			"#1 A->B srv>cli [resync]xyz",
			"#1 B->A cli>srv [resync]abc",
		},
	}, {
		name: "sequence wraparound",
		isn:  [2]uint32{0xfffffff0, 0xfffffffe},
		build: func(c *conv) {
			c.handshake()
			const s = "0123456789abcdefghijklmnopqrstuv" // offset 15 is at seq 0
			c.add(cli, "A", 0, s[0:4])
			c.add(cli, "A", 4, s[4:8])
			c.add(cli, "A", 12, s[12:20]) // across the wrap, ahead of a gap
			c.add(cli, "A", 8, s[8:12])
			c.add(cli, "A", 14, s[14:24]) // retransmission across the wrap
			c.add(cli, "A", 24, s[24:32])
			c.add(srv, "A", 0, "response", ackAt(32))
		},
		want: []string{
			"#1 A->B cli>srv 0123456789abcdefghijklmnopqrstuv",
			"#1 B->A srv>cli response",
		},
	}, {
		name: "port reuse after FIN",
		build: func(c *conv) {
			c.handshake()
			c.add(cli, "A", 0, "one")
			c.add(cli, "FA", 3, "")
			c.add(srv, "FA", 0, "", ackAt(4))
			c.add(cli, "A", 4, "", ackAt(1))
			c.isn = [2]uint32{90000, 70000}
			c.handshake()
			c.add(cli, "A", 0, "two")
		},
		want: []string{
			"#1 A->B cli>srv one[closed]",
			"#1 B->A srv>cli [closed]",
			"#2 A->B cli>srv two",
		},
	}, {
		name: "port reuse after RST",
		build: func(c *conv) {
			c.handshake()
			c.add(cli, "A", 0, "one")
			c.add(cli, "RA", 3, "")
			c.isn = [2]uint32{90000, 70000}
			c.handshake()
			c.add(srv, "A", 0, "two")
		},
		want: []string{
			"#1 A->B cli>srv one[closed]",
			"#1 B->A srv>cli [closed]",
			"#2 B->A srv>cli two",
		},
	}, {
		name: "SYN with a new ISN on an open tuple",
		build: func(c *conv) {
			c.handshake()
			c.add(cli, "A", 0, "one")
			c.add(cli, "A", 10, "lost")
			c.isn = [2]uint32{90000, 70000}
			c.handshake()
			c.add(cli, "A", 0, "two")
		},
		want: []string{
			"#1 A->B cli>srv one[lost 7]lost[closed]",
			"#1 B->A srv>cli [closed]",
			"#2 A->B cli>srv two",
		},
	}, {
		name: "stragglers after close belong to the closed connection",
		build: func(c *conv) {
			c.handshake()
			c.add(cli, "FA", 0, "one")
			c.add(srv, "FA", 0, "", ackAt(4))
			c.wait(10 * time.Second)
			c.add(cli, "FA", 0, "one", ackAt(1))
			c.add(cli, "A", 4, "", ackAt(1))
		},
		want: []string{
			"#1 A->B cli>srv one[closed]",
			"#1 B->A srv>cli [closed]",
		},
		check: func(t *testing.T, _ []capture.Chunk, st Stats) {
			if st.Connections != 1 || st.RetransmittedBytes != 3 {
				t.Errorf("Connections %d, RetransmittedBytes %d; want 1, 3", st.Connections, st.RetransmittedBytes)
			}
		},
	}, {
		name: "closed connections are forgotten after a while",
		build: func(c *conv) {
			c.handshake()
			c.add(cli, "FA", 0, "one")
			c.add(srv, "FA", 0, "", ackAt(4))
			c.wait(3 * time.Minute)
			// Another connection's packet moves time on.
			other := *c
			other.ep[cli] = netip.MustParseAddrPort("10.0.0.3:40001")
			other.pkts = nil
			other.add(cli, "S", 0, "")
			c.pkts = append(c.pkts, other.pkts...)
			c.add(cli, "A", 4, "y") // the old connection is forgotten
		},
		want: []string{
			"#1 A->B cli>srv one[closed]",
			"#1 B->A srv>cli [closed]",
			"#3 A->B cli>srv [resync]y",
		},
	}, {
		name: "retransmitted SYN and SYN-ACK",
		build: func(c *conv) {
			c.add(cli, "S", 0, "")
			c.add(cli, "S", 0, "")
			c.add(srv, "SA", 0, "")
			c.add(srv, "SA", 0, "")
			c.add(cli, "A", 0, "one")
		},
		want: []string{"#1 A->B cli>srv one"},
	}, {
		name: "server-side SYN reuses a closed tuple",
		build: func(c *conv) {
			c.handshake()
			c.add(cli, "RA", 0, "")
			c.isn = [2]uint32{90000, 70000}
			c.add(srv, "S", 0, "")
			c.add(cli, "SA", 0, "")
			c.add(srv, "A", 0, "hi")
		},
		want: []string{
			"#1 A->B cli>srv [closed]",
			"#1 B->A srv>cli [closed]",
			"#2 A->B srv>cli hi",
		},
	}, {
		name: "interleaved connections",
		build: func(c *conv) {
			c.handshake()
			c.add(cli, "A", 0, "a1")
			other := *c
			other.ep[cli] = netip.MustParseAddrPort("10.0.0.3:40001")
			other.pkts = nil
			other.isn = [2]uint32{7, 9}
			other.handshake()
			other.add(cli, "A", 0, "b1")
			c.pkts = append(c.pkts, other.pkts...)
			c.add(cli, "A", 2, "a2")
			c.add(srv, "A", 0, "r1")
		},
		want: []string{
			"#1 A->B cli>srv a1a2",
			"#1 B->A srv>cli r1",
			"#2 A->B 10.0.0.3:40001>srv b1",
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			isn := tc.isn
			if isn == [2]uint32{} {
				isn = [2]uint32{1000, 5000}
			}
			c := newConv(client, server, isn[0], isn[1])
			tc.build(c)
			file := pcapLE.write(t, ethernet.link, c.frames(t, ethernet))
			chunks, st, err := readAll(t, file, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			diffLines(t, transcript(chunks, c.names()), tc.want)
			if tc.check != nil {
				tc.check(t, chunks, st)
			}
		})
	}
}

// TestLargeStream checks a long stream with random reordering, duplicates
// and one uncaptured segment against the bytes that were sent.
func TestLargeStream(t *testing.T) {
	c := newConv("[fd00::1]:40000", "[fd00::2]:9092", 0xffff0000, 1)
	c.handshake()
	sent := make([]byte, 1<<20)
	for i := range sent {
		sent[i] = byte(i*7 + i>>8)
	}
	const seg = 1000
	var offs []int
	for off := 0; off < len(sent); off += seg {
		offs = append(offs, off)
	}
	// Swap neighbours every 7 segments, resend every 11th, and drop
	// segment 500 (the peer's later ACKs show it arrived).
	for i := 0; i+1 < len(offs); i += 7 {
		offs[i], offs[i+1] = offs[i+1], offs[i]
	}
	for i, off := range offs {
		if off == 500*seg {
			continue
		}
		end := min(off+seg, len(sent))
		c.add(cli, "A", off, string(sent[off:end]))
		if i%11 == 0 {
			c.add(cli, "A", off, string(sent[off:end]))
		}
		if i%4 == 0 && i%7 != 0 && off > 600*seg { // i%7 == 0 went ahead of its neighbour
			c.add(srv, "A", 0, "", ackAt(off))
		}
	}
	file := pcapLE.write(t, ethernet.link, c.frames(t, ethernet))
	chunks, st, err := readAll(t, file, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	for _, ch := range chunks {
		if ch.Lost > 0 {
			if ch.Lost != seg || got.Len() != 500*seg {
				t.Fatalf("lost %d bytes at offset %d, want %d at %d", ch.Lost, got.Len(), seg, 500*seg)
			}
			got.Write(make([]byte, ch.Lost))
		}
		got.Write(ch.Data)
	}
	want := bytes.Clone(sent)
	clear(want[500*seg : 501*seg])
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("stream differs from what was sent (%d bytes, want %d)", got.Len(), len(want))
	}
	if st.LostBytes != seg || st.PayloadBytes != uint64(len(sent)-seg) {
		t.Errorf("lost %d, delivered %d; want %d, %d", st.LostBytes, st.PayloadBytes, seg, len(sent)-seg)
	}
}
