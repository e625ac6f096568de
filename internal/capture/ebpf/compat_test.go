//go:build linux && amd64

package ebpf

import (
	"errors"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"kscope/internal/testenv"
)

// TestCompatSyscall: a 32-bit syscall numbers read 3, which is close on
// x86-64. The raw sys_exit program sees every syscall by number: it must
// leave the 32-bit ones alone, as the syscall tracepoints do, and not take
// this read for a close of the connection.
func TestCompatSyscall(t *testing.T) { eachHook(t, testCompatSyscall) }

func testCompatSyscall(t *testing.T, opts Options) {
	testenv.Root(t)
	cc := testenv.Command(t, "clang", "clang")
	bin := filepath.Join(t.TempDir(), "compat")
	if out, err := exec.Command(cc, "-O1", "-o", bin, "testdata/compat.c").CombinedOutput(); err != nil {
		t.Fatalf("clang: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	opts.Ports = []uint16{uint16(port)}
	src, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	col := collectFrom(t, src)

	cmd := exec.Command(bin, strconv.Itoa(port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	readN(t, conn, 5)
	conn.Write([]byte("abcd"))
	if _, err := io.ReadFull(conn, make([]byte, 5)); err != nil {
		var exit *exec.ExitError
		if errors.As(cmd.Wait(), &exit) && exit.ExitCode() == 4 {
			// Not a missing dependency (testenv.Skip fails those in
			// CI): a kernel that refuses int 0x80 never reaches
			// sys_exit with a 32-bit number, so there is nothing the
			// programs could mistake.
			t.Skip("this kernel runs no 32-bit syscalls (IA32 emulation absent or off: int 0x80 faults)")
		}
		t.Fatalf("reading world: %v", err)
	}
	s := col.wait(t, conn.RemoteAddr(), conn.LocalAddr(), "hello, world", func(s [2]stream) bool {
		return string(s[0].data) == "helloworld"
	})
	if s[0].closed || s[1].closed {
		t.Error("the 32-bit read closed the connection")
	}
	if len(s[1].data) != 0 {
		t.Errorf("the 32-bit read was copied: %q", s[1].data)
	}
	conn.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}
