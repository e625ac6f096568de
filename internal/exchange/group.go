package exchange

import "github.com/twmb/franz-go/pkg/kmsg"

// The classic group protocol carries member metadata and assignments as
// opaque bytes whose encoding belongs to the protocol type. For "consumer"
// it is Kafka's ConsumerProtocol (subscription and assignment, versions
// 0-3), which kmsg decodes. User data is never looked at.

// maxConsumerProtocolVersion is the newest ConsumerProtocol version
// (KIP-792 added v3); a strict decode accepts no other.
const maxConsumerProtocolVersion = 3

// subscription decodes consumer member metadata to its topics. strict
// rejects anything that is not plainly a consumer subscription, for bytes
// whose protocol type is not known.
func subscription(b []byte, strict bool) ([]string, bool) {
	if len(b) == 0 {
		return nil, false
	}
	var m kmsg.ConsumerMemberMetadata
	if m.ReadFrom(b) != nil {
		return nil, false
	}
	if strict && (m.Version < 0 || m.Version > maxConsumerProtocolVersion) {
		return nil, false
	}
	for _, t := range m.Topics {
		if strict && !validTopic(t) {
			return nil, false
		}
	}
	return m.Topics, true
}

// assignment decodes a consumer member assignment; strict as above.
func assignment(b []byte, strict bool) ([]TopicPartitions, bool) {
	if len(b) == 0 {
		return nil, false
	}
	var a kmsg.ConsumerMemberAssignment
	if a.ReadFrom(b) != nil {
		return nil, false
	}
	if strict && (a.Version < 0 || a.Version > maxConsumerProtocolVersion) {
		return nil, false
	}
	out := make([]TopicPartitions, 0, len(a.Topics))
	for _, t := range a.Topics {
		if strict && !validTopic(t.Topic) {
			return nil, false
		}
		out = append(out, TopicPartitions{Topic: t.Topic, Partitions: nonNil(t.Partitions)})
	}
	return out, true
}

// validTopic is Kafka's rule for topic names (Topic.validate): 1 to 249
// characters of ASCII letters, digits, '.', '_' and '-'.
func validTopic(s string) bool {
	if len(s) == 0 || len(s) > 249 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
