//go:build linux && (amd64 || arm64)

package ebpf

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"kscope/internal/capture"
	"kscope/internal/testenv"
)

// TestSendfile: Go's io.Copy from a file to a TCP connection uses
// sendfile, whose bytes the process never sees: the writer's direction
// reports them as lost, exactly; the reader still sees them all.
func TestSendfile(t *testing.T) { eachHook(t, testSendfile) }

func testSendfile(t *testing.T, opts Options) {
	col := collect(t, opts)
	client, server := pair(t, nil)
	payload := bytes.Repeat([]byte("0123456789"), 10000)
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, payload, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	go io.Copy(client, f)
	readN(t, server, len(payload))

	s := col.wait(t, client.LocalAddr(), client.RemoteAddr(), "sendfile as lost bytes", func(s [2]stream) bool {
		return len(s[0].gaps) == len(payload)
	})[0]
	if len(s.data) != 0 {
		t.Errorf("sendfile: %d payload bytes, want none", len(s.data))
	}
	col.wait(t, server.LocalAddr(), server.RemoteAddr(), "the file's bytes", func(s [2]stream) bool {
		return bytes.Equal(s[1].data, payload)
	})
}

// mmsghdr is struct mmsghdr on 64-bit Linux.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// TestMmsg sends two messages with one sendmmsg and receives them with
// one recvmmsg.
func TestMmsg(t *testing.T) { eachHook(t, testMmsg) }

func testMmsg(t *testing.T, opts Options) {
	col := collect(t, opts)
	client, server := pair(t, nil)
	parts := [][]byte{[]byte("first message;"), []byte("second"), []byte(" message.")}
	want := bytes.Join(parts, nil)

	iov := func(bufs ...[]byte) []unix.Iovec {
		v := make([]unix.Iovec, len(bufs))
		for i, b := range bufs {
			v[i].Base = &b[0]
			v[i].SetLen(len(b))
		}
		return v
	}
	msgs := func(vecs ...[]unix.Iovec) []mmsghdr {
		m := make([]mmsghdr, len(vecs))
		for i, v := range vecs {
			m[i].hdr.Iov = &v[0]
			m[i].hdr.SetIovlen(len(v))
		}
		return m
	}
	out := msgs(iov(parts[0]), iov(parts[1], parts[2]))
	n := rawIO(t, client, true, func(fd int) (int, error) {
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&out[0])), 2, 0, 0, 0)
		if e != 0 {
			return 0, e
		}
		return int(r), nil
	})
	if n != 2 {
		t.Fatalf("sendmmsg sent %d messages", n)
	}

	var got []byte
	for len(got) < len(want) {
		a, b := make([]byte, 10), make([]byte, 100)
		in := msgs(iov(a), iov(b))
		n := rawIO(t, server, false, func(fd int) (int, error) {
			r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&in[0])), 2, unix.MSG_DONTWAIT, 0, 0)
			if e != 0 {
				return 0, e
			}
			return int(r), nil
		})
		for i := range n {
			buf := [][]byte{a, b}[i]
			got = append(got, buf[:in[i].len]...)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("test bug: received %q", got)
	}
	col.wait(t, client.LocalAddr(), client.RemoteAddr(), "sendmmsg bytes", func(s [2]stream) bool {
		return bytes.Equal(s[0].data, want)
	})
	col.wait(t, server.LocalAddr(), server.RemoteAddr(), "recvmmsg bytes", func(s [2]stream) bool {
		return bytes.Equal(s[1].data, want)
	})
}

func TestCheckPrivileges(t *testing.T) {
	err := CheckPrivileges()
	if os.Geteuid() == 0 {
		if err != nil {
			t.Fatalf("root: %v", err)
		}
		return
	}
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("CAP_BPF")) {
		t.Fatalf("not root: %v, want an error naming CAP_BPF", err)
	}
	if _, err := Open(Options{}); err == nil {
		t.Fatal("Open without privileges succeeded")
	}
}

// TestRingFull fills a one-page ring that nobody reads: the events that
// did not fit are counted, and their bytes are reported exactly as Lost
// on the next chunk of their direction.
func TestRingFull(t *testing.T) {
	testenv.Root(t)
	src, err := Open(Options{PIDs: []uint32{uint32(os.Getpid())}, RingBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	client, server := pair(t, nil)
	const n = 30000
	client.Write(make([]byte, n)) // 16 KiB events never fit a 4 KiB ring
	readN(t, server, n)

	col := collectFrom(t, src)
	client.Write([]byte("tail"))
	readN(t, server, 4)
	for _, c := range []struct {
		conn net.Conn
		dir  capture.Dir
	}{{client, capture.AtoB}, {server, capture.BtoA}} {
		s := col.wait(t, c.conn.LocalAddr(), c.conn.RemoteAddr(), "tail", func(s [2]stream) bool {
			return bytes.HasSuffix(s[c.dir].data, []byte("tail"))
		})[c.dir]
		if len(s.gaps) != n+4 {
			t.Errorf("%v: stream length with lost bytes %d, want %d (lost %v)", c.dir, len(s.gaps), n+4, s.lost)
		}
	}
	if st := src.Stats(); st.RingDrops == 0 || st.LostBytes < 2*n || len(st.RingDropsPerCPU) == 0 {
		t.Errorf("stats %+v: want ring drops and %d lost bytes", st, 2*n)
	}
}

// TestWakeups checks when the kernel wakes the reader: a forced wakeup
// interrupts the traced process, so traffic that leaves the ring mostly
// empty is read on the reader's own poll and forces none, and a ring
// filling past an eighth of its size wakes the reader.
func TestWakeups(t *testing.T) {
	col := collect(t, Options{})
	client, server := pair(t, nil)
	const n = 200
	for i := 0; i < n; i++ {
		client.Write([]byte("0123456789"))
		readN(t, server, 10)
	}
	col.wait(t, client.LocalAddr(), client.RemoteAddr(), "every write", func(s [2]stream) bool { return len(s[0].data) == 10*n })
	if st := col.src.Stats(); st.Wakeups != 0 {
		t.Errorf("%d wakeups forced by %d events of 10 bytes in an 8 MiB ring, want 0", st.Wakeups, st.Events)
	}

	// A 64 KiB ring nobody reads yet: 20 KB each way (both ends are
	// traced) cross its 8 KiB.
	src, err := Open(Options{PIDs: []uint32{uint32(os.Getpid())}, RingBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	client, server = pair(t, nil)
	for i := 0; i < 10; i++ {
		client.Write(make([]byte, 2000))
		readN(t, server, 2000)
	}
	if st := src.Stats(); st.Wakeups == 0 || st.RingDrops != 0 {
		t.Errorf("ring filled to 40 KB of 64 KiB: %d wakeups, %d drops; want some wakeups and no drop", st.Wakeups, st.RingDrops)
	}
}
