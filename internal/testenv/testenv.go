// Package testenv lets tests that need the machine (root, a Debian
// package, a real client) skip with a reason when run by hand, and fail
// under CI (CI=true), where everything they need is installed.
package testenv

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// InCI reports whether the tests run in CI.
func InCI() bool { return os.Getenv("CI") == "true" }

// Skip skips t with why, or fails it in CI.
func Skip(t testing.TB, why string) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI=true, cannot skip: %s", why)
	}
	t.Skip(why)
}

// Command returns the path of a program, skipping t when it is missing.
func Command(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Skip(t, name+" not installed (apt-get install "+pkg+")")
	}
	return p
}

// Root skips t unless it runs as root.
func Root(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Skip(t, "needs root")
	}
}

// Python returns Debian's python3, skipping t unless it imports every
// module (python3-kafka: kafka; python3-confluent-kafka: confluent_kafka).
func Python(t testing.TB, modules ...string) string {
	t.Helper()
	py := Command(t, "/usr/bin/python3", "python3")
	for _, m := range modules {
		if exec.Command(py, "-c", "import "+m).Run() != nil {
			Skip(t, "python module "+m+" not installed (apt-get install python3-"+strings.ReplaceAll(m, "_", "-")+")")
		}
	}
	return py
}

// StartReady runs a long-lived client process until t ends (killed, even
// when stopped) and waits for it to print the line "ready".
func StartReady(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "ready" {
				close(ready)
			}
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s %v did not say it was ready within 20s", name, args)
	}
	return cmd
}
