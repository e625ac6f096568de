//go:build linux && (amd64 || arm64)

package ebpf

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"kscope/internal/capture"
	"kscope/internal/testenv"
)

// rec is a chunk with its data copied out of the ring.
type rec struct {
	conn   *capture.Conn
	dir    capture.Dir
	data   []byte
	lost   int64
	closed bool
}

// collector reads a Source in a goroutine, as a consumer would.
type collector struct {
	src  *Source
	mu   sync.Mutex
	recs []rec
	err  error
	done chan struct{}
}

func collect(t *testing.T, opts Options) *collector {
	t.Helper()
	testenv.Root(t)
	if len(opts.PIDs) == 0 {
		opts.PIDs = []uint32{uint32(os.Getpid())}
	}
	src, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	return collectFrom(t, src)
}

// collectFrom starts reading src.
func collectFrom(t *testing.T, src *Source) *collector {
	c := &collector{src: src, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			ch, err := src.Next()
			if err != nil {
				c.mu.Lock()
				c.err = err
				c.mu.Unlock()
				return
			}
			c.mu.Lock()
			c.recs = append(c.recs, rec{ch.Conn, ch.Dir, bytes.Clone(ch.Data), ch.Lost, ch.Closed})
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		src.Close()
		select {
		case <-c.done:
		case <-time.After(2 * time.Second):
			t.Error("Next did not return after Close")
		}
		if c.err != io.EOF {
			t.Errorf("Next after Close: %v, want io.EOF", c.err)
		}
	})
	return c
}

// of returns the chunks of the connection whose traced end is local and
// whose peer is remote.
func (c *collector) of(local, remote net.Addr) []rec {
	a, b := addrPort(local), addrPort(remote)
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []rec
	for _, r := range c.recs {
		if r.conn.A == a && r.conn.B == b {
			out = append(out, r)
		}
	}
	return out
}

func (c *collector) all() []rec {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]rec(nil), c.recs...)
}

