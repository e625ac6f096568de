package demo

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The demo's microservices, after the scenario of the Pixie Kafka tutorial:
// order produces order events to the topic order; shipping and invoicing
// each consume all of them in their own consumer group. Shipping keeps up;
// invoicing, while slowed down, falls behind.
const (
	Order     = "order"
	Shipping  = "shipping"
	Invoicing = "invoicing"

	// Topic is the topic the services talk through.
	Topic = "order"
	// TopicPartitions, TopicReplicas and TopicMinISR are how the demo
	// creates Topic: with min.insync.replicas 2, one broker down leaves
	// its partitions at min ISR, two refuse order's acks=all produce.
	TopicPartitions = 5
	TopicReplicas   = 3
	TopicMinISR     = 2

	// AuditTopic is where order also writes each order, for an audit
	// trail, kept by size only (retention.bytes, retention.ms -1): the
	// time it covers shrinks when orders come faster, as in a burst.
	AuditTopic          = "order-audit"
	AuditPartitions     = 3
	AuditReplicas       = 2
	AuditRetentionBytes = 256 << 10 // per partition
)

// Services lists the demo's services, the producer first; ledger, the
// transactional producer, last (see transactions.go).
var Services = []string{Order, Shipping, Invoicing, Ledger}

// StartOrder is the order the demo starts them in: consumers first, so
// that they are in their groups when the first order arrives.
var StartOrder = []string{Shipping, Invoicing, Order, Ledger}

// IsService reports whether name is one of the demo's services.
func IsService(name string) bool {
	for _, s := range Services {
		if s == name {
			return true
		}
	}
	return false
}

// Defaults of ServiceConfig.
const (
	DefaultRate      = 10.0                   // orders per second
	DefaultSlowDelay = 200 * time.Millisecond // invoicing per order, while slowed
	// fastDelay is what a consumer spends on one order when not slowed:
	// far below the time between orders, so it keeps up with bursts too.
	fastDelay = 2 * time.Millisecond
)

// ServiceConfig configures one service process.
type ServiceConfig struct {
	Name      string
	Bootstrap []string
	// Rate is how many orders per second order produces between bursts.
	Rate float64
	// Burst is the mean time between bursts of orders (a sale); 0 means
	// none. A burst is 10 to 25 seconds' worth of orders at once.
	Burst time.Duration
	// SlowDelay is the time a slowed consumer spends on one order; Slow
	// says whether it starts slowed.
	SlowDelay time.Duration
	Slow      bool
	// Control, when set, carries commands from the demo, one per line:
	// "slow on" and "slow off". Its end (the demo is gone) ends the
	// service.
	Control io.Reader
	Log     *slog.Logger
}

