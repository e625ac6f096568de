package ebpf

// The walker of bpf/walk.h in Go, step for step: its user-space twin. The
// kernel cannot be fuzzed; this can, against the decoder (walk_test.go),
// and TestWalkerTwin checks that the kernel's walker and this one make the
// same choices on the same traffic. Keep the two in step: states, fields
// and decisions mirror each other line by line.

// Walker states, as enum walk_state (TestWalkStates compares them with
// the generated ones).
const (
	wOff = iota
	wSize
	wHead
	wCopy
	wSkip
	wEnd
	wTags
	wTag
	wTagLen
	pClient
	pTxn
	pTopics
	pTopic
	pParts
	pPart
	pRecs
	pPartEnd
	rBatch
	rLen
	rMagic
	rBody
	fTopics
	fTopic
	fParts
	fPart
	fAborted
	fAbort
	fPref
	fRecs
	fPartEnd
	wName
	fFixed
)

const (
	maxFrame   = 100 << 20 // MAX_FRAME
	walkSteps  = 1 << 17   // WALK_STEPS
	smallFrame = 2048      // SMALL_FRAME
)

// walker is struct walk.
type walker struct {
	acc                   uint64
	left, run, recs, blen uint32
	topics, parts, items  uint32
	aborted               uint32
	state, next, ret      uint8
	need, shift, ver, api uint8
	req                   bool
	fetchVersions         map[int32]uint8 // fetch_vers of the connection, shared by both directions
}

// walkOut is what the twin made of a segment: the bytes in order with
// every skipped byte zero, and the skipped ranges in it.
type walkOut struct {
	out   []byte
	skips [][2]int
}

// newWalkPair returns the two walkers of a connection whose start was
// seen: the first for the direction carrying requests.
func newWalkPair() (requests, responses *walker) {
	vers := map[int32]uint8{}
	return &walker{state: wSize, req: true, fetchVersions: vers}, &walker{state: wSize, fetchVersions: vers}
}

func (w *walker) flex() bool {
	if w.api == 0 {
		return w.ver >= 9
	}
	return w.ver >= 12
}

// field is w_field.
func (w *walker) field() int {
	flex := w.flex()
	switch w.state {
	case wSize:
		return 4
	case wHead:
		if w.req {
			return 8
		}
		return 4
	case wTags, wTagLen:
		return -1
	case wTag:
		if w.items != 0 {
			return -1
		}
		return 0
	case pClient:
		return 2
	case pTxn, wName:
		if flex {
			return -1
		}
		return 2
	case pTopics, pParts, pRecs, fTopics, fParts, fAborted, fRecs:
		if flex {
			return -1
		}
		return 4
	case rLen:
		return 12
	case rMagic:
		return 5
	}
	return 0
}

func (w *walker) copyThen(n uint64, next uint8) {
	if n > uint64(w.left) {
		w.state, w.run, w.next = wCopy, w.left, wSize
		return
	}
	w.state, w.run, w.next = wCopy, uint32(n), next
}

func (w *walker) skipThen(n uint64, next uint8) {
	if n > uint64(w.left) {
		w.copyThen(n, wSize)
		return
	}
	w.state, w.run, w.next = wSkip, uint32(n), next
}

func (w *walker) rest() { w.copyThen(uint64(w.left), wSize) }

func (w *walker) tags(ret uint8) { w.state, w.ret = wTags, ret }

func (w *walker) count(v uint64) uint32 {
	if w.flex() {
		if v == 0 {
			return 0
		}
		return uint32(v - 1)
	}
	return uint32(max(int32(uint32(v)), 0))
}

func (w *walker) length(v uint64, short bool) uint64 {
	if w.flex() {
		if v == 0 {
			return 0
		}
		return v - 1
	}
	if short {
		return uint64(max(int16(uint16(v)), 0))
	}
	return uint64(max(int32(uint32(v)), 0))
}

