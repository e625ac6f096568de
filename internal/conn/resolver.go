package conn

import (
	"bytes"
	"container/list"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

const (
	// DefaultProcRoot is where Resolver reads processes unless told.
	DefaultProcRoot = "/proc"
	// cacheTTL bounds how stale a live process's identity may be: a
	// process can rewrite its command line or move to another cgroup.
	cacheTTL = 30 * time.Second
	// recheckAfter is how long a cached pid is trusted before its start
	// time is read again to see whether the pid was reused. Reading stat
	// on every lookup would cost a /proc read per exchange; pids are
	// reused after a wrap of pid_max, rarely within a second.
	recheckAfter = time.Second
	// cacheEntries bounds the cache; a host rarely has this many
	// processes talking to Kafka at once.
	cacheEntries = 4096
	// maxCmdline is where a command line is cut: a Java classpath alone
	// can run to megabytes.
	maxCmdline = 4 << 10
)

// Resolver names the process behind a pid from /proc, with a cache so that
// a busy agent does not read /proc for every exchange.
//
// An entry is keyed on the pid and the process's start time, so a pid the
// kernel hands to a new process is read afresh; it is kept after the
// process exits, since its last exchanges often arrive after it is gone.
type Resolver struct {
	root    string
	ttl     time.Duration
	recheck time.Duration
	max     int
	now     func() time.Time

	// mu guards cache and lru.
	mu    sync.Mutex
	cache map[uint32]*list.Element // of *cached
	lru   *list.List               // front: most recently used
}

type cached struct {
	pid     uint32
	start   uint64    // /proc/<pid>/stat field 22, clock ticks after boot
	read    time.Time // when process was read
	checked time.Time // when start was last compared with /proc
	process Process
}

// NewResolver returns a Resolver reading procRoot ("" means /proc).
func NewResolver(procRoot string) *Resolver {
	if procRoot == "" {
		procRoot = DefaultProcRoot
	}
	return &Resolver{
		root:    procRoot,
		ttl:     cacheTTL,
		recheck: recheckAfter,
		max:     cacheEntries,
		now:     time.Now,
		cache:   make(map[uint32]*list.Element),
		lru:     list.New(),
	}
}

// Lookup returns the process with this pid. A process that has exited is
// returned as it was last seen, if it was; ok is false for a pid never
// seen and no longer running.
//
// A cached answer is trusted for a second; after that, each lookup reads
// /proc/<pid>/stat once to tell a reused pid from the process that held it.
func (r *Resolver) Lookup(pid uint32) (Process, bool) {
	now := r.now()
	if p, ok := r.fromCache(pid, func(c *cached) bool {
		return now.Sub(c.checked) < r.recheck && now.Sub(c.read) < r.ttl
	}); ok {
		return p, true
	}

	start, err := r.startTime(pid)
	// An exited process: what was seen is the best there is. A different
	// start time is another process, read below.
	if p, ok := r.fromCache(pid, func(c *cached) bool {
		if err != nil {
			return true
		}
		if c.start == start && now.Sub(c.read) < r.ttl {
			c.checked = now
			return true
		}
		return false
	}); ok {
		return p, true
	}
	if err != nil {
		return Process{}, false
	}

	// Read outside the lock: lookups of other pids need not wait on
	// /proc. Two lookups of one pid may both read it; the last store
	// wins and both are right.
	p, err := r.read(pid)
	if err != nil {
		return Process{}, false
	}
	// The pid may have been reused while it was read; then what was
	// read is a mix of two processes. (If the process merely exited,
	// what was read is still its own.)
	if again, err := r.startTime(pid); err == nil && again != start {
		return Process{}, false
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	c := &cached{pid: pid, start: start, read: now, checked: now, process: p}
	if e, ok := r.cache[pid]; ok {
		e.Value = c
		r.lru.MoveToFront(e)
		return p, true
	}
	r.cache[pid] = r.lru.PushFront(c)
	for r.lru.Len() > r.max {
		oldest := r.lru.Back()
		r.lru.Remove(oldest)
		delete(r.cache, oldest.Value.(*cached).pid)
	}
	return p, true
}

// fromCache returns the cached process with this pid if use, called under
// mu, accepts the entry.
func (r *Resolver) fromCache(pid uint32, use func(*cached) bool) (Process, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.cache[pid]
	if !ok || !use(e.Value.(*cached)) {
		return Process{}, false
	}
	r.lru.MoveToFront(e)
	return e.Value.(*cached).process, true
}

// read reads a running process's identity. Only comm must be readable:
// exe needs ptrace access to the process, and a kernel thread has no
// command line.
func (r *Resolver) read(pid uint32) (Process, error) {
	comm, err := r.readFile(pid, "comm", 64)
	if err != nil {
		return Process{}, err
	}
	p := Process{PID: pid, Comm: strings.TrimSuffix(string(comm), "\n")}
	if b, err := r.readFile(pid, "cmdline", maxCmdline+1); err == nil {
		p.Cmdline = cmdline(b)
	}
	if exe, err := os.Readlink(r.path(pid, "exe")); err == nil {
		p.Exe = exe
	}
	// A cgroup file is a few lines, one per v1 hierarchy; 64 KiB holds
	// deep nesting of long paths.
	if b, err := r.readFile(pid, "cgroup", 64<<10); err == nil {
		p.Cgroup, p.ContainerID, p.PodUID = cgroupPath(string(b))
	}
	return p, nil
}

// startTime is field 22 of /proc/<pid>/stat: when the process started, in
// clock ticks after boot. With the pid it names one process for the life of
// the host.
func (r *Resolver) startTime(pid uint32) (uint64, error) {
	b, err := r.readFile(pid, "stat", 4<<10)
	if err != nil {
		return 0, err
	}
	return parseStartTime(b)
}

func parseStartTime(stat []byte) (uint64, error) {
	// Field 2, the command, is in parentheses and may itself hold
	// spaces and parentheses: the fields resume after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("stat: no command field")
	}
	fields := strings.Fields(string(stat[i+1:]))
	const at = 22 - 3 // fields[0] is field 3, the state
	if len(fields) <= at {
		return 0, fmt.Errorf("stat: %d fields, want at least 22", len(fields)+2)
	}
	start, err := strconv.ParseUint(fields[at], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stat: start time: %w", err)
	}
	return start, nil
}

// cmdline turns the NUL-separated arguments of /proc/<pid>/cmdline into one
// line, cut to maxCmdline bytes on a character boundary.
func cmdline(b []byte) string {
	if len(b) > maxCmdline {
		// Back off to the start of the character the cut would split.
		n := maxCmdline
		for n > maxCmdline-utf8.UTFMax && !utf8.RuneStart(b[n]) {
			n--
		}
		b = b[:n]
	}
	b = bytes.TrimRight(b, "\x00")
	return strings.ReplaceAll(string(b), "\x00", " ")
}

// procFiles are the only files Resolver reads under /proc/<pid>: what ps
// shows. environ and mem hold a process's secrets and are never opened.
var procFiles = map[string]bool{"comm": true, "cmdline": true, "cgroup": true, "stat": true}

// readFile reads at most limit bytes of /proc/<pid>/<name>.
func (r *Resolver) readFile(pid uint32, name string, limit int64) ([]byte, error) {
	if !procFiles[name] {
		return nil, fmt.Errorf("read %s of pid %d: not a file kscope may read", name, pid)
	}
	f, err := os.Open(r.path(pid, name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}

func (r *Resolver) path(pid uint32, name string) string {
	return filepath.Join(r.root, strconv.FormatUint(uint64(pid), 10), name)
}
