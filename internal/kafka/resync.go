package kafka

import (
	"bytes"
	"encoding/binary"
)

// Resynchronisation: finding frame boundaries in bytes that were not
// followed from the start of a connection (a capture joined mid-stream, a
// hole that swallowed a size prefix). A search resumes where it stopped, so
// that every byte is examined a bounded number of times however the data
// arrives: once when it comes, once more for the few candidates that had to
// wait for their end.

// verdict is what a judge says about a buffer position.
type verdict int

const (
	vNone  verdict = iota // no frame starts here
	vFrame                // a frame starts here
	// vMaybe: a frame starts here as far as can be told, but too few
	// bytes follow it to check the start of the next one.
	vMaybe
	vLater // a frame may start here: judge again when the buffer holds need bytes
	vHold  // as vLater, and examine nothing past this position until then
)

// judge tells what starts at buf[i]; for vLater, vHold and vMaybe it also
// says how long buf must be to tell more. For vNone it may say, as need,
// the next position worth judging: no frame starts before it either (a
// judge that skips in a tight loop spares a call per byte).
type judge func(buf []byte, i int) (v verdict, need int)

// maxWaits bounds the candidates a search keeps waiting for their end. Real
// traffic has one or two (a frame cut by the end of the data); garbage that
// looks like many headers with large sizes must not make each feed slower.
const maxWaits = 16

// wait is a position to judge again once buf holds need bytes.
type wait struct {
	off, need int
	hold      bool
}

// scan is where a search stopped in a buffer.
type scan struct {
	next  int    // first position not yet judged
	waits []wait // positions before next still undecided, ascending
}

// find resumes the search. It returns the first position where a frame
// starts (vFrame or vMaybe), or the earliest position that may still start
// one (vLater), or vNone with len(buf): no frame starts in buf.
func (sc *scan) find(buf []byte, j judge) (int, verdict) {
	held := false
	for k := 0; k < len(sc.waits); {
		w := &sc.waits[k]
		if len(buf) < w.need {
			held = held || w.hold
			k++
			continue
		}
		v, need := j(buf, w.off)
		switch v {
		case vFrame, vMaybe:
			off := w.off
			sc.waits = sc.waits[k+1:]
			return off, v
		case vNone:
			sc.waits = append(sc.waits[:k], sc.waits[k+1:]...)
		default:
			w.need, w.hold = need, v == vHold
			held = held || w.hold
			k++
		}
	}
	if held {
		return sc.waits[0].off, vLater
	}
	for i := sc.next; i < len(buf); i++ {
		v, need := j(buf, i)
		switch v {
		case vNone:
			i = max(i, need-1)
		case vFrame, vMaybe:
			sc.next = i + 1
			return i, v
		case vLater:
			if len(sc.waits) < maxWaits {
				sc.waits = append(sc.waits, wait{off: i, need: need})
			}
		case vHold:
			sc.waits = append(sc.waits, wait{off: i, need: need, hold: true})
			sc.next = i + 1
			return sc.waits[0].off, vLater
		}
	}
	sc.next = len(buf)
	if len(sc.waits) > 0 {
		return sc.waits[0].off, vLater
	}
	return len(buf), vNone
}

// shift follows the buffer when its first n bytes are dropped.
func (sc *scan) shift(n int) {
	sc.next = max(sc.next-n, 0)
	waits := sc.waits[:0]
	for _, w := range sc.waits {
		if w.off >= n {
			w.off -= n
			w.need -= n
			waits = append(waits, w)
		}
	}
	sc.waits = waits
}

// probe is what the search for evidence (see conn.evidence) has learned of
// one direction while the roles are unknown. Offsets are in the stream's
// buf, which keeps every byte until the roles are known.
type probe struct {
	req   scan // the search for a first request
	found bool
	first int // where the first request starts
	// firm: first was judged with the start of the next frame in view;
	// otherwise it is judged again when buf grows (judged is its length
	// then).
	firm   bool
	judged int
	// chain is the requests that follow each other from first, up to
	// maxChain; next is where the following one starts.
	chain  []RequestHeader
	next   int
	broken bool // a frame of the chain is no request: it ends there
	gen    int  // counts changes of chain, for the other side's answer search

	// The search of this direction for a response to the other one's
	// chain, made for the other's chain generation respGen.
	resp     scan
	respGen  int
	answered bool
}

