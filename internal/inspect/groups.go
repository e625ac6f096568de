package inspect

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Group protocols.
const (
	ProtocolClassic  = "classic"
	ProtocolConsumer = "consumer" // KIP-848
)

// groups learns every consumer group: classic and KIP-848, Empty ones
// too (their committed offsets still count), with their members and
// committed offsets.
func (p *poll) groups(ctx context.Context) {
	listed, answered := p.listGroups(ctx)
	var classic, consumer, all []string
	for name, g := range listed {
		all = append(all, name)
		if g.Protocol == ProtocolConsumer {
			consumer = append(consumer, name)
		} else if g.ProtocolType == "" || g.ProtocolType == "consumer" {
			classic = append(classic, name)
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { p.describeClassic(ctx, listed, classic) })
	wg.Go(func() { p.describeConsumer(ctx, listed, consumer) })
	wg.Go(func() { p.committed(ctx, listed, all) })
	wg.Wait()
	for _, g := range listed {
		// Only consumer groups: Connect's and others' offsets are not
		// a consumer's position.
		if g.ProtocolType != "" && g.ProtocolType != "consumer" && g.Protocol != ProtocolConsumer {
			continue
		}
		slices.SortFunc(g.Members, func(a, b Member) int { return strings.Compare(a.MemberID, b.MemberID) })
		slices.SortFunc(g.Offsets, compareOffset)
		p.s.Groups = append(p.s.Groups, p.remember(g))
	}
	p.s.Groups = append(p.s.Groups, p.unanswered(listed, answered)...)
	slices.SortFunc(p.s.Groups, func(a, b Group) int { return strings.Compare(a.Group, b.Group) })
}

// learned is a group as a poll learned it whole.
type learned struct {
	Group
	at time.Time
}

// groupFault is what a group's coordinator did not answer in a poll.
type groupFault struct {
	describe, offsets bool
	msg               string
}

// groupFail records that a group's coordinator did not answer request.
func (p *poll) groupFail(names []string, id int32, request string, offsets bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, n := range names {
		f := p.groupErr[n]
		if offsets {
			f.offsets = true
		} else {
			f.describe = true
		}
		if f.msg == "" {
			f.msg = fmt.Sprintf("coordinator %d did not answer %s: %s", id, request, errText(err))
		}
		p.groupErr[n] = f
	}
}

// groupError records that the coordinator id answered request for group
// with err.
func (p *poll) groupError(id int32, request, group string, offsets bool, err error) {
	p.fail(id, request, fmt.Errorf("group %s: %w", group, err))
	p.groupFail([]string{group}, id, request, offsets, err)
}

// remember keeps g as learned when the poll learned it whole; otherwise
// it fills what the poll did not learn from the last poll that did, and
// says so.
func (p *poll) remember(g *Group) Group {
	if p.in.groups == nil {
		p.in.groups = map[string]learned{}
	}
	f, bad := p.groupErr[g.Group]
	if !f.offsets {
		p.stamp(g)
	}
	if !bad {
		p.in.groups[g.Group] = learned{*g, p.s.Time}
		return *g
	}
	out := *g
	out.Error = f.msg
	if prev, ok := p.in.groups[g.Group]; ok {
		if f.describe {
			out.Members, out.Assignor = prev.Members, prev.Assignor
		}
		if f.offsets {
			out.Offsets = prev.Offsets
		}
		at := prev.at
		out.AsOf = &at
	}
	return out
}

// stamp sets when each of g's committed offsets was first seen: by this
// poll, or by the last that learned g and saw the same offset. Both
// lists are in topic and partition order: one walk.
func (p *poll) stamp(g *Group) {
	prev := p.in.groups[g.Group].Offsets
	j := 0
	for i := range g.Offsets {
		o := &g.Offsets[i]
		for j < len(prev) && compareOffset(prev[j], *o) < 0 {
			j++
		}
		if j < len(prev) && compareOffset(prev[j], *o) == 0 && prev[j].Committed == o.Committed && !prev[j].SeenSince.IsZero() {
			o.SeenSince = prev[j].SeenSince
		} else {
			o.SeenSince = p.s.Time
		}
	}
}

func compareOffset(a, b Offset) int {
	if c := strings.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return int(a.Partition - b.Partition)
}

// maxUnanswered is how long a group whose coordinator does not answer is
// kept as last learned.
const maxUnanswered = 24 * time.Hour

// unanswered are the groups a previous poll learned whose coordinator
// did not answer ListGroups in this one: they are still there, as last
// learned, with the error, for up to maxUnanswered (a coordinator that
// died: Kafka moves its groups to another broker, which lists them). A
// group whose coordinator answered without it is gone (deleted).
func (p *poll) unanswered(listed map[string]*Group, answered map[int32]bool) []Group {
	var out []Group
	for name, prev := range p.in.groups {
		if listed[name] != nil {
			continue
		}
		if answered[prev.Coordinator] || p.s.Time.Sub(prev.at) > maxUnanswered {
			delete(p.in.groups, name)
			continue
		}
		g := prev.Group
		g.Error = fmt.Sprintf("coordinator %d did not answer the poll", prev.Coordinator)
		at := prev.at
		g.AsOf = &at
		out = append(out, g)
	}
	return out
}

// listGroups asks every broker that answers for the groups it
// coordinates; answered are the brokers that did.
func (p *poll) listGroups(ctx context.Context) (listed map[string]*Group, answered map[int32]bool) {
	listed, answered = map[string]*Group{}, map[int32]bool{}
	var mu sync.Mutex
	p.eachBroker(ctx, p.answering(), func(ctx context.Context, id int32) {
		kresp, ok := p.request(ctx, id, "ListGroups", kmsg.NewPtrListGroupsRequest())
		if !ok {
			return
		}
		resp := kresp.(*kmsg.ListGroupsResponse)
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			p.fail(id, "ListGroups", err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		answered[id] = true
		for _, g := range resp.Groups {
			proto := ProtocolClassic
			if strings.EqualFold(g.GroupType, ProtocolConsumer) {
				proto = ProtocolConsumer
			}
			listed[g.Group] = &Group{Group: g.Group, State: g.GroupState, Protocol: proto, ProtocolType: g.ProtocolType, Coordinator: id}
		}
	})
	return listed, answered
}

// answering are the brokers that answered ApiVersions.
func (p *poll) answering() []int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ids []int32
	for _, id := range p.brokerIDs() {
		if p.versions[id] != nil {
			ids = append(ids, id)
		}
	}
	return ids
}

// supports reports whether broker id answers API key at version v or
// later.
func (p *poll) supports(id int32, key kmsg.Key, v int16) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	max, ok := p.versions[id][int16(key)]
	return ok && max >= v
}

