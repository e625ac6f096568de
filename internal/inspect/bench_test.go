package inspect

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"kscope/internal/broker"
	"kscope/internal/broker/brokertest"
)

// BenchmarkPoll polls a cluster of 3 brokers with 1,000 consumer groups
// each committed on 100 partitions (10 topics of 10), 1,000 records a
// partition in batches of 10, every group at its own offsets. "cold" is
// a new inspector's first poll, every batch header to read (up to
// MaxLookups); "steady" a poll after that, with 10 records more a
// partition and every group's commit moved: what the agent pays every
// --poll.
func BenchmarkPoll(b *testing.B) {
	const groups, topics, partitions, records, batch = 1000, 10, 10, 1000, 10
	var names []string
	for i := range topics {
		names = append(names, fmt.Sprintf("t%02d", i))
	}
	c := brokertest.Start(b, broker.Config{Brokers: 3, Partitions: partitions, Topics: names})
	cl := brokertest.Client(b, c, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0), kgo.MaxBufferedRecords(1<<20))
	ctx := context.Background()
	produceAll := func(n int) {
		var wg sync.WaitGroup
		for _, tp := range names {
			for p := range int32(partitions) {
				wg.Go(func() {
					for i := 0; i < n; i += batch {
						rs := make([]*kgo.Record, batch)
						for j := range rs {
							rs[j] = &kgo.Record{Topic: tp, Partition: p, Value: []byte("v")}
						}
						// One produce call of batch records: one batch.
						if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
		}
		wg.Wait()
	}
	adm := kadm.NewClient(cl)
	end := int64(0)
	commitAll := func() {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 32)
		for g := range groups {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				r := rand.New(rand.NewPCG(uint64(g), uint64(end)))
				os := kadm.Offsets{}
				for _, tp := range names {
					for p := range int32(partitions) {
						os.Add(kadm.Offset{Topic: tp, Partition: p, At: r.Int64N(end + 1), LeaderEpoch: -1})
					}
				}
				if err := adm.CommitAllOffsets(ctx, fmt.Sprintf("group-%04d", g), os); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
	start := time.Now()
	produceAll(records)
	end = records
	commitAll()
	b.Logf("setup: %d groups × %d partitions in %v", groups, topics*partitions, time.Since(start).Round(time.Millisecond))

	check := func(s Snapshot) {
		if len(s.Groups) != groups || len(s.Errors) != 0 {
			b.Fatalf("%d groups, errors %+v", len(s.Groups), s.Errors)
		}
		for _, g := range s.Groups {
			if len(g.Offsets) != topics*partitions {
				b.Fatalf("group %s: %d offsets", g.Group, len(g.Offsets))
			}
		}
	}
	b.Run("cold", func(b *testing.B) {
		var deferred uint64
		for b.Loop() {
			in := newInspector(b, c, Config{})
			check(in.Poll(ctx))
			deferred += in.Stats().Deferred
			in.Close()
		}
		b.ReportMetric(float64(deferred)/float64(b.N), "deferred/poll")
	})
	b.Run("steady", func(b *testing.B) {
		in := newInspector(b, c, Config{})
		for in.Poll(ctx); in.Stats().Deferred > 0; in.Poll(ctx) {
			in.stats.Deferred = 0
		}
		var looked uint64
		for b.Loop() {
			b.StopTimer()
			produceAll(batch)
			end += batch
			commitAll()
			b.StartTimer()
			s := in.Poll(ctx)
			check(s)
			for _, t := range s.Topics {
				for _, p := range t.Partitions {
					looked += uint64(len(p.Batches))
				}
			}
		}
		b.ReportMetric(float64(looked)/float64(b.N), "batches/poll")
	})
}
