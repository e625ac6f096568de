package exchange

import (
	"encoding/binary"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzAbortedRecords: whatever the batches and the aborted transactions
// list, the records counted aborted are some of the transactional data
// batches' records of producers the list names: never control batches,
// never more.
func FuzzAbortedRecords(f *testing.F) {
	f.Add([]byte{0, 0, 10, 1, 0, 0, 0, 10, 1, 1, 0, 10, 1, 0}, []byte{0, 0})
	f.Add([]byte{0, 1, 5, 1, 0, 1, 5, 1, 1, 2, 5, 1, 0}, []byte{1, 1, 2, 0})
	f.Fuzz(func(t *testing.T, bs, ats []byte) {
		// A batch: producer, offset step, records, transactional,
		// control (5 bytes); an aborted transaction: producer, first
		// offset (2 bytes).
		var batches []Batch
		off := int64(0)
		for len(bs) >= 5 {
			b := Batch{ProducerID: int64(bs[0] % 4), BaseOffset: off, Records: int32(bs[2]), Transactional: bs[3]&1 == 1, Control: bs[4]&1 == 1}
			b.LastOffsetDelta = max(b.Records-1, 0)
			off += int64(bs[1]%8) + int64(b.LastOffsetDelta) + 1
			batches = append(batches, b)
			bs = bs[5:]
		}
		var aborted []kmsg.FetchResponseTopicPartitionAbortedTransaction
		for len(ats) >= 2 {
			aborted = append(aborted, kmsg.FetchResponseTopicPartitionAbortedTransaction{ProducerID: int64(ats[0] % 4), FirstOffset: int64(binary.BigEndian.Uint16([]byte{0, ats[1]}))})
			ats = ats[2:]
		}
		named := map[int64]bool{}
		for _, a := range aborted {
			named[a.ProducerID] = true
		}
		var most int64
		for _, b := range batches {
			if b.Transactional && !b.Control && named[b.ProducerID] {
				most += int64(b.Records)
			}
		}
		if n := abortedRecords(batches, aborted); n < 0 || n > most {
			t.Fatalf("%d aborted records, at most %d can be: batches %+v, aborted %+v", n, most, batches, aborted)
		}
	})
}

// abortedRecords follows a producer from its aborted transaction's first
// offset to its abort marker, and no further: its next transaction, and
// the other producers' batches, are not aborted.
func TestAbortedRecords(t *testing.T) {
	b := func(pid, base int64, records int32, control bool) Batch {
		return Batch{ProducerID: pid, BaseOffset: base, LastOffsetDelta: max(records-1, 0), Records: records, Transactional: true, Control: control}
	}
	batches := []Batch{
		b(7, 0, 10, false), b(7, 10, 1, true), // committed
		b(7, 11, 10, false), b(9, 21, 5, false), b(7, 26, 10, false), b(7, 36, 1, true), // 20 of 7 aborted; 9 interleaved
		b(7, 37, 10, false),                          // the next one, open
		{ProducerID: -1, BaseOffset: 47, Records: 3}, // not transactional
	}
	at := []kmsg.FetchResponseTopicPartitionAbortedTransaction{{ProducerID: 7, FirstOffset: 11}}
	if n := abortedRecords(batches, at); n != 20 {
		t.Errorf("%d aborted records, want 20", n)
	}
}

// Transactional keeps the exchanges of transactional producers only.
func TestFilterTransactional(t *testing.T) {
	f := Filter{APIs: []string{"Produce", "EndTxn"}, Transactional: true}
	for _, c := range []struct {
		name string
		e    Exchange
		want bool
	}{
		{"idempotent Produce", Exchange{APIKey: 0, Detail: &Detail{}}, false},
		{"transactional Produce", Exchange{APIKey: 0, Detail: &Detail{TransactionalID: "ledger"}}, true},
		{"EndTxn", Exchange{APIKey: 26, Detail: &Detail{TransactionalID: "ledger"}}, true},
		{"no detail", Exchange{APIKey: 26}, false},
	} {
		if got := f.Match(&c.e); got != c.want {
			t.Errorf("%s: kept %v, want %v", c.name, got, c.want)
		}
	}
}
