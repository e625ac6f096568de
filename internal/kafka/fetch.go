package kafka

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fetch requests and responses read without kmsg's reader: see
// produce.go.

// fetchRequest is a Request with the room a Fetch request of one topic
// and one partition takes, in one allocation.
type fetchRequest struct {
	req   Request
	body  kmsg.FetchRequest
	topic [1]kmsg.FetchRequestTopic
	part  [1]kmsg.FetchRequestTopicPartition
}

// readFetchRequest reads a Fetch request's body as
// kmsg.FetchRequest.ReadFrom does, or returns nil.
func readFetchRequest(version int16, body []byte, n *names, p *fetchRequest) *fetchRequest {
	if !KnownVersion(kmsg.Fetch.Int16(), version) {
		return nil
	}
	flex := version >= 12
	r := reader{src: body}
	b := &p.body
	b.Default()
	b.Version = version
	if version <= 14 {
		b.ReplicaID = r.i32()
	}
	b.MaxWaitMillis = r.i32()
	b.MinBytes = r.i32()
	if version >= 3 {
		b.MaxBytes = r.i32()
	}
	if version >= 4 {
		if s := r.span(1); s != nil {
			b.IsolationLevel = int8(s[0])
		}
	}
	if version >= 7 {
		b.SessionID = r.i32()
		b.SessionEpoch = r.i32()
	}
	b.Topics = room(r.arrayLen(flex), &p.topic, true)
	for i := range b.Topics {
		if r.bad {
			return nil
		}
		t := &b.Topics[i]
		r.topicName(version, 12, flex, n, &t.Topic, &t.TopicID)
		t.Partitions = room(r.arrayLen(flex), &p.part, i == 0)
		for j := range t.Partitions {
			pp := &t.Partitions[j]
			pp.Default()
			pp.Partition = r.i32()
			if version >= 9 {
				pp.CurrentLeaderEpoch = r.i32()
			}
			pp.FetchOffset = r.i64()
			if version >= 12 {
				pp.LastFetchedEpoch = r.i32()
			}
			if version >= 5 {
				pp.LogStartOffset = r.i64()
			}
			pp.PartitionMaxBytes = r.i32()
			r.noTags(flex)
			if r.bad {
				return nil
			}
		}
		r.noTags(flex)
	}
	if version >= 7 {
		nf := r.arrayLen(flex)
		if nf > 0 {
			b.ForgottenTopics = make([]kmsg.FetchRequestForgottenTopic, nf)
		}
		for i := range b.ForgottenTopics {
			if r.bad {
				return nil
			}
			t := &b.ForgottenTopics[i]
			r.topicName(version, 12, flex, n, &t.Topic, &t.TopicID)
			if np := r.arrayLen(flex); np > 0 {
				t.Partitions = make([]int32, np)
				for j := range t.Partitions {
					t.Partitions[j] = r.i32()
				}
			}
			r.noTags(flex)
		}
	}
	if version >= 11 {
		b.Rack = n.rackID(r.span(r.length(flex, false)))
	}
	r.noTags(flex)
	if r.bad {
		return nil
	}
	return p
}

// fetchResponse is a Response with the room a Fetch response of one
// topic and one partition takes, in one allocation.
type fetchResponse struct {
	resp  Response
	body  kmsg.FetchResponse
	topic [1]kmsg.FetchResponseTopic
	part  [1]kmsg.FetchResponseTopicPartition
	set   [1]RecordSet
	batch [1]Batch
}

// readFetchResponse reads a Fetch response's body (after its header) as
// kmsg.FetchResponse.ReadFrom does, or returns nil.
func readFetchResponse(version int16, body []byte, n *names, p *fetchResponse) *fetchResponse {
	if !KnownVersion(kmsg.Fetch.Int16(), version) {
		return nil
	}
	flex := version >= 12
	r := reader{src: body}
	b := &p.body
	b.Default()
	b.Version = version
	if version >= 1 {
		b.ThrottleMillis = r.i32()
	}
	if version >= 7 {
		b.ErrorCode = r.i16()
		b.SessionID = r.i32()
	}
	b.Topics = room(r.arrayLen(flex), &p.topic, true)
	for i := range b.Topics {
		if r.bad {
			return nil
		}
		t := &b.Topics[i]
		r.topicName(version, 12, flex, n, &t.Topic, &t.TopicID)
		t.Partitions = room(r.arrayLen(flex), &p.part, i == 0)
		for j := range t.Partitions {
			pp := &t.Partitions[j]
			pp.Default()
			pp.Partition = r.i32()
			pp.ErrorCode = r.i16()
			pp.HighWatermark = r.i64()
			if version >= 4 {
				pp.LastStableOffset = r.i64()
			}
			if version >= 5 {
				pp.LogStartOffset = r.i64()
			}
			if version >= 4 {
				na := r.arrayLen(flex)
				switch {
				case na == 0:
					// kmsg's: empty, not null.
					pp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
				case na > 0:
					pp.AbortedTransactions = make([]kmsg.FetchResponseTopicPartitionAbortedTransaction, na)
				}
				for k := range pp.AbortedTransactions {
					at := &pp.AbortedTransactions[k]
					at.ProducerID = r.i64()
					at.FirstOffset = r.i64()
					r.noTags(flex)
				}
			}
			if version >= 11 {
				pp.PreferredReadReplica = r.i32()
			}
			if l := r.length(flex, true); l >= 0 {
				pp.RecordBatches = r.span(l)
			}
			r.noTags(flex)
			if r.bad {
				return nil
			}
		}
		r.noTags(flex)
	}
	r.noTags(flex)
	if r.bad {
		return nil
	}
	return p
}
