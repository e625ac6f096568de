//go:build unix && !linux

// Package childproc starts the demo's processes so that they stop with it.
package childproc

import "syscall"

// Attr puts a child process in a process group of its own, so that a
// Ctrl-C in the terminal reaches the parent alone, which stops its
// children in order. Only Linux can also signal the child when the parent
// dies: sig is not used here.
func Attr(sig syscall.Signal) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
