package exchange

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"time"
	"unsafe"
)

// Packed is an exchange as a store keeps it for long, packed by a Packer:
// its summary and bodies encoded in the Packer's chunks, bytes the
// collector never scans, and by reference (in the Packer too) its Detail
// and its traced process's names, which are allocated once and often
// shared with other exchanges. An exchange built as Go structs is a dozen
// allocations full of pointers; a store holding tens of thousands of them
// had the collector mark all of them in every cycle, which cost the agent
// more than decoding the traffic did. A Packed holds no pointer: a table
// of them is not scanned either.
type Packed struct {
	// chunk is the number of the Packer's chunk that holds the
	// encoding (appendFields), at off, n bytes long.
	chunk  uint64
	off, n uint32
	// epoch is the number (modulo 2^32) of the Packer's epoch it was
	// packed in, ref its references' index in that epoch's table plus
	// one, 0 for none.
	epoch, ref uint32
}

// refs are what an exchange holds by reference. The exchanges of an epoch
// share one refs for each distinct value: most of them name one of a few
// shared Details and processes.
type refs struct {
	detail         *Detail
	client, server *procNames
}

// procNames are an endpoint's process fields, shared by the exchanges of
// one process (Packer.proc).
type procNames struct {
	process, cmdline, container, pod string
}

func (n *procNames) size() int64 {
	return int64(len(n.process) + len(n.cmdline) + len(n.container) + len(n.pod))
}

// Packer packs exchanges, oldest first, into chunks of chunkBytes, so that
// an exchange is not an allocation of its own; it shares the process names
// of one process between its exchanges. Its owner releases what it no
// longer keeps, also oldest first (Release), and a chunk goes once the
// last exchange in it has.
//
// Pack, Release and Discard are called by one goroutine at a time; Unpack
// and Peek by any number at once, when none of those runs, or on a
// Snapshot while they do.
type Packer struct {
	// chunks are held oldest first; chunks[0] is number chunkBase. The
	// last is filled.
	chunks    [][]byte
	chunkBase uint64
	// epochs are held oldest first; epochs[0] is number epochBase. The
	// last takes the exchanges being packed, epochLen of them.
	epochs    []epoch
	epochBase uint64
	inEpoch   int
	// added: the last Pack added to its epoch's table.
	added   bool
	scratch []byte
	// procs holds the names last packed for each process id (at most
	// procsMax, then it starts over).
	procs map[uint32]*procNames
}

// epoch is the references of epochLen exchanges packed one after the
// other, each distinct value once: a table with few pointers, where one
// refs for each exchange held was the largest thing the collector scanned.
type epoch struct {
	table []refs
	// index finds a value in table; only while the epoch takes
	// exchanges.
	index map[refs]uint32
}

const (
	chunkBytes = 64 << 10
	procsMax   = 4096
	epochLen   = 16 << 10
	// RefBytes is the memory of one entry in an epoch's table: its slot,
	// counted twice as a slice that grows by doubling may hold it, and
	// its index entry.
	refBytes = 2*int64(unsafe.Sizeof(refs{})) + int64(unsafe.Sizeof(refs{})) + 24
)

// Pack packs e. It returns the memory taken for it beyond the Packed value
// itself: the encoding, the tail of the last chunk when a new one was
// started for it, its references, and the process names not shared with
// an exchange packed before. Its Detail is not counted: it was allocated
// already, maybe for other exchanges too (DetailShared).
func (pk *Packer) Pack(e *Exchange) (p Packed, bytes int64) {
	pk.scratch = appendFields(pk.scratch[:0], e)
	n := len(pk.scratch)
	last := len(pk.chunks) - 1
	if last < 0 || cap(pk.chunks[last])-len(pk.chunks[last]) < n {
		if last >= 0 {
			// The tail the last chunk leaves unused counts with the
			// exchange that starts the next.
			bytes = int64(cap(pk.chunks[last]) - len(pk.chunks[last]))
		}
		size := chunkBytes
		if n > chunkBytes/4 {
			// Large: a chunk of its own, and the next starts anew.
			// The allocator rounds it up to its size class, by up
			// to an eighth.
			size = n
			bytes += int64(n / 8)
		}
		pk.chunks = append(pk.chunks, make([]byte, 0, size))
		last++
	}
	c := pk.chunks[last]
	p.chunk, p.off, p.n = pk.chunkBase+uint64(last), uint32(len(c)), uint32(n)
	pk.chunks[last] = append(c, pk.scratch...)
	bytes += int64(n)
	if cap(pk.scratch) > chunkBytes {
		pk.scratch = nil
	}

	if len(pk.epochs) == 0 || pk.inEpoch >= epochLen {
		if len(pk.epochs) > 0 {
			pk.epochs[len(pk.epochs)-1].index = nil
		}
		pk.epochs = append(pk.epochs, epoch{index: make(map[refs]uint32)})
		pk.inEpoch = 0
	}
	pk.inEpoch++
	ep := &pk.epochs[len(pk.epochs)-1]
	p.epoch = uint32(pk.epochBase + uint64(len(pk.epochs)-1))
	client, nc := pk.proc(&e.Client)
	server, ns := pk.proc(&e.Server)
	pk.added = false
	if r := (refs{e.Detail, client, server}); r != (refs{}) {
		i, ok := ep.index[r]
		if !ok {
			i = uint32(len(ep.table))
			ep.table = append(ep.table, r)
			ep.index[r] = i
			pk.added = true
			bytes += refBytes
		}
		p.ref = i + 1
	}
	return p, bytes + nc + ns
}

