//go:build linux && (amd64 || arm64)

package ebpf

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// ring reads the BPF ring buffer of events. It maps the ring's data once.
// The kernel lets a reader map the data pages twice in a row, so that a
// record wrapping around the end reads as one slice (cilium/ebpf's reader
// does this); each page then counts twice in the process's resident
// memory, since the kernel maps all of them at once: the default 8 MiB
// ring showed as 16 MiB of RSS. Here a record that wraps is put together
// in the reader's buffer instead, which it copies every record into anyway.
//
// read is called from one goroutine; close from any.
//
// A read that finds the ring empty waits in Go's network poller, on a
// non-blocking copy of the map's file descriptor, not in epoll_wait: a
// thread blocked in a system call keeps its P busy, so the runtime's
// monitor (sysmon) never sleeps for long, and it woke up to 50 times per
// 10 ms wait to look at the P. Those wake-ups were a tenth of the agent's
// CPU at 20,000 exchanges/s (perf, cpu-clock).
type ring struct {
	mu         sync.Mutex // held by read while it uses the mapping; close unmaps under it
	cons, prod []byte     // the mapped consumer page (read-write) and producer page + data (read-only)
	r          ringData

	file   *os.File // the map's descriptor, in the poller
	conn   syscall.RawConn
	closed atomic.Bool
	// pending is what conn.Read waits for: a record, committed or
	// not, or the ring closed (made once: a closure passed each time
	// was an allocation per wait).
	pending func(uintptr) bool
}

// errRingClosed: the ring was closed.
var errRingClosed = errors.New("ring closed")

func newRing(m *ebpf.Map) (*ring, error) {
	size := int(m.MaxEntries())
	page := os.Getpagesize()
	if size <= 0 || size&(size-1) != 0 || size%page != 0 {
		return nil, fmt.Errorf("ring of %d bytes: not a power of two pages", size)
	}
	rg := &ring{}
	rg.pending = func(uintptr) bool { return rg.closed.Load() || rg.r.pending() }
	fail := func(err error) (*ring, error) {
		rg.release()
		return nil, err
	}
	var err error
	if rg.cons, err = unix.Mmap(m.FD(), 0, page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		return fail(fmt.Errorf("map the ring's consumer page: %w", err))
	}
	if rg.prod, err = unix.Mmap(m.FD(), int64(page), page+size, unix.PROT_READ, unix.MAP_SHARED); err != nil {
		return fail(fmt.Errorf("map the ring's data: %w", err))
	}
	rg.r = ringData{
		cons: (*uint64)(unsafe.Pointer(&rg.cons[0])),
		prod: (*uint64)(unsafe.Pointer(&rg.prod[0])),
		data: rg.prod[page:],
	}
	// A copy of the descriptor, which os.NewFile puts in the poller
	// once non-blocking (the flag is the open file's: the map's own
	// descriptor shares it, which bpf(2) and mmap ignore), and which
	// closes apart from the map's.
	fd, err := unix.FcntlInt(uintptr(m.FD()), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return fail(fmt.Errorf("ring descriptor: %w", err))
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return fail(fmt.Errorf("ring descriptor: %w", err))
	}
	rg.file = os.NewFile(uintptr(fd), "bpf ring")
	if err := rg.file.SetReadDeadline(time.Time{}); err != nil {
		return fail(fmt.Errorf("ring descriptor: not pollable: %w", err))
	}
	if rg.conn, err = rg.file.SyscallConn(); err != nil {
		return fail(fmt.Errorf("ring descriptor: %w", err))
	}
	return rg, nil
}

