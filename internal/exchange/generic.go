package exchange

import (
	"reflect"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// genericTopics lists the topics and partitions of a body that has no typed
// summary (CreateTopics, DeleteTopics, DeleteRecords, ElectLeaders,
// OffsetDelete, DescribeProducers, ...): kmsg names them alike, a
// top-level Topics array whose elements carry a Topic or Name (or a
// TopicID), and Partitions of int32 or of structs with a Partition field
// and maybe an ErrorCode.
func (b *builder) genericTopics(body any) {
	v := reflect.ValueOf(body)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return
	}
	v = v.Elem()
	shape := topicShapeOf(v.Type())
	if shape.topics < 0 {
		return
	}
	topics := v.Field(shape.topics)
	for i := 0; i < topics.Len(); i++ {
		t := topics.Index(i)
		name := stringField(t, shape.name)
		var id [16]byte
		if shape.id >= 0 {
			id = t.Field(shape.id).Interface().([16]byte)
		}
		if name == "" && id == [16]byte{} {
			continue
		}
		ti := b.topic(name, id)
		if shape.parts < 0 {
			continue
		}
		parts := t.Field(shape.parts)
		for j := 0; j < parts.Len(); j++ {
			p := parts.Index(j)
			switch p.Kind() {
			case reflect.Int32:
				b.partition(ti, int32(p.Int()))
			case reflect.Struct:
				if shape.partition < 0 {
					continue
				}
				pp := b.partition(ti, int32(p.Field(shape.partition).Int()))
				if shape.errorCode >= 0 {
					if code := int16(p.Field(shape.errorCode).Int()); code != 0 {
						pp.Error = ErrorName(code)
					}
				}
			}
		}
	}
}

// topicShape is where a body type keeps its topics: field indices, -1 when
// absent.
type topicShape struct {
	topics, name, id, parts, partition, errorCode int
}

var topicShapes sync.Map // reflect.Type -> topicShape

func topicShapeOf(t reflect.Type) topicShape {
	if s, ok := topicShapes.Load(t); ok {
		return s.(topicShape)
	}
	s := topicShape{-1, -1, -1, -1, -1, -1}
	if f, ok := t.FieldByName("Topics"); ok && len(f.Index) == 1 && f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct {
		et := f.Type.Elem()
		for _, n := range []string{"Topic", "Name"} {
			if g, ok := et.FieldByName(n); ok && isString(g.Type) {
				s.name = g.Index[0]
				break
			}
		}
		if g, ok := et.FieldByName("TopicID"); ok && g.Type == reflect.TypeOf([16]byte{}) {
			s.id = g.Index[0]
		}
		if s.name >= 0 || s.id >= 0 {
			s.topics = f.Index[0]
		}
		if g, ok := et.FieldByName("Partitions"); ok && g.Type.Kind() == reflect.Slice {
			pt := g.Type.Elem()
			switch pt.Kind() {
			case reflect.Int32:
				s.parts = g.Index[0]
			case reflect.Struct:
				s.parts = g.Index[0]
				for _, n := range []string{"Partition", "PartitionIndex"} {
					if h, ok := pt.FieldByName(n); ok && h.Type.Kind() == reflect.Int32 {
						s.partition = h.Index[0]
						break
					}
				}
				if h, ok := pt.FieldByName("ErrorCode"); ok && h.Type.Kind() == reflect.Int16 {
					s.errorCode = h.Index[0]
				}
			}
		}
	}
	topicShapes.Store(t, s)
	return s
}

func isString(t reflect.Type) bool {
	return t.Kind() == reflect.String || t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.String
}

func stringField(v reflect.Value, i int) string {
	if i < 0 {
		return ""
	}
	f := v.Field(i)
	if f.Kind() == reflect.Pointer {
		if f.IsNil() {
			return ""
		}
		f = f.Elem()
	}
	return f.String()
}

// otherFields are the request fields that many APIs without a summary
// share.
type otherFields struct{ group, txn int }

var otherCache sync.Map // reflect.Type -> otherFields

// other summarises requests without a dedicated summary by the fields most
// of them name the same way: the group (TxnOffsetCommit, OffsetDelete,
// ShareGroupHeartbeat...) and the transactional id (AddPartitionsToTxn,
// EndTxn...).
func (b *builder) other(req kmsg.Request) {
	v := reflect.ValueOf(req)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return
	}
	v = v.Elem()
	t := v.Type()
	var f otherFields
	if c, ok := otherCache.Load(t); ok {
		f = c.(otherFields)
	} else {
		f = otherFields{-1, -1}
		if sf, ok := t.FieldByName("Group"); ok && sf.Type.Kind() == reflect.String && len(sf.Index) == 1 {
			f.group = sf.Index[0]
		}
		if sf, ok := t.FieldByName("TransactionalID"); ok && len(sf.Index) == 1 &&
			(sf.Type.Kind() == reflect.String || sf.Type.Kind() == reflect.Pointer && sf.Type.Elem().Kind() == reflect.String) {
			f.txn = sf.Index[0]
		}
		otherCache.Store(t, f)
	}
	if f.group >= 0 {
		b.x.Group = v.Field(f.group).String()
	}
	if f.txn >= 0 {
		fv := v.Field(f.txn)
		if fv.Kind() == reflect.Pointer {
			if fv.IsNil() {
				return
			}
			fv = fv.Elem()
		}
		if s := fv.String(); s != "" {
			b.detail().TransactionalID = s
		}
	}
}
