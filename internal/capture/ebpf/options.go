package ebpf

import (
	"fmt"
	"time"
)

// Defaults and limits of Options.
const (
	DefaultRingBytes          = 8 << 20
	DefaultMaxBytesPerSyscall = 256 << 10
	// MaxPayload is the most bytes one ring event carries; larger reads
	// and writes are split.
	MaxPayload = 16 << 10
	// MaxBytesPerSyscallLimit is the largest MaxBytesPerSyscall: the BPF
	// copy loop is bounded (MAX_CHUNKS events of MaxPayload).
	MaxBytesPerSyscallLimit = 1024 * MaxPayload
	maxPIDs                 = 1024 // MAX_PIDS in bpf/capture.c
	maxPorts                = 64   // MAX_PORTS in bpf/capture.c

	// pollInterval bounds how long an event waits in the ring: BPF wakes
	// the reader only when the ring holds an eighth of its size, at most
	// once per wakeGap per CPU (see wakeup_flags in bpf/capture.c). The
	// reader's own timer costs the traced processes nothing, and a short
	// one spreads the agent's work: at 50 ms it worked through 1,000
	// exchanges at a time (at 20,000/s), which raised the p99 latency of
	// bench wire's exchanges on a saturated 2-CPU machine from 2.1-2.3 to
	// 2.9-3.6 ms (the agent runs at nice -10).
	pollInterval = 10 * time.Millisecond
	wakeGap      = 5 * time.Millisecond
	// sweepInterval is how often connections of exited processes are
	// closed (a process that exits does not call close()).
	sweepInterval = 5 * time.Second
	// sweepCheck is how many events Next reads between looks at the
	// clock for a sweep (and it looks after the ring ran dry).
	sweepCheck = 1024
)

// Options select what is traced. The zero value traces every TCP
// connection of every process.
type Options struct {
	// PIDs limits tracing to these processes (thread group ids). Empty:
	// all processes.
	PIDs []uint32
	// Cgroup limits tracing to one cgroup v2: a directory (absolute, or
	// relative to /sys/fs/cgroup) or a numeric cgroup id. Empty: all.
	Cgroup string
	// Ports limits tracing to connections whose local or remote port is
	// one of these. Empty: all ports.
	Ports []uint16
	// MaxBytesPerSyscall is how many bytes of one read or write (of one
	// message for sendmmsg/recvmmsg) are copied; the rest is reported as
	// lost. Default DefaultMaxBytesPerSyscall.
	MaxBytesPerSyscall int
	// RingBytes is the ring buffer size, rounded up to a power of two.
	// Default DefaultRingBytes.
	RingBytes int
	// CopyRecords copies every byte, record data included. By default
	// the kernel follows the Kafka frames of connections whose start it
	// saw and skips the records of Produce requests and Fetch responses
	// after each batch header (see bpf/walk.h): the ring then carries
	// about the same bytes per exchange at any batch size.
	CopyRecords bool
	// Hook is where the programs run: HookRaw or HookTracepoints.
	// Empty: HookRaw, or HookTracepoints when the kernel refuses it
	// (Source.Hook says which, and why).
	Hook Hook
}

// Hook names where the BPF programs are attached.
type Hook string

const (
	// HookRaw runs one program on the raw sys_exit tracepoint (tp_btf),
	// which every syscall of every process passes: the default. A
	// syscall kscope does not trace costs a few compares there.
	HookRaw Hook = "raw"
	// HookTracepoints runs one program per syscall on the syscall
	// tracepoints (sys_exit_read, ...): only the traced syscalls run a
	// program, each through the tracepoint path's perf record and
	// guards. For kernels that refuse tp_btf programs.
	HookTracepoints Hook = "tracepoints"
)

// ParseHook reads a Hook's name; empty (the default) stays empty.
func ParseHook(s string) (Hook, error) {
	switch h := Hook(s); h {
	case "", HookRaw, HookTracepoints:
		return h, nil
	}
	return "", fmt.Errorf("syscall hook %q: want %s or %s", s, HookRaw, HookTracepoints)
}

// Stats counts what the source saw and what it lost.
type Stats struct {
	Events     uint64 // ring events read
	Bytes      uint64 // payload bytes delivered in chunks
	LostBytes  uint64 // bytes reported in Chunk.Lost (known amounts)
	LostEvents uint64 // chunks with Lost != 0 (-1 included)
	// Skipped are record bytes the kernel did not copy on purpose
	// (Chunk.Skipped); RingBytes what the ring carried, event headers
	// included.
	Skipped   uint64
	RingBytes uint64
	// RingDrops are events the kernel could not put in a full ring
	// (their bytes are reported as lost on the next event of their
	// connection); RingDropsPerCPU splits them by CPU.
	RingDrops       uint64
	RingDropBytes   uint64
	RingDropsPerCPU []uint64
	// Wakeups are the reader's wake-ups the kernel forced: each costs
	// the traced process an interrupt in its syscall.
	Wakeups     uint64
	Connections int // live connections
}
