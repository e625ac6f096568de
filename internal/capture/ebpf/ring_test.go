//go:build linux && (amd64 || arm64)

package ebpf

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
)

// fakeRing writes records the way the kernel's BPF ring buffer does, into
// memory mapped once: a record may wrap around the end.
type fakeRing struct {
	cons, prod uint64
	data       []byte
}

func (f *fakeRing) reader() ringData { return ringData{cons: &f.cons, prod: &f.prod, data: f.data} }

// put writes a record of payload with the header's flag bits; it returns
// the record's position.
func (f *fakeRing) put(payload []byte, flags uint32) uint64 {
	at := f.prod
	mask := uint64(len(f.data) - 1)
	binary.LittleEndian.PutUint32(f.data[at&mask:], uint32(len(payload))|flags)
	for i, b := range payload {
		f.data[(at+ringHdrSize+uint64(i))&mask] = b
	}
	f.prod += ringHdrSize + (uint64(len(payload))+7)&^7
	return at
}

func TestRingData(t *testing.T) {
	f := &fakeRing{data: make([]byte, 64)}
	r := f.reader()
	var buf []byte
	if r.next(&buf) {
		t.Fatal("an empty ring gave a record")
	}
	// Records of 13 bytes (24 with header and padding) wrap around a ring
	// of 64 bytes at every size; read each as it comes.
	for i := range 20 {
		want := bytes.Repeat([]byte{byte(i)}, 13)
		want[0], want[12] = 0xa0, 0xb0+byte(i)
		f.put(want, 0)
		if !r.next(&buf) || !bytes.Equal(buf, want) {
			t.Fatalf("record %d (at %d): read %x, want %x", i, f.cons-24, buf, want)
		}
		if f.cons != f.prod {
			t.Fatalf("record %d: consumer at %d, producer at %d", i, f.cons, f.prod)
		}
	}
	if r.next(&buf) {
		t.Fatal("a record after the last")
	}

	// A discarded record is skipped, and freed.
	f.put([]byte("gone"), ringDiscardBit)
	f.put([]byte("kept"), 0)
	if !r.next(&buf) || string(buf) != "kept" || f.cons != f.prod {
		t.Fatalf("after a discarded record: %q, consumer %d producer %d", buf, f.cons, f.prod)
	}

	// A record reserved and not committed holds back those after it.
	busy := f.put([]byte("later"), ringBusyBit)
	f.put([]byte("after"), 0)
	if r.next(&buf) || f.cons != busy {
		t.Fatalf("read past a record not yet committed: %q, consumer %d, busy record at %d", buf, f.cons, busy)
	}
	binary.LittleEndian.PutUint32(f.data[busy&63:], 5) // committed
	for _, want := range []string{"later", "after"} {
		if !r.next(&buf) || string(buf) != want {
			t.Fatalf("read %q, want %q", buf, want)
		}
	}

	// Each record of every length, from each position of the ring.
	for start := range 8 {
		for n := range 48 {
			f := &fakeRing{data: make([]byte, 64), cons: uint64(start * 8), prod: uint64(start * 8)}
			r := f.reader()
			want := []byte(fmt.Sprintf("%0*d", n, n))[:n]
			f.put(want, 0)
			if !r.next(&buf) || !bytes.Equal(buf, want) {
				t.Fatalf("at %d, %d bytes: read %q, want %q", start*8, n, buf, want)
			}
		}
	}

	// The reader of a closed ring reads nothing.
	var closed ringData
	if closed.next(&buf) {
		t.Fatal("a closed ring gave a record")
	}
}
