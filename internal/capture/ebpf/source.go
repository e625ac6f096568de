//go:build linux && (amd64 || arm64)

package ebpf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"kscope/internal/capture"
)

// Source reads TCP traffic of traced processes. Next is called from one
// goroutine; Close, SetVerdict and Stats from any.
type Source struct {
	objs captureObjects
	// hook is where the programs run; fallback why not HookRaw, when
	// Open fell back.
	hook     Hook
	fallback error
	objsMu   sync.RWMutex // read-held by every use of objs' maps (withMaps); Close closes them under it
	links    []link.Link
	ring     *ring
	closed   atomic.Bool
	walk     bool // the kernel copies headers only (not CopyRecords)
	// bootWall converts bpf_ktime_get_ns (CLOCK_MONOTONIC) to wall time.
	bootWall time.Time

	// Owned by the Next goroutine.
	raw        []byte // the record read last
	queue      []capture.Chunk
	segs       []segment // the last segmented event's, reused
	lastSweep  time.Time
	untilCheck int // events until Next next looks at the clock for a sweep

	mu    sync.Mutex // guards conns
	conns map[uint64]*conn

	events, bytes, lostBytes, lostEvents atomic.Uint64
	skipped, ringBytes                   atomic.Uint64
}

type conn struct {
	c *capture.Conn
	// seen records that a chunk of the direction was delivered.
	seen [2]bool
	// dead: the last sweep found its process gone (sweep).
	dead bool
	// For a connection joined in mid-stream (unseen start): offset is
	// where each direction's delivered bytes end (lost and skipped
	// ones included), unknown once an unknown count was lost; hinted
	// the boundary last given to the kernel (Boundary), and when;
	// walking that the kernel took one.
	unseen  bool
	offset  [2]int64
	unknown [2]bool
	hinted  [2]int64
	hintAt  [2]time.Time
	tries   [2]int
	walking [2]bool
}

// Open loads the BPF programs and starts tracing.
func Open(opts Options) (*Source, error) {
	if opts.Hook != "" {
		return open(opts)
	}
	opts.Hook = HookRaw
	s, err := open(opts)
	if err == nil {
		return s, nil
	}
	opts.Hook = HookTracepoints
	s, err2 := open(opts)
	if err2 != nil {
		return nil, err
	}
	s.fallback = err
	return s, nil
}

// Hook returns where the programs run and, when that is not where Open
// tried first, why not.
func (s *Source) Hook() (Hook, error) { return s.hook, s.fallback }

