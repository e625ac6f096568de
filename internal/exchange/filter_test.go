package exchange

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Errors keeps the exchanges that failed: a top-level error, a partition's
// error, or no response; never a clean one.
func TestFilterErrors(t *testing.T) {
	f := Filter{Errors: true}
	for _, c := range []struct {
		name string
		e    Exchange
		want bool
	}{
		{"clean", Exchange{API: "Produce", Topics: []Topic{{Name: "o", Partitions: []Partition{{Partition: 0}}}}}, false},
		{"top-level error", Exchange{API: "JoinGroup", Error: "REBALANCE_IN_PROGRESS"}, true},
		{"a partition's error", Exchange{API: "Produce", Topics: []Topic{{Name: "o", Partitions: []Partition{{Partition: 0}, {Partition: 1, Error: "NOT_ENOUGH_REPLICAS"}}}}}, true},
		{"no response", Exchange{API: "Produce", NoResponse: "acks=0"}, true},
	} {
		if got := f.Match(&c.e); got != c.want {
			t.Errorf("%s: kept %v, want %v", c.name, got, c.want)
		}
		if !(Filter{}).Match(&c.e) {
			t.Errorf("%s: the empty filter dropped it", c.name)
		}
	}
}

// TestAPISet: the set a reader looks up once passes the keys Match
// passes, for names in either case, key numbers, unknown names and none.
func TestAPISet(t *testing.T) {
	for _, apis := range [][]string{nil, {"Produce"}, {"fetch", "0"}, {"NoSuchAPI"}, {"26", "JoinGroup", "999"}} {
		f := Filter{APIs: apis}
		set := f.APISet()
		for k := int16(-2); k <= kmsg.MaxKey+2; k++ {
			want := f.Match(&Exchange{APIKey: k})
			if set.Has(k) != want {
				t.Errorf("APIs %q, key %d: set says %v, Match %v", apis, k, set.Has(k), want)
			}
		}
	}
}
