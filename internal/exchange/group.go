package exchange

import "github.com/twmb/franz-go/pkg/kmsg"

// The classic group protocol carries member metadata and assignments as
// opaque bytes whose encoding belongs to the protocol type. For "consumer"
// it is Kafka's ConsumerProtocol (subscription and assignment, versions
// 0-3), which kmsg decodes. User data is never looked at.

// maxConsumerProtocolVersion is the newest ConsumerProtocol version
// (KIP-792 added v3); a strict decode accepts no other.
const maxConsumerProtocolVersion = 3

// subscription decodes consumer member metadata to its topics. strict
// rejects anything that is not plainly a consumer subscription, for bytes
// whose protocol type is not known.
func subscription(b []byte, strict bool) ([]string, bool) {
	if len(b) == 0 {
		return nil, false
	}
	var m kmsg.ConsumerMemberMetadata
	if m.ReadFrom(b) != nil {
		return nil, false
	}
	if strict && (m.Version < 0 || m.Version > maxConsumerProtocolVersion) {
		return nil, false
	}
	for _, t := range m.Topics {
		if strict && !validTopic(t) {
			return nil, false
		}
	}
	return m.Topics, true
}

// assignment decodes a consumer member assignment; strict as above.
func assignment(b []byte, strict bool) ([]TopicPartitions, bool) {
	if len(b) == 0 {
		return nil, false
	}
	var a kmsg.ConsumerMemberAssignment
	if a.ReadFrom(b) != nil {
		return nil, false
	}
	if strict && (a.Version < 0 || a.Version > maxConsumerProtocolVersion) {
		return nil, false
	}
	out := make([]TopicPartitions, 0, len(a.Topics))
	for _, t := range a.Topics {
		if strict && !validTopic(t.Topic) {
			return nil, false
		}
		out = append(out, TopicPartitions{Topic: t.Topic, Partitions: nonNil(t.Partitions)})
	}
	return out, true
}

