//go:build !linux

package conn

import "errors"

// CgroupID returns the id of a cgroup v2 directory; cgroups are Linux's.
func CgroupID(path string) (uint64, error) {
	return 0, errors.New("cgroup id of " + path + ": cgroups exist only on Linux")
}
