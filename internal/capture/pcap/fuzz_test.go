package pcap

import (
	"bytes"
	"io"
	"testing"
)

// FuzzReader feeds arbitrary bytes as a capture file. Reading must end in
// io.EOF or an error, never a panic or a loop, and what it yields must be
// well formed.
func FuzzReader(f *testing.F) {
	for _, v6 := range []bool{false, true} {
		c := sampleConv(v6)
		c.add(cli, "A", 20, "late", cutBy(2))
		c.add(cli, "A", 14, "xy")
		for _, l := range linkSpecs {
			if l.only == 0 || (l.only == 6) == v6 {
				f.Add(pcapLE.write(f, l.link, c.frames(f, l)))
			}
		}
		for _, ff := range fileFormats[1:] {
			f.Add(ff.write(f, ethernet.link, c.frames(f, ethernet)))
		}
	}
	f.Fuzz(func(t *testing.T, file []byte) {
		r, err := NewReader(bytes.NewReader(file), Options{MaxBuffered: 1 << 10})
		if err != nil {
			return
		}
		defer r.Close()
		// Every chunk comes from a packet or a connection's end, and each
		// takes more than 4 bytes of file, so this bounds a correct run.
		limit := len(file)/4 + 8
		for n := 0; ; n++ {
			ch, err := r.Next()
			if err != nil {
				if err != io.EOF {
					return // a packet that stopped the reader is not classified
				}
				break
			}
			if n > limit {
				t.Fatalf("more than %d chunks from %d bytes", limit, len(file))
			}
			if ch.Conn == nil || ch.Lost < -1 || ch.Dir > 1 || len(ch.Data) > len(file) {
				t.Fatalf("malformed chunk %+v", ch)
			}
			if len(ch.Data) == 0 && ch.Lost == 0 && !ch.Closed {
				t.Fatalf("empty chunk %+v", ch)
			}
		}
		st := r.Stats()
		if st.TCPSegments+st.Skipped != st.Packets {
			t.Fatalf("stats do not add up: %+v", st)
		}
	})
}