// forget drops the first request and its chain; the search goes on after it.
func (p *probe) forget() {
	p.found, p.chain, p.broken = false, nil, false
	p.gen++
}

// shift follows the buffer when its first n bytes are dropped.
func (p *probe) shift(n int) {
	p.req.shift(n)
	p.resp.shift(n)
	if !p.found {
		return
	}
	if p.first < n {
		p.forget()
		return
	}
	p.first -= n
	p.next -= n
	p.judged -= n
}

// reset forgets everything: the buffer was emptied.
func (p *probe) reset() {
	*p = probe{gen: p.gen + 1, respGen: -1}
}

// advance extends what p knows of buf: the first request, then its chain.
func (p *probe) advance(buf []byte, j judge) {
	if p.found && !p.firm && len(buf) != p.judged {
		switch v, _ := j(buf, p.first); v {
		case vFrame:
			p.firm = true
		case vMaybe:
			p.judged = len(buf)
		default:
			p.forget()
		}
	}
	if !p.found {
		off, v := p.req.find(buf, j)
		if v != vFrame && v != vMaybe {
			return
		}
		p.found, p.first, p.next = true, off, off
		p.firm, p.judged = v == vFrame, len(buf)
		p.chain, p.broken = nil, false
		p.gen++
	}
	for !p.broken && len(p.chain) < maxChain && p.next+4 <= len(buf) {
		size := int(int32(binary.BigEndian.Uint32(buf[p.next:])))
		if size < minRequest-4 {
			p.broken = true
			break
		}
		end := p.next + 4 + size
		if end > len(buf) {
			break
		}
		h, n, err := parseRequestHeader(buf[p.next+4 : end])
		if err != nil || !KnownVersion(h.Key, h.Version) {
			p.broken = true
			break
		}
		if _, err := decodeRequest(h, buf[p.next+4+n:end]); err != nil {
			p.broken = true
			break
		}
		p.chain = append(p.chain, h)
		p.gen++
		p.next = end
	}
}

// answers reports whether buf, the bytes of p's direction, holds a whole
// response to a request of chain (of the other direction, at generation
// gen). The search resumes where it stopped unless the chain changed.
func (p *probe) answers(buf []byte, chain []RequestHeader, gen int) bool {
	if p.respGen != gen {
		p.resp, p.respGen, p.answered = scan{}, gen, false
	}
	if p.answered || len(chain) == 0 {
		return p.answered
	}
	var corrs [maxChain][4]byte
	for i, h := range chain {
		binary.BigEndian.PutUint32(corrs[i][:], uint32(h.CorrelationID))
	}
	// next is the next position whose correlation id is one of chain's.
	next := func(buf []byte, from int) int {
		at := max(len(buf)-7, from) // the tail waits for more
		for _, c := range corrs[:len(chain)] {
			if k := bytes.Index(buf[from+4:min(at+8, len(buf))], c[:]); k >= 0 && from+k < at {
				at = from + k
			}
		}
		return at
	}
	_, v := p.resp.find(buf, func(buf []byte, i int) (verdict, int) {
		if len(buf)-i < 8 {
			return vHold, i + 8
		}
		corr := int32(binary.BigEndian.Uint32(buf[i+4:]))
		size := int(int32(binary.BigEndian.Uint32(buf[i:])))
		for _, h := range chain {
			if h.CorrelationID != corr {
				continue
			}
			if size < 4 {
				break
			}
			if i+4+size > len(buf) {
				return vLater, i + 4 + size
			}
			if _, err := decodeResponse(h, buf[i+4:i+4+size]); err == nil {
				return vFrame, 0
			}
		}
		return vNone, next(buf, i+1)
	})
	p.answered = v == vFrame
	return p.answered
}