func open(opts Options) (*Source, error) {
	if err := CheckPrivileges(); err != nil {
		return nil, err
	}
	if opts.MaxBytesPerSyscall <= 0 {
		opts.MaxBytesPerSyscall = DefaultMaxBytesPerSyscall
	}
	if opts.MaxBytesPerSyscall > MaxBytesPerSyscallLimit {
		return nil, fmt.Errorf("ebpf: MaxBytesPerSyscall %d above the limit %d", opts.MaxBytesPerSyscall, MaxBytesPerSyscallLimit)
	}
	if len(opts.PIDs) > maxPIDs || len(opts.Ports) > maxPorts {
		return nil, fmt.Errorf("ebpf: at most %d pids and %d ports", maxPIDs, maxPorts)
	}
	ring := ringSize(opts.RingBytes)
	cgroup, err := cgroupID(opts.Cgroup)
	if err != nil {
		return nil, err
	}
	if err := mountTracefs(); err != nil {
		return nil, err
	}
	memlock := raiseMemlock()

	spec, err := loadCapture()
	if err != nil {
		return nil, fmt.Errorf("ebpf: load spec: %w", err)
	}
	var specs captureSpecs
	if err := spec.Assign(&specs); err != nil {
		return nil, fmt.Errorf("ebpf: load spec: %w", err)
	}
	specs.Events.MaxEntries = uint32(ring)
	hook, err := ParseHook(string(opts.Hook))
	if err != nil {
		return nil, fmt.Errorf("ebpf: %w", err)
	}
	s := &Source{conns: make(map[uint64]*conn), bootWall: bootWall(), hook: hook}
	if err := s.load(spec, hook); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("ebpf: load programs: %+v", ve)
		}
		if memlock != nil && errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("ebpf: load programs: %w (RLIMIT_MEMLOCK could not be raised: %v; kernels before 5.11 count BPF memory there: run as root)", err, memlock)
		}
		return nil, fmt.Errorf("ebpf: load programs: %w", err)
	}
	fail := func(err error) (*Source, error) {
		s.Close()
		return nil, err
	}

	for _, pid := range opts.PIDs {
		if err := s.objs.Pids.Put(pid, uint8(1)); err != nil {
			return fail(fmt.Errorf("ebpf: pid filter: %w", err))
		}
	}
	for _, port := range opts.Ports {
		if err := s.objs.Ports.Put(port, uint8(1)); err != nil {
			return fail(fmt.Errorf("ebpf: port filter: %w", err))
		}
	}
	cfg := captureConfig{
		CgroupId:  cgroup,
		MaxBytes:  uint64(opts.MaxBytesPerSyscall),
		WakeBytes: uint64(ring / 8),
		WakeGapNs: uint64(wakeGap),
	}
	if len(opts.PIDs) > 0 {
		cfg.FilterPids = 1
	}
	if len(opts.Ports) > 0 {
		cfg.FilterPorts = 1
	}
	if !opts.CopyRecords {
		cfg.Walk = 1
		s.walk = true
	}
	if err := s.objs.Settings.Put(uint32(0), cfg); err != nil {
		return fail(fmt.Errorf("ebpf: config: %w", err))
	}

	s.ring, err = newRing(s.objs.Events)
	if err != nil {
		return fail(fmt.Errorf("ebpf: ring reader: %w", err))
	}
	if hook == HookRaw {
		l, err := link.AttachTracing(link.TracingOptions{Program: s.objs.SysExit})
		if err != nil {
			return fail(fmt.Errorf("ebpf: attach to the raw sys_exit tracepoint: %w", err))
		}
		s.links = append(s.links, l)
	}
	if hook == HookTracepoints {
		for _, x := range s.objs.exits() {
			l, err := link.Tracepoint("syscalls", "sys_exit_"+x.syscall, x.prog, nil)
			if err != nil {
				return fail(fmt.Errorf("ebpf: attach sys_exit_%s: %w", x.syscall, err))
			}
			s.links = append(s.links, l)
		}
	}
	s.lastSweep = time.Now()
	return s, nil
}

// Close stops tracing. A Next blocked in another goroutine returns io.EOF.
func (s *Source) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	var errs []error
	for _, l := range s.links {
		errs = append(errs, l.Close())
	}
	if s.ring != nil {
		errs = append(errs, s.ring.close())
	}
	s.objsMu.Lock()
	errs = append(errs, s.objs.Close())
	s.objsMu.Unlock()
	return errors.Join(errs...)
}

// withMaps runs f on the programs' objects unless the source is closed.
// Close closes them only once no f runs: a map's file descriptor closed
// under a Delete in the Next goroutine could be another file's by then.
func (s *Source) withMaps(f func(o *captureObjects) error) error {
	s.objsMu.RLock()
	defer s.objsMu.RUnlock()
	if s.closed.Load() {
		return errSourceClosed
	}
	return f(&s.objs)
}

var errSourceClosed = errors.New("ebpf: source closed")

// Next returns the next chunk in ring order. Data is valid until the next
// call.
func (s *Source) Next() (capture.Chunk, error) {
	for {
		if len(s.queue) > 0 {
			ch := s.queue[0]
			s.queue = s.queue[1:]
			return ch, nil
		}
		if s.closed.Load() {
			return capture.Chunk{}, io.EOF
		}
		// The clock is read once per sweepCheck events, and after the
		// ring ran dry (the read waited), not twice per event: Next
		// took 0.13 s of the 1.9 s of the agent's loop in a profile at
		// 20,000 exchanges/s, 0.10 s once it read the clock less.
		if s.untilCheck--; s.untilCheck <= 0 {
			s.untilCheck = sweepCheck
			if time.Since(s.lastSweep) > sweepInterval {
				s.sweep()
				continue
			}
		}
		waited, err := s.ring.read(&s.raw, pollInterval)
		if waited {
			s.untilCheck = 0
		}
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			continue
		case errors.Is(err, errRingClosed) || s.closed.Load():
			return capture.Chunk{}, io.EOF
		case err != nil:
			return capture.Chunk{}, fmt.Errorf("ebpf: read ring: %w", err)
		}
		s.events.Add(1)
		s.ringBytes.Add(uint64(len(s.raw)))
		if ch, ok := s.handle(s.raw); ok {
			return ch, nil
		}
	}
}

