package exchange

import (
	"encoding/json"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/kafka"
)

// BodyJSON renders a kmsg request or response as a JSON object, for people
// and tools to read the whole body. Field names are the Go field names of
// kmsg in snake_case (MaxWaitMillis is "max_wait_millis", TopicID is
// "topic_id"), the style of the rest of the exchange; the struct's Version
// is left out, as the exchange has it.
//
// It never renders bytes that could hold data or secrets:
//   - a []byte is {"bytes": n}, never its contents: record data (Produce
//     Records, Fetch RecordBatches), group metadata, tokens, salts...;
//   - SASLAuthBytes (SaslAuthenticate) is "[redacted N bytes]";
//   - a config value whose name says it is a secret (password, jaas,
//     secret, credential, token, key material) or that the broker flags
//     IsSensitive is "[redacted]": AlterConfigs carries sasl.jaas.config and
//     SSL passwords in clear.
//
// UUIDs ([16]byte: topic ids, directory ids...) are rendered the way Kafka
// prints them (kafka.FormatTopicID); the zero UUID, Kafka's "not set", and
// empty UnknownTags are left out.
func BodyJSON(v any) json.RawMessage { return bodyJSON(v, nil) }

// bodyJSON is BodyJSON for a body whose record data was reduced to batch
// headers by kafka.ExtractRecords: the record fields, now nil, are
// rendered with the size they had on the wire.
func bodyJSON(v any, records []kafka.RecordSet) json.RawMessage {
	return encodeBody(v, countRecords(records))
}

// encodeBody renders v, a decoded body, with records standing for its
// record data.
func encodeBody(v any, records []recordCount) json.RawMessage {
	js, ok := appendBodyJSON(make([]byte, 0, 512), v, records)
	if !ok {
		return nil
	}
	return js
}

