package kafka

import (
	"encoding/base64"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TopicIDs maps topic ids (Fetch v13+, Metadata v10+, KIP-516) to names,
// per cluster, as learned from Metadata responses. Ids are random UUIDs, so
// an id not known in its own cluster is also looked up in the others (a
// connection whose cluster is not known yet); a miss is reported, never
// guessed.
type TopicIDs struct {
	mu    sync.RWMutex
	names map[string]map[[16]byte]string // cluster id -> topic id -> name
}

// Learn records the topic ids of a Metadata response.
func (t *TopicIDs) Learn(cluster string, resp *kmsg.MetadataResponse) {
	var zero [16]byte
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.names == nil {
		t.names = make(map[string]map[[16]byte]string)
	}
	m := t.names[cluster]
	if m == nil {
		m = make(map[[16]byte]string)
		t.names[cluster] = m
	}
	for _, tp := range resp.Topics {
		if tp.TopicID == zero || tp.Topic == nil || *tp.Topic == "" {
			continue
		}
		m[tp.TopicID] = *tp.Topic
	}
}

// Name returns the name of a topic id, preferring the given cluster.
func (t *TopicIDs) Name(cluster string, id [16]byte) (string, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if n, ok := t.names[cluster][id]; ok {
		return n, true
	}
	for _, m := range t.names {
		if n, ok := m[id]; ok {
			return n, true
		}
	}
	return "", false
}

// FormatTopicID renders a topic id the way Kafka tools do: URL-safe base64
// without padding (e.g. "5qTf8uWRS1e9Z3tUvH1zHA"), as kafka-topics.sh prints.
func FormatTopicID(id [16]byte) string {
	return base64.RawURLEncoding.EncodeToString(id[:])
}
