package conn

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// cgroupFS is where cgroups are mounted. On a hybrid host (v1 controllers
// plus systemd's unified hierarchy) cgroup v2 is at cgroupFS/unified.
const cgroupFS = "/sys/fs/cgroup"

// cgroup2Magic is CGROUP2_SUPER_MAGIC, the statfs type of a cgroup v2 mount.
const cgroup2Magic = 0x63677270

// CgroupID returns the id of a cgroup v2 directory, the number that
// bpf_get_current_cgroup_id returns for a process in it: the kernfs node
// id, which on 64-bit hosts is the directory's inode number.
//
// path is either absolute under /sys/fs/cgroup or relative to the cgroup v2
// root, as the "0::" line of /proc/<pid>/cgroup shows it
// ("/kubepods.slice/...", with or without the leading slash).
func CgroupID(path string) (uint64, error) {
	dir := filepath.Clean(path)
	if dir != cgroupFS && !strings.HasPrefix(dir, cgroupFS+"/") {
		root, err := cgroup2Root()
		if err != nil {
			return 0, err
		}
		dir = filepath.Join(root, path)
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		return 0, fmt.Errorf("cgroup id of %s: %w", dir, err)
	}
	if fs.Type != cgroup2Magic {
		return 0, fmt.Errorf("cgroup id of %s: not a cgroup v2 directory (cgroup ids need cgroup v2; on a hybrid host it is under %s/unified)", dir, cgroupFS)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return 0, fmt.Errorf("cgroup id of %s: %w", dir, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("cgroup id of %s: no inode number", dir)
	}
	return st.Ino, nil
}

// cgroup2Root is where cgroup v2 is mounted: /sys/fs/cgroup on a unified
// host, /sys/fs/cgroup/unified on a hybrid one.
func cgroup2Root() (string, error) {
	for _, dir := range []string{cgroupFS, cgroupFS + "/unified"} {
		var fs syscall.Statfs_t
		if syscall.Statfs(dir, &fs) == nil && fs.Type == cgroup2Magic {
			return dir, nil
		}
	}
	return "", errors.New("cgroup v2 is not mounted at " + cgroupFS + " or " + cgroupFS + "/unified: cgroup ids need cgroup v2 (mount -t cgroup2 none " + cgroupFS + "/unified)")
}
