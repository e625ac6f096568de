package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// keyInfo is what the decoder needs to know of an API key before reading
// a body: the highest version kmsg decodes and the first flexible version
// (KIP-482), which selects request header v2 and response header v1.
type keyInfo struct {
	known    bool
	max      int16
	flexFrom int16 // -1: never flexible
}

// keysFromKmsg is keys as kmsg answers: every request type made and set
// to each version. Run at start it took 1-2 ms of every command's (a
// fifth of analyze's on a small capture), faulting in the code of 90
// request types; keys is its result, written out (TestKeysTable).
func keysFromKmsg() [kmsg.MaxKey + 1]keyInfo {
	var t [kmsg.MaxKey + 1]keyInfo
	for k := int16(0); k <= kmsg.MaxKey; k++ {
		r := kmsg.RequestForKey(k)
		if r == nil {
			continue
		}
		info := keyInfo{known: true, max: r.MaxVersion(), flexFrom: -1}
		for v := int16(0); v <= info.max; v++ {
			r.SetVersion(v)
			if r.IsFlexible() {
				info.flexFrom = v
				break
			}
		}
		t[k] = info
	}
	return t
}

// nextRequestStart relies on api keys and versions below 256.
var _ [256 - len(keys)]struct{}

// KnownVersion reports whether kmsg can decode this key at this version.
func KnownVersion(key, version int16) bool {
	return key >= 0 && int(key) < len(keys) && keys[key].known && version >= 0 && version <= keys[key].max
}

func flexible(key, version int16) bool {
	if key < 0 || int(key) >= len(keys) {
		return false
	}
	f := keys[key].flexFrom
	return f >= 0 && version >= f
}

// requestHeaderVersion follows the protocol: v2 for flexible versions, v0
// for ControlledShutdown v0 (the only request without a client id), v1
// otherwise.
func requestHeaderVersion(key, version int16) int8 {
	switch {
	case flexible(key, version):
		return 2
	case key == 7 && version == 0:
		return 0
	}
	return 1
}

// responseHeaderVersion: v1 (tagged fields) for flexible versions, except
// ApiVersions, whose response header stays v0 so that a client can read it
// before it knows what the broker speaks (KIP-511).
func responseHeaderVersion(key, version int16) int8 {
	if key == 18 || !flexible(key, version) {
		return 0
	}
	return 1
}

var (
	errShort      = errors.New("header cut short")
	errBadTags    = errors.New("bad tagged fields")
	errClientID   = errors.New("bad client id length")
	errUnknownAPI = errors.New("unknown api key or version")
)

// parseRequestHeader reads a request header from a frame (without its
// 4-byte size), without its client id, and returns it with the offset of
// the body: the search for frame boundaries reads a header at every
// position that could start a frame, and must not copy what it will
// mostly throw away (conn.request takes the client id from
// splitRequestHeader, one string per connection).
func parseRequestHeader(b []byte) (RequestHeader, int, error) {
	h, _, n, err := splitRequestHeader(b)
	return h, n, err
}

// splitRequestHeader reads a request header, returning its client id as a
// slice of b: nil when null (or absent, header v0).
func splitRequestHeader(b []byte) (h RequestHeader, clientID []byte, n int, err error) {
	if len(b) < 8 {
		return h, nil, 0, errShort
	}
	h.Key = int16(binary.BigEndian.Uint16(b))
	h.Version = int16(binary.BigEndian.Uint16(b[2:]))
	h.CorrelationID = int32(binary.BigEndian.Uint32(b[4:]))
	h.HeaderVersion = requestHeaderVersion(h.Key, h.Version)
	n = 8
	if h.HeaderVersion == 0 {
		return h, nil, n, nil
	}
	if len(b) < n+2 {
		return h, nil, 0, errShort
	}
	l := int(int16(binary.BigEndian.Uint16(b[n:])))
	n += 2
	switch {
	case l == -1:
	case l < 0 || l > len(b)-n:
		return h, nil, 0, errClientID
	default:
		clientID = b[n : n+l : n+l]
		n += l
	}
	if h.HeaderVersion == 2 {
		m, err := skipTags(b[n:])
		if err != nil {
			return h, nil, 0, err
		}
		n += m
	}
	return h, clientID, n, nil
}