// decide is w_decide.
func (w *walker) decide(v uint64) {
	flex := w.flex()
	switch w.state {
	case wSize:
		size := int32(uint32(v))
		if size < 4 || size > maxFrame {
			w.state = wOff
			return
		}
		w.left, w.state = uint32(size), wHead
		return
	case wHead:
		if w.req {
			api, ver := int16(v>>48), int16(v>>32)
			if api == 1 && ver >= 0 && ver <= 127 {
				w.fetchVersions[int32(uint32(v))] = uint8(ver)
			}
			if api == 0 && ver >= 3 && ver <= 13 && w.left > smallFrame {
				w.api, w.ver, w.state = 0, uint8(ver), pClient
				return
			}
			w.rest()
			return
		}
		corr := int32(uint32(v))
		ver, ok := w.fetchVersions[corr]
		if !ok {
			w.rest()
			return
		}
		delete(w.fetchVersions, corr)
		if ver < 4 || ver > 18 || w.left <= smallFrame {
			w.rest()
			return
		}
		w.api, w.ver = 1, ver
		if w.flex() {
			w.tags(fFixed)
		} else {
			w.state = fFixed
		}
		return
	case wEnd:
		if w.left != 0 {
			w.rest()
		} else {
			w.state = wSize
		}
		return
	case wTags:
		w.items, w.state = uint32(v), wTag
		return
	case wTag:
		if w.items == 0 {
			w.state = w.ret
		} else {
			w.state = wTagLen
		}
		return
	case wTagLen:
		w.items--
		w.copyThen(v, wTag)
		return
	case pClient:
		n := uint64(max(int16(uint16(v)), 0))
		if flex {
			w.copyThen(n, wTags)
			w.ret = pTxn
			return
		}
		w.copyThen(n, pTxn)
		return
	case pTxn:
		w.copyThen(w.length(v, true)+6, pTopics)
		return
	case pTopics:
		w.topics, w.state = w.count(v), pTopic
		return
	case pTopic:
		if w.topics == 0 {
			if flex {
				w.tags(wEnd)
			} else {
				w.state = wEnd
			}
			return
		}
		w.topics--
		if w.ver >= 13 {
			w.copyThen(16, pParts)
			return
		}
		w.state = wName
		return
	case wName:
		next := uint8(pParts)
		if w.api != 0 {
			next = fParts
		}
		w.copyThen(w.length(v, true), next)
		return
	case pParts:
		w.parts, w.state = w.count(v), pPart
		return
	case pPart:
		if w.parts == 0 {
			if flex {
				w.tags(pTopic)
			} else {
				w.state = pTopic
			}
			return
		}
		w.parts--
		w.copyThen(4, pRecs)
		return
	case pRecs, fRecs:
		n := w.length(v, false)
		if n > uint64(w.left) {
			w.rest()
			return
		}
		w.recs = uint32(n)
		w.ret = pPartEnd
		if w.state == fRecs {
			w.ret = fPartEnd
		}
		w.state = rBatch
		return
	case pPartEnd:
		if flex {
			w.tags(pPart)
		} else {
			w.state = pPart
		}
		return
	case rBatch:
		if w.recs == 0 {
			w.state = w.ret
			return
		}
		if w.recs < 17 {
			n := w.recs
			w.recs = 0
			w.copyThen(uint64(n), w.ret)
			return
		}
		w.state = rLen
		return
	case rLen:
		blen := int32(uint32(v))
		w.recs -= 12
		if blen < 49 || int64(blen) > int64(w.recs) {
			n := w.recs
			w.recs = 0
			w.copyThen(uint64(n), w.ret)
			return
		}
		w.blen, w.state = uint32(blen), rMagic
		return
	case rMagic:
		w.recs -= 5
		if v&0xff != 2 {
			w.recs -= w.blen - 5
			w.copyThen(uint64(w.blen-5), rBatch)
			return
		}
		w.recs -= 44
		w.copyThen(44, rBody)
		return
	case rBody:
		w.recs -= w.blen - 49
		w.skipThen(uint64(w.blen-49), rBatch)
		return
	case fFixed:
		n := uint64(4)
		if w.ver >= 7 {
			n = 10
		}
		w.copyThen(n, fTopics)
		return
	case fTopics:
		w.topics, w.state = w.count(v), fTopic
		return
	case fTopic:
		if w.topics == 0 {
			if flex {
				w.tags(wEnd)
			} else {
				w.state = wEnd
			}
			return
		}
		w.topics--
		if w.ver >= 13 {
			w.copyThen(16, fParts)
			return
		}
		w.state = wName
		return
	case fParts:
		w.parts, w.state = w.count(v), fPart
		return
	case fPart:
		if w.parts == 0 {
			if flex {
				w.tags(fTopic)
			} else {
				w.state = fTopic
			}
			return
		}
		w.parts--
		n := uint64(22)
		if w.ver >= 5 {
			n = 30
		}
		w.copyThen(n, fAborted)
		return
	case fAborted:
		n := w.count(v)
		if flex {
			w.aborted, w.state = n, fAbort
			return
		}
		w.copyThen(uint64(n)*16, fPref)
		return
	case fAbort:
		if w.aborted == 0 {
			w.state = fPref
			return
		}
		w.aborted--
		w.copyThen(16, wTags)
		w.ret = fAbort
		return
	case fPref:
		if w.ver >= 11 {
			w.copyThen(4, fRecs)
		} else {
			w.state = fRecs
		}
		return
	case fPartEnd:
		if flex {
			w.tags(fPart)
		} else {
			w.state = fPart
		}
		return
	}
	w.state = wOff
}

