// Command franzgo drives franz-go workloads against a cluster for the
// captures in testdata/captures: see scripts/make-captures.sh. It is a
// module of its own so that kscope does not depend on kadm.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

var (
	brokers  = flag.String("brokers", "127.0.0.1:9092", "bootstrap brokers, comma separated")
	workload = flag.String("workload", "full", "full | topicids | acks0 | sasl | transactions | kip848")
	user     = flag.String("sasl-user", "", "SASL/PLAIN user (password from $KSCOPE_SASL_PASSWORD)")
	records  = flag.Int("records", 100, "records per topic")
)

func main() {
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var err error
	switch *workload {
	case "full":
		err = full(ctx)
	case "topicids":
		err = topicIDs(ctx)
	case "acks0":
		err = acks0(ctx)
	case "sasl":
		err = sasl(ctx)
	case "transactions":
		err = transactions(ctx)
	case "kip848":
		err = kip848(ctx)
	default:
		err = fmt.Errorf("unknown workload %q", *workload)
	}
	if err != nil {
		log.Fatalf("franzgo %s: %v", *workload, err)
	}
}

func client(name string, opts ...kgo.Opt) *kgo.Client {
	base := []kgo.Opt{
		kgo.SeedBrokers(strings.Split(*brokers, ",")...),
		kgo.ClientID(name),
	}
	if *user != "" {
		base = append(base, kgo.SASL(plain.Auth{User: *user, Pass: os.Getenv("KSCOPE_SASL_PASSWORD")}.AsMechanism()))
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		log.Fatal(err)
	}
	return cl
}

// produce writes n records to each topic; with linger, one Produce request
// carries batches of several topics.
func produce(ctx context.Context, cl *kgo.Client, n int, topics ...string) error {
	var (
		wg   sync.WaitGroup
		errs atomic.Value
	)
	for i := 0; i < n; i++ {
		for _, t := range topics {
			wg.Add(1)
			r := &kgo.Record{Topic: t, Key: []byte(fmt.Sprintf("k%d", i%7)), Value: []byte(fmt.Sprintf(`{"topic":%q,"n":%d,"pad":"%s"}`, t, i, strings.Repeat("x", 40)))}
			cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
				if err != nil {
					errs.Store(err)
				}
				wg.Done()
			})
		}
	}
	wg.Wait()
	if err, _ := errs.Load().(error); err != nil {
		return err
	}
	return nil
}

// consume polls until it has seen want records or ctx ends.
func consume(ctx context.Context, cl *kgo.Client, want int64, seen *atomic.Int64) error {
	for seen.Load() < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return fmt.Errorf("consumed %d of %d: %w", seen.Load(), want, ctx.Err())
		}
		if err := fs.Err0(); err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		seen.Add(int64(fs.NumRecords()))
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
	}
	return nil
}