// load loads the maps and the programs hook attaches, not the others:
// the verifier's time and the programs' memory go to those only, and a
// kernel that refuses tp_btf programs can still load the tracepoints'.
func (s *Source) load(spec *ebpf.CollectionSpec, hook Hook) error {
	for name := range spec.Programs {
		if (name == captureProgSysExit) != (hook == HookRaw) {
			delete(spec.Programs, name)
		}
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		return err
	}
	defer coll.Close()
	if err := coll.Assign(&s.objs.captureMaps); err != nil {
		return err
	}
	if err := coll.Assign(&s.objs.captureVariables); err != nil {
		return err
	}
	// Each program to its field of capturePrograms, by the field's tag;
	// Assign would want every field.
	pv := reflect.ValueOf(&s.objs.capturePrograms).Elem()
	for i := range pv.NumField() {
		name := pv.Type().Field(i).Tag.Get("ebpf")
		if p := coll.Programs[name]; p != nil {
			pv.Field(i).Set(reflect.ValueOf(p))
			delete(coll.Programs, name)
		}
	}
	return nil
}

// exit is a program and the syscall whose exit it traces.
type exit struct {
	syscall string
	prog    *ebpf.Program
}

// exits lists every program of bpf/capture.c with its tracepoint
// (sys_exit_<syscall>); TestEveryProgramAttached checks that none is
// missing.
func (o *captureObjects) exits() []exit {
	return []exit{
		{"read", o.ExitRead}, {"recvfrom", o.ExitRecvfrom}, {"readv", o.ExitReadv},
		{"recvmsg", o.ExitRecvmsg}, {"recvmmsg", o.ExitRecvmmsg},
		{"write", o.ExitWrite}, {"sendto", o.ExitSendto}, {"writev", o.ExitWritev},
		{"sendmsg", o.ExitSendmsg}, {"sendmmsg", o.ExitSendmmsg}, {"sendfile64", o.ExitSendfile64},
		{"connect", o.ExitConnect}, {"accept", o.ExitAccept}, {"accept4", o.ExitAccept4},
		{"close", o.ExitClose},
	}
}

// The event header is struct event_hdr of bpf/capture.c, as bpf2go
// generated it (captureEventHdr): its size and field offsets come from
// that type, so the parser follows the C struct when it changes.
const (
	hdrSize   = int(unsafe.Sizeof(captureEventHdr{}))
	offTs     = unsafe.Offsetof(captureEventHdr{}.Ts)
	offConnID = unsafe.Offsetof(captureEventHdr{}.ConnId)
	offLost   = unsafe.Offsetof(captureEventHdr{}.Lost)
	offSkip   = unsafe.Offsetof(captureEventHdr{}.Skip)
	offTgid   = unsafe.Offsetof(captureEventHdr{}.Tgid)
	offFd     = unsafe.Offsetof(captureEventHdr{}.Fd)
	offSize   = unsafe.Offsetof(captureEventHdr{}.Size)
	offKind   = unsafe.Offsetof(captureEventHdr{}.Kind)
	offDir    = unsafe.Offsetof(captureEventHdr{}.Dir)
	offFlags  = unsafe.Offsetof(captureEventHdr{}.Flags)
	offFamily = unsafe.Offsetof(captureEventHdr{}.Family)
	offLport  = unsafe.Offsetof(captureEventHdr{}.Lport)
	offRport  = unsafe.Offsetof(captureEventHdr{}.Rport)
	offFirst  = unsafe.Offsetof(captureEventHdr{}.First)
	offLaddr  = unsafe.Offsetof(captureEventHdr{}.Laddr)
	offRaddr  = unsafe.Offsetof(captureEventHdr{}.Raddr)
	offComm   = unsafe.Offsetof(captureEventHdr{}.Comm)
)

type hdr struct {
	ts, connID, lost uint64
	skip             uint64
	tgid             uint32
	fd               int32
	size             uint32
	kind, dir        uint8
	flags            uint16
	family           uint16
	lport, rport     uint16
	first            uint16
	laddr, raddr     [16]byte
	comm             [16]byte
}