// appendBodyJSON is encodeBody appending to dst; ok is false, dst unchanged,
// when v is nil.
func appendBodyJSON(dst []byte, v any, records []recordCount) (out []byte, ok bool) {
	if v == nil {
		return dst, false
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && rv.IsNil() {
		return dst, false
	}
	e := encState{buf: dst, records: records}
	encoderFor(rv.Type())(&e, rv)
	return e.buf, true
}

type encState struct {
	buf []byte
	// path holds the index of each enclosing array element: record data
	// sits at Topics[path[0]].Partitions[path[1]].
	path    []int
	records []recordCount
	next    int // where the next record set lookup starts
}

// recordSet finds the record set of the partition being encoded.
func (e *encState) recordSet() *recordCount {
	if len(e.path) != 2 || len(e.records) == 0 {
		return nil
	}
	t, p := int32(e.path[0]), int32(e.path[1])
	n := len(e.records)
	for i := range n {
		k := (e.next + i) % n
		if rs := &e.records[k]; rs.topic == t && rs.partition == p {
			e.next = k + 1
			return rs
		}
	}
	return nil
}

type encoderFunc func(*encState, reflect.Value)

var encoders sync.Map // reflect.Type -> encoderFunc

// encoderFor returns the encoder of a type, building it once. Types that
// contain themselves get an indirection while they are being built, as in
// encoding/json.
func encoderFor(t reflect.Type) encoderFunc {
	if f, ok := encoders.Load(t); ok {
		return f.(encoderFunc)
	}
	var (
		wg sync.WaitGroup
		f  encoderFunc
	)
	wg.Add(1)
	fi, loaded := encoders.LoadOrStore(t, encoderFunc(func(e *encState, v reflect.Value) {
		wg.Wait()
		f(e, v)
	}))
	if loaded {
		return fi.(encoderFunc)
	}
	f = newEncoder(t, "")
	wg.Done()
	encoders.Store(t, f)
	return f
}

var (
	tagsType     = reflect.TypeFor[kmsg.Tags]()
	requestType  = reflect.TypeFor[kmsg.Request]()
	responseType = reflect.TypeFor[kmsg.Response]()
)

// newEncoder builds the encoder of a type; field is the name of the struct
// field it is for, which decides the treatment of byte slices.
func newEncoder(t reflect.Type, field string) encoderFunc {
	switch {
	case t == tagsType:
		return encodeTags
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		switch field {
		case "SASLAuthBytes":
			return encodeRedacted
		case "Records", "RecordBatches":
			return encodeRecords
		}
		return encodeBytes
	case t.Kind() == reflect.Array && t.Elem().Kind() == reflect.Uint8:
		if t.Len() == 16 {
			return encodeUUID
		}
		return encodeByteArray
	}
	switch t.Kind() {
	case reflect.Bool:
		return func(e *encState, v reflect.Value) { e.buf = strconv.AppendBool(e.buf, v.Bool()) }
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(e *encState, v reflect.Value) { e.buf = strconv.AppendInt(e.buf, v.Int(), 10) }
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return func(e *encState, v reflect.Value) { e.buf = strconv.AppendUint(e.buf, v.Uint(), 10) }
	case reflect.Float32, reflect.Float64:
		return encodeFloat
	case reflect.String:
		return func(e *encState, v reflect.Value) { e.buf = appendString(e.buf, v.String()) }
	case reflect.Pointer:
		elem := elemEncoder(t.Elem(), field)
		return func(e *encState, v reflect.Value) {
			if v.IsNil() {
				e.buf = append(e.buf, "null"...)
				return
			}
			elem(e, v.Elem())
		}
	case reflect.Interface:
		return func(e *encState, v reflect.Value) {
			if v.IsNil() {
				e.buf = append(e.buf, "null"...)
				return
			}
			encoderFor(v.Elem().Type())(e, v.Elem())
		}
	case reflect.Slice, reflect.Array:
		elem := elemEncoder(t.Elem(), "")
		nilable := t.Kind() == reflect.Slice
		return func(e *encState, v reflect.Value) {
			if nilable && v.IsNil() {
				e.buf = append(e.buf, "null"...)
				return
			}
			e.buf = append(e.buf, '[')
			e.path = append(e.path, 0)
			for i := range v.Len() {
				if i > 0 {
					e.buf = append(e.buf, ',')
				}
				e.path[len(e.path)-1] = i
				elem(e, v.Index(i))
			}
			e.path = e.path[:len(e.path)-1]
			e.buf = append(e.buf, ']')
		}
	case reflect.Struct:
		if field != "" {
			return encoderFor(t) // built and cached once per type
		}
		return newStructEncoder(t)
	}
	// Maps, channels, functions: kmsg has none.
	return func(e *encState, v reflect.Value) { e.buf = append(e.buf, "null"...) }
}

// elemEncoder is the encoder of an element type: structs through the cache,
// which also breaks cycles.
func elemEncoder(t reflect.Type, field string) encoderFunc {
	if t.Kind() == reflect.Struct && t != tagsType {
		return encoderFor(t)
	}
	return newEncoder(t, field)
}

type fieldEncoder struct {
	key   string // `"name":`
	index int
	enc   encoderFunc
	// omit reports a field to leave out: empty UnknownTags, a zero UUID.
	omit func(reflect.Value) bool
}

func newStructEncoder(t reflect.Type) encoderFunc {
	top := reflect.PointerTo(t).Implements(requestType) || reflect.PointerTo(t).Implements(responseType)
	var fields []fieldEncoder
	secret := configSecret(t)
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() || (top && sf.Name == "Version") {
			continue
		}
		fe := fieldEncoder{key: string(appendString(nil, snake(sf.Name))) + ":", index: i}
		switch {
		case sf.Type == tagsType:
			fe.omit = func(v reflect.Value) bool { tags := v.Interface().(kmsg.Tags); return tags.Len() == 0 }
		case sf.Type.Kind() == reflect.Array && sf.Type.Elem().Kind() == reflect.Uint8:
			fe.omit = func(v reflect.Value) bool { return v.IsZero() }
		}
		fe.enc = newEncoder(sf.Type, sf.Name)
		fields = append(fields, fe)
	}
	return func(e *encState, v reflect.Value) {
		e.buf = append(e.buf, '{')
		first := true
		for i := range fields {
			f := &fields[i]
			fv := v.Field(f.index)
			if f.omit != nil && f.omit(fv) {
				continue
			}
			if !first {
				e.buf = append(e.buf, ',')
			}
			first = false
			e.buf = append(e.buf, f.key...)
			if secret != nil && f.index == secret.value && secret.redact(v) {
				e.buf = append(e.buf, `"[redacted]"`...)
				continue
			}
			f.enc(e, fv)
		}
		e.buf = append(e.buf, '}')
	}
}

// configField locates a config entry in a struct: a Name (string) with a
// Value (string or *string), and maybe the broker's IsSensitive flag, as
// in AlterConfigs, IncrementalAlterConfigs, CreateTopics and
// DescribeConfigs.
type configField struct{ name, value, sensitive int }

func configSecret(t reflect.Type) *configField {
	name, ok := t.FieldByName("Name")
	if !ok || name.Type.Kind() != reflect.String || len(name.Index) != 1 {
		return nil
	}
	value, ok := t.FieldByName("Value")
	if !ok || len(value.Index) != 1 {
		return nil
	}
	vt := value.Type
	if vt.Kind() == reflect.Pointer {
		vt = vt.Elem()
	}
	if vt.Kind() != reflect.String {
		return nil
	}
	c := &configField{name: name.Index[0], value: value.Index[0], sensitive: -1}
	if s, ok := t.FieldByName("IsSensitive"); ok && s.Type.Kind() == reflect.Bool && len(s.Index) == 1 {
		c.sensitive = s.Index[0]
	}
	return c
}

