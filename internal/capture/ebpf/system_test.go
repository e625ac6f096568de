//go:build linux

package ebpf

import (
	"os"
	"strings"
	"testing"
)

// TestCgroupID: --cgroup takes an id, or a cgroup v2 directory; any other
// directory is refused, not traced as a cgroup no process is in.
func TestCgroupID(t *testing.T) {
	if id, err := cgroupID("12345"); err != nil || id != 12345 {
		t.Errorf("an id: %d, %v", id, err)
	}
	if _, err := cgroupID(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a cgroup v2 directory") {
		t.Errorf("a plain directory: %v", err)
	}
	mounts, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[2] == "cgroup2" {
			if id, err := cgroupID(f[1]); err != nil || id == 0 {
				t.Errorf("the cgroup v2 root %s: %d, %v", f[1], id, err)
			}
			return
		}
	}
	t.Log("no cgroup v2 mounted here: only the refusal was checked")
}
