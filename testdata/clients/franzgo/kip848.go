package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kip848: three members of group dispatch on the KIP-848 consumer protocol
// (ConsumerGroupHeartbeat, the broker's uniform assignor), on topic
// deliveries of 9 partitions: member 1 joins at 0 s, member 2 at 3 s,
// member 3 at 6 s, member 2 leaves at 10 s, and members 1 and 3 leave at
// 13 s. A producer writes -records records before and a few during, so
// that members fetch and commit. The broker must heartbeat every second
// (kscope broker --config group.consumer.heartbeat.interval.ms=1000).
func kip848(ctx context.Context) error {
	const topic, group = "deliveries", "dispatch"
	adm := kadm.NewClient(client("franz-admin"))
	defer adm.Close()
	if _, err := adm.CreateTopic(ctx, 9, -1, nil, topic); err != nil {
		return fmt.Errorf("create %s: %w", topic, err)
	}
	p := client("franz-producer", kgo.DefaultProduceTopic(topic))
	defer p.Close()
	if err := produce(ctx, p, *records, topic); err != nil {
		return err
	}

	start := time.Now()
	at := func(d time.Duration) {
		if w := time.Until(start.Add(d)); w > 0 {
			time.Sleep(w)
		}
	}
	var (
		wg   sync.WaitGroup
		seen atomic.Int64
		errs = make(chan error, 3)
	)
	member := func(n int, leave time.Duration) {
		defer wg.Done()
		c := client(fmt.Sprintf("kip848-consumer-%d", n),
			kgo.ConsumerGroup(group),
			kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			// The consumer protocol needs a range or sticky balancer
			// (sticky asks the broker for its uniform assignor).
			kgo.Balancers(kgo.StickyBalancer()),
			kgo.ServerSideBalancer())
		// Close leaves the group: a heartbeat with member epoch -1.
		defer c.Close()
		mctx, cancel := context.WithDeadline(ctx, start.Add(leave))
		defer cancel()
		for mctx.Err() == nil {
			fs := c.PollFetches(mctx)
			if err := fs.Err0(); err != nil && mctx.Err() == nil && !fs.IsClientClosed() {
				errs <- fmt.Errorf("member %d: %w", n, err)
				return
			}
			seen.Add(int64(fs.NumRecords()))
		}
	}
	wg.Add(3)
	go member(1, 13*time.Second)
	at(3 * time.Second)
	go member(2, 10*time.Second)
	at(6 * time.Second)
	go member(3, 13*time.Second)
	at(8 * time.Second)
	if err := produce(ctx, p, *records/10, topic); err != nil {
		return err
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	if n, want := seen.Load(), int64(*records+*records/10); n < want {
		return fmt.Errorf("the group consumed %d records, want %d", n, want)
	}
	return nil
}
