package kafka

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// kmessage is what kmsg's requests and responses have in common.
type kmessage interface {
	SetVersion(int16)
	ReadFrom([]byte) error
	AppendTo([]byte) []byte
}

// checkRead decodes body both ways: when the fast reader (read, which
// returns the struct it read, nil when none, and the room it has for
// records) takes it, kmsg must read it too, into want, to the same
// struct, and the records taken out of both must be the same. It says
// whether the fast reader took it.
func checkRead(t testing.TB, version int16, body []byte, want kmessage, read func(*names) (any, []RecordSet, []Batch)) bool {
	t.Helper()
	var n names
	got, sets, batches := read(&n)
	if got == nil {
		return false
	}
	want.SetVersion(version)
	if err := want.ReadFrom(body); err != nil {
		t.Fatalf("%T v%d % x: kmsg fails (%v), the fast reader reads %+v", want, version, body, err, got)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%T v%d % x:\nfast %+v\nkmsg %+v", want, version, body, got, want)
	}
	wsets, wraw := extractRecords(want, body, nil, nil)
	gsets, graw := extractRecords(got, body, sets, batches)
	if !reflect.DeepEqual(gsets, wsets) || !reflect.DeepEqual(graw, wraw) || !reflect.DeepEqual(got, want) {
		t.Fatalf("%T v%d % x: records\nfast %+v % x\nkmsg %+v % x", want, version, body, gsets, graw, wsets, wraw)
	}
	return true
}

func checkProduceRequest(t testing.TB, version int16, body []byte) bool {
	return checkRead(t, version, body, new(kmsg.ProduceRequest), func(n *names) (any, []RecordSet, []Batch) {
		if p := readProduceRequest(version, body, n, new(produceRequest)); p != nil {
			return &p.body, p.set[:], p.batch[:]
		}
		return nil, nil, nil
	})
}

func checkProduceResponse(t testing.TB, version int16, body []byte) bool {
	return checkRead(t, version, body, new(kmsg.ProduceResponse), func(n *names) (any, []RecordSet, []Batch) {
		if p := readProduceResponse(version, body, n, new(produceResponse)); p != nil {
			return &p.body, nil, nil
		}
		return nil, nil, nil
	})
}

// randomProduce is a Produce request and its response of version v with
// random topics, partitions, record batches and answers; plain says
// that it holds nothing the fast readers leave to kmsg (tagged fields,
// record errors).
func randomProduce(rng *rand.Rand, v int16) (req *kmsg.ProduceRequest, resp *kmsg.ProduceResponse, plain bool) {
	plain = true
	req = kmsg.NewPtrProduceRequest()
	req.Version = v
	if rng.IntN(3) == 0 {
		req.TransactionID = kmsg.StringPtr([]string{"", "txn-1", "a-longer-transactional-id"}[rng.IntN(3)])
	}
	req.Acks = []int16{-1, 0, 1}[rng.IntN(3)]
	req.TimeoutMillis = rng.Int32N(60000)
	resp = kmsg.NewPtrProduceResponse()
	resp.Version = v
	resp.ThrottleMillis = rng.Int32N(3) * 100
	for range rng.IntN(4) {
		name, id := randomTopic(rng, v)
		rt := kmsg.ProduceRequestTopic{Topic: name, TopicID: id}
		st := kmsg.ProduceResponseTopic{Topic: name, TopicID: id}
		for range rng.IntN(4) {
			p := kmsg.ProduceRequestTopicPartition{Partition: rng.Int32N(12), Records: randomRecords(rng, false)}
			rt.Partitions = append(rt.Partitions, p)
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = p.Partition
			sp.BaseOffset = rng.Int64N(1 << 40)
			if rng.IntN(4) == 0 {
				sp.ErrorCode = 6
				if v >= 8 && rng.IntN(2) == 0 {
					sp.ErrorMessage = kmsg.StringPtr("not the leader")
				}
			}
			if rng.IntN(3) == 0 {
				sp.LogAppendTime = 1_700_000_000_000
			}
			if rng.IntN(2) == 0 {
				sp.LogStartOffset = rng.Int64N(1000)
			}
			if v >= 8 && rng.IntN(10) == 0 {
				sp.ErrorRecords = []kmsg.ProduceResponseTopicPartitionErrorRecord{{RelativeOffset: 1}}
				plain = false
			}
			if v >= 10 && rng.IntN(10) == 0 {
				sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch = 2, 7
				plain = false
			}
			st.Partitions = append(st.Partitions, sp)
		}
		req.Topics = append(req.Topics, rt)
		resp.Topics = append(resp.Topics, st)
	}
	if v >= 9 && rng.IntN(10) == 0 {
		req.UnknownTags.Set(7, []byte{1})
		plain = false
	}
	return req, resp, plain
}

