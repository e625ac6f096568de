package kafka

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"kscope/internal/capture"
)

func FuzzRequestHeader(f *testing.F) {
	f.Add(reqFrame(metadataReq(), 12, 1, "app")[4:])
	f.Add(reqFrame(produceReq(1), 7, 3, "")[4:])
	f.Add([]byte{0, 18, 0, 3, 0, 0, 0, 1, 0xff, 0xff, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := ParseRequestHeader(b)
		if err != nil {
			return
		}
		if n > len(b) || n < 8 {
			t.Fatalf("body offset %d outside frame of %d", n, len(b))
		}
		if h.ClientID != nil && len(*h.ClientID) > len(b) {
			t.Fatal("client id longer than frame")
		}
		plausibleRequest(b)
		if KnownVersion(h.Key, h.Version) {
			decodeRequest(h, b[n:])
			decodeResponse(h, b)
		}
	})
}

// FuzzDecoder feeds arbitrary bytes as the two directions of a connection,
// cut into arbitrary chunks with arbitrary holes: the decoder must never
// panic, hang or emit a pair without a request.
func FuzzDecoder(f *testing.F) {
	var id [16]byte
	f.Add(joinBytes(reqFrame(metadataReq(), 12, 1, "app"), reqFrame(produceReq(-1), 9, 2, "app")),
		joinBytes(respFrame(metadataResp(id), 12, 1), respFrame(produceResp(), 9, 2)), []byte{7, 3, 200, 1})
	f.Add(reqFrame(produceReq(0), 3, 1, "a"), []byte{}, []byte{1})
	f.Fuzz(func(t *testing.T, client, server, cuts []byte) {
		c := &capture.Conn{ID: 1, A: netip.MustParseAddrPort("10.0.0.1:1"), B: netip.MustParseAddrPort("10.0.0.2:2")}
		d := NewDecoder(Options{MaxFrame: 1 << 16}, nil, func(p Pair) {
			if p.Req == nil {
				t.Fatal("pair without request")
			}
		})
		now := time.Unix(0, 0)
		streams := [2][]byte{client, server}
		for i := 0; len(streams[0])+len(streams[1]) > 0; i++ {
			cut := byte(1)
			if len(cuts) > 0 {
				cut = cuts[i%len(cuts)]
			}
			dir := capture.Dir(cut & 1)
			if len(streams[dir]) == 0 {
				dir = dir.Reverse()
			}
			n := min(int(cut>>1)+1, len(streams[dir]))
			lost := int64(0)
			if cut&0x80 != 0 && i > 0 {
				lost = int64(binary.BigEndian.Uint16([]byte{cut, byte(i)}) & 0x3ff)
			}
			now = now.Add(time.Millisecond)
			d.Feed(capture.Chunk{Conn: c, Dir: dir, Time: now, Data: streams[dir][:n], Lost: lost})
			streams[dir] = streams[dir][n:]
		}
		d.Expire(now.Add(time.Hour))
		d.Flush()
	})
}
