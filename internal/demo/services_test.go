package demo

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"kscope/internal/broker"
	"kscope/internal/broker/brokertest"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The demo's topics are made as an administrator would: order with 5
// partitions, each on 3 brokers, and min.insync.replicas 2; order-audit
// kept by size only.
func TestCreateTopics(t *testing.T) {
	c := brokertest.Start(t, clusterConfig(0))
	ctx := context.Background()
	for range 2 { // the second time, they exist: no error
		if err := CreateTopics(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	cl := brokertest.Client(t, c)
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(Topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != TopicPartitions {
		t.Fatalf("metadata: %+v", resp.Topics)
	}
	for _, p := range resp.Topics[0].Partitions {
		if len(p.Replicas) != TopicReplicas || len(p.ISR) != TopicReplicas {
			t.Errorf("partition %d: replicas %v, isr %v", p.Partition, p.Replicas, p.ISR)
		}
	}
	for _, b := range resp.Brokers {
		if b.Rack == nil || *b.Rack != Racks[b.NodeID] {
			t.Errorf("broker %d: rack %v, want %s", b.NodeID, b.Rack, Racks[b.NodeID])
		}
	}

	for _, tt := range []struct {
		topic string
		want  map[string]string
	}{
		{Topic, map[string]string{"min.insync.replicas": "2"}},
		{AuditTopic, map[string]string{"retention.bytes": "262144", "retention.ms": "-1"}},
	} {
		req := kmsg.NewPtrDescribeConfigsRequest()
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, tt.topic
		for k := range tt.want {
			rr.ConfigNames = append(rr.ConfigNames, k)
		}
		req.Resources = append(req.Resources, rr)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil || len(resp.Resources) != 1 {
			t.Fatalf("describe %s: %v", tt.topic, err)
		}
		for _, cfg := range resp.Resources[0].Configs {
			if cfg.Value == nil || *cfg.Value != tt.want[cfg.Name] || cfg.Source != kmsg.ConfigSourceDynamicTopicConfig {
				t.Errorf("%s: %s = %v (source %v), want %s set on the topic", tt.topic, cfg.Name, cfg.Value, cfg.Source, tt.want[cfg.Name])
			}
		}
		if len(resp.Resources[0].Configs) != len(tt.want) {
			t.Errorf("%s: configs %+v", tt.topic, resp.Resources[0].Configs)
		}
	}
	if err := c.CreateTopic(ctx, "bad", 1, 4); err == nil {
		t.Errorf("4 replicas on 3 brokers: no error")
	}
}

// order produces well-formed orders keyed by their id, over every
// partition, and stops when its control input ends.
func TestOrderService(t *testing.T) {
	c := brokertest.Start(t, broker.Config{Brokers: 3})
	ctx := context.Background()
	if err := c.CreateTopic(ctx, Topic, TopicPartitions, TopicReplicas); err != nil {
		t.Fatal(err)
	}
	control, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- RunService(ctx, ServiceConfig{Name: Order, Bootstrap: c.Addrs(), Rate: 200, Control: control})
	}()
	time.Sleep(1500 * time.Millisecond)
	w.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("order did not stop when its control input ended")
	}

	cl := brokertest.Client(t, c, kgo.ConsumeTopics(Topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	seen := map[int32]int{}
	ids := map[string]bool{}
	for (len(ids) < 100 || len(seen) < TopicPartitions) && pctx.Err() == nil {
		cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) {
			var o orderEvent
			if err := json.Unmarshal(r.Value, &o); err != nil {
				t.Fatalf("record is not an order: %v: %s", err, r.Value)
			}
			if string(r.Key) != o.OrderID || !strings.HasPrefix(o.OrderID, "ord-") || len(o.Items) == 0 || o.TotalCents <= 0 {
				t.Errorf("order %+v with key %q", o, r.Key)
			}
			ids[o.OrderID] = true
			seen[r.Partition]++
		})
	}
	if len(ids) < 100 || len(seen) != TopicPartitions {
		t.Errorf("%d orders over partitions %v: want at least 100 (200/s for 1.5s) over all 5", len(ids), seen)
	}
}

// A consumer service joins its own group and stops when its control
// input ends, leaving the group.
func TestConsumerService(t *testing.T) {
	c := brokertest.Start(t, broker.Config{Brokers: 1})
	ctx := context.Background()
	if err := c.CreateTopic(ctx, Topic, TopicPartitions, 1); err != nil {
		t.Fatal(err)
	}
	control, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- RunService(ctx, ServiceConfig{Name: Invoicing, Bootstrap: c.Addrs(), Slow: true, Control: control})
	}()
	cl := brokertest.Client(t, c)
	describe := func() kmsg.DescribeGroupsResponseGroup {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = []string{Invoicing}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil || len(resp.Groups) != 1 {
			t.Fatalf("describe group: %v", err)
		}
		return resp.Groups[0]
	}
	deadline := time.Now().Add(15 * time.Second)
	for g := describe(); g.State != "Stable" || len(g.Members) != 1; g = describe() {
		if time.Now().After(deadline) {
			t.Fatalf("invoicing never became a stable group of 1: %s, %d members", g.State, len(g.Members))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := io.WriteString(w, "slow off\n"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("invoicing did not stop when its control input ended")
	}
	if g := describe(); len(g.Members) != 0 {
		t.Errorf("invoicing stopped but the group still has %d members (%s)", len(g.Members), g.State)
	}
}

func TestUnknownService(t *testing.T) {
	err := RunService(context.Background(), ServiceConfig{Name: "payments", Bootstrap: []string{"127.0.0.1:1"}})
	if err == nil || !strings.Contains(err.Error(), "order, shipping, invoicing") {
		t.Errorf("err = %v", err)
	}
}