// proc is ep's process names, shared with the last exchange of its
// process when equal (strings that share their bytes compare at once),
// and the memory newly taken for them.
func (pk *Packer) proc(ep *Endpoint) (*procNames, int64) {
	if ep.Process == "" && ep.Cmdline == "" && ep.Container == "" && ep.Pod == "" {
		return nil, 0
	}
	if last := pk.procs[ep.PID]; last != nil && *last == (procNames{ep.Process, ep.Cmdline, ep.Container, ep.Pod}) {
		return last, 0
	}
	if pk.procs == nil || len(pk.procs) >= procsMax {
		pk.procs = make(map[uint32]*procNames)
	}
	p := &procNames{ep.Process, ep.Cmdline, ep.Container, ep.Pod}
	pk.procs[ep.PID] = p
	return p, p.size() + procBytes
}

// procBytes is a procNames allocation.
const procBytes = int64(unsafe.Sizeof(procNames{})) + 16

// Release lets go of every exchange packed before oldest, the oldest its
// owner still holds; with all, of every exchange packed.
func (pk *Packer) Release(oldest Packed, all bool) {
	// The chunk being filled, and the epoch, stay.
	chunk, epochs := oldest.chunk-pk.chunkBase, int(oldest.epoch-uint32(pk.epochBase))
	if all {
		chunk, epochs = uint64(max(len(pk.chunks)-1, 0)), max(len(pk.epochs)-1, 0)
	}
	if k := int(chunk); chunk <= uint64(len(pk.chunks)) && k > 0 {
		clear(pk.chunks[:k])
		pk.chunks = pk.chunks[k:]
		pk.chunkBase += uint64(k)
	}
	if k := epochs; k > 0 && k <= len(pk.epochs) {
		clear(pk.epochs[:k])
		pk.epochs = pk.epochs[k:]
		pk.epochBase += uint64(k)
	}
	if all && len(pk.epochs) > 0 {
		// What the current epoch holds is let go of too: the next
		// exchange starts a new one.
		pk.epochs[0] = epoch{}
		pk.inEpoch = epochLen
	}
}

// Snapshot is a copy of pk that unpacks what pk holds now, also while pk
// goes on packing and releasing: a reader takes it under its owner's lock
// and unpacks after letting the lock go. Pack only appends past what a
// snapshot sees, and Release and Discard change pk's own tables, not the
// snapshot's copies.
func (pk *Packer) Snapshot() Packer {
	return Packer{
		chunks: slices.Clone(pk.chunks), chunkBase: pk.chunkBase,
		epochs: slices.Clone(pk.epochs), epochBase: pk.epochBase,
	}
}

// Discard lets go of p, the exchange packed last, at once.
func (pk *Packer) Discard(p Packed) {
	last := len(pk.chunks) - 1
	if last < 0 || p.chunk != pk.chunkBase+uint64(last) || uint64(p.off)+uint64(p.n) != uint64(len(pk.chunks[last])) {
		return
	}
	if p.off == 0 {
		pk.chunks[last] = nil
		pk.chunks = pk.chunks[:last]
	} else {
		pk.chunks[last] = pk.chunks[last][:p.off]
	}
	if ep := len(pk.epochs) - 1; pk.added && ep >= 0 && p.epoch == uint32(pk.epochBase+uint64(ep)) && int(p.ref) == len(pk.epochs[ep].table) {
		e := &pk.epochs[ep]
		delete(e.index, e.table[p.ref-1])
		e.table[p.ref-1] = refs{}
		e.table = e.table[:p.ref-1]
		pk.added = false
	}
}