// full: compressed producers writing several topics per request, a
// consumer group that two members join (a rebalance) and one leaves
// (another), commits, and an admin workload.
func full(ctx context.Context) error {
	topics := []string{"orders", "payments", "audit"}

	adm := kadm.NewClient(client("franz-admin"))
	defer adm.Close()
	if _, err := adm.CreateTopics(ctx, 3, -1, nil, topics...); err != nil {
		return fmt.Errorf("create topics: %w", err)
	}

	zstd := client("franz-producer-zstd",
		kgo.ProducerBatchCompression(kgo.ZstdCompression()),
		kgo.ProducerLinger(20*time.Millisecond))
	if err := produce(ctx, zstd, *records, topics...); err != nil {
		return fmt.Errorf("produce zstd: %w", err)
	}
	zstd.Close()
	lz4 := client("franz-producer-lz4", kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	if err := produce(ctx, lz4, *records/2, "audit"); err != nil {
		return fmt.Errorf("produce lz4: %w", err)
	}
	lz4.Close()

	// Member 1 takes every partition; member 2 joins, so the group
	// rebalances; member 2 then leaves, so it rebalances again. Each
	// member commits after each poll.
	var seen atomic.Int64
	assigned := make(chan string, 8)
	member := func(name string) (stop func()) {
		cl := client(name,
			kgo.ConsumerGroup("shipping"),
			kgo.ConsumeTopics(topics...),
			kgo.DisableAutoCommit(),
			kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
				select {
				case assigned <- name:
				default:
				}
			}))
		mctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for mctx.Err() == nil {
				fs := cl.PollFetches(mctx)
				seen.Add(int64(fs.NumRecords()))
				if fs.NumRecords() > 0 {
					if err := cl.CommitUncommittedOffsets(mctx); err != nil && mctx.Err() == nil {
						log.Printf("%s commit: %v", name, err)
					}
				}
			}
		}()
		return func() { cancel(); <-done; cl.Close() }
	}
	waitSeen := func(n int64) error {
		for seen.Load() < n {
			select {
			case <-ctx.Done():
				return fmt.Errorf("consumed %d of %d: %w", seen.Load(), n, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
		return nil
	}
	total := int64(*records*len(topics) + *records/2)
	stop1 := member("franz-consumer-1")
	if err := waitSeen(total); err != nil {
		return err
	}
	stop2 := member("franz-consumer-2")
	for name := ""; name != "franz-consumer-2"; {
		select {
		case name = <-assigned:
		case <-ctx.Done():
			return errors.New("member 2 never got partitions")
		}
	}
	busy := client("franz-producer-zstd", kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	if err := produce(ctx, busy, *records/2, topics...); err != nil {
		return fmt.Errorf("produce while two members consume: %w", err)
	}
	total += int64(*records / 2 * len(topics))
	if err := waitSeen(total); err != nil {
		return err
	}
	stop2() // LeaveGroup: the group rebalances onto member 1
	if err := produce(ctx, busy, *records/4, topics...); err != nil {
		return fmt.Errorf("produce after member 2 left: %w", err)
	}
	busy.Close()
	total += int64(*records / 4 * len(topics))
	if err := waitSeen(total); err != nil {
		return err
	}
	stop1()

	// Admin: describe configs, list offsets, describe groups, delete.
	if _, err := adm.CreateTopics(ctx, 2, -1, map[string]*string{"retention.ms": kadm.StringPtr("3600000")}, "scratch"); err != nil {
		return fmt.Errorf("create scratch: %w", err)
	}
	if _, err := adm.DescribeTopicConfigs(ctx, topics...); err != nil {
		return fmt.Errorf("describe configs: %w", err)
	}
	if _, err := adm.ListEndOffsets(ctx, topics...); err != nil {
		return fmt.Errorf("list end offsets: %w", err)
	}
	if _, err := adm.ListStartOffsets(ctx, topics...); err != nil {
		return fmt.Errorf("list start offsets: %w", err)
	}
	if _, err := adm.DescribeGroups(ctx, "shipping"); err != nil {
		return fmt.Errorf("describe groups: %w", err)
	}
	if _, err := adm.FetchOffsets(ctx, "shipping"); err != nil {
		return fmt.Errorf("fetch offsets: %w", err)
	}
	if _, err := adm.DeleteTopics(ctx, "scratch"); err != nil {
		return fmt.Errorf("delete topics: %w", err)
	}
	return nil
}

// topicIDs: produce, then consume with Fetch v13+ (topics named by id),
// the ids learned from Metadata.
func topicIDs(ctx context.Context) error {
	topics := []string{"inventory", "prices"}
	p := client("franz-producer", kgo.AllowAutoTopicCreation(), kgo.ProducerBatchCompression(kgo.SnappyCompression()))
	if err := produce(ctx, p, *records, topics...); err != nil {
		return err
	}
	p.Close()
	var seen atomic.Int64
	c := client("franz-consumer", kgo.ConsumerGroup("pricing"), kgo.ConsumeTopics(topics...), kgo.DisableAutoCommit())
	defer c.Close()
	return consume(ctx, c, int64(*records*len(topics)), &seen)
}

// acks0: a producer that asks for no acknowledgement: Produce requests
// without responses.
func acks0(ctx context.Context) error {
	p := client("franz-producer-acks0",
		kgo.RequiredAcks(kgo.NoAck()),
		kgo.DisableIdempotentWrite(),
		kgo.AllowAutoTopicCreation(),
		kgo.ProducerLinger(5*time.Millisecond))
	defer p.Close()
	for round := 0; round < 5; round++ {
		if err := produce(ctx, p, *records/5, "fire-and-forget"); err != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return p.Flush(ctx)
}

// sasl: log in with SASL/PLAIN (SaslHandshake v1, SaslAuthenticate), then
// produce and consume.
func sasl(ctx context.Context) error {
	// Uncompressed: kafka-python, which reads this topic too, has no snappy.
	p := client("franz-sasl-producer", kgo.AllowAutoTopicCreation(), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err := produce(ctx, p, *records, "secure"); err != nil {
		return err
	}
	p.Close()
	var seen atomic.Int64
	c := client("franz-sasl-consumer", kgo.ConsumerGroup("secure-readers"), kgo.ConsumeTopics("secure"), kgo.DisableAutoCommit())
	defer c.Close()
	return consume(ctx, c, int64(*records), &seen)
}