// parseHdr reads an event header written by the kernel in host order
// (both supported architectures are little-endian).
func parseHdr(b []byte) (h hdr, ok bool) {
	if len(b) < hdrSize {
		return h, false
	}
	le := binary.LittleEndian
	h.ts = le.Uint64(b[offTs:])
	h.connID = le.Uint64(b[offConnID:])
	h.lost = le.Uint64(b[offLost:])
	h.skip = le.Uint64(b[offSkip:])
	h.tgid = le.Uint32(b[offTgid:])
	h.fd = int32(le.Uint32(b[offFd:]))
	h.size = le.Uint32(b[offSize:])
	h.kind = b[offKind]
	h.dir = b[offDir] & 1
	h.flags = le.Uint16(b[offFlags:])
	h.family = le.Uint16(b[offFamily:])
	h.lport = le.Uint16(b[offLport:])
	h.rport = le.Uint16(b[offRport:])
	h.first = le.Uint16(b[offFirst:])
	copy(h.laddr[:], b[offLaddr:offLaddr+16])
	copy(h.raddr[:], b[offRaddr:offRaddr+16])
	copy(h.comm[:], b[offComm:offComm+16])
	return h, int(h.size) <= len(b)-hdrSize
}

func (h *hdr) endpoints() (a, b netip.AddrPort) {
	switch h.family {
	case unix.AF_INET:
		a = netip.AddrPortFrom(netip.AddrFrom4([4]byte(h.laddr[:4])), h.lport)
		b = netip.AddrPortFrom(netip.AddrFrom4([4]byte(h.raddr[:4])), h.rport)
	case unix.AF_INET6:
		a = netip.AddrPortFrom(netip.AddrFrom16(h.laddr).Unmap(), h.lport)
		b = netip.AddrPortFrom(netip.AddrFrom16(h.raddr).Unmap(), h.rport)
	}
	return a, b
}

func (s *Source) handle(raw []byte) (capture.Chunk, bool) {
	h, ok := parseHdr(raw)
	if !ok {
		return capture.Chunk{}, false
	}
	s.mu.Lock()
	cn := s.conns[h.connID]
	if cn == nil {
		cn = &conn{c: &capture.Conn{ID: h.connID, PID: h.tgid, FD: h.fd, Comm: cString(h.comm[:])}, unseen: h.flags&flagStartUnseen != 0}
		cn.c.A, cn.c.B = h.endpoints()
		if h.lport == 0 || h.rport == 0 {
			if a, b, err := procEndpoints(h.tgid, h.fd); err == nil {
				cn.c.A, cn.c.B = a, b
			}
		}
		s.conns[h.connID] = cn
	}
	cn.dead = false
	if h.kind == kindClose {
		delete(s.conns, h.connID)
	}
	segmented := h.kind == kindData && h.flags&flagSegments != 0
	if segmented {
		p := raw[hdrSize : hdrSize+int(h.size)]
		first := min(int(h.first), len(p))
		s.segs = parseSegments(append(s.segs[:0], segment{h.skip, p[:first]}), p[first:])
	}
	// A segmented event's later chunks wait in the queue, counted here
	// already: Boundary never reads the offset of such a direction,
	// since the kernel walks a direction joined mid-stream only from a
	// hint it took, which Boundary sees first (walking).
	if cn.unseen && (h.kind == kindData || h.kind == kindLost) {
		stream, skipped := h.skip+uint64(h.size), h.skip > 0
		if segmented {
			stream, skipped = 0, false
			for _, g := range s.segs {
				stream += g.skip + uint64(len(g.data))
				skipped = skipped || g.skip > 0
			}
		}
		cn.offset[h.dir] += int64(h.lost + stream)
		if h.flags&flagLostUnknown != 0 {
			cn.unknown[h.dir] = true
		}
		if skipped {
			cn.walking[h.dir] = true
		}
	}
	s.mu.Unlock()

	t := s.bootWall.Add(time.Duration(h.ts))
	switch h.kind {
	case kindData, kindLost:
		ch := capture.Chunk{Conn: cn.c, Dir: capture.Dir(h.dir), Time: t, Lost: s.lost(cn, h.dir, h.lost, h.flags)}
		if segmented {
			return s.segmentChunks(cn, ch)
		}
		if h.skip > 0 {
			ch.Skipped = int64(h.skip)
			s.skipped.Add(h.skip)
		}
		if h.kind == kindData {
			ch.Data = raw[hdrSize : hdrSize+int(h.size)]
			cn.seen[h.dir] = true
			s.bytes.Add(uint64(h.size))
		}
		return ch, true
	case kindClose:
		s.queue = append(s.queue,
			capture.Chunk{Conn: cn.c, Dir: capture.AtoB, Time: t, Lost: s.lost(cn, 0, h.lost, h.flags), Closed: true},
			capture.Chunk{Conn: cn.c, Dir: capture.BtoA, Time: t, Lost: s.lost(cn, 1, 0, h.flags), Closed: true})
		s.deleteVerdict(h.connID)
	}
	return capture.Chunk{}, false
}

