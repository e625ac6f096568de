//go:build linux && (amd64 || arm64)

package ebpf

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"testing"

	"kscope/internal/capture"
	"kscope/internal/testenv"
)

// TestOtherProcess traces a Python client by its pid: the Go side of the
// connection, in this process, must not appear.
func TestOtherProcess(t *testing.T) {
	testenv.Root(t)
	python := testenv.Command(t, "python3", "python3")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	// The client waits for a line on stdin so that tracing starts
	// before it connects.
	script := fmt.Sprintf(`
import socket, sys
sys.stdin.readline()
s = socket.create_connection(("127.0.0.1", %d))
s.sendall(b"ping from python")
assert s.recv(4) == b"pong"
s.close()
`, ln.Addr().(*net.TCPAddr).Port)
	cmd := exec.Command(python, "-c", script)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	pid := uint32(cmd.Process.Pid)

	col := collect(t, Options{PIDs: []uint32{pid}})
	io.WriteString(stdin, "go\n")
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	readN(t, c, 16)
	c.Write([]byte("pong"))
	if err := cmd.Wait(); err != nil {
		t.Fatalf("python client: %v", err)
	}

	// The traced end is Python's: A is its address, B the listener.
	s := col.wait(t, c.RemoteAddr(), c.LocalAddr(), "python's bytes and close", func(s [2]stream) bool {
		return string(s[0].data) == "ping from python" && string(s[1].data) == "pong" && s[0].closed && s[1].closed
	})
	if got := s[0].conn.PID; got != pid {
		t.Errorf("PID %d, want the python client's %d", got, pid)
	}
	if s[0].lost[0] != 0 || s[1].lost[0] != 0 {
		t.Errorf("first chunks Lost %d, %d; want 0 (connect seen)", s[0].lost[0], s[1].lost[0])
	}
	for _, r := range col.all() {
		if r.conn.PID != pid {
			t.Errorf("chunk of pid %d, filter is %d: %v %v", r.conn.PID, pid, r.conn, capture.Dir(r.dir))
		}
	}
}
