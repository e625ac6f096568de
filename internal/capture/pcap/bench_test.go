package pcap

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// benchFile is a pcap of one connection carrying total bytes in segments
// of seg bytes, with an ACK for every second segment, as a bulk transfer
// (a Kafka fetch response, say) looks on the wire.
func benchFile(b *testing.B, seg, total int) []byte {
	c := newConv("10.0.0.1:40000", "10.0.0.2:9092", 1000, 5000)
	c.handshake()
	data := make([]byte, seg)
	for i := range data {
		data[i] = byte(i)
	}
	for off, i := 0, 0; off < total; off, i = off+seg, i+1 {
		c.add(srv, "A", off, string(data))
		if i%2 == 1 {
			c.add(cli, "A", 0, "", ackAt(off+seg))
		}
	}
	return pcapLE.write(b, ethernet.link, c.frames(b, ethernet))
}

// BenchmarkReader measures file bytes per second through decoding and
// reassembly of an in-order stream.
func BenchmarkReader(b *testing.B) {
	for _, seg := range []int{16384, 1460} {
		b.Run(fmt.Sprintf("segment=%d", seg), func(b *testing.B) {
			file := benchFile(b, seg, 64<<20)
			b.SetBytes(int64(len(file)))
			b.ReportAllocs()
			for b.Loop() {
				r, err := NewReader(bytes.NewReader(file), Options{})
				if err != nil {
					b.Fatal(err)
				}
				for {
					if _, err := r.Next(); err != nil {
						if err != io.EOF {
							b.Fatal(err)
						}
						break
					}
				}
				if got, want := r.Stats().PayloadBytes, uint64((64<<20+seg-1)/seg*seg); got != want {
					b.Fatalf("delivered %d bytes, want %d", got, want)
				}
			}
		})
	}
}
