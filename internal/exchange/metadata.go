package exchange

import (
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *builder) metadata(req *kmsg.MetadataRequest, resp *kmsg.MetadataResponse) {
	for _, t := range req.Topics {
		var name string
		if t.Topic != nil {
			name = *t.Topic
		}
		b.topic(name, t.TopicID)
	}
	if resp == nil {
		return
	}
	d := b.detail()
	if resp.ClusterID != nil {
		d.ClusterID = *resp.ClusterID
	}
	if resp.Version >= 1 {
		d.ControllerID = ptr(resp.ControllerID)
	}
	for _, br := range resp.Brokers {
		bb := Broker{NodeID: br.NodeID, Addr: net.JoinHostPort(br.Host, strconv.Itoa(int(br.Port)))}
		if br.Rack != nil {
			bb.Rack = *br.Rack
		}
		d.Brokers = append(d.Brokers, bb)
	}
	for _, t := range resp.Topics {
		var name string
		if t.Topic != nil {
			name = *t.Topic
		}
		ti := b.topic(name, t.TopicID)
		if t.ErrorCode != 0 {
			if d.TopicErrors == nil {
				d.TopicErrors = make(map[string]string)
			}
			d.TopicErrors[b.ts.list[ti].Name] = ErrorName(t.ErrorCode)
		}
		for _, p := range t.Partitions {
			b.partition(ti, p.Partition).Error = ErrorName(p.ErrorCode)
		}
	}
}

func coordinatorType(t int8) string {
	switch t {
	case 0:
		return "group"
	case 1:
		return "transaction"
	case 2:
		return "share" // KIP-932
	}
	return "unknown(" + strconv.Itoa(int(t)) + ")"
}

func (b *builder) findCoordinator(req *kmsg.FindCoordinatorRequest, resp *kmsg.FindCoordinatorResponse) {
	d := b.detail()
	d.CoordinatorType = coordinatorType(req.CoordinatorType)
	if req.Version < 4 {
		d.CoordinatorKeys = []string{req.CoordinatorKey}
	} else {
		d.CoordinatorKeys = req.CoordinatorKeys
	}
	if req.CoordinatorType == 0 && len(d.CoordinatorKeys) == 1 {
		b.x.Group = d.CoordinatorKeys[0]
	}
	if resp == nil {
		return
	}
	if resp.Version < 4 {
		if resp.ErrorCode == 0 {
			d.Coordinator = net.JoinHostPort(resp.Host, strconv.Itoa(int(resp.Port)))
		}
		return
	}
	// v4 batches keys (KIP-699): one coordinator or error per key.
	for _, c := range resp.Coordinators {
		co := Coordinator{Key: c.Key, NodeID: c.NodeID, Error: ErrorName(c.ErrorCode)}
		if c.ErrorCode == 0 {
			co.Addr = net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port)))
		}
		d.Coordinators = append(d.Coordinators, co)
		b.firstError(c.ErrorCode)
	}
	if len(d.Coordinators) == 1 {
		d.Coordinator = d.Coordinators[0].Addr
	}
}
