package kafka

import "github.com/twmb/franz-go/pkg/kmsg"

// The rooms the fast readers fill (produce.go, fetch.go) are reused when
// Options.ReuseMessages says the callback keeps nothing of a Pair: a
// Produce or Fetch exchange's request and response each take a room of
// 400 to 700 bytes, most of the bytes the decoder allocates per exchange.

// maxSpare is how many rooms of each kind wait to be reused.
const maxSpare = 16

// spare holds rooms of one kind, zeroed, for reuse.
type spare[T any] struct{ free []*T }

// get returns a zeroed room.
func (s *spare[T]) get() *T {
	if n := len(s.free); n > 0 {
		p := s.free[n-1]
		s.free = s.free[:n-1]
		return p
	}
	return new(T)
}

// put zeroes p and keeps it, unless enough are kept.
func (s *spare[T]) put(p *T) {
	if len(s.free) < maxSpare {
		var zero T
		*p = zero
		s.free = append(s.free, p)
	}
}

// keep says whether p was filled; p goes back when it was not.
func (s *spare[T]) keep(p *T, filled bool) bool {
	if !filled {
		s.put(p)
	}
	return filled
}

// rooms are the decoder's spare rooms, one list per kind.
type rooms struct {
	produceReq  spare[produceRequest]
	produceResp spare[produceResponse]
	fetchReq    spare[fetchRequest]
	fetchResp   spare[fetchResponse]
}

// release takes back the rooms of an exchange the callback is done with,
// when the decoder may reuse them.
func (d *Decoder) release(req *Request, resp *Response) {
	if !d.opts.ReuseMessages {
		return
	}
	rooms := [2]any{req.room}
	if resp != nil {
		rooms[1] = resp.room
	}
	for _, room := range rooms {
		switch r := room.(type) {
		case *produceRequest:
			d.rooms.produceReq.put(r)
		case *fetchRequest:
			d.rooms.fetchReq.put(r)
		case *produceResponse:
			d.rooms.produceResp.put(r)
		case *fetchResponse:
			d.rooms.fetchResp.put(r)
		}
	}
}

// inRoom is r, the request a room holds, with its body, knowing its room.
func inRoom(r *Request, body kmsg.Request, room any) *Request {
	r.Body, r.room = body, room
	return r
}

// inRoomResp is inRoom for a response.
func inRoomResp(r *Response, body kmsg.Response, room any) *Response {
	r.Body, r.room = body, room
	return r
}
