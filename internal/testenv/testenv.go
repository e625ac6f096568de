// Package testenv lets tests that need the machine (root, a Debian
// package, a real client) skip with a reason when run by hand, and fail
// under CI (CI=true), where everything they need is installed.
package testenv

import (
	"os"
	"os/exec"
	"testing"
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
