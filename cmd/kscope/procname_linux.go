package main

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"kscope/internal/demo"
)

// kscope demo runs each service as "kscope demo-service NAME". Naming the
// process after its service makes ps, top and the agent (which reports
// the command name) show "shipping", not a third "kscope". The name is
// the main thread's: init runs on it, and the kernel reports the thread
// group leader's name for the process.
func init() {
	if len(os.Args) > 2 && os.Args[1] == "demo-service" && demo.IsService(os.Args[2]) {
		if p, err := unix.BytePtrFromString(os.Args[2]); err == nil {
			unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(p)), 0, 0, 0)
		}
	}
}
