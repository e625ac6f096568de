// Package ebpf captures what processes write to and read from TCP sockets,
// live, as syscalls return: one program on the raw sys_exit tracepoint, or
// one per syscall on the syscall tracepoints (Options.Hook; this machine
// has no kprobes and refuses fentry). The BPF programs in bpf/ decide in the kernel which sockets are
// TCP, copy the bytes into a ring buffer and report every byte they could
// not copy; this package turns the ring into capture.Chunks.
//
// It must never interpret the bytes (Kafka is decoded later) and never
// drop bytes without saying so in Chunk.Lost and Stats.
//
// The programs read syscall arguments from registers: they are built for
// amd64 and arm64 (one object each, see gen.go). On other architectures
// Open says so (unsupported.go).
package ebpf