// read copies the next record into *buf (grown as needed), waiting up to
// timeout for one when there is none: os.ErrDeadlineExceeded when none
// came, and errRingClosed once the ring is closed. It reads the clock only
// when it has to wait, and says whether it did.
func (rg *ring) read(buf *[]byte, timeout time.Duration) (waited bool, err error) {
	rg.mu.Lock()
	defer rg.mu.Unlock()
	for {
		if rg.closed.Load() {
			return waited, errRingClosed
		}
		if rg.r.next(buf) {
			return waited, nil
		}
		if rg.r.pending() {
			// A record reserved and not yet committed: a BPF
			// program's copy in progress, which the kernel may
			// commit without a wake-up, and the records behind
			// it wait for it. The CPU is given up until it is done.
			runtime.Gosched()
			continue
		}
		if !waited {
			waited = true
			if err := rg.file.SetReadDeadline(time.Now().Add(timeout)); err != nil {
				return waited, fmt.Errorf("ring deadline: %w", err)
			}
		}
		// The poller wakes the goroutine when the kernel wakes the
		// ring's readers (edge-triggered: a wake-up between the look
		// and the wait is not lost), or at the deadline.
		err := rg.conn.Read(rg.pending)
		switch {
		case rg.closed.Load():
			return waited, errRingClosed
		case errors.Is(err, os.ErrDeadlineExceeded):
			return waited, os.ErrDeadlineExceeded
		case err != nil:
			return waited, fmt.Errorf("ring wait: %w", err)
		}
	}
}

// close wakes a waiting read, which returns errRingClosed, and unmaps the
// ring once no read uses it.
func (rg *ring) close() error {
	if rg.closed.Swap(true) {
		return nil
	}
	// A waiting read returns at once.
	_ = rg.file.SetReadDeadline(time.Unix(1, 0))
	rg.mu.Lock()
	defer rg.mu.Unlock()
	return rg.release()
}

func (rg *ring) release() error {
	var errs []error
	for _, m := range [][]byte{rg.prod, rg.cons} {
		if m != nil {
			errs = append(errs, unix.Munmap(m))
		}
	}
	rg.prod, rg.cons, rg.r = nil, nil, ringData{}
	if rg.file != nil {
		errs = append(errs, rg.file.Close())
		rg.file = nil
	}
	return errors.Join(errs...)
}

// Record headers of the kernel's BPF ring buffer (struct
// bpf_ringbuf_hdr): the length, with two flags in its top bits, and the
// page offset the kernel uses; records start 8-byte aligned.
const (
	ringHdrSize    = 8
	ringBusyBit    = 1 << 31
	ringDiscardBit = 1 << 30
)

// ringData is the ring's logic over its mapped memory: positions count
// bytes since the ring was made, and a position's byte is at pos &
// (len(data)-1).
type ringData struct {
	cons, prod *uint64
	data       []byte
}

// pending says whether the ring holds a record, committed or not.
func (r *ringData) pending() bool {
	return r.data != nil && atomic.LoadUint64(r.prod)-atomic.LoadUint64(r.cons) >= ringHdrSize
}

// next copies the next committed record into *buf, and reports whether
// there was one. It frees the record's room in the ring, and skips
// discarded records. A record reserved and not yet committed ends what it
// reads: the ones after it wait for it, in ring order.
func (r *ringData) next(buf *[]byte) bool {
	if r.data == nil {
		return false
	}
	mask := uint64(len(r.data) - 1)
	prod := atomic.LoadUint64(r.prod)
	cons := atomic.LoadUint64(r.cons)
	for prod-cons >= ringHdrSize {
		// The length is loaded atomically: it orders the record's bytes
		// after the kernel's commit, which clears the busy bit.
		h := atomic.LoadUint32((*uint32)(unsafe.Pointer(&r.data[cons&mask])))
		if h&ringBusyBit != 0 {
			return false
		}
		n := uint64(h &^ (ringBusyBit | ringDiscardBit))
		start := cons + ringHdrSize
		end := start + (n+7)&^7
		if end-cons > prod-cons {
			return false // cannot be: the kernel commits whole records
		}
		if h&ringDiscardBit != 0 {
			cons = end
			atomic.StoreUint64(r.cons, cons)
			continue
		}
		if uint64(cap(*buf)) < n {
			*buf = make([]byte, n)
		}
		*buf = (*buf)[:n]
		at := start & mask
		k := copy(*buf, r.data[at:min(at+n, uint64(len(r.data)))])
		copy((*buf)[k:], r.data) // the part that wrapped around, if any
		atomic.StoreUint64(r.cons, end)
		return true
	}
	return false
}