// Peek is the API key and the Time of the exchange p holds, read without
// unpacking the rest; false when p was released.
func (pk *Packer) Peek(p Packed) (key int16, t time.Time, ok bool) {
	r := unpacker{b: pk.data(p), u: &Unpacking{one: true}}
	key = r.int16()
	t = r.time()
	return key, t, r.err == nil
}

// data is the encoding of p, nil when released.
func (pk *Packer) data(p Packed) []byte {
	k := p.chunk - pk.chunkBase
	if p.chunk < pk.chunkBase || k >= uint64(len(pk.chunks)) {
		return nil
	}
	c := pk.chunks[k]
	if uint64(p.off)+uint64(p.n) > uint64(len(c)) {
		return nil
	}
	return c[p.off : p.off+p.n : p.off+p.n]
}

// Unpacking lets the exchanges unpacked with it (a reader's many at once)
// share their memory: one string for each distinct value (topic names,
// addresses, client ids...), and their topics, partitions and batches
// taken from larger slices, so that reading a store of tens of thousands
// of exchanges is a few hundred allocations, not a few for each.
type Unpacking struct {
	// one: a single exchange, that shares nothing.
	one     bool
	strs    map[string]string
	topics  []Topic
	parts   []Partition
	batches []Batch
	ints    []int64
	durs    []time.Duration
}

// slabLen is how many elements Unpacking allocates at once.
const slabLen = 256

// take is the next n elements of *slab, one of u's, allocating a new one
// when it has not enough left.
func take[T any](u *Unpacking, slab *[]T, n int) []T {
	if u.one || n > slabLen/4 {
		return make([]T, n)
	}
	if cap(*slab)-len(*slab) < n {
		*slab = make([]T, 0, slabLen)
	}
	l := len(*slab)
	*slab = (*slab)[:l+n]
	return (*slab)[l : l+n : l+n]
}

// Unpack sets *e to the exchange p holds; u, when not nil, shares memory
// between the exchanges unpacked with it (one reader's at a time). The
// bodies share the Packer's memory, the slices u's, and the Detail is
// shared: never modify them.
func (pk *Packer) Unpack(p Packed, e *Exchange, u *Unpacking) error {
	data := pk.data(p)
	if data == nil {
		return errReleased
	}
	if u == nil {
		u = &Unpacking{one: true}
	}
	r := unpacker{b: data, u: u}
	*e = Exchange{}
	r.fields(e)
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return errPacked
	}
	if p.ref != 0 {
		k := int(p.epoch - uint32(pk.epochBase))
		if k < 0 || k >= len(pk.epochs) || int(p.ref) > len(pk.epochs[k].table) {
			return errReleased
		}
		rf := &pk.epochs[k].table[p.ref-1]
		e.Detail = rf.detail
		unpackProc(&e.Client, rf.client)
		unpackProc(&e.Server, rf.server)
	}
	return nil
}

func unpackProc(ep *Endpoint, n *procNames) {
	if n != nil {
		ep.Process, ep.Cmdline, ep.Container, ep.Pod = n.process, n.cmdline, n.container, n.pod
	}
}

var errReleased = errors.New("packed exchange: released")

var errPacked = errors.New("packed exchange: malformed")

// Flags of the encoding.
const (
	flagLatency = 1 << iota
	flagLatencyNS
	flagGeneration
	flagTruncated
	flagDetailShared
)

// appendFields encodes what Packer does not hold by reference: every field
// of e but Detail, and of its endpoints all but the process names. TestPackEveryField fails when a field is added to Exchange and
// not here.
func appendFields(b []byte, e *Exchange) []byte {
	// The API key and the time first: a reader filters on them without
	// unpacking the rest (Packer.Peek).
	b = binary.AppendVarint(b, int64(e.APIKey))
	b = appendTime(b, e.Time)
	b = binary.AppendUvarint(b, flags(e.Latency != nil, e.LatencyNS != nil, e.Generation != nil, e.Truncated, e.detailShared))
	if e.Latency != nil {
		b = binary.AppendVarint(b, int64(*e.Latency))
	}
	if e.LatencyNS != nil {
		b = binary.AppendVarint(b, *e.LatencyNS)
	}
	if e.Generation != nil {
		b = binary.AppendVarint(b, int64(*e.Generation))
	}
	b = appendStr(b, e.Client.Addr)
	b = binary.AppendUvarint(b, uint64(e.Client.PID))
	b = appendStr(b, e.Server.Addr)
	b = binary.AppendUvarint(b, uint64(e.Server.PID))
	b = appendStr(b, e.Side)
	b = appendStr(b, e.API)
	b = binary.AppendVarint(b, int64(e.APIVersion))
	b = binary.AppendVarint(b, int64(e.CorrelationID))
	b = appendStr(b, e.ClientID)
	b = appendStr(b, e.Error)
	b = appendStr(b, e.NoResponse)
	b = appendStr(b, e.Group)
	b = appendStr(b, e.MemberID)
	b = binary.AppendVarint(b, int64(e.RequestBytes))
	b = binary.AppendVarint(b, int64(e.ResponseBytes))
	b = appendBody(b, &e.Request)
	b = appendBody(b, &e.Response)
	b = appendLen(b, e.Topics == nil, len(e.Topics))
	for i := range e.Topics {
		b = appendTopic(b, &e.Topics[i])
	}
	return b
}