// randomTopic is a topic name, and an id from version 13 on.
func randomTopic(rng *rand.Rand, v int16) (name string, id [16]byte) {
	name = []string{"orders", "payments", "t", ""}[rng.IntN(4)]
	if v >= 13 {
		id[rng.IntN(16)] = byte(1 + rng.IntN(255))
	}
	return name, id
}

// randomRecords is a partition's record data: null, empty, bytes that
// are not record data (the extraction reads them as a cut batch), or
// record batches, the last cut short when cut says so (a fetch cut at its
// max bytes ends inside a batch).
func randomRecords(rng *rand.Rand, cut bool) []byte {
	switch rng.IntN(4) {
	case 0:
		return nil
	case 1:
		return []byte{}
	case 2:
		return make([]byte, rng.IntN(40))
	}
	var b []byte
	for range 1 + rng.IntN(3) {
		rb := randomBatch(rng)
		b = rb.AppendTo(b)
	}
	if cut {
		b = b[:len(b)-rng.IntN(20)]
	}
	return b
}

func randomBatch(rng *rand.Rand) kmsg.RecordBatch {
	n := 1 + rng.Int32N(5)
	return kmsg.RecordBatch{
		FirstOffset:          rng.Int64N(1 << 30),
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           int16(rng.IntN(2) * 0x10),
		LastOffsetDelta:      n - 1,
		FirstTimestamp:       1_700_000_000_000,
		MaxTimestamp:         1_700_000_000_000 + int64(n),
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           n,
		Records:              make([]byte, rng.IntN(64)),
	}
}

// TestProduceDecoders holds the fast Produce readers to kmsg's on random
// requests and responses of every version, whole, cut short and with
// bytes changed, and checks that they take every frame without tagged
// fields or record errors.
func TestProduceDecoders(t *testing.T) {
	testDecoders(t, 14, func(rng *rand.Rand, v int16) (kmessage, kmessage, bool) {
		return randomProduce(rng, v)
	}, checkProduceRequest, checkProduceResponse)
}

// testDecoders checks fast readers on random requests and responses of
// versions 0 to versions-1 (random makes them, and says whether they
// hold nothing the readers leave to kmsg).
func testDecoders(t *testing.T, versions int, random func(*rand.Rand, int16) (req, resp kmessage, plain bool),
	checkRequest, checkResponse func(testing.TB, int16, []byte) bool) {
	rng := rand.New(rand.NewPCG(1, 2))
	taken := 0
	const n = 3000
	for i := range n {
		v := int16(i % versions)
		req, resp, plain := random(rng, v)
		for side, b := range [][]byte{req.AppendTo(nil), resp.AppendTo(nil)} {
			check := checkRequest
			if side == 1 {
				check = checkResponse
			}
			if !check(t, v, b) {
				if plain {
					t.Fatalf("v%d %d: the fast reader did not take % x", v, side, b)
				}
				continue
			}
			taken++
			// Cut short, and a byte changed: whatever the
			// fast reader takes, kmsg reads the same.
			check(t, v, b[:rng.IntN(len(b)+1)])
			if len(b) > 0 {
				c := append([]byte(nil), b...)
				c[rng.IntN(len(c))] ^= byte(1 + rng.IntN(255))
				check(t, v, c)
			}
		}
	}
	if taken < 2*n*2/3 {
		t.Fatalf("the fast readers took %d frames of %d", taken, 2*n)
	}
}

// FuzzProduceDecoders: whatever the fast readers take, kmsg reads to the
// same structs and records.
func FuzzProduceDecoders(f *testing.F) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 60 {
		v := int16(i % 14)
		req, resp, _ := randomProduce(rng, v)
		f.Add(uint8(v), false, req.AppendTo(nil))
		f.Add(uint8(v), true, resp.AppendTo(nil))
	}
	f.Fuzz(fuzzDecoders(checkProduceRequest, checkProduceResponse))
}

// fuzzDecoders is the fuzz function of a pair of fast readers: a version
// (up to 15, past the last known), which side, and the bytes.
func fuzzDecoders(checkRequest, checkResponse func(testing.TB, int16, []byte) bool) func(*testing.T, uint8, bool, []byte) {
	return func(t *testing.T, v uint8, response bool, b []byte) {
		if response {
			checkResponse(t, int16(v%20), b)
		} else {
			checkRequest(t, int16(v%20), b)
		}
	}
}
