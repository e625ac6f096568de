//go:build !linux || (!amd64 && !arm64)

package ebpf

import (
	"fmt"
	"io"
	"runtime"

	"kscope/internal/capture"
)

// Source is not available here: eBPF is Linux's, and the BPF programs
// read syscall arguments from amd64 or arm64 registers (bpf/kernel.h);
// reading another architecture's registers with them would trace garbage.
type Source struct{}

// Open says that tracing is not built for this system.
func Open(Options) (*Source, error) {
	return nil, fmt.Errorf("ebpf: kscope traces system calls on Linux, amd64 and arm64 only; this kscope is built for %s/%s (kscope analyze works on capture files)", runtime.GOOS, runtime.GOARCH)
}

func (*Source) Next() (capture.Chunk, error)                     { return capture.Chunk{}, io.EOF }
func (*Source) Close() error                                     { return nil }
func (*Source) SetVerdict(*capture.Conn, bool) error             { return nil }
func (*Source) Boundary(*capture.Conn, capture.Dir, int64, bool) {}
func (*Source) Stats() Stats                                     { return Stats{} }
func (*Source) Hook() (Hook, error)                              { return "", nil }