// Flags of a body.
const (
	flagWire = 1 << iota
	flagResponse
)

func appendBody(b []byte, body *Body) []byte {
	b = appendLen(b, body.data == nil, len(body.data))
	b = append(b, body.data...)
	b = binary.AppendUvarint(b, flags(body.wire, body.response))
	b = binary.AppendVarint(b, int64(body.body))
	b = binary.AppendVarint(b, int64(body.key))
	return binary.AppendVarint(b, int64(body.version))
}

// Flags of a partition: which pointers are set.
const (
	flagBaseOffset = 1 << iota
	flagFetchOffset
	flagHighWatermark
	flagLogStartOffset
	flagCommittedOffset
	flagTimestamp
	flagOffset
	flagLogAppendTime
	flagIncomplete
)

func appendTopic(b []byte, t *Topic) []byte {
	b = appendStr(b, t.Name)
	b = appendStr(b, t.ID)
	b = appendLen(b, t.Partitions == nil, len(t.Partitions))
	for i := range t.Partitions {
		p := &t.Partitions[i]
		ptrs := [...]*int64{p.BaseOffset, p.FetchOffset, p.HighWatermark, p.LogStartOffset, p.CommittedOffset, p.Timestamp, p.Offset}
		var f uint64
		for k, v := range ptrs {
			if v != nil {
				f |= 1 << k
			}
		}
		if p.LogAppendTime != nil {
			f |= flagLogAppendTime
		}
		if p.Incomplete {
			f |= flagIncomplete
		}
		b = binary.AppendUvarint(b, f)
		b = binary.AppendVarint(b, int64(p.Partition))
		b = appendStr(b, p.Error)
		b = binary.AppendVarint(b, p.Records)
		b = binary.AppendVarint(b, p.Bytes)
		b = binary.AppendVarint(b, p.AbortedRecords)
		for _, v := range ptrs {
			if v != nil {
				b = binary.AppendVarint(b, *v)
			}
		}
		if p.LogAppendTime != nil {
			b = appendTime(b, *p.LogAppendTime)
		}
		b = appendStr(b, p.TimestampType)
		b = appendLen(b, p.Batches == nil, len(p.Batches))
		for k := range p.Batches {
			b = appendBatch(b, &p.Batches[k])
		}
		b = appendBatchTime(b, p.FirstTimestamp, p.Batches, func(bt *Batch) *time.Time { return &bt.FirstTimestamp })
		b = appendBatchTime(b, p.MaxTimestamp, p.Batches, func(bt *Batch) *time.Time { return &bt.MaxTimestamp })
	}
	return b
}

// Flags of a batch.
const (
	flagTransactional = 1 << iota
	flagControl
)

func appendBatch(b []byte, bt *Batch) []byte {
	b = binary.AppendUvarint(b, flags(bt.Transactional, bt.Control))
	b = binary.AppendVarint(b, bt.BaseOffset)
	b = binary.AppendVarint(b, int64(bt.LastOffsetDelta))
	b = binary.AppendVarint(b, int64(bt.Records))
	b = binary.AppendVarint(b, int64(bt.Bytes))
	b = appendTime(b, bt.FirstTimestamp)
	b = appendTime(b, bt.MaxTimestamp)
	b = appendStr(b, bt.TimestampType)
	b = appendStr(b, bt.Compression)
	b = binary.AppendVarint(b, bt.ProducerID)
	b = binary.AppendVarint(b, int64(bt.ProducerEpoch))
	b = binary.AppendVarint(b, int64(bt.BaseSequence))
	return binary.AppendVarint(b, int64(bt.Magic))
}

