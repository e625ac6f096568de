package view

import (
	"encoding/binary"
	"slices"
	"time"
)

// merge adds b to a; b is not changed. A client's group is the one it
// named last, by exchange time.
func (a *ovAgg) merge(b *ovAgg) {
	a.n += b.n
	a.coarsenDelays(b.dlShift)
	topics := make(map[*ovTopic]*ovTopic, len(b.topics))
	for name, bt := range b.topics {
		at := a.topic(name)
		for len(at.partitions) < len(bt.partitions) {
			at.partitions = append(at.partitions, 0)
		}
		for i, w := range bt.partitions {
			at.partitions[i] |= w
		}
		at.replBytes += bt.replBytes
		at.replRecords += bt.replRecords
		topics[bt] = at
	}
	mergeRole := func(ar, br *ovRole) *ovRole {
		if br == nil {
			return ar
		}
		if ar == nil {
			ar = &ovRole{}
		}
		ar.requests += br.requests
		ar.errors += br.errors
		for c, n := range br.errorsByCode {
			if ar.errorsByCode == nil {
				ar.errorsByCode = make(map[string]int64)
			}
			ar.errorsByCode[c] += n
		}
		for bt, be := range br.edges {
			ae := ar.edge(topics[bt])
			ae.bytes += be.bytes
			ae.records += be.records
			ae.requests += be.requests
			ae.mergeDelays(be.delays, a.dlShift)
		}
		return ar
	}
	for k, bc := range b.clients {
		ac := a.clients[k]
		if ac == nil {
			ac = &ovClient{c: bc.c, lat: make(rlSet)}
			a.clients[k] = ac
		}
		ac.nameGroup(bc.group, bc.groupAt)
		ac.prod = mergeRole(ac.prod, bc.prod)
		ac.cons = mergeRole(ac.cons, bc.cons)
		ac.mergeTxn(bc.txn)
		ac.lat.merge(bc.lat)
	}
	for addr, bb := range b.brokers {
		ab := a.brokers[addr]
		if ab == nil {
			ab = &ovBroker{addr: addr, lat: make(rlSet)}
			a.brokers[addr] = ab
		}
		ab.requests += bb.requests
		ab.produce += bb.produce
		ab.fetch += bb.fetch
		ab.replicaFetch += bb.replicaFetch
		ab.bytesIn += bb.bytesIn
		ab.bytesOut += bb.bytesOut
		ab.replBytes += bb.replBytes
		for r := range bb.replicas {
			if ab.replicas == nil {
				ab.replicas = make(map[string]struct{})
			}
			ab.replicas[r] = struct{}{}
		}
		ab.lat.merge(bb.lat)
	}
}

// A part whose time is settled is kept encoded, a fifth of its size as
// maps and pointers (most of which were map entries of edges and latency
// rows, and histograms that merging made dense): numbers as varints,
// strings once in a table, each histogram as its non-empty buckets. It is
// only read by merging it into a part that counts (ovDecoder.merge),
// which gives back exactly what was encoded.
//
// Layout: the string table (count, then each length and bytes); the
// exchange count; topics (name, partition bitset words, replication bytes
// and records); brokers (address, counts, replicas, latency rows); clients
// (process, pid, pod, host, client id, group and when it was named,
// producer and consumer roles with their edges by topic index, the
// transactional split (overview_txn.go), latency rows). A latency row: API, counts, errors by name, min, max, buckets as
// (index delta, count). An edge ends with its delays per partition:
// partition, batches, max, bin count << 3 | precision (ovDelay.shift),
// bins as index delta << 1 | 1 for a bin of one batch, else index delta
// << 1 and the count. The delays' precision for counting follows the
// exchange count.

