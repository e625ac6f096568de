// Package childproc starts the demo's processes so that they stop with it.
package childproc

import "syscall"

// Attr puts a child process in a process group of its own, so that a
// Ctrl-C in the terminal reaches the parent alone, which stops its
// children in order; and has the kernel send it sig should the parent die
// without doing so.
func Attr(sig syscall.Signal) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: sig}
}
