//go:build linux

package ebpf

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Capability bits (linux/capability.h).
const (
	capDACReadSearch = 2
	capSysAdmin      = 21
	capPerfmon       = 38
	capBPF           = 39
)

// CheckPrivileges reports, in one line, what the process lacks to trace:
// root, or CAP_BPF, CAP_PERFMON and CAP_DAC_READ_SEARCH (CAP_SYS_ADMIN
// stands for the first two).
func CheckPrivileges() error {
	eff, err := effectiveCaps()
	if err != nil {
		return fmt.Errorf("ebpf: read capabilities: %w", err)
	}
	has := func(c uint) bool { return eff&(1<<c) != 0 }
	var missing []string
	if !has(capBPF) && !has(capSysAdmin) {
		missing = append(missing, "CAP_BPF")
	}
	if !has(capPerfmon) && !has(capSysAdmin) {
		missing = append(missing, "CAP_PERFMON")
	}
	if !has(capDACReadSearch) {
		missing = append(missing, "CAP_DAC_READ_SEARCH")
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("tracing needs root or CAP_BPF, CAP_PERFMON and CAP_DAC_READ_SEARCH (missing %s): run with sudo", strings.Join(missing, ", "))
}

func effectiveCaps() (uint64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, errors.New("no CapEff in /proc/self/status")
}

const tracefs = "/sys/kernel/tracing"

// mountTracefs mounts tracefs where link.Tracepoint looks for tracepoint
// ids, when nobody did.
func mountTracefs() error {
	if _, err := os.Stat(filepath.Join(tracefs, "events")); err == nil {
		return nil
	}
	if _, err := os.Stat("/sys/kernel/debug/tracing/events"); err == nil {
		return nil
	}
	if err := unix.Mount("nodev", tracefs, "tracefs", 0, ""); err != nil {
		return fmt.Errorf("ebpf: mount tracefs on %s: %w (mount it, or run as root)", tracefs, err)
	}
	return nil
}

// raiseMemlock lifts RLIMIT_MEMLOCK, which kernels before 5.11 charge BPF
// maps and programs to (later ones charge the memory cgroup). It is done
// here, not with cilium/ebpf's rlimit package: that one probes the kernel
// at init, creating a BPF map in every kscope command, analyze and version
// included. Its failure is reported only if loading then fails with EPERM:
// on a recent kernel the limit does not matter.
func raiseMemlock() error {
	return unix.Prlimit(0, unix.RLIMIT_MEMLOCK, &unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}, nil)
}

// cgroupID turns Options.Cgroup into the id bpf_get_current_cgroup_id
// returns: the inode number of the cgroup v2 directory.
func cgroupID(s string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	if id, err := strconv.ParseUint(s, 10, 64); err == nil {
		return id, nil
	}
	path := s
	if !filepath.IsAbs(path) {
		path = filepath.Join("/sys/fs/cgroup", path)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, fmt.Errorf("ebpf: cgroup %s: %w", s, err)
	}
	// Any directory has an inode number: one outside cgroup v2 (a v1
	// hierarchy, or the tmpfs that holds them on a hybrid system) would
	// match no process, and the agent would trace nothing, silently.
	var fs unix.Statfs_t
	if err := unix.Statfs(path, &fs); err != nil {
		return 0, fmt.Errorf("ebpf: cgroup %s: %w", s, err)
	}
	if fs.Type != unix.CGROUP2_SUPER_MAGIC {
		return 0, fmt.Errorf("ebpf: cgroup %s: %s is not a cgroup v2 directory (on a hybrid system cgroup v2 is often mounted at /sys/fs/cgroup/unified)", s, path)
	}
	return st.Ino, nil
}

// procEndpoints finds the endpoints of socket fd of process pid in
// /proc/net/tcp{,6}, for when the kernel could not read them from the
// sock.
func procEndpoints(pid uint32, fd int32) (local, remote netip.AddrPort, err error) {
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd))
	if err != nil {
		return local, remote, err
	}
	inode, ok := strings.CutPrefix(link, "socket:[")
	if !ok {
		return local, remote, fmt.Errorf("fd %d of %d is %s, not a socket", fd, pid, link)
	}
	inode = strings.TrimSuffix(inode, "]")
	for _, name := range []string{"tcp", "tcp6"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, name))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[9] != inode {
				continue
			}
			f.Close()
			local, err1 := parseProcAddr(fields[1])
			remote, err2 := parseProcAddr(fields[2])
			return local, remote, errors.Join(err1, err2)
		}
		f.Close()
	}
	return local, remote, fmt.Errorf("socket %s of %d not in /proc/net/tcp", inode, pid)
}

// parseProcAddr parses "0100007F:1F90": the address as host-order 32-bit
// words in hex, the port in hex.
func parseProcAddr(s string) (netip.AddrPort, error) {
	host, port, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("bad address %q", s)
	}
	raw, err := hex.DecodeString(host)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("bad address %q", s)
	}
	for i := 0; i < len(raw); i += 4 {
		binary.BigEndian.PutUint32(raw[i:], binary.LittleEndian.Uint32(raw[i:]))
	}
	p, err := strconv.ParseUint(port, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad port %q", s)
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr.Unmap(), uint16(p)), nil
}