// freeze encodes a.
func freeze(a *ovAgg) []byte {
	e := ovEncoder{idx: map[string]uint64{"": 0}, strs: []string{""}, topics: make(map[*ovTopic]uint64, len(a.topics))}
	e.int(int64(a.n))
	e.uint(uint64(a.dlShift))
	e.uint(uint64(len(a.topics)))
	for name, t := range a.topics {
		e.topics[t] = uint64(len(e.topics))
		e.str(name)
		e.uint(uint64(len(t.partitions)))
		for _, w := range t.partitions {
			e.uint(w)
		}
		e.int(t.replBytes)
		e.int(t.replRecords)
	}
	e.uint(uint64(len(a.brokers)))
	for addr, b := range a.brokers {
		e.str(addr)
		for _, v := range []int64{b.requests, b.produce, b.fetch, b.replicaFetch, b.bytesIn, b.bytesOut, b.replBytes} {
			e.int(v)
		}
		e.uint(uint64(len(b.replicas)))
		for r := range b.replicas {
			e.str(r)
		}
		e.lat(b.lat)
	}
	e.uint(uint64(len(a.clients)))
	for _, c := range a.clients {
		e.str(c.c.Process)
		e.uint(uint64(c.c.PID))
		e.str(c.c.Pod)
		e.str(c.c.Host)
		e.str(c.c.ClientID)
		e.str(c.group)
		if c.group != "" {
			e.int(c.groupAt.UnixNano())
		}
		e.role(c.prod)
		e.role(c.cons)
		c.txn.encode(&e)
		e.lat(c.lat)
	}
	size := binary.MaxVarintLen64 + len(e.buf)
	for _, s := range e.strs {
		size += binary.MaxVarintLen64 + len(s)
	}
	out := make([]byte, 0, size)
	out = binary.AppendUvarint(out, uint64(len(e.strs)))
	for _, s := range e.strs {
		out = binary.AppendUvarint(out, uint64(len(s)))
		out = append(out, s...)
	}
	out = append(out, e.buf...)
	return out[:len(out):len(out)]
}

type ovEncoder struct {
	buf    []byte
	strs   []string
	idx    map[string]uint64
	topics map[*ovTopic]uint64
}

func (e *ovEncoder) uint(v uint64) { e.buf = binary.AppendUvarint(e.buf, v) }
func (e *ovEncoder) int(v int64)   { e.buf = binary.AppendVarint(e.buf, v) }

func (e *ovEncoder) str(s string) {
	i, ok := e.idx[s]
	if !ok {
		i = uint64(len(e.strs))
		e.strs = append(e.strs, s)
		e.idx[s] = i
	}
	e.uint(i)
}

func (e *ovEncoder) codes(m map[string]int64) {
	e.uint(uint64(len(m)))
	for c, n := range m {
		e.str(c)
		e.int(n)
	}
}

// role writes 0 for none, else 1 + its edge count and the role.
func (e *ovEncoder) role(r *ovRole) {
	if r == nil {
		e.uint(0)
		return
	}
	e.uint(1 + uint64(len(r.edges)))
	e.int(r.requests)
	e.int(r.errors)
	e.codes(r.errorsByCode)
	for t, ed := range r.edges {
		e.uint(e.topics[t])
		e.int(ed.bytes)
		e.int(ed.records)
		e.int(ed.requests)
		e.delays(ed.delays)
	}
}

func (e *ovEncoder) delays(ds []ovDelay) {
	e.uint(uint64(len(ds)))
	for i := range ds {
		s := &ds[i]
		e.int(int64(s.partition))
		e.int(s.batches)
		e.int(int64(s.max))
		e.uint(uint64(len(s.bins))<<3 | uint64(s.shift))
		prev := 0
		for _, x := range s.bins {
			// Most bins of a consumer partition count one batch.
			if x.n == 1 {
				e.uint(uint64(int(x.b)-prev)<<1 | 1)
			} else {
				e.uint(uint64(int(x.b)-prev) << 1)
				e.uint(uint64(x.n))
			}
			prev = int(x.b)
		}
	}
}

func (e *ovEncoder) lat(set rlSet) {
	e.uint(uint64(len(set)))
	for api, s := range set {
		e.str(api)
		e.int(s.requests)
		e.int(s.answered)
		e.int(s.errors)
		e.codes(s.errorsByCode)
		e.int(int64(s.min))
		e.int(int64(s.max))
		if s.counts == nil {
			e.uint(uint64(len(s.sparse)))
			prev := 0
			for _, x := range s.sparse {
				e.uint(uint64(int(x.b) - prev))
				e.uint(uint64(x.n))
				prev = int(x.b)
			}
			continue
		}
		n := 0
		for _, c := range s.counts {
			if c > 0 {
				n++
			}
		}
		e.uint(uint64(n))
		prev := 0
		for b, c := range s.counts {
			if c > 0 {
				e.uint(uint64(b - prev))
				e.uint(uint64(c))
				prev = b
			}
		}
	}
}