// redact reports whether the config value of struct v must not be shown.
func (c *configField) redact(v reflect.Value) bool {
	if c.sensitive >= 0 && v.Field(c.sensitive).Bool() {
		return true
	}
	if val := v.Field(c.value); val.Kind() == reflect.Pointer && val.IsNil() {
		return false // null: nothing to hide
	}
	return secretConfig(v.Field(c.name).String())
}

// secretConfig reports config names whose values are secrets: Kafka's
// PASSWORD-typed configs (ssl.key.password, ssl.keystore.password,
// ssl.truststore.password, sasl.jaas.config, ssl.keystore.key...) and
// their listener-prefixed forms.
func secretConfig(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"password", "jaas", "secret", "credential", "token", ".key", "private"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

func encodeBytes(e *encState, v reflect.Value) {
	if v.IsNil() {
		e.buf = append(e.buf, "null"...)
		return
	}
	e.buf = append(e.buf, `{"bytes":`...)
	e.buf = strconv.AppendInt(e.buf, int64(v.Len()), 10)
	e.buf = append(e.buf, '}')
}

func encodeByteArray(e *encState, v reflect.Value) {
	e.buf = append(e.buf, `{"bytes":`...)
	e.buf = strconv.AppendInt(e.buf, int64(v.Len()), 10)
	e.buf = append(e.buf, '}')
}

// encodeRecords renders record data by its size: the bytes themselves are
// user data, and after kafka.ExtractRecords they are gone.
func encodeRecords(e *encState, v reflect.Value) {
	n, batches := -1, -1
	if !v.IsNil() {
		n = v.Len()
	} else if rs := e.recordSet(); rs != nil {
		n, batches = int(rs.bytes), int(rs.batches)
	}
	if n < 0 {
		e.buf = append(e.buf, "null"...)
		return
	}
	e.buf = append(e.buf, `{"bytes":`...)
	e.buf = strconv.AppendInt(e.buf, int64(n), 10)
	if batches >= 0 {
		e.buf = append(e.buf, `,"batches":`...)
		e.buf = strconv.AppendInt(e.buf, int64(batches), 10)
	}
	e.buf = append(e.buf, '}')
}

func encodeRedacted(e *encState, v reflect.Value) {
	if v.IsNil() {
		e.buf = append(e.buf, "null"...)
		return
	}
	e.buf = append(e.buf, `"[redacted `...)
	e.buf = strconv.AppendInt(e.buf, int64(v.Len()), 10)
	e.buf = append(e.buf, ` bytes]"`...)
}

func encodeUUID(e *encState, v reflect.Value) {
	var id [16]byte
	reflect.Copy(reflect.ValueOf(id[:]), v)
	e.buf = append(e.buf, '"')
	e.buf = append(e.buf, kafka.FormatTopicID(id)...)
	e.buf = append(e.buf, '"')
}

func encodeFloat(e *encState, v reflect.Value) {
	f := v.Float()
	if math.IsNaN(f) || math.IsInf(f, 0) {
		e.buf = append(e.buf, "null"...) // JSON has no NaN or infinities
		return
	}
	e.buf = strconv.AppendFloat(e.buf, f, 'g', -1, 64)
}

// encodeTags renders unknown tagged fields by tag and size.
func encodeTags(e *encState, v reflect.Value) {
	tags := v.Interface().(kmsg.Tags)
	type kv struct {
		key uint32
		n   int
	}
	var all []kv
	tags.Each(func(k uint32, b []byte) { all = append(all, kv{k, len(b)}) })
	sort.Slice(all, func(i, j int) bool { return all[i].key < all[j].key })
	e.buf = append(e.buf, '{')
	for i, t := range all {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.buf = append(e.buf, '"')
		e.buf = strconv.AppendUint(e.buf, uint64(t.key), 10)
		e.buf = append(e.buf, `":{"bytes":`...)
		e.buf = strconv.AppendInt(e.buf, int64(t.n), 10)
		e.buf = append(e.buf, '}')
	}
	e.buf = append(e.buf, '}')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD,
// as encoding/json does.
func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 end lines in JavaScript.
		if r == '\u2028' || r == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// snake turns a Go field name into snake_case, keeping acronyms whole:
// TopicID is topic_id, SASLAuthBytes is sasl_auth_bytes, ISR is isr.
func snake(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		upper := 'A' <= c && c <= 'Z'
		if upper && i > 0 {
			prev := name[i-1]
			prevLower := 'a' <= prev && prev <= 'z' || '0' <= prev && prev <= '9'
			nextLower := i+1 < len(name) && 'a' <= name[i+1] && name[i+1] <= 'z'
			prevUpper := 'A' <= prev && prev <= 'Z'
			if prevLower || (prevUpper && nextLower) {
				b.WriteByte('_')
			}
		}
		if upper {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}
