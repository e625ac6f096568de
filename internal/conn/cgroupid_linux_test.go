package conn

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestCgroupID(t *testing.T) {
	root, err := cgroup2Root()
	if err != nil {
		t.Skip("cgroup v2 not mounted, no cgroup ids to read:", err)
	}
	fi, err := os.Stat(root)
	if err != nil {
		t.Fatal(err)
	}
	rootIno := fi.Sys().(*syscall.Stat_t).Ino

	// The root cgroup named every way a caller might name it.
	for _, path := range []string{root, root + "/", "/", ""} {
		id, err := CgroupID(path)
		if err != nil || id != rootIno {
			t.Errorf("CgroupID(%q) = %d, %v; want the root's inode %d", path, id, err, rootIno)
		}
	}

	// This test's own cgroup, as /proc/self/cgroup names it, relative
	// and absolute, with and without the leading slash.
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	var own string
	for line := range strings.SplitSeq(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			own = p
		}
	}
	if own == "" {
		t.Fatalf("no cgroup v2 line in /proc/self/cgroup:\n%s", b)
	}
	fi, err = os.Stat(filepath.Join(root, own))
	if err != nil {
		t.Fatal(err)
	}
	want := fi.Sys().(*syscall.Stat_t).Ino
	for _, path := range []string{own, strings.TrimPrefix(own, "/"), filepath.Join(root, own)} {
		id, err := CgroupID(path)
		if err != nil || id != want {
			t.Errorf("CgroupID(%q) = %d, %v; want %d, the inode of %s", path, id, err, want, filepath.Join(root, own))
		}
	}

	if id, err := CgroupID("/kscope-test-no-such-cgroup"); err == nil {
		t.Errorf("CgroupID of a missing cgroup = %d, want an error", id)
	}
	// On a hybrid host /sys/fs/cgroup itself is a tmpfs of v1
	// hierarchies, and has no cgroup id.
	if root != cgroupFS {
		if id, err := CgroupID(cgroupFS); err == nil {
			t.Errorf("CgroupID(%s) on a hybrid host = %d, want an error", cgroupFS, id)
		} else {
			t.Log(err)
		}
	}
	// A path that climbs out of the cgroup tree is not a cgroup.
	if id, err := CgroupID("../../../etc"); err == nil {
		t.Errorf(`CgroupID("../../../etc") = %d, want an error`, id)
	}
}