// ovDecoder merges encoded parts into a counting one, keeping what one
// merge needs for the next: strings already seen (so that merging many
// parts allocates each once) and scratch slices.
type ovDecoder struct {
	strs map[string]string
	tab  []string
	tps  []*ovTopic
	bins []rlBin
	// shift is the precision of the delays of the part merged into.
	shift uint8
}

// ovReader reads an encoded part; the encoding is the process's own, so
// a malformed one is a bug (it panics).
type ovReader struct {
	b []byte
	i int
}

func (r *ovReader) uint() uint64 {
	v, n := binary.Uvarint(r.b[r.i:])
	if n <= 0 {
		panic("view: malformed overview part")
	}
	r.i += n
	return v
}

func (r *ovReader) int() int64 {
	v, n := binary.Varint(r.b[r.i:])
	if n <= 0 {
		panic("view: malformed overview part")
	}
	r.i += n
	return v
}

func (d *ovDecoder) str(r *ovReader) string { return d.tab[r.uint()] }

// merge adds the encoded part b to a.
func (d *ovDecoder) merge(a *ovAgg, b []byte) {
	if len(b) == 0 {
		return
	}
	r := &ovReader{b: b}
	d.tab = d.tab[:0]
	for n := r.uint(); n > 0; n-- {
		l := int(r.uint())
		raw := r.b[r.i : r.i+l]
		r.i += l
		s, ok := d.strs[string(raw)]
		if !ok {
			s = string(raw)
			d.strs[s] = s
		}
		d.tab = append(d.tab, s)
	}
	a.n += int(r.int())
	a.coarsenDelays(uint8(r.uint()))
	d.shift = a.dlShift
	d.tps = d.tps[:0]
	for n := r.uint(); n > 0; n-- {
		t := a.topic(d.str(r))
		for i := range int(r.uint()) {
			if i == len(t.partitions) {
				t.partitions = append(t.partitions, 0)
			}
			t.partitions[i] |= r.uint()
		}
		t.replBytes += r.int()
		t.replRecords += r.int()
		d.tps = append(d.tps, t)
	}
	for n := r.uint(); n > 0; n-- {
		addr := d.str(r)
		ab := a.brokers[addr]
		if ab == nil {
			ab = &ovBroker{addr: addr, lat: make(rlSet)}
			a.brokers[addr] = ab
		}
		for _, v := range []*int64{&ab.requests, &ab.produce, &ab.fetch, &ab.replicaFetch, &ab.bytesIn, &ab.bytesOut, &ab.replBytes} {
			*v += r.int()
		}
		for m := r.uint(); m > 0; m-- {
			if ab.replicas == nil {
				ab.replicas = make(map[string]struct{})
			}
			ab.replicas[d.str(r)] = struct{}{}
		}
		d.lat(r, ab.lat)
	}
	for n := r.uint(); n > 0; n-- {
		c := Client{Process: d.str(r), PID: uint32(r.uint()), Pod: d.str(r), Host: d.str(r), ClientID: d.str(r)}
		group := d.str(r)
		var at time.Time
		if group != "" {
			at = time.Unix(0, r.int())
		}
		k := ovClientKey{ovWho(&c), c.ClientID}
		ac := a.clients[k]
		if ac == nil {
			ac = &ovClient{c: c, lat: make(rlSet)}
			a.clients[k] = ac
		}
		ac.nameGroup(group, at)
		ac.prod = d.role(r, ac.prod)
		ac.cons = d.role(r, ac.cons)
		ac.mergeTxn(decodeTxn(r))
		d.lat(r, ac.lat)
	}
}

func (d *ovDecoder) codes(r *ovReader, m map[string]int64) map[string]int64 {
	for n := r.uint(); n > 0; n-- {
		if m == nil {
			m = make(map[string]int64)
		}
		m[d.str(r)] += r.int()
	}
	return m
}