// segment is one run of a segmented event: bytes skipped, then data.
type segment struct {
	skip uint64
	data []byte
}

var segSize = int(unsafe.Sizeof(captureSegment{}))

// parseSegments appends the segments of a segmented event's payload after
// its first run to segs (struct segment of bpf/capture.c, each followed by
// its bytes). The kernel writes them whole; a payload cut short ends the
// list.
func parseSegments(segs []segment, p []byte) []segment {
	le := binary.LittleEndian
	for len(p) >= segSize {
		skip := le.Uint64(p[unsafe.Offsetof(captureSegment{}.Skip):])
		n := int(le.Uint32(p[unsafe.Offsetof(captureSegment{}.Len):]))
		if n > len(p)-segSize {
			break
		}
		segs = append(segs, segment{skip, p[segSize : segSize+n]})
		p = p[segSize+n:]
	}
	return segs
}

// segmentChunks turns the segments just parsed (the first run at least)
// into chunks: the first is returned (with first's lost bytes), the
// others queued, in order.
func (s *Source) segmentChunks(cn *conn, first capture.Chunk) (capture.Chunk, bool) {
	for i, g := range s.segs {
		ch := capture.Chunk{Conn: first.Conn, Dir: first.Dir, Time: first.Time, Skipped: int64(g.skip), Data: g.data}
		s.skipped.Add(g.skip)
		s.bytes.Add(uint64(len(g.data)))
		if i == 0 {
			ch.Lost = first.Lost
			first = ch
			continue
		}
		s.queue = append(s.queue, ch)
	}
	cn.seen[first.Dir] = true
	return first, true
}

// lost is Chunk.Lost for an event of dir that carries n lost bytes: -1
// when the start of the direction was not seen and nothing of it was
// delivered yet, or when the kernel could not count.
func (s *Source) lost(cn *conn, dir uint8, n uint64, flags uint16) int64 {
	l := int64(n)
	if (!cn.seen[dir] && flags&flagStartUnseen != 0) || flags&flagLostUnknown != 0 {
		l = -1
	}
	if l != 0 {
		s.lostEvents.Add(1)
	}
	if l > 0 {
		s.lostBytes.Add(uint64(l))
	}
	return l
}

const (
	kindData        = uint8(captureKindKIND_DATA)
	kindLost        = uint8(captureKindKIND_LOST)
	kindClose       = uint8(captureKindKIND_CLOSE)
	flagStartUnseen = uint16(captureFlagFLAG_START_UNSEEN)
	flagLostUnknown = uint16(captureFlagFLAG_LOST_UNKNOWN)
	flagSegments    = uint16(captureFlagFLAG_SEGMENTS)
)

// sweep closes connections of processes that exited without close(), one
// sweep after it finds them gone and no event of theirs came since.
func (s *Source) sweep() {
	s.lastSweep = time.Now()
	alive := map[uint32]bool{}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, cn := range s.conns {
		pid := cn.c.PID
		ok, known := alive[pid]
		if !known {
			_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
			ok = err == nil
			alive[pid] = ok
		}
		if ok {
			continue
		}
		// The process is gone, but its last events may still be in
		// the ring: close at the next sweep, if none came meanwhile.
		if !cn.dead {
			cn.dead = true
			continue
		}
		delete(s.conns, id)
		s.deleteVerdict(id)
		s.queue = append(s.queue,
			capture.Chunk{Conn: cn.c, Dir: capture.AtoB, Time: now, Closed: true},
			capture.Chunk{Conn: cn.c, Dir: capture.BtoA, Time: now, Closed: true})
	}
}

