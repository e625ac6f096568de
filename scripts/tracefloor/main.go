//go:build linux

// Command tracefloor attaches programs that do nothing to the syscall
// tracepoints the agent uses, and waits for SIGINT or SIGTERM: what the traced
// processes lose then is the cost of the tracepoints themselves, the floor
// under any tracing agent built on them. Used by scripts/bench-floor.sh.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
)

// The syscalls kscope's agent traces at exit (internal/capture/ebpf).
var syscalls = []string{"read", "recvfrom", "readv", "recvmsg", "recvmmsg", "write", "sendto", "writev",
	"sendmsg", "sendmmsg", "sendfile64", "connect", "accept", "accept4", "close"}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tracefloor:", err)
		os.Exit(1)
	}
}

func run() error {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.TracePoint, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}})
	if err != nil {
		return err
	}
	defer prog.Close()
	for _, sc := range syscalls {
		l, err := link.Tracepoint("syscalls", "sys_exit_"+sc, prog, nil)
		if err != nil {
			return fmt.Errorf("attach sys_exit_%s: %w", sc, err)
		}
		defer l.Close()
	}
	fmt.Printf("%d empty programs attached; Ctrl-C detaches them\n", len(syscalls))
	c := make(chan os.Signal, 1)
	signal.Notify(c, os.Interrupt, syscall.SIGTERM)
	<-c
	return nil
}