// skipTags skips a tagged-field section (KIP-482): a count, then per field
// a tag, a size and the bytes.
func skipTags(b []byte) (int, error) {
	count, n := binary.Uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return 0, errBadTags
	}
	for i := uint64(0); i < count; i++ {
		_, m := binary.Uvarint(b[n:])
		if m <= 0 {
			return 0, errBadTags
		}
		n += m
		size, m := binary.Uvarint(b[n:])
		if m <= 0 || size > uint64(len(b)-n-m) {
			return 0, errBadTags
		}
		n += m + int(size)
	}
	return n, nil
}

// responseBodyOffset skips a response header (the correlation id, then
// tagged fields for header v1) and returns where the body starts.
func responseBodyOffset(b []byte, key, version int16) (int, error) {
	if len(b) < 4 {
		return 0, errShort
	}
	if responseHeaderVersion(key, version) == 0 {
		return 4, nil
	}
	m, err := skipTags(b[4:])
	if err != nil {
		return 0, err
	}
	return 4 + m, nil
}

// plausibleRequest is the cheap test used while searching for a frame
// boundary: a known key and version, a non-negative correlation id and a
// printable client id. It accepts far more than real requests; the body
// decode that follows does the rest.
func plausibleRequest(b []byte) bool {
	h, id, _, err := splitRequestHeader(b)
	if err != nil || !KnownVersion(h.Key, h.Version) || h.CorrelationID < 0 {
		return false
	}
	for _, c := range id {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// decodeRequest decodes a request body at the header's key and version.
func decodeRequest(h RequestHeader, body []byte) (kmsg.Request, error) {
	if !KnownVersion(h.Key, h.Version) {
		return nil, fmt.Errorf("%w: key %d v%d", errUnknownAPI, h.Key, h.Version)
	}
	r := kmsg.RequestForKey(h.Key)
	r.SetVersion(h.Version)
	if err := r.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("decode %s v%d request: %w", kmsg.NameForKey(h.Key), h.Version, err)
	}
	return r, nil
}

// decodeResponse decodes a response frame (after its size) to a request.
func decodeResponse(h RequestHeader, frame []byte) (kmsg.Response, error) {
	r, _, err := decodeResponseBody(h, frame)
	return r, err
}

// decodeResponseBody is decodeResponse that also returns the body's bytes
// in frame, nil when the body was read as another version than the
// request's (a v0 ApiVersions answer).
func decodeResponseBody(h RequestHeader, frame []byte) (kmsg.Response, []byte, error) {
	if !KnownVersion(h.Key, h.Version) {
		return nil, nil, fmt.Errorf("%w: key %d v%d", errUnknownAPI, h.Key, h.Version)
	}
	off, err := responseBodyOffset(frame, h.Key, h.Version)
	if err != nil {
		return nil, nil, fmt.Errorf("%s v%d response header: %w", kmsg.NameForKey(h.Key), h.Version, err)
	}
	// ResponseForKey, not RequestForKey(key).ResponseKind(): that made a
	// request struct (a Fetch request's is large) only to ask it.
	r := kmsg.ResponseForKey(h.Key)
	r.SetVersion(h.Version)
	err = r.ReadFrom(frame[off:])
	if err != nil && h.Key == kmsg.ApiVersions.Int16() && h.Version > 0 {
		// A broker that does not support the requested ApiVersions
		// version answers v0 with UNSUPPORTED_VERSION (KIP-511).
		r0 := kmsg.ApiVersions.Request().ResponseKind()
		r0.SetVersion(0)
		if r0.ReadFrom(frame[4:]) == nil {
			return r0, nil, nil
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("decode %s v%d response: %w", kmsg.NameForKey(h.Key), h.Version, err)
	}
	return r, frame[off:], nil
}
