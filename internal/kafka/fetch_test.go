package kafka

import (
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func checkFetchRequest(t testing.TB, version int16, body []byte) bool {
	return checkRead(t, version, body, new(kmsg.FetchRequest), func(n *names) (any, []RecordSet, []Batch) {
		if p := readFetchRequest(version, body, n, new(fetchRequest)); p != nil {
			return &p.body, nil, nil
		}
		return nil, nil, nil
	})
}

func checkFetchResponse(t testing.TB, version int16, body []byte) bool {
	return checkRead(t, version, body, new(kmsg.FetchResponse), func(n *names) (any, []RecordSet, []Batch) {
		if p := readFetchResponse(version, body, n, new(fetchResponse)); p != nil {
			return &p.body, p.set[:], p.batch[:]
		}
		return nil, nil, nil
	})
}

// randomFetch is a Fetch request and its response of version v with
// random topics, partitions, forgotten topics, aborted transactions and
// record batches; plain says that it holds nothing the fast readers leave
// to kmsg (tagged fields).
func randomFetch(rng *rand.Rand, v int16) (req *kmsg.FetchRequest, resp *kmsg.FetchResponse, plain bool) {
	plain = true
	req = kmsg.NewPtrFetchRequest()
	req.Version = v
	req.ReplicaID = []int32{-1, -1, 2}[rng.IntN(3)]
	req.MaxWaitMillis, req.MinBytes = rng.Int32N(1000), rng.Int32N(2)
	req.MaxBytes = rng.Int32N(1 << 26)
	req.IsolationLevel = int8(rng.IntN(2))
	req.SessionID, req.SessionEpoch = rng.Int32N(1<<20), rng.Int32N(10)-1
	if v >= 11 {
		req.Rack = []string{"", "rack-a"}[rng.IntN(2)]
	}
	resp = kmsg.NewPtrFetchResponse()
	resp.Version = v
	resp.ThrottleMillis = rng.Int32N(3) * 100
	resp.SessionID = req.SessionID
	if rng.IntN(10) == 0 {
		resp.ErrorCode = 70
	}
	for range rng.IntN(4) {
		name, id := randomTopic(rng, v)
		rt := kmsg.FetchRequestTopic{Topic: name, TopicID: id}
		st := kmsg.FetchResponseTopic{Topic: name, TopicID: id}
		for range rng.IntN(4) {
			p := kmsg.NewFetchRequestTopicPartition()
			p.Partition = rng.Int32N(12)
			p.CurrentLeaderEpoch = rng.Int32N(5) - 1
			p.FetchOffset = rng.Int64N(1 << 40)
			p.LastFetchedEpoch = rng.Int32N(5) - 1
			p.LogStartOffset = rng.Int64N(100) - 1
			p.PartitionMaxBytes = rng.Int32N(1 << 20)
			if v >= 17 && rng.IntN(10) == 0 {
				p.ReplicaDirectoryID[0] = 1
				plain = false
			}
			rt.Partitions = append(rt.Partitions, p)
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = p.Partition
			sp.HighWatermark = rng.Int64N(1 << 40)
			sp.LastStableOffset = sp.HighWatermark - rng.Int64N(3)
			sp.LogStartOffset = rng.Int64N(100)
			if rng.IntN(5) == 0 {
				sp.ErrorCode = 1
			}
			switch rng.IntN(3) {
			case 0: // null
			case 1:
				sp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
			default:
				for range rng.IntN(3) {
					sp.AbortedTransactions = append(sp.AbortedTransactions, kmsg.FetchResponseTopicPartitionAbortedTransaction{ProducerID: rng.Int64N(9), FirstOffset: rng.Int64N(99)})
				}
			}
			if v >= 11 {
				sp.PreferredReadReplica = rng.Int32N(3) - 1
			}
			sp.RecordBatches = randomRecords(rng, true)
			if v >= 12 && rng.IntN(10) == 0 {
				sp.DivergingEpoch.Epoch = 3
				plain = false
			}
			st.Partitions = append(st.Partitions, sp)
		}
		req.Topics = append(req.Topics, rt)
		resp.Topics = append(resp.Topics, st)
	}
	if v >= 7 {
		for range rng.IntN(3) {
			ft := kmsg.FetchRequestForgottenTopic{Topic: "gone"}
			if v >= 13 {
				ft.TopicID[1] = 9
			}
			for range rng.IntN(3) {
				ft.Partitions = append(ft.Partitions, rng.Int32N(5))
			}
			req.ForgottenTopics = append(req.ForgottenTopics, ft)
		}
	}
	if v >= 12 && rng.IntN(10) == 0 {
		req.ClusterID = kmsg.StringPtr("cluster")
		plain = false
	}
	if v >= 16 && rng.IntN(10) == 0 {
		resp.Brokers = []kmsg.FetchResponseBroker{{NodeID: 1, Host: "h", Port: 9092}}
		plain = false
	}
	return req, resp, plain
}

// TestFetchDecoders is TestProduceDecoders for Fetch.
func TestFetchDecoders(t *testing.T) {
	testDecoders(t, 19, func(rng *rand.Rand, v int16) (kmessage, kmessage, bool) {
		return randomFetch(rng, v)
	}, checkFetchRequest, checkFetchResponse)
}

// FuzzFetchDecoders: whatever the fast readers take, kmsg reads to the
// same structs and records.
func FuzzFetchDecoders(f *testing.F) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 76 {
		v := int16(i % 19)
		req, resp, _ := randomFetch(rng, v)
		f.Add(uint8(v), false, req.AppendTo(nil))
		f.Add(uint8(v), true, resp.AppendTo(nil))
	}
	f.Fuzz(fuzzDecoders(checkFetchRequest, checkFetchResponse))
}
