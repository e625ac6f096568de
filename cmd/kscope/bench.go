package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
)

func benchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmarks that need real traffic (see also go test -bench)",
	}
	cmd.AddCommand(benchTrafficCmd(), benchWireCmd())
	return cmd
}

// benchTrafficCmd makes Kafka traffic with franz-go: a producer writing
// batches of a set size, and optionally a consumer reading them back. It is
// the load for benchmarks that measure kscope against real traffic (a large
// capture for `kscope analyze`, the agent's overhead).
func benchTrafficCmd() *cobra.Command {
	var (
		bootstrap string
		topic     string
		total     int64
		recSize   int
		batch     int
		syncProd  bool
		consume   bool
	)
	cmd := &cobra.Command{
		Use:   "traffic",
		Short: "Produce (and consume) a volume of records against a cluster, and print the rates",
		Example: `  kscope bench traffic --bootstrap 127.0.0.1:9092 --bytes 300000000 --consume
  kscope bench traffic --bootstrap 127.0.0.1:9092 --bytes 5000000 --record-size 100 --sync`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			opts := []kgo.Opt{
				kgo.SeedBrokers(strings.Split(bootstrap, ",")...),
				kgo.DefaultProduceTopic(topic),
				kgo.ProducerBatchMaxBytes(int32(batch)),
				kgo.ProducerLinger(5 * time.Millisecond),
				kgo.ProducerBatchCompression(kgo.NoCompression()),
				kgo.AllowAutoTopicCreation(),
			}
			if syncProd {
				opts = append(opts, kgo.MaxBufferedRecords(1))
			}
			cl, err := kgo.NewClient(opts...)
			if err != nil {
				return err
			}
			defer cl.Close()
			n := total / int64(recSize)
			value := []byte(strings.Repeat("k", recSize))
			var wg sync.WaitGroup
			consumed := make(chan time.Duration, 1)
			if consume {
				wg.Add(1)
				go func() {
					defer wg.Done()
					consumed <- consumeAll(ctx, bootstrap, topic, n)
				}()
			}
			start := time.Now()
			var failed error
			var mu sync.Mutex
			for i := int64(0); i < n && ctx.Err() == nil; i++ {
				r := &kgo.Record{Value: value}
				if syncProd {
					if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
						return err
					}
					continue
				}
				cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
					if err != nil {
						mu.Lock()
						failed = err
						mu.Unlock()
					}
				})
			}
			if err := cl.Flush(ctx); err != nil {
				return err
			}
			if failed != nil {
				return failed
			}
			el := time.Since(start)
			fmt.Fprintf(cmd.OutOrStdout(), "produced %d records of %d bytes in %s: %.0f records/s, %.1f MB/s\n",
				n, recSize, el.Round(time.Millisecond), float64(n)/el.Seconds(), float64(n*int64(recSize))/el.Seconds()/1e6)
			if consume {
				wg.Wait()
				el := <-consumed
				fmt.Fprintf(cmd.OutOrStdout(), "consumed them back in %s\n", el.Round(time.Millisecond))
			}
			return ctx.Err()
		},
	}
	f := cmd.Flags()
	f.StringVar(&bootstrap, "bootstrap", "127.0.0.1:9092", "bootstrap brokers, comma-separated")
	f.StringVar(&topic, "topic", "bench", "topic to produce to")
	f.Int64Var(&total, "bytes", 100_000_000, "record bytes to produce")
	f.IntVar(&recSize, "record-size", 1000, "bytes per record value")
	f.IntVar(&batch, "batch", 16<<10, "producer batch size in bytes")
	f.BoolVar(&syncProd, "sync", false, "one record per request: wait for each produce before the next")
	f.BoolVar(&consume, "consume", false, "also consume the records back from the start")
	return cmd
}

func consumeAll(ctx context.Context, bootstrap, topic string, n int64) time.Duration {
	start := time.Now()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(bootstrap, ",")...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return 0
	}
	defer cl.Close()
	for got := int64(0); got < n && ctx.Err() == nil; {
		fs := cl.PollFetches(ctx)
		got += int64(fs.NumRecords())
	}
	return time.Since(start)
}