// validTopic is Kafka's rule for topic names (Topic.validate): 1 to 249
// characters of ASCII letters, digits, '.', '_' and '-'.
func validTopic(s string) bool {
	if len(s) == 0 || len(s) > 249 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// consumerProtocol is the protocol type of Kafka's consumer group protocol,
// whose member metadata and assignments have a known encoding
// (ConsumerProtocol; kmsg.ConsumerMemberMetadata and
// ConsumerMemberAssignment).
const consumerProtocol = "consumer"

func (b *builder) joinGroup(req *kmsg.JoinGroupRequest, resp *kmsg.JoinGroupResponse) {
	b.x.Group, b.x.MemberID = req.Group, req.MemberID
	d := b.detail()
	d.ProtocolType = req.ProtocolType
	d.SessionTimeoutMS = ptr(req.SessionTimeoutMillis)
	if req.Version >= 1 {
		d.RebalanceTimeoutMS = ptr(req.RebalanceTimeoutMillis)
	}
	for _, p := range req.Protocols {
		d.Protocols = append(d.Protocols, p.Name)
	}
	consumer := req.ProtocolType == consumerProtocol
	if consumer && len(req.Protocols) > 0 {
		// Every protocol of a consumer carries the same
		// subscription; the first is the preferred assignor.
		d.Subscription, _ = subscription(req.Protocols[0].Metadata, false)
	}
	if resp == nil {
		return
	}
	b.x.Generation = ptr(resp.Generation)
	if resp.MemberID != "" {
		// The member id the coordinator assigned (KIP-394: a first
		// join gets MEMBER_ID_REQUIRED with its id).
		b.x.MemberID = resp.MemberID
	}
	d.Leader = resp.LeaderID
	if resp.Protocol != nil {
		d.Protocol = *resp.Protocol
	}
	if resp.ProtocolType != nil && *resp.ProtocolType != "" {
		consumer = *resp.ProtocolType == consumerProtocol
	}
	// Only the leader gets the members, to compute the assignment.
	for _, m := range resp.Members {
		mm := Member{MemberID: m.MemberID}
		if m.InstanceID != nil {
			mm.InstanceID = *m.InstanceID
		}
		if consumer {
			mm.Subscription, _ = subscription(m.ProtocolMetadata, false)
		}
		d.Members = append(d.Members, mm)
	}
}

func (b *builder) leaveGroup(req *kmsg.LeaveGroupRequest, resp *kmsg.LeaveGroupResponse) {
	b.x.Group = req.Group
	if req.Version < 3 {
		b.x.MemberID = req.MemberID
		return
	}
	// v3+ lets one request remove several static members (KIP-345).
	d := b.detail()
	for _, m := range req.Members {
		mm := Member{MemberID: m.MemberID}
		if m.InstanceID != nil {
			mm.InstanceID = *m.InstanceID
		}
		if m.Reason != nil {
			mm.Reason = *m.Reason
		}
		d.Members = append(d.Members, mm)
	}
	if len(req.Members) == 1 {
		b.x.MemberID = req.Members[0].MemberID
	}
	if resp == nil {
		return
	}
	for _, rm := range resp.Members {
		found := false
		for i := range d.Members {
			m := &d.Members[i]
			if m.MemberID == rm.MemberID && (rm.InstanceID == nil || m.InstanceID == *rm.InstanceID) {
				m.Error, found = ErrorName(rm.ErrorCode), true
				break
			}
		}
		if !found {
			mm := Member{MemberID: rm.MemberID, Error: ErrorName(rm.ErrorCode)}
			if rm.InstanceID != nil {
				mm.InstanceID = *rm.InstanceID
			}
			d.Members = append(d.Members, mm)
		}
	}
}

func (b *builder) syncGroup(req *kmsg.SyncGroupRequest, resp *kmsg.SyncGroupResponse) {
	b.x.Group, b.x.MemberID = req.Group, req.MemberID
	b.x.Generation = ptr(req.Generation)
	d := b.detail()
	// The protocol type is in SyncGroup only from v5 (KIP-559); before,
	// an assignment is decoded when it reads as a consumer assignment
	// and nothing else.
	var ptype *string
	if req.ProtocolType != nil {
		ptype = req.ProtocolType
		d.ProtocolType = *req.ProtocolType
	}
	if req.Protocol != nil {
		d.Protocol = *req.Protocol
	}
	if resp != nil {
		if resp.ProtocolType != nil {
			ptype = resp.ProtocolType
			d.ProtocolType = *resp.ProtocolType
		}
		if resp.Protocol != nil {
			d.Protocol = *resp.Protocol
		}
	}
	decode := ptype == nil || *ptype == consumerProtocol
	strict := ptype == nil
	// The leader sends everyone's assignment.
	for _, a := range req.GroupAssignment {
		m := Member{MemberID: a.MemberID}
		if decode {
			m.Assignment, _ = assignment(a.MemberAssignment, strict)
		}
		d.Members = append(d.Members, m)
	}
	if resp != nil && decode {
		d.Assignment, _ = assignment(resp.MemberAssignment, strict)
	}
}

func (b *builder) describeGroups(req *kmsg.DescribeGroupsRequest, resp *kmsg.DescribeGroupsResponse) {
	d := b.detail()
	d.Groups = req.Groups
	if len(req.Groups) == 1 {
		b.x.Group = req.Groups[0]
	}
	if resp == nil {
		return
	}
	for _, g := range resp.Groups {
		gd := GroupDescription{
			Group: g.Group, Error: ErrorName(g.ErrorCode), State: g.State,
			ProtocolType: g.ProtocolType, Protocol: g.Protocol,
		}
		consumer := g.ProtocolType == consumerProtocol
		for _, m := range g.Members {
			mm := Member{MemberID: m.MemberID, ClientID: m.ClientID, ClientHost: m.ClientHost}
			if m.InstanceID != nil {
				mm.InstanceID = *m.InstanceID
			}
			if consumer {
				mm.Subscription, _ = subscription(m.ProtocolMetadata, false)
				mm.Assignment, _ = assignment(m.MemberAssignment, false)
			}
			gd.Members = append(gd.Members, mm)
		}
		d.Described = append(d.Described, gd)
		b.firstError(g.ErrorCode)
	}
}

// consumerGroupHeartbeat is the KIP-848 group protocol: membership and
// assignment in one request, partitions named by topic id.
func (b *builder) consumerGroupHeartbeat(req *kmsg.ConsumerGroupHeartbeatRequest, resp *kmsg.ConsumerGroupHeartbeatResponse) {
	b.x.Group, b.x.MemberID = req.Group, req.MemberID
	d := b.detail()
	d.MemberEpoch = ptr(req.MemberEpoch)
	d.RequestMemberEpoch = ptr(req.MemberEpoch)
	// The member epoch is what Kafka's other group APIs call the
	// generation (OffsetCommit's GenerationIdOrMemberEpoch).
	b.x.Generation = ptr(req.MemberEpoch)
	// -1 and null mean "unchanged since the last heartbeat".
	if req.RebalanceTimeoutMillis != -1 {
		d.RebalanceTimeoutMS = ptr(req.RebalanceTimeoutMillis)
	}
	d.Subscription = req.SubscribedTopicNames
	if req.SubscribedTopicRegex != nil {
		d.SubscriptionRegex = *req.SubscribedTopicRegex
	}
	if req.Topics != nil {
		// Null: unchanged since the last heartbeat; empty: owns none.
		d.Owned = make([]TopicPartitions, 0, len(req.Topics))
	}
	for _, t := range req.Topics {
		d.Owned = append(d.Owned, TopicPartitions{Topic: b.topicName(t.TopicID), Partitions: nonNil(t.Partitions)})
	}
	if resp == nil {
		return
	}
	if resp.MemberID != nil && *resp.MemberID != "" {
		b.x.MemberID = *resp.MemberID
	}
	d.MemberEpoch = ptr(resp.MemberEpoch)
	b.x.Generation = ptr(resp.MemberEpoch)
	if resp.Assignment != nil {
		d.Assignment = []TopicPartitions{}
		for _, t := range resp.Assignment.Topics {
			d.Assignment = append(d.Assignment, TopicPartitions{Topic: b.topicName(t.TopicID), Partitions: nonNil(t.Partitions)})
		}
	}
}

func nonNil(p []int32) []int32 {
	if p == nil {
		return []int32{}
	}
	return p
}
