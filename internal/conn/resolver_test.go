package conn

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeProc is a /proc with the files Resolver reads.
type fakeProc struct {
	t    *testing.T
	root string
}

func newFakeProc(t *testing.T) *fakeProc {
	return &fakeProc{t: t, root: t.TempDir()}
}

// process writes /proc/<pid> for a process started at start ticks after
// boot.
func (f *fakeProc) process(pid uint32, start uint64, comm string, args []string, cgroup, exe string) {
	f.t.Helper()
	dir := filepath.Join(f.root, strconv.Itoa(int(pid)))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.t.Fatal(err)
	}
	// Fields 3 to 52 of a real stat line, with the start time (field
	// 22) set.
	fields := strings.Fields("S 1 4242 4242 0 -1 4194560 1234 0 0 0 10 5 0 0 20 0 9 0 X 123456789 2500 18446744073709551615 1 1 0 0 0 0 0 4096 17663 0 0 0 17 3 0 0 0 0 0 0 0 0 0 0 0 0 0")
	fields[22-3] = strconv.FormatUint(start, 10)
	stat := fmt.Sprintf("%d (%s) %s\n", pid, comm, strings.Join(fields, " "))
	var cmdline string
	for _, a := range args {
		cmdline += a + "\x00"
	}
	for name, data := range map[string]string{
		"stat":    stat,
		"comm":    comm + "\n",
		"cmdline": cmdline,
		"cgroup":  cgroup,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			f.t.Fatal(err)
		}
	}
	os.Remove(filepath.Join(dir, "exe"))
	if exe != "" {
		if err := os.Symlink(exe, filepath.Join(dir, "exe")); err != nil {
			f.t.Fatal(err)
		}
	}
}

func (f *fakeProc) exit(pid uint32) {
	f.t.Helper()
	if err := os.RemoveAll(filepath.Join(f.root, strconv.Itoa(int(pid)))); err != nil {
		f.t.Fatal(err)
	}
}

func TestLookupFakeProc(t *testing.T) {
	proc := newFakeProc(t)
	// A comm with spaces and a parenthesis, which stat shows as is.
	proc.process(4242, 987654, "kafka) (x", []string{"/usr/bin/java", "-Xmx1g", "-cp", "/opt/kafka/libs/*", "kafka.Kafka", "config/server.properties"},
		"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"+uidU+".slice/cri-containerd-"+cid+".scope\n",
		"/usr/lib/jvm/java-21/bin/java")
	proc.process(4243, 5, "kworker/0:1", nil, "0::/\n", "")

	r := NewResolver(proc.root)
	got, ok := r.Lookup(4242)
	want := Process{
		PID:         4242,
		Comm:        "kafka) (x",
		Cmdline:     "/usr/bin/java -Xmx1g -cp /opt/kafka/libs/* kafka.Kafka config/server.properties",
		Exe:         "/usr/lib/jvm/java-21/bin/java",
		Cgroup:      "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope",
		ContainerID: cid,
		PodUID:      uid,
	}
	if !ok || got != want {
		t.Errorf("Lookup(4242) = %+v, %v\nwant %+v, true", got, ok, want)
	}

	// A kernel thread: no command line, no executable.
	got, ok = r.Lookup(4243)
	want = Process{PID: 4243, Comm: "kworker/0:1", Cgroup: "/"}
	if !ok || got != want {
		t.Errorf("Lookup(4243) = %+v, %v; want %+v, true", got, ok, want)
	}

	if got, ok := r.Lookup(1); ok {
		t.Errorf("Lookup of a pid that never ran = %+v, true; want false", got)
	}
}

func TestLookupCmdlineCut(t *testing.T) {
	proc := newFakeProc(t)
	// A classpath far over the limit, with a 3-byte character across
	// the cut.
	long := strings.Repeat("a", maxCmdline-len("java -cp ")-1) + "€" + strings.Repeat("b", 10000)
	proc.process(7, 1, "java", []string{"java", "-cp", long}, "0::/\n", "")
	p, ok := NewResolver(proc.root).Lookup(7)
	if !ok {
		t.Fatal("Lookup(7) not found")
	}
	want := "java -cp " + strings.Repeat("a", maxCmdline-len("java -cp ")-1)
	if p.Cmdline != want {
		t.Errorf("cmdline is %d bytes ending %q; want %d bytes ending in a's, the split € dropped",
			len(p.Cmdline), p.Cmdline[max(0, len(p.Cmdline)-8):], len(want))
	}
}

func TestLookupCache(t *testing.T) {
	proc := newFakeProc(t)
	now := time.Unix(1_700_000_000, 0)
	r := NewResolver(proc.root)
	r.now = func() time.Time { return now }

	proc.process(100, 5000, "producer", []string{"./producer"}, "0::/system.slice/docker-"+cid+".scope\n", "")
	if p, _ := r.Lookup(100); p.Comm != "producer" {
		t.Fatalf("Lookup(100).Comm = %q, want producer", p.Comm)
	}

	// The same process renames itself: within the TTL the cached name
	// stands, so /proc is not read for every exchange.
	proc.process(100, 5000, "producer-2", []string{"./producer"}, "0::/system.slice/docker-"+cid+".scope\n", "")
	now = now.Add(cacheTTL / 2)
	if p, _ := r.Lookup(100); p.Comm != "producer" {
		t.Errorf("within the TTL, Comm = %q, want the cached producer", p.Comm)
	}

	// After the TTL it is read again.
	now = now.Add(cacheTTL)
	if p, _ := r.Lookup(100); p.Comm != "producer-2" {
		t.Errorf("after the TTL, Comm = %q, want producer-2", p.Comm)
	}

	// The pid is reused by another process, well within the TTL: once
	// the cached pid is due for a check (recheckAfter), the start time
	// differs and the new process is read.
	proc.process(100, 9000, "consumer", []string{"kcat", "-C", "-t", "orders"}, "0::/machine.slice/libpod-"+cid2+".scope\n", "/usr/bin/kcat")
	now = now.Add(recheckAfter)
	p, ok := r.Lookup(100)
	want := Process{PID: 100, Comm: "consumer", Cmdline: "kcat -C -t orders", Exe: "/usr/bin/kcat",
		Cgroup: "/machine.slice/libpod-" + cid2 + ".scope", ContainerID: cid2}
	if !ok || p != want {
		t.Errorf("after pid reuse, Lookup(100) = %+v, %v\nwant %+v, true", p, ok, want)
	}

	// It exits; exchanges that arrive late still name it, even past the
	// TTL.
	proc.exit(100)
	now = now.Add(10 * cacheTTL)
	if p, ok := r.Lookup(100); !ok || p != want {
		t.Errorf("after exit, Lookup(100) = %+v, %v\nwant the last seen %+v, true", p, ok, want)
	}
}