// segment is walk_step's loop over one segment (a syscall's buffer or one
// of its iovecs). Runs of copied bytes are not split here as the kernel
// splits them into events: only what is copied and what is skipped
// matters. The step bound is per segment here, per syscall in the kernel:
// neither is reached by a frame the walker follows (about 5 steps a batch).
func (w *walker) segment(seg []byte, out *walkOut) {
	for steps := 0; len(seg) > 0 && steps < walkSteps; steps++ {
		avail := uint64(len(seg))
		var n uint64
		switch w.state {
		case wOff:
			out.out = append(out.out, seg...)
			return
		case wCopy:
			n = min(uint64(w.run), avail)
			w.run -= uint32(n)
			w.left -= uint32(n)
			if w.run == 0 {
				w.state = w.next
			}
			out.out = append(out.out, seg[:n]...)
			seg = seg[n:]
			continue
		case wSkip:
			n = min(uint64(w.run), avail)
			w.run -= uint32(n)
			w.left -= uint32(n)
			if w.run == 0 {
				w.state = w.next
			}
			out.skips = append(out.skips, [2]int{len(out.out), len(out.out) + int(n)})
			out.out = append(out.out, make([]byte, n)...)
			seg = seg[n:]
			continue
		}
		f := w.field()
		if f == 0 {
			w.decide(0)
			continue
		}
		inFrame := w.state != wSize
		if f < 0 {
			n = 1
		} else {
			if w.need == 0 {
				w.need = uint8(f)
			}
			n = min(uint64(w.need), 8, avail)
		}
		if inFrame && n > uint64(w.left) {
			w.need, w.shift, w.acc = 0, 0, 0
			w.rest()
			continue
		}
		b := seg[:n]
		out.out = append(out.out, b...)
		seg = seg[n:]
		if inFrame {
			w.left -= uint32(n)
		}
		if f < 0 {
			w.acc |= uint64(b[0]&0x7f) << (w.shift & 63)
			w.shift += 7
			if b[0]&0x80 != 0 {
				if w.shift >= 35 {
					w.shift, w.acc = 0, 0
					w.rest()
				}
				continue
			}
			w.shift = 0
		} else {
			for _, c := range b {
				w.acc = w.acc<<8 | uint64(c)
			}
			w.need -= uint8(n)
			if w.need != 0 {
				continue
			}
		}
		v := w.acc
		w.acc = 0
		w.decide(v)
	}
	if len(seg) > 0 {
		// Steps spent: the kernel reports the rest lost and stops.
		out.out = append(out.out, seg...)
		w.state = wOff
	}
}
