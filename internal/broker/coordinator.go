package broker

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// In Kafka a group's coordinator is the leader of its partition of
// __consumer_offsets (a transaction's, of __transaction_state), so when
// the coordinator's broker stops, the coordinator moves with that
// leadership to a live broker. kfake has no such topics: it hashes the
// group (or transactional id, or share key) with a generation over all
// its brokers, stopped or not, and serves a group only on the broker the
// hash names (NOT_COORDINATOR elsewhere). The one way to move a
// coordinator is kfake.Cluster.RehashCoordinators, which bumps the
// generation and so moves every key at once. The model therefore computes
// kfake's hash itself (coordinatorOf, checked against kfake at start) and,
// when a key's coordinator is stopped, bumps the generation to one that
// puts the keys asked for on live brokers, and as many as possible of
// the others it has seen, moving as few of those as it can. The keys that
// move anyway see NOT_COORDINATOR once and find their coordinator again,
// as clients do when __consumer_offsets leadership moves.

// coordinatorOf is the node kfake's coordinator(key) picks at generation
// gen among n brokers (groups.go, misc.go hashString).
func coordinatorOf(gen uint64, key string, n int) int32 {
	sum := sha256.Sum256([]byte(strconv.FormatUint(gen, 10) + "\x00\x00" + key))
	var h uint64
	for i := range 4 {
		h ^= binary.BigEndian.Uint64(sum[i*8:])
	}
	return int32(h % uint64(n))
}

// checkCoordinatorHash fails if coordinatorOf no longer computes kfake's
// choice (a kfake upgrade changed it): the model could not move
// coordinators off stopped brokers.
func checkCoordinatorHash(kc *kfake.Cluster, n int) error {
	for _, key := range []string{"kscope", "shipping", "invoicing", "txn-1"} {
		if got, want := kc.CoordinatorFor(key), coordinatorOf(0, key, n); got != want {
			return fmt.Errorf("kfake chose broker %d to coordinate %q where kscope computes %d: kfake's coordinator hash changed, update coordinatorOf", got, key, want)
		}
	}
	return nil
}

// Bounds of the search for a generation.
const (
	// maxCoordinatorKeys is how many keys the model remembers; past it,
	// it forgets the oldest. Those still in use come back when their
	// clients next look for their coordinator.
	maxCoordinatorKeys = 256
	// maxRehash is how many generations ahead it tries.
	maxRehash = 64
)

// coordinators is what the model knows of kfake's coordinators; guarded by
// replication.mu.
type coordinators struct {
	gen  uint64            // kfake's generation: RehashCoordinators calls made
	keys map[string]uint64 // keys seen, with when (seq)
	seq  uint64
}

// remember notes that key was asked for.
func (cs *coordinators) remember(key string) {
	if cs.keys == nil {
		cs.keys = make(map[string]uint64)
	}
	cs.seq++
	if _, ok := cs.keys[key]; !ok && len(cs.keys) >= maxCoordinatorKeys {
		oldest, at := "", cs.seq
		for k, s := range cs.keys {
			if s < at {
				oldest, at = k, s
			}
		}
		delete(cs.keys, oldest)
	}
	cs.keys[key] = cs.seq
}

// rehash returns how many generations to move on so that none of keys,
// and as few as possible of the keys remembered, are coordinated by a
// stopped broker; 0 if none of keys is now, or if no generation within
// reach does better. With keys nil it looks after the remembered ones
// alone.
func (cs *coordinators) rehash(keys []string, down []bool) uint64 {
	n := len(down)
	isDown := func(gen uint64, k string) bool { return down[coordinatorOf(gen, k, n)] }
	now := make(map[string]int32, len(cs.keys))
	nowDown := 0
	for k := range cs.keys {
		now[k] = coordinatorOf(cs.gen, k, n)
		if down[now[k]] {
			nowDown++
		}
	}
	need := false
	for _, k := range keys {
		need = need || isDown(cs.gen, k)
	}
	if keys == nil {
		need = nowDown > 0
	}
	if !need {
		return 0
	}
	var best uint64
	bestDown, bestMoved := len(cs.keys)+1, len(cs.keys)+1
	if keys == nil {
		bestDown, bestMoved = nowDown, 0 // only a generation with fewer is worth it
	}
next:
	for step := uint64(1); step <= maxRehash; step++ {
		gen := cs.gen + step
		for _, k := range keys {
			if isDown(gen, k) {
				continue next
			}
		}
		downs, moved := 0, 0
		for k, c := range now {
			at := coordinatorOf(gen, k, n)
			if down[at] {
				downs++
			}
			if at != c {
				moved++
			}
		}
		if downs < bestDown || downs == bestDown && moved < bestMoved {
			best, bestDown, bestMoved = step, downs, moved
		}
	}
	cs.gen += best
	return best
}
