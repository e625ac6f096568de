package exchange

import (
	"encoding/binary"
	"encoding/json"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/kafka"
)

// Body is a request or response body as JSON (Exchange.Request and
// Response): rendered when the exchange was built, or kept in its wire
// form and rendered each time it is asked for. The agent keeps the bodies
// of the APIs that make most of the traffic (Produce, Fetch, Metadata,
// Heartbeat...: wireKept) in wire form, record data removed: most are
// never asked for, and the wire form is smaller than the JSON, and one
// allocation that holds no pointer for the collector to follow.
type Body struct {
	// data is the JSON, or the wire form: the body's bytes (body of
	// them), then what JSON shows of its record data (recordCount,
	// recordCountBytes each).
	data         []byte
	body         int32
	key, version int16
	wire         bool
	response     bool
}

// recordCount is what the JSON of a body shows of one partition's record
// data: its size and batches, at indices into the topic and partition
// arrays.
type recordCount struct {
	topic, partition int32
	bytes, batches   int32
}

// recordCountBytes is a recordCount in wire form: the room the decoder
// leaves after a body with its records cut out (kafka.RawSpare).
const recordCountBytes = kafka.RawSpare

// JSONBody is a body rendered already.
func JSONBody(js json.RawMessage) Body { return Body{data: js} }

// IsZero says there is no body (for omitzero).
func (b Body) IsZero() bool { return b.data == nil }

// JSON is the body rendered, nil when there is none.
func (b Body) JSON() json.RawMessage {
	if !b.wire {
		return b.data
	}
	return b.render()
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
	*b = Body{data: append([]byte(nil), data...)}
	return nil
}

// Size is the memory the body holds, by capacity.
func (b Body) Size() int64 { return int64(cap(b.data)) }

// raw is the body in wire form, nil when it is JSON.
func (b Body) raw() []byte {
	if !b.wire {
		return nil
	}
	return b.data[:b.body]
}

// records are what JSON shows of a wire body's record data.
func (b Body) records() []recordCount {
	rest := b.data[b.body:]
	if !b.wire || len(rest) == 0 {
		return nil
	}
	out := make([]recordCount, len(rest)/recordCountBytes)
	for i := range out {
		r := rest[i*recordCountBytes:]
		out[i] = recordCount{
			topic: int32(binary.LittleEndian.Uint32(r)), partition: int32(binary.LittleEndian.Uint32(r[4:])),
			bytes: int32(binary.LittleEndian.Uint32(r[8:])), batches: int32(binary.LittleEndian.Uint32(r[12:])),
		}
	}
	return out
}

// render decodes the wire form and renders it as bodyJSON does a decoded
// body; a body that no longer decodes (it did when built) shows the error.
func (b Body) render() json.RawMessage {
	if js := b.appendRendered(make([]byte, 0, 512)); len(js) > 0 {
		return js
	}
	return nil
}

// appendJSON appends the body's JSON to dst ("null" for none): a
// LineWriter renders a wire body into its line, not into a buffer of its
// own that it then copies.
func (b Body) appendJSON(dst []byte) []byte {
	if !b.wire {
		if b.data == nil {
			return append(dst, "null"...)
		}
		return append(dst, b.data...)
	}
	n := len(dst)
	if dst = b.appendRendered(dst); len(dst) == n {
		return append(dst, "null"...)
	}
	return dst
}

// appendRendered is render appending to dst, which it returns unchanged
// when the body is of an API kmsg does not know.
func (b Body) appendRendered(dst []byte) []byte {
	var msg interface {
		SetVersion(int16)
		ReadFrom([]byte) error
	}
	if b.response {
		r := kmsg.ResponseForKey(b.key)
		if r == nil {
			return dst
		}
		msg = r
	} else {
		r := kmsg.RequestForKey(b.key)
		if r == nil {
			return dst
		}
		msg = r
	}
	msg.SetVersion(b.version)
	if err := msg.ReadFrom(b.raw()); err != nil {
		js, _ := json.Marshal(map[string]string{"error": "the kept body no longer decodes: " + err.Error()})
		return append(dst, js...)
	}
	out, _ := appendBodyJSON(dst, msg, b.records())
	return out
}

// wireKept says which bodies Options.WireBodies keeps in wire form: those
// of the APIs that make most of the traffic, whose bodies hold no secret
// and no opaque bytes (JoinGroup's and SyncGroup's member metadata, SASL
// tokens, configs are rendered, redacted, at once).
func wireKept(key int16) bool {
	switch kmsg.Key(key) {
	case kmsg.Produce, kmsg.Fetch, kmsg.ListOffsets, kmsg.Metadata, kmsg.OffsetCommit, kmsg.OffsetFetch,
		kmsg.FindCoordinator, kmsg.Heartbeat, kmsg.LeaveGroup, kmsg.ApiVersions, kmsg.InitProducerID,
		kmsg.AddPartitionsToTxn, kmsg.AddOffsetsToTxn, kmsg.EndTxn, kmsg.TxnOffsetCommit, kmsg.ConsumerGroupHeartbeat:
		return true
	}
	return false
}

// newWireBody keeps msg (record data removed by the decoder) in wire form:
// raw, the bytes it was decoded from with any record data cut out, when
// the decoder kept them (kafka.Request.Raw), else msg encoded again;
// frame is the size of its frame on the wire.
func newWireBody(msg any, raw []byte, key, version int16, response bool, frame int, records []kafka.RecordSet) Body {
	var data []byte
	if raw != nil {
		// With records, raw is the body with them cut out, and has
		// room for their counts (kafka.RawSpare).
		data = raw
	} else {
		n := frame
		for _, rs := range records {
			n -= rs.Bytes
		}
		data = msg.(interface{ AppendTo([]byte) []byte }).AppendTo(make([]byte, 0, max(n, 64)+len(records)*recordCountBytes))
		if cap(data) > 2*len(data)+64 {
			// The frame had a hole (a truncated capture): its size
			// overstated the body, and the store keeps what is
			// allocated.
			data = append(make([]byte, 0, len(data)+len(records)*recordCountBytes), data...)
		}
	}
	body := len(data)
	for _, rs := range records {
		data = binary.LittleEndian.AppendUint32(data, uint32(rs.Topic))
		data = binary.LittleEndian.AppendUint32(data, uint32(rs.Partition))
		data = binary.LittleEndian.AppendUint32(data, uint32(rs.Bytes))
		data = binary.LittleEndian.AppendUint32(data, uint32(len(rs.Batches)))
	}
	return Body{data: data, body: int32(body), key: key, version: version, wire: true, response: response}
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

// IsWire says the body is kept in wire form.
func (b Body) IsWire() bool { return b.wire }