// SetVerdict tells the kernel whether c carries Kafka. After
// SetVerdict(c, false) no more payload of c is copied, only its close.
func (s *Source) SetVerdict(c *capture.Conn, kafka bool) error {
	v := uint8(captureVerdictVERDICT_NOT_KAFKA)
	if kafka {
		v = uint8(captureVerdictVERDICT_KAFKA)
	}
	s.mu.Lock()
	_, live := s.conns[c.ID]
	s.mu.Unlock()
	if !live {
		return nil
	}
	err := s.withMaps(func(o *captureObjects) error { return o.Verdicts.Put(c.ID, v) })
	if err != nil && err != errSourceClosed {
		return fmt.Errorf("ebpf: set verdict of %v: %w", c, err)
	}
	return nil
}

// deleteVerdict forgets a closed connection's verdict, if it had one.
func (s *Source) deleteVerdict(id uint64) {
	_ = s.withMaps(func(o *captureObjects) error { return o.Verdicts.Delete(id) })
}

// hintEvery bounds how often a connection's direction is given a new
// boundary while the kernel has not taken one (the kernel wakes the reader
// at once for such a direction's events, so that the hint comes before the
// application's next frame); maxHints how many before giving up (the
// connection is then copied in full, as without hints).
const (
	hintEvery = time.Millisecond
	maxHints  = 2000
)

// Boundary tells the kernel where the next frame of a direction starts,
// ahead bytes after the last chunk Next delivered of it (the decoder's
// Options.OnBoundary, called before the next Next), for connections
// joined in mid-stream: the kernel follows frames, and copies headers
// only, from a syscall that starts there (bpf/walk.h). requests says
// that the direction carries requests.
func (s *Source) Boundary(c *capture.Conn, dir capture.Dir, ahead int64, requests bool) {
	if !s.walk {
		return
	}
	s.mu.Lock()
	cn := s.conns[c.ID]
	if cn == nil || !cn.unseen || cn.walking[dir] || cn.unknown[dir] || cn.tries[dir] >= maxHints || s.closed.Load() {
		s.mu.Unlock()
		return
	}
	at := cn.offset[dir] + ahead
	if at == cn.hinted[dir] || time.Since(cn.hintAt[dir]) < hintEvery {
		s.mu.Unlock()
		return
	}
	prev := cn.hinted[dir]
	cn.hinted[dir], cn.hintAt[dir] = at, time.Now()
	cn.tries[dir]++
	s.mu.Unlock()
	k := captureHintKey{ConnId: c.ID, Dir: uint32(dir)}
	if prev > 0 {
		var h captureHint
		if s.withMaps(func(o *captureObjects) error { return o.Hints.Lookup(&k, &h) }) == nil && h.Taken != 0 {
			s.mu.Lock()
			cn.walking[dir] = true
			s.mu.Unlock()
			return
		}
	}
	if cn.tries[dir] >= maxHints {
		// Given up: the kernel stops waking the reader for it.
		_ = s.withMaps(func(o *captureObjects) error { return o.Hints.Delete(&k) })
		return
	}
	h := captureHint{Offset: uint64(at)}
	if requests {
		h.Req = 1
	}
	_ = s.withMaps(func(o *captureObjects) error { return o.Hints.Put(&k, &h) })
}

// Stats returns the counters so far.
func (s *Source) Stats() Stats {
	st := Stats{
		Events:     s.events.Load(),
		Bytes:      s.bytes.Load(),
		LostBytes:  s.lostBytes.Load(),
		LostEvents: s.lostEvents.Load(),
		Skipped:    s.skipped.Load(),
		RingBytes:  s.ringBytes.Load(),
	}
	var per []captureCpuStats
	if s.withMaps(func(o *captureObjects) error { return o.Stats.Lookup(uint32(0), &per) }) == nil {
		for _, c := range per {
			st.RingDrops += c.Drops
			st.RingDropBytes += c.DropBytes
			st.Wakeups += c.Wakeups
			st.RingDropsPerCPU = append(st.RingDropsPerCPU, c.Drops)
		}
	}
	s.mu.Lock()
	st.Connections = len(s.conns)
	s.mu.Unlock()
	return st
}

// ringSize rounds n up to a power of two of at least a page.
func ringSize(n int) int {
	if n <= 0 {
		n = DefaultRingBytes
	}
	size := os.Getpagesize()
	for size < n {
		size <<= 1
	}
	return size
}

// bootWall is the wall time at which CLOCK_MONOTONIC was zero.
func bootWall() time.Time {
	var mono unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono)
	now := time.Now()
	return now.Add(-time.Duration(mono.Nano()))
}

// cString is a NUL-terminated kernel string.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