func (d *ovDecoder) role(r *ovReader, ar *ovRole) *ovRole {
	n := r.uint()
	if n == 0 {
		return ar
	}
	if ar == nil {
		ar = &ovRole{}
	}
	ar.requests += r.int()
	ar.errors += r.int()
	ar.errorsByCode = d.codes(r, ar.errorsByCode)
	for ; n > 1; n-- {
		ed := ar.edge(d.tps[r.uint()])
		ed.bytes += r.int()
		ed.records += r.int()
		ed.requests += r.int()
		d.delays(r, ed)
	}
	return ar
}

func (d *ovDecoder) delays(r *ovReader, ed *ovEdge) {
	for n := r.uint(); n > 0; n-- {
		o := ovDelay{partition: int32(r.int()), batches: r.int(), max: time.Duration(r.int())}
		d.bins = readDelayBins(r, &o, d.bins[:0])
		s, _ := ed.delay(o.partition, d.shift)
		s.merge(&o)
	}
}

// readDelayBins reads o's precision and bins into bins (o.bins is
// bins).
func readDelayBins(r *ovReader, o *ovDelay, bins []rlBin) []rlBin {
	m := r.uint()
	o.shift = uint8(m & 7)
	b := 0
	for m >>= 3; m > 0; m-- {
		v := r.uint()
		b += int(v >> 1)
		n := uint32(1)
		if v&1 == 0 {
			n = uint32(r.uint())
		}
		bins = append(bins, rlBin{b: uint16(b), n: n})
	}
	o.bins = bins
	return bins
}

func (d *ovDecoder) lat(r *ovReader, set rlSet) {
	for n := r.uint(); n > 0; n-- {
		s := set.get(d.str(r))
		o := rlStats{requests: r.int(), answered: r.int(), errors: r.int()}
		s.errorsByCode = d.codes(r, s.errorsByCode)
		o.min, o.max = time.Duration(r.int()), time.Duration(r.int())
		d.bins = d.bins[:0]
		b := 0
		for m := r.uint(); m > 0; m-- {
			b += int(r.uint())
			d.bins = append(d.bins, rlBin{b: uint16(b), n: uint32(r.uint())})
		}
		o.sparse = d.bins
		if s.answered == 0 && s.counts == nil && len(s.sparse) == 0 && len(o.sparse) <= rlSparseMax {
			// The row's first histogram: kept sparse, as it came.
			s.requests += o.requests
			s.errors += o.errors
			if o.answered > 0 {
				s.answered, s.min, s.max = o.answered, o.min, o.max
				s.sparse = slices.Clone(o.sparse)
			}
			continue
		}
		s.merge(&o)
	}
}

// estimate is the memory a holds, as add accounts it, for a part decoded
// to count again.
func (a *ovAgg) estimate() int64 {
	var n int64
	codes := func(m map[string]int64) int64 { return int64(len(m)) * ovMapEntryBytes }
	lat := func(set rlSet) int64 {
		var n int64
		for _, s := range set {
			n += ovStatsBytes + codes(s.errorsByCode) + int64(cap(s.sparse))*rlBinSize
			if s.counts != nil {
				n += rlDenseSize
			}
		}
		return n
	}
	for name, t := range a.topics {
		n += ovTopicBytes + int64(len(name)) + int64(cap(t.partitions))*8
	}
	for addr, b := range a.brokers {
		n += ovBrokerBytes + int64(len(addr)) + lat(b.lat)
		for r := range b.replicas {
			n += ovMapEntryBytes + int64(len(r))
		}
	}
	for _, c := range a.clients {
		n += ovClientBytes + int64(len(c.c.Process)+len(c.c.Pod)+len(c.c.Host)+len(c.c.ClientID)) + lat(c.lat)
		if c.txn != nil {
			n += ovTxnBytes
		}
		for _, r := range []*ovRole{c.prod, c.cons} {
			if r != nil {
				n += ovRoleBytes + int64(len(r.edges))*ovEdgeBytes + codes(r.errorsByCode)
				for _, ed := range r.edges {
					n += int64(cap(ed.delays)) * ovDelaySize
					for i := range ed.delays {
						n += int64(cap(ed.delays[i].bins)) * rlBinSize
					}
				}
			}
		}
	}
	return n
}