// RunService runs one service until ctx ends or its control input ends.
func RunService(ctx context.Context, cfg ServiceConfig) error {
	if !IsService(cfg.Name) {
		return fmt.Errorf("unknown demo service %q: one of %s", cfg.Name, strings.Join(Services, ", "))
	}
	if len(cfg.Bootstrap) == 0 {
		return errors.New("demo service: no bootstrap brokers")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Rate <= 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.SlowDelay <= 0 {
		cfg.SlowDelay = DefaultSlowDelay
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var slow atomic.Bool
	slow.Store(cfg.Slow)
	if cfg.Control != nil {
		go func() {
			defer cancel()
			sc := bufio.NewScanner(cfg.Control)
			for sc.Scan() {
				switch strings.TrimSpace(sc.Text()) {
				case "slow on":
					slow.Store(true)
				case "slow off":
					slow.Store(false)
				}
			}
		}()
	}
	switch cfg.Name {
	case Order:
		return produceOrders(ctx, cfg)
	case Ledger:
		return produceLedger(ctx, cfg)
	}
	return consumeOrders(ctx, cfg, &slow)
}

// clientID is how a service names itself to Kafka.
func clientID(service string) string { return service + "-service" }

// orderEvent is what order produces: an order as a shop would publish it.
type orderEvent struct {
	OrderID    string      `json:"order_id"`
	Customer   string      `json:"customer"`
	Items      []orderItem `json:"items"`
	TotalCents int         `json:"total_cents"`
	Currency   string      `json:"currency"`
	CreatedAt  time.Time   `json:"created_at"`
}

type orderItem struct {
	SKU        string `json:"sku"`
	Quantity   int    `json:"quantity"`
	PriceCents int    `json:"price_cents"`
}

// auditEvent is what order writes to AuditTopic for each order.
type auditEvent struct {
	Event     string      `json:"event"`
	OrderID   string      `json:"order_id"`
	Customer  string      `json:"customer"`
	Items     []orderItem `json:"items"`
	Total     int         `json:"total_cents"`
	Currency  string      `json:"currency"`
	Service   string      `json:"service"`
	TraceID   string      `json:"trace_id"`
	Timestamp time.Time   `json:"at"`
}

func newAudit(o orderEvent) auditEvent {
	return auditEvent{
		Event: "order.created", OrderID: o.OrderID, Customer: o.Customer, Items: o.Items,
		Total: o.TotalCents, Currency: o.Currency, Service: clientID(Order),
		TraceID:   fmt.Sprintf("%016x%016x", rand.Uint64(), rand.Uint64()),
		Timestamp: o.CreatedAt,
	}
}

func newOrder(n int64, now time.Time) orderEvent {
	o := orderEvent{
		OrderID:   fmt.Sprintf("ord-%08d", n),
		Customer:  fmt.Sprintf("cust-%05d", rand.IntN(20000)),
		Currency:  "EUR",
		CreatedAt: now.UTC(),
	}
	for range 1 + rand.IntN(4) {
		it := orderItem{SKU: fmt.Sprintf("SKU-%04d", rand.IntN(5000)), Quantity: 1 + rand.IntN(3), PriceCents: 199 + rand.IntN(9800)}
		o.TotalCents += it.Quantity * it.PriceCents
		o.Items = append(o.Items, it)
	}
	return o
}

// produceOrders sends orders at cfg.Rate, with a burst now and then, each
// keyed by its order id so that the orders spread over the partitions, and
// writes each to the audit trail too.
func produceOrders(ctx context.Context, cfg ServiceConfig) error {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(cfg.Bootstrap...),
		kgo.ClientID(clientID(Order)),
		kgo.DefaultProduceTopic(Topic),
		kgo.ProducerLinger(5*time.Millisecond),
		// Small batches, as a shop's orders come: a burst becomes many
		// batches, which a slow consumer's small fetches take a few at a
		// time, rather than one a consumer chews on for a minute.
		kgo.ProducerBatchMaxBytes(orderBatchBytes),
		// An order not written within this is given up and counted,
		// as a shop's service would, rather than held while brokers
		// are down until the buffer fills and the service stalls.
		kgo.RecordDeliveryTimeout(orderDeliveryTimeout),
	)
	if err != nil {
		return err
	}
	defer cl.Close()

	var (
		n           int64
		failed      atomic.Int64
		auditFailed atomic.Int64
		lastLog     time.Time
	)
	produce := func(now time.Time) {
		n++
		o := newOrder(n, now)
		b, _ := json.Marshal(o)
		cl.Produce(ctx, &kgo.Record{Key: []byte(o.OrderID), Value: b}, func(_ *kgo.Record, err error) {
			if err != nil && ctx.Err() == nil {
				failed.Add(1)
			}
		})
		a, _ := json.Marshal(newAudit(o))
		cl.Produce(ctx, &kgo.Record{Topic: AuditTopic, Key: []byte(o.OrderID), Value: a}, func(_ *kgo.Record, err error) {
			if err != nil && ctx.Err() == nil {
				auditFailed.Add(1)
			}
		})
	}
	nextBurst := func() time.Time {
		if cfg.Burst <= 0 {
			return time.Time{}
		}
		// Between half and one and a half times the mean.
		return time.Now().Add(cfg.Burst/2 + rand.N(cfg.Burst))
	}
	burstAt := nextBurst()
	interval := time.Duration(float64(time.Second) / cfg.Rate)
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// Let what was produced reach the brokers, briefly.
			fctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			cl.Flush(fctx)
			return nil
		case now := <-t.C:
			produce(now)
			if !burstAt.IsZero() && now.After(burstAt) {
				k := int(cfg.Rate * float64(10+rand.IntN(16)))
				cfg.Log.Info("burst of orders", "orders", k)
				for range k {
					produce(now)
				}
				burstAt = nextBurst()
			}
			// At most one line per 10 s, counting every failure since.
			if now.Sub(lastLog) > 10*time.Second {
				if f, a := failed.Swap(0), auditFailed.Swap(0); f > 0 || a > 0 {
					cfg.Log.Warn("orders not produced", "failed", f, "audit_failed", a)
					lastLog = now
				}
			}
			// ±30% around the rate, as real orders come.
			t.Reset(time.Duration(float64(interval) * (0.7 + 0.6*rand.Float64())))
		}
	}
}

// orderBatchBytes bounds order's record batches: about 6 orders.
const orderBatchBytes = 2 << 10

// orderDeliveryTimeout is how long order tries to write an order.
const orderDeliveryTimeout = 30 * time.Second

// Consumer settings. Small fetches keep a slow consumer's backlog in the
// topic, where offset lag shows it, instead of in the client's buffer.
const (
	maxPollRecords         = 10
	fetchMaxPartitionBytes = 1 << 10
	fetchMaxBytes          = 8 << 10
)

// consumeOrders consumes the orders in the service's own group, spending
// fastDelay on each, or cfg.SlowDelay while slowed.
func consumeOrders(ctx context.Context, cfg ServiceConfig, slow *atomic.Bool) error {
	cl, err := kgo.NewClient(append(groupProtocolOpts(cfg.Name), // shipping KIP-848, invoicing classic
		kgo.SeedBrokers(cfg.Bootstrap...),
		kgo.ClientID(clientID(cfg.Name)),
		kgo.ConsumerGroup(cfg.Name),
		kgo.ConsumeTopics(Topic),
		kgo.FetchMaxPartitionBytes(fetchMaxPartitionBytes),
		kgo.FetchMaxBytes(fetchMaxBytes),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			cfg.Log.Info("partitions assigned", "partitions", fmt.Sprint(a[Topic]))
		}),
	)...)
	if err != nil {
		return err
	}
	// Close leaves the group, so that the others take over at once.
	defer cl.Close()
	var lastLog time.Time
	for {
		fs := cl.PollRecords(ctx, maxPollRecords)
		if fs.IsClientClosed() || ctx.Err() != nil {
			return nil
		}
		fs.EachError(func(topic string, p int32, err error) {
			if time.Since(lastLog) > 10*time.Second {
				cfg.Log.Warn("fetch failed", "topic", topic, "partition", p, "err", err)
				lastLog = time.Now()
			}
		})
		for range fs.NumRecords() {
			d := fastDelay
			if slow.Load() {
				d = cfg.SlowDelay
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(d):
			}
		}
	}
}