// byCoordinator splits names by the broker that coordinates each group.
func byCoordinator(listed map[string]*Group, names []string) map[int32][]string {
	out := map[int32][]string{}
	for _, n := range names {
		c := listed[n].Coordinator
		out[c] = append(out[c], n)
	}
	return out
}

func keys[K comparable, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// groupRequest sends req about groups names to their coordinator id;
// when it does not answer, the groups say so.
func (p *poll) groupRequest(ctx context.Context, id int32, name string, req kmsg.Request, names []string, offsets bool) (kmsg.Response, error) {
	resp, err := p.send(ctx, id, name, req)
	if err != nil {
		p.groupFail(names, id, name, offsets, err)
	}
	return resp, err
}

func (p *poll) describeClassic(ctx context.Context, listed map[string]*Group, names []string) {
	by := byCoordinator(listed, names)
	p.eachBroker(ctx, keys(by), func(ctx context.Context, id int32) {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = by[id]
		kresp, err := p.groupRequest(ctx, id, "DescribeGroups", req, by[id], false)
		if err != nil {
			return
		}
		for _, rg := range kresp.(*kmsg.DescribeGroupsResponse).Groups {
			g := listed[rg.Group]
			if g == nil {
				continue
			}
			if err := kerr.ErrorForCode(rg.ErrorCode); err != nil {
				p.groupError(id, "DescribeGroups", rg.Group, false, err)
				continue
			}
			g.State, g.ProtocolType, g.Assignor = rg.State, rg.ProtocolType, rg.Protocol
			for _, m := range rg.Members {
				mem := Member{MemberID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost}
				if m.InstanceID != nil {
					mem.InstanceID = *m.InstanceID
				}
				if rg.ProtocolType == "consumer" && len(m.MemberAssignment) > 0 {
					var a kmsg.ConsumerMemberAssignment
					if a.ReadFrom(m.MemberAssignment) == nil {
						for _, t := range a.Topics {
							mem.Assigned = append(mem.Assigned, TopicPartitions{Topic: t.Topic, Partitions: t.Partitions})
						}
					}
				}
				g.Members = append(g.Members, mem)
			}
		}
	})
}

func (p *poll) describeConsumer(ctx context.Context, listed map[string]*Group, names []string) {
	by := byCoordinator(listed, names)
	p.eachBroker(ctx, keys(by), func(ctx context.Context, id int32) {
		if !p.supports(id, kmsg.ConsumerGroupDescribe, 0) {
			return
		}
		req := kmsg.NewPtrConsumerGroupDescribeRequest()
		req.Groups = by[id]
		kresp, err := p.groupRequest(ctx, id, "ConsumerGroupDescribe", req, by[id], false)
		if err != nil {
			return
		}
		for _, rg := range kresp.(*kmsg.ConsumerGroupDescribeResponse).Groups {
			g := listed[rg.Group]
			if g == nil {
				continue
			}
			if err := kerr.ErrorForCode(rg.ErrorCode); err != nil {
				p.groupError(id, "ConsumerGroupDescribe", rg.Group, false, err)
				continue
			}
			g.State, g.Assignor = rg.State, rg.AssignorName
			for _, m := range rg.Members {
				mem := Member{MemberID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost}
				if m.InstanceID != nil {
					mem.InstanceID = *m.InstanceID
				}
				for _, t := range m.Assignment.TopicPartitions {
					name := t.Topic
					if name == "" {
						name = p.topicIDs[t.TopicID]
					}
					mem.Assigned = append(mem.Assigned, TopicPartitions{Topic: name, Partitions: t.Partitions})
				}
				g.Members = append(g.Members, mem)
			}
		}
	})
}

// committed learns each group's committed offsets (OffsetFetch, every
// topic), from its coordinator: many groups in one request where the
// broker takes several (v8+), one each otherwise.
func (p *poll) committed(ctx context.Context, listed map[string]*Group, names []string) {
	by := byCoordinator(listed, names)
	p.eachBroker(ctx, keys(by), func(ctx context.Context, id int32) {
		var reqs []*kmsg.OffsetFetchRequest
		if p.supports(id, kmsg.OffsetFetch, 8) {
			req := kmsg.NewPtrOffsetFetchRequest()
			for _, name := range by[id] {
				rg := kmsg.NewOffsetFetchRequestGroup()
				rg.Group = name
				rg.MemberEpoch = -1
				req.Groups = append(req.Groups, rg)
			}
			reqs = append(reqs, req)
		} else {
			for _, name := range by[id] {
				req := kmsg.NewPtrOffsetFetchRequest()
				req.Group = name
				req.Topics = nil // every topic
				reqs = append(reqs, req)
			}
		}
		for i, req := range reqs {
			names := by[id]
			if req.Group != "" {
				names = []string{req.Group}
			}
			kresp, err := p.groupRequest(ctx, id, "OffsetFetch", req, names, true)
			if err != nil {
				for _, r := range reqs[i+1:] {
					p.groupFail([]string{r.Group}, id, "OffsetFetch", true, err)
				}
				return
			}
			resp := kresp.(*kmsg.OffsetFetchResponse)
			if len(resp.Groups) == 0 && req.Group != "" {
				// Before v8 the answer is the one group's.
				rg := kmsg.NewOffsetFetchResponseGroup()
				rg.Group, rg.ErrorCode = req.Group, resp.ErrorCode
				for _, t := range resp.Topics {
					rt := kmsg.NewOffsetFetchResponseGroupTopic()
					rt.Topic = t.Topic
					for _, rp := range t.Partitions {
						gp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
						gp.Partition, gp.Offset, gp.LeaderEpoch, gp.ErrorCode = rp.Partition, rp.Offset, rp.LeaderEpoch, rp.ErrorCode
						rt.Partitions = append(rt.Partitions, gp)
					}
					rg.Topics = append(rg.Topics, rt)
				}
				resp.Groups = append(resp.Groups, rg)
			}
			for _, rg := range resp.Groups {
				g := listed[rg.Group]
				if g == nil {
					continue
				}
				if err := kerr.ErrorForCode(rg.ErrorCode); err != nil {
					p.groupError(id, "OffsetFetch", rg.Group, true, err)
					continue
				}
				for _, t := range rg.Topics {
					name := t.Topic
					if name == "" {
						name = p.topicIDs[t.TopicID]
					}
					for _, rp := range t.Partitions {
						if rp.ErrorCode != 0 || rp.Offset < 0 {
							continue // no commit for this partition
						}
						g.Offsets = append(g.Offsets, Offset{Topic: name, Partition: rp.Partition, Committed: rp.Offset, LeaderEpoch: rp.LeaderEpoch})
					}
				}
			}
		}
	})
}