// wait polls until cond holds for the chunks of local-remote.
func (c *collector) wait(t *testing.T, local, remote net.Addr, what string, cond func(s [2]stream) bool) [2]stream {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := streams(c.of(local, remote))
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s-%s: timed out waiting for %s; have A->B %q (lost %v, closed %v), B->A %q (lost %v, closed %v)",
				local, remote, what, trim(s[0].data), s[0].lost, s[0].closed, trim(s[1].data), s[1].lost, s[1].closed)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func trim(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

// stream is one direction as a consumer sees it: bytes with the lost
// amounts reported before each chunk.
type stream struct {
	data   []byte
	lost   []int64 // Lost of every chunk, in order
	closed bool
	conn   *capture.Conn
	// gaps is the stream with lost bytes as zeros: its length is the
	// stream position when no Lost is -1.
	gaps []byte
	recs []rec
}

func streams(recs []rec) [2]stream {
	var s [2]stream
	for _, r := range recs {
		d := &s[r.dir]
		d.conn = r.conn
		d.lost = append(d.lost, r.lost)
		if r.lost > 0 {
			d.gaps = append(d.gaps, make([]byte, r.lost)...)
		}
		d.data = append(d.data, r.data...)
		d.gaps = append(d.gaps, r.data...)
		d.closed = d.closed || r.closed
		d.recs = append(d.recs, r)
	}
	return s
}

func addrPort(a net.Addr) netip.AddrPort {
	ap := a.(*net.TCPAddr).AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func fdOf(t *testing.T, c net.Conn) int32 {
	t.Helper()
	raw, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int32
	raw.Control(func(f uintptr) { fd = int32(f) })
	return fd
}

// pair returns both ends of a new loopback TCP connection.
func pair(t *testing.T, ln net.Listener) (client, server *net.TCPConn) {
	t.Helper()
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSmallWrites(t *testing.T) { eachHook(t, testSmallWrites) }

func testSmallWrites(t *testing.T, opts Options) {
	col := collect(t, opts)
	client, server := pair(t, nil)
	go func() {
		client.Write([]byte("hello "))
		client.Write([]byte("kafka"))
	}()
	readN(t, server, 11)
	server.Write([]byte("pong"))
	readN(t, client, 4)

	pid := uint32(os.Getpid())
	for _, c := range []struct {
		name        string
		conn        net.Conn
		sent, recvd string
	}{
		{"client", client, "hello kafka", "pong"},
		{"server", server, "pong", "hello kafka"},
	} {
		s := col.wait(t, c.conn.LocalAddr(), c.conn.RemoteAddr(), "both directions", func(s [2]stream) bool {
			return string(s[0].data) == c.sent && string(s[1].data) == c.recvd
		})
		for dir := range s {
			for i, l := range s[dir].lost {
				if l != 0 {
					t.Errorf("%s %v chunk %d: Lost %d, want 0 (start seen by connect/accept)", c.name, capture.Dir(dir), i, l)
				}
			}
		}
		if got := s[0].conn; got.PID != pid || got.FD != fdOf(t, c.conn) {
			t.Errorf("%s: PID %d FD %d, want %d %d", c.name, got.PID, got.FD, pid, fdOf(t, c.conn))
		}
	}
	if st := col.src.Stats(); st.Events == 0 || st.Bytes < 30 || st.Connections < 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestLargeWrite(t *testing.T) {
	const size = 3 << 20
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(rand.Uint32())
	}
	// Random bytes can start like a frame: 1 run in 40 or so read a
	// plausible size and the kernel follows that frame. A size of 48 MiB
	// first makes sure of it: the bytes past the limit are then skipped
	// inside the frame's run, and must be told at once, not with the
	// direction's next event (there is none).
	frame := append([]byte{3, 0, 0, 0}, payload[4:]...)
	for _, tc := range []struct {
		name    string
		limit   int
		payload []byte
	}{
		{"below limit", MaxBytesPerSyscallLimit, payload},
		{"above limit", 20000, payload}, // not a multiple of the 16 KiB event size
		{"above limit, in a frame", 20000, frame},
	} {
		t.Run(tc.name, func(t *testing.T) {
			payload := tc.payload
			col := collect(t, Options{MaxBytesPerSyscall: tc.limit, RingBytes: 64 << 20})
			client, server := pair(t, nil)
			go client.Write(payload)
			readN(t, server, size)

			for _, c := range []net.Conn{client, server} {
				dir := capture.AtoB
				if c == server {
					dir = capture.BtoA
				}
				s := col.wait(t, c.LocalAddr(), c.RemoteAddr(), "3 MiB", func(s [2]stream) bool {
					return len(s[dir].gaps) == size
				})[dir]
				var lost int64
				for _, l := range s.lost {
					if l < 0 {
						t.Fatalf("%v: Lost -1, want exact counts", dir)
					}
					lost += l
				}
				// Every copied byte must sit where it was written.
				pos := 0
				for _, r := range s.recs {
					pos += int(r.lost)
					if !bytes.Equal(r.data, payload[pos:pos+len(r.data)]) {
						t.Fatalf("%v: chunk at offset %d differs from what was written", dir, pos)
					}
					pos += len(r.data)
				}
				if tc.limit >= size && lost != 0 {
					t.Errorf("%v: %d bytes lost below the limit", dir, lost)
				}
				if tc.limit < size && lost == 0 {
					t.Errorf("%v: nothing reported lost above the limit", dir)
				}
				t.Logf("%v: %d chunks, %d bytes copied, %d lost", dir, len(s.lost), len(s.data), lost)
			}
			if st := col.src.Stats(); st.RingDrops != 0 {
				t.Errorf("ring drops: %+v", st)
			}
		})
	}
}

// rawIO calls f on the socket until it does not return EAGAIN: Go sockets
// are non-blocking.
func rawIO(t *testing.T, c *net.TCPConn, write bool, f func(fd int) (int, error)) int {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var ioErr error
	op := func(fd uintptr) bool {
		n, ioErr = f(int(fd))
		return !errors.Is(ioErr, unix.EAGAIN)
	}
	if write {
		err = raw.Write(op)
	} else {
		err = raw.Read(op)
	}
	if err != nil || ioErr != nil {
		t.Fatal(err, ioErr)
	}
	return n
}

func TestVectored(t *testing.T) { eachHook(t, testVectored) }

func testVectored(t *testing.T, opts Options) {
	col := collect(t, opts)
	client, server := pair(t, nil)
	parts := [][]byte{[]byte("one,"), []byte("two,"), bytes.Repeat([]byte("x"), 40000), []byte("end.")}
	want := bytes.Join(parts, nil)

	// writev, through net.Buffers.
	bufs := net.Buffers(append([][]byte(nil), parts...))
	if _, err := bufs.WriteTo(client); err != nil {
		t.Fatal(err)
	}
	// sendmsg with four iovecs.
	n := rawIO(t, client, true, func(fd int) (int, error) { return unix.SendmsgBuffers(fd, parts, nil, nil, 0) })
	if n != len(want) {
		t.Fatalf("sendmsg wrote %d of %d", n, len(want))
	}
	// The server reads 2*len(want) with recvmsg into three iovecs, then
	// readv into two.
	var got []byte
	for len(got) < len(want) {
		b := [][]byte{make([]byte, 7), make([]byte, 100), make([]byte, 30000)}
		n := rawIO(t, server, false, func(fd int) (int, error) {
			n, _, _, _, err := unix.RecvmsgBuffers(fd, b, nil, 0)
			return n, err
		})
		got = append(got, bytes.Join(b, nil)[:n]...)
	}
	for len(got) < 2*len(want) {
		b := [][]byte{make([]byte, 5), make([]byte, 50000)}
		n := rawIO(t, server, false, func(fd int) (int, error) { return unix.Readv(fd, b) })
		got = append(got, bytes.Join(b, nil)[:n]...)
	}
	if !bytes.Equal(got, append(want, want...)) {
		t.Fatal("test bug: server did not read what the client wrote")
	}

	twice := append(bytes.Clone(want), want...)
	col.wait(t, client.LocalAddr(), client.RemoteAddr(), "writev and sendmsg bytes", func(s [2]stream) bool {
		return bytes.Equal(s[0].data, twice)
	})
	col.wait(t, server.LocalAddr(), server.RemoteAddr(), "recvmsg and readv bytes", func(s [2]stream) bool {
		return bytes.Equal(s[1].data, twice)
	})
}

func TestNotTCP(t *testing.T) { eachHook(t, testNotTCP) }

func testNotTCP(t *testing.T, opts Options) {
	col := collect(t, opts)

	// UDP.
	u1, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer u1.Close()
	u2, err := net.Dial("udp", u1.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer u2.Close()
	u2.Write([]byte("udp"))
	u1.ReadFrom(make([]byte, 10))

	// Unix stream socket.
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.Write(fds[0], []byte("unix"))
	unix.Read(fds[1], make([]byte, 10))
	unix.Close(fds[0])
	unix.Close(fds[1])

	// Pipe.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("pipe"))
	r.Read(make([]byte, 10))
	r.Close()
	w.Close()

	// A TCP exchange afterwards marks that the others were processed.
	client, server := pair(t, nil)
	client.Write([]byte("marker"))
	readN(t, server, 6)
	col.wait(t, server.LocalAddr(), server.RemoteAddr(), "marker", func(s [2]stream) bool {
		return string(s[1].data) == "marker"
	})
	ports := map[uint16]bool{addrPort(client.LocalAddr()).Port(): true, addrPort(server.LocalAddr()).Port(): true}
	for _, r := range col.all() {
		if !ports[r.conn.A.Port()] {
			t.Errorf("chunk of a connection that is not the TCP one: %v %v %q", r.conn, r.dir, r.data)
		}
	}
}

func TestExistingConnection(t *testing.T) { eachHook(t, testExistingConnection) }

func testExistingConnection(t *testing.T, opts Options) {
	testenv.Root(t)
	client, server := pair(t, nil)
	client.Write([]byte("before"))
	readN(t, server, 6)

	col := collect(t, opts)
	client.Write([]byte("after"))
	readN(t, server, 5)
	client.Write([]byte("again"))
	readN(t, server, 5)

	for _, c := range []struct {
		conn net.Conn
		dir  capture.Dir
	}{{client, capture.AtoB}, {server, capture.BtoA}} {
		s := col.wait(t, c.conn.LocalAddr(), c.conn.RemoteAddr(), "after, again", func(s [2]stream) bool {
			return string(s[c.dir].data) == "afteragain"
		})[c.dir]
		if s.lost[0] != -1 {
			t.Errorf("%v: first chunk Lost %d, want -1 (start unseen)", c.dir, s.lost[0])
		}
		for _, l := range s.lost[1:] {
			if l != 0 {
				t.Errorf("%v: later chunk Lost %d, want 0", c.dir, l)
			}
		}
	}
}

func TestClose(t *testing.T) { eachHook(t, testClose) }

func testClose(t *testing.T, opts Options) {
	col := collect(t, opts)
	client, server := pair(t, nil)
	client.Write([]byte("bye"))
	readN(t, server, 3)
	local, remote := client.LocalAddr(), client.RemoteAddr()
	client.Close()
	col.wait(t, local, remote, "Closed in both directions", func(s [2]stream) bool {
		return s[0].closed && s[1].closed && string(s[0].data) == "bye"
	})
}

func TestVerdict(t *testing.T) {
	col := collect(t, Options{})
	client, server := pair(t, nil)
	client.Write([]byte("first"))
	readN(t, server, 5)
	s := col.wait(t, client.LocalAddr(), client.RemoteAddr(), "first", func(s [2]stream) bool {
		return string(s[0].data) == "first"
	})
	if err := col.src.SetVerdict(s[0].conn, false); err != nil {
		t.Fatal(err)
	}
	client.Write([]byte("second"))
	readN(t, server, 6)
	local, remote := client.LocalAddr(), client.RemoteAddr()
	client.Close()
	s = col.wait(t, local, remote, "Closed", func(s [2]stream) bool { return s[0].closed })
	if string(s[0].data) != "first" {
		t.Errorf("after SetVerdict(false): A->B %q, want only %q", s[0].data, "first")
	}
	// The other end has no verdict: it still sees everything.
	col.wait(t, server.LocalAddr(), server.RemoteAddr(), "first, second", func(s [2]stream) bool {
		return string(s[1].data) == "firstsecond"
	})
}

func TestPorts(t *testing.T) {
	traced, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer traced.Close()
	col := collect(t, Options{Ports: []uint16{addrPort(traced.Addr()).Port()}})
	other, _ := pair(t, nil)
	other.Write([]byte("other"))
	client, server := pair(t, traced)
	client.Write([]byte("traced"))
	readN(t, server, 6)
	col.wait(t, client.LocalAddr(), client.RemoteAddr(), "traced", func(s [2]stream) bool {
		return string(s[0].data) == "traced"
	})
	if n := len(col.of(other.LocalAddr(), other.RemoteAddr())); n != 0 {
		t.Errorf("%d chunks of a connection on a port not in the filter", n)
	}
}

// TestCloseWhileBusy closes a source while connections close, verdicts
// are set and stats are read in other goroutines: under -race, it catches
// a map used by Next, SetVerdict or Stats while Close closes it.
func TestCloseWhileBusy(t *testing.T) {
	for round := range 3 {
		col := collect(t, Options{})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		// loop runs step in a goroutine until stop is closed or step
		// returns false.
		loop := func(step func() bool) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if !step() {
						return
					}
				}
			}()
		}
		loop(func() bool { // a connection that opens, carries a byte and closes
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				return false
			}
			s, err := ln.Accept()
			if err != nil {
				c.Close()
				return false
			}
			c.Write([]byte("x"))
			s.Read(make([]byte, 1))
			c.Close()
			s.Close()
			return true
		})
		loop(func() bool { // verdicts and stats, as the agent's decoder and metrics do
			for _, r := range col.all() {
				if err := col.src.SetVerdict(r.conn, true); err != nil {
					t.Errorf("SetVerdict: %v", err)
					return false
				}
			}
			col.src.Stats()
			return true
		})
		time.Sleep(time.Duration(100+100*round) * time.Millisecond)
		if err := col.src.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		close(stop)
		wg.Wait()
		ln.Close()
		<-col.done
	}
}
