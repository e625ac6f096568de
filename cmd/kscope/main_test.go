package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// The kscope binary, built once for the tests that run it as a process of
// its own (kscope demo starts its services from it).
var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func kscopeBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "kscope-test-bin-")
		if binErr != nil {
			return
		}
		// Others may run it (the not-root test): the directory must be
		// searchable by them.
		os.Chmod(binDir, 0o755)
		binPath = filepath.Join(binDir, "kscope")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = &buildError{err: err, out: string(out)}
		}
	})
	if binErr != nil {
		t.Fatalf("build kscope: %v", binErr)
	}
	return binPath
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}
