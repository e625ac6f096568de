package view

import (
	"testing"
	"time"
)

// A transactional producer's split merges to the same from parts of time
// as in one pass, whichever of two neighbouring parts is merged into the
// other: transactions that span parts are resolved by the EndTxn of a
// later part.
func TestOvTxnMerge(t *testing.T) {
	type ev struct {
		records int64 // >0: produced; 0: EndTxn
		commit  bool
	}
	// 3 committed (5+1, 7, 2), 1 aborted (4+4), 3 pending.
	evs := []ev{{5, false}, {1, false}, {0, true}, {4, false}, {4, false}, {0, false}, {7, false}, {0, true}, {2, false}, {0, true}, {3, false}}
	at := func(i int) time.Time { return time.Unix(100+int64(i), 0) }
	span := func(from, to int) *ovTxn {
		x := &ovTxn{}
		for i := from; i < to; i++ {
			if e := evs[i]; e.records > 0 {
				x.produced(e.records, at(i))
			} else {
				x.end(e.commit, at(i))
			}
		}
		return x
	}
	whole := span(0, len(evs))
	if whole.committed != 15 || whole.aborted != 8 || whole.pending != 3 {
		t.Fatalf("one pass: %+v, want 15 committed, 8 aborted, 3 pending", whole)
	}
	// Each merge joins neighbours, as MergeParts and the store's rollup
	// do with parts oldest first.
	orders := [][3]int{{0, 1, 2}, {1, 0, 2}, {1, 2, 0}, {2, 1, 0}}
	for i := 0; i <= len(evs); i++ {
		for j := i; j <= len(evs); j++ {
			parts := []*ovTxn{span(0, i), span(i, j), span(j, len(evs))}
			for _, o := range orders {
				acc := &ovTxn{}
				for _, k := range o {
					p := *parts[k]
					acc.merge(&p)
				}
				if acc.committed != whole.committed || acc.aborted != whole.aborted || acc.pending != whole.pending {
					t.Fatalf("cut at %d and %d, merged in order %v: %+v, want %+v", i, j, o, acc, whole)
				}
			}
		}
	}
}