func TestLookupCacheBounded(t *testing.T) {
	proc := newFakeProc(t)
	r := NewResolver(proc.root)
	r.max = 3
	for pid := uint32(1); pid <= 5; pid++ {
		proc.process(pid, uint64(pid), fmt.Sprint("p", pid), nil, "0::/\n", "")
	}
	for _, pid := range []uint32{1, 2, 3, 1, 4, 5} {
		r.Lookup(pid)
	}
	if n := len(r.cache); n != 3 || r.lru.Len() != 3 {
		t.Fatalf("cache holds %d (list %d), want 3", n, r.lru.Len())
	}
	// 2 and 3 were used least recently; 1 was used again before 4 and 5
	// came.
	for pid := uint32(1); pid <= 5; pid++ {
		proc.exit(pid)
	}
	for pid, kept := range map[uint32]bool{1: true, 2: false, 3: false, 4: true, 5: true} {
		if _, ok := r.Lookup(pid); ok != kept {
			t.Errorf("exited pid %d found = %v, want %v", pid, ok, kept)
		}
	}
}

func TestLookupConcurrent(t *testing.T) {
	proc := newFakeProc(t)
	for pid := uint32(1); pid <= 20; pid++ {
		proc.process(pid, uint64(pid), fmt.Sprint("p", pid), []string{"p", fmt.Sprint(pid)}, "0::/\n", "")
	}
	r := NewResolver(proc.root)
	r.max = 8
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				pid := uint32((g*7+i)%20 + 1)
				if p, ok := r.Lookup(pid); !ok || p.Comm != fmt.Sprint("p", pid) {
					t.Errorf("Lookup(%d) = %+v, %v", pid, p, ok)
					return
				}
			}
		})
	}
	wg.Wait()
}

// The resolver refuses the files that hold a process's secrets, whatever a
// later change asks it to read.
func TestNeverReadsSecrets(t *testing.T) {
	proc := newFakeProc(t)
	proc.process(1, 1, "init", nil, "0::/\n", "")
	for _, name := range []string{"environ", "mem"} {
		if err := os.WriteFile(filepath.Join(proc.root, "1", name), []byte("PASSWORD=hunter2"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := NewResolver(proc.root)
	for _, name := range []string{"environ", "mem", "../1/environ"} {
		if b, err := r.readFile(1, name, 1<<10); err == nil {
			t.Errorf("readFile(%q) = %q, want it refused", name, b)
		}
	}
	if p, _ := r.Lookup(1); strings.Contains(fmt.Sprintf("%+v", p), "hunter2") {
		t.Errorf("Lookup shows the environment: %+v", p)
	}
}

func TestLookupSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc:", err)
	}
	pid := uint32(os.Getpid())
	p, ok := NewResolver("").Lookup(pid)
	if !ok {
		t.Fatalf("Lookup(own pid %d) not found", pid)
	}
	// The kernel cuts comm to 15 bytes (TASK_COMM_LEN).
	wantComm := filepath.Base(os.Args[0])
	wantComm = wantComm[:min(len(wantComm), 15)]
	if p.PID != pid || p.Comm != wantComm {
		t.Errorf("PID, Comm = %d, %q; want %d, %q", p.PID, p.Comm, pid, wantComm)
	}
	if want := strings.Join(os.Args, " "); len(want) <= maxCmdline && p.Cmdline != want {
		t.Errorf("Cmdline = %q, want %q", p.Cmdline, want)
	}
	if exe, err := os.Executable(); err == nil && p.Exe != exe {
		t.Errorf("Exe = %q, want %q", p.Exe, exe)
	}
	if p.Cgroup == "" {
		t.Error("Cgroup is empty, want the path from /proc/self/cgroup")
	}
}

func TestParseStartTime(t *testing.T) {
	tests := []struct {
		stat string
		want uint64
		err  bool
	}{
		{stat: "1 (systemd) S 0 1 1 0 -1 4194560 52937 1735539 104 1561 120 183 4071 2061 20 0 1 0 27 172343296 3263 18446744073709551615", want: 27},
		{stat: "77 (a b) c)) R 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 123456789012 0 0", want: 123456789012},
		{stat: "1 (short) S 0 1", err: true},
		{stat: "no parenthesis", err: true},
		{stat: "1 (x) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 -5 0 0", err: true},
	}
	for _, tt := range tests {
		got, err := parseStartTime([]byte(tt.stat))
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("parseStartTime(%q) = %d, %v; want %d, error %v", tt.stat, got, err, tt.want, tt.err)
		}
	}
}