// appendBatchTime encodes a partition's first or max timestamp, which
// points into one of its batches (topics.go): as that batch's index plus
// 2, 1 for a time of its own, 0 for none.
func appendBatchTime(b []byte, t *time.Time, batches []Batch, field func(*Batch) *time.Time) []byte {
	if t == nil {
		return append(b, 0)
	}
	for k := range batches {
		if field(&batches[k]) == t {
			return binary.AppendUvarint(b, uint64(k)+2)
		}
	}
	return appendTime(append(b, 1), *t)
}

// flags has bit i set when set[i] is true: the flags of the encoding, in
// the order of their constants.
func flags(set ...bool) uint64 {
	var f uint64
	for i, v := range set {
		if v {
			f |= 1 << i
		}
	}
	return f
}

// appendLen encodes a slice's length plus one, 0 for a nil slice.
func appendLen(b []byte, isNil bool, n int) []byte {
	if isNil {
		return append(b, 0)
	}
	return binary.AppendUvarint(b, uint64(n)+1)
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Kinds of time: its location, which JSON shows as an offset.
const (
	timeZero = iota
	timeUTC
	timeLocal
	timeZone
)

func appendTime(b []byte, t time.Time) []byte {
	switch {
	case t.IsZero() && t.Location() == time.UTC:
		return append(b, timeZero)
	case t.Location() == time.UTC:
		b = append(b, timeUTC)
	case t.Location() == time.Local:
		b = append(b, timeLocal)
	default:
		name, off := t.Zone()
		b = appendStr(append(b, timeZone), name)
		b = binary.AppendVarint(b, int64(off))
	}
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// unpacker reads what appendFields wrote; its first error stops it.
type unpacker struct {
	b   []byte
	err error
	u   *Unpacking
}

func (r *unpacker) fail() {
	if r.err == nil {
		r.err = errPacked
	}
	r.b = nil
}

func (r *unpacker) uvarint() uint64 { return next(r, binary.Uvarint) }
func (r *unpacker) varint() int64   { return next(r, binary.Varint) }

// next reads one varint with read.
func next[T uint64 | int64](r *unpacker, read func([]byte) (T, int)) T {
	v, n := read(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// int32 and int16 read a varint that must fit.
func (r *unpacker) int32() int32 { return fits[int32](r) }
func (r *unpacker) int16() int16 { return fits[int16](r) }

// fits reads a varint that must fit in T.
func fits[T int8 | int16 | int32](r *unpacker) T {
	v := r.varint()
	if int64(T(v)) != v {
		r.fail()
		return 0
	}
	return T(v)
}

func (r *unpacker) byte() byte {
	if len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *unpacker) str() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return ""
	}
	raw := r.b[:n]
	r.b = r.b[n:]
	if n == 0 {
		return ""
	}
	if r.u.one {
		return string(raw)
	}
	if s, ok := r.u.strs[string(raw)]; ok {
		return s
	}
	s := string(raw)
	if r.u.strs == nil {
		r.u.strs = make(map[string]string)
	}
	r.u.strs[s] = s
	return s
}

// length reads appendLen's length, -1 for nil; min is the fewest bytes
// one element takes, so that a malformed length allocates nothing.
func (r *unpacker) length(min int) int {
	n := r.uvarint()
	if n == 0 {
		return -1
	}
	if n-1 > uint64(len(r.b)/min) {
		r.fail()
		return -1
	}
	return int(n - 1)
}

func (r *unpacker) time() time.Time {
	var loc *time.Location
	switch r.byte() {
	case timeZero:
		return time.Time{}
	case timeUTC:
		loc = time.UTC
	case timeLocal:
		loc = time.Local
	case timeZone:
		name := r.str()
		loc = time.FixedZone(name, int(r.int32()))
	default:
		r.fail()
		return time.Time{}
	}
	sec, nsec := r.varint(), r.uvarint()
	if nsec >= 1e9 {
		r.fail()
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).In(loc)
}

func (r *unpacker) fields(e *Exchange) {
	e.APIKey = r.int16()
	e.Time = r.time()
	f := r.uvarint()
	if f&flagLatency != 0 {
		d := &take(r.u, &r.u.durs, 1)[0]
		*d = time.Duration(r.varint())
		e.Latency = d
	}
	if f&flagLatencyNS != 0 {
		ns := &take(r.u, &r.u.ints, 1)[0]
		*ns = r.varint()
		e.LatencyNS = ns
	}
	if f&flagGeneration != 0 {
		g := r.int32()
		e.Generation = &g
	}
	e.Truncated = f&flagTruncated != 0
	e.detailShared = f&flagDetailShared != 0
	e.Client.Addr = r.str()
	e.Client.PID = r.pid()
	e.Server.Addr = r.str()
	e.Server.PID = r.pid()
	e.Side = r.str()
	e.API = r.str()
	e.APIVersion = r.int16()
	e.CorrelationID = r.int32()
	e.ClientID = r.str()
	e.Error = r.str()
	e.NoResponse = r.str()
	e.Group = r.str()
	e.MemberID = r.str()
	e.RequestBytes = int(r.varint())
	e.ResponseBytes = int(r.varint())
	r.body(&e.Request)
	r.body(&e.Response)
	if n := r.length(3); n >= 0 {
		e.Topics = take(r.u, &r.u.topics, n)
		for i := range e.Topics {
			r.topic(&e.Topics[i])
		}
	}
}

// body shares the encoding's bytes.
func (r *unpacker) body(body *Body) {
	if n := r.length(1); n >= 0 {
		body.data = r.b[:n:n]
		r.b = r.b[n:]
	}
	f := r.uvarint()
	body.wire = f&flagWire != 0
	body.response = f&flagResponse != 0
	body.body = r.int32()
	body.key = r.int16()
	body.version = r.int16()
}

func (r *unpacker) pid() uint32 {
	v := r.uvarint()
	if v > math.MaxUint32 {
		r.fail()
		return 0
	}
	return uint32(v)
}

func (r *unpacker) topic(t *Topic) {
	t.Name = r.str()
	t.ID = r.str()
	n := r.length(9)
	if n < 0 {
		return
	}
	t.Partitions = take(r.u, &r.u.parts, n)
	for i := range t.Partitions {
		p := &t.Partitions[i]
		f := r.uvarint()
		p.Partition = r.int32()
		p.Error = r.str()
		p.Records = r.varint()
		p.Bytes = r.varint()
		p.AbortedRecords = r.varint()
		ptrs := [...]**int64{&p.BaseOffset, &p.FetchOffset, &p.HighWatermark, &p.LogStartOffset, &p.CommittedOffset, &p.Timestamp, &p.Offset}
		var vals []int64
		for k := range ptrs {
			if f&(1<<k) != 0 {
				if vals == nil {
					vals = take(r.u, &r.u.ints, bitsSet(f&(flagLogAppendTime-1)))[:0]
				}
				vals = append(vals, r.varint())
				*ptrs[k] = &vals[len(vals)-1]
			}
		}
		if f&flagLogAppendTime != 0 {
			t := r.time()
			p.LogAppendTime = &t
		}
		p.Incomplete = f&flagIncomplete != 0
		p.TimestampType = r.str()
		if n := r.length(13); n >= 0 {
			p.Batches = take(r.u, &r.u.batches, n)
			for k := range p.Batches {
				r.batch(&p.Batches[k])
			}
		}
		p.FirstTimestamp = r.batchTime(p.Batches, func(bt *Batch) *time.Time { return &bt.FirstTimestamp })
		p.MaxTimestamp = r.batchTime(p.Batches, func(bt *Batch) *time.Time { return &bt.MaxTimestamp })
		if r.err != nil {
			return
		}
	}
}

func bitsSet(f uint64) int {
	n := 0
	for ; f != 0; f &= f - 1 {
		n++
	}
	return n
}

func (r *unpacker) batch(bt *Batch) {
	f := r.uvarint()
	bt.Transactional = f&flagTransactional != 0
	bt.Control = f&flagControl != 0
	bt.BaseOffset = r.varint()
	bt.LastOffsetDelta = r.int32()
	bt.Records = r.int32()
	bt.Bytes = r.int32()
	bt.FirstTimestamp = r.time()
	bt.MaxTimestamp = r.time()
	bt.TimestampType = r.str()
	bt.Compression = r.str()
	bt.ProducerID = r.varint()
	bt.ProducerEpoch = r.int16()
	bt.BaseSequence = r.int32()
	bt.Magic = fits[int8](r)
}

func (r *unpacker) batchTime(batches []Batch, field func(*Batch) *time.Time) *time.Time {
	switch k := r.uvarint(); {
	case k == 0:
		return nil
	case k == 1:
		t := r.time()
		return &t
	case k-2 < uint64(len(batches)):
		return field(&batches[k-2])
	default:
		r.fail()
		return nil
	}
}
