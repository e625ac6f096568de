//go:build !linux

package ebpf

import (
	"fmt"
	"runtime"
)

// CheckPrivileges says that tracing needs Linux.
func CheckPrivileges() error {
	return fmt.Errorf("kscope traces with eBPF, which needs Linux; this is %s (kscope analyze works on capture files)", runtime.GOOS)
}
