package exchange

import (
	"encoding/json"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/kafka"
)

// Body is a request or response body as JSON (Exchange.Request and
// Response): rendered when the exchange was built, or kept in its wire
// form and rendered each time it is asked for. The agent keeps the bodies
// of the APIs that make most of the traffic (Produce, Fetch) in wire form,
// record data removed: most are never asked for, and the wire form is
// smaller than the JSON and holds no pointer for the collector to follow.
type Body struct {
	js   json.RawMessage
	wire *wireBody
}

// wireBody is a body in its wire form, with what JSON shows of its record
// data.
type wireBody struct {
	key, version int16
	response     bool
	raw          []byte
	records      []recordCount
}

// recordCount is what the JSON of a body shows of one partition's record
// data: its size and batches, at indices into the topic and partition
// arrays.
type recordCount struct {
	topic, partition int32
	bytes, batches   int32
}

// JSONBody is a body rendered already.
func JSONBody(js json.RawMessage) Body { return Body{js: js} }

// IsZero says there is no body (for omitzero).
func (b Body) IsZero() bool { return b.js == nil && b.wire == nil }

// JSON is the body rendered, nil when there is none.
func (b Body) JSON() json.RawMessage {
	if b.wire == nil {
		return b.js
	}
	return b.wire.render()
}

// MarshalJSON renders the body.
func (b Body) MarshalJSON() ([]byte, error) {
	if js := b.JSON(); js != nil {
		return js, nil
	}
	return []byte("null"), nil
}

// UnmarshalJSON keeps the body's JSON (an exchange read back from the API).
func (b *Body) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*b = Body{}
		return nil
	}
	*b = Body{js: append(json.RawMessage(nil), data...)}
	return nil
}

// Size is the memory the body holds, by capacity.
func (b Body) Size() int64 {
	n := int64(cap(b.js))
	if w := b.wire; w != nil {
		n += int64(unsafe.Sizeof(*w)) + int64(cap(w.raw)) + int64(cap(w.records))*int64(unsafe.Sizeof(recordCount{}))
	}
	return n
}

// render decodes the wire form and renders it as bodyJSON does a decoded
// body; a body that no longer decodes (it did when built) shows the error.
func (w *wireBody) render() json.RawMessage {
	var msg interface {
		SetVersion(int16)
		ReadFrom([]byte) error
	}
	if w.response {
		r := kmsg.ResponseForKey(w.key)
		if r == nil {
			return nil
		}
		msg = r
	} else {
		r := kmsg.RequestForKey(w.key)
		if r == nil {
			return nil
		}
		msg = r
	}
	msg.SetVersion(w.version)
	if err := msg.ReadFrom(w.raw); err != nil {
		js, _ := json.Marshal(map[string]string{"error": "the kept body no longer decodes: " + err.Error()})
		return js
	}
	return encodeBody(msg, w.records)
}

// wireKept says which bodies Options.WireBodies keeps in wire form: the
// APIs that make most of the traffic, whose bodies hold no secret.
func wireKept(key int16) bool { return key == 0 || key == 1 } // Produce, Fetch

// newWireBody keeps msg (record data removed by the decoder) in wire form;
// frame is the size of its frame on the wire.
func newWireBody(msg interface{ AppendTo([]byte) []byte }, key, version int16, response bool, frame int, records []kafka.RecordSet) Body {
	n := frame
	for _, rs := range records {
		n -= rs.Bytes
	}
	raw := msg.AppendTo(make([]byte, 0, max(n, 64)))
	return Body{wire: &wireBody{key: key, version: version, response: response, raw: raw, records: countRecords(records)}}
}

// countRecords keeps what JSON shows of each record set.
func countRecords(records []kafka.RecordSet) []recordCount {
	if len(records) == 0 {
		return nil
	}
	out := make([]recordCount, len(records))
	for i, rs := range records {
		out[i] = recordCount{topic: int32(rs.Topic), partition: int32(rs.Partition), bytes: int32(rs.Bytes), batches: int32(len(rs.Batches))}
	}
	return out
}
