package retention

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"kscope/internal/inspect"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The topic configs kscope changes (Kafka's LogConfig): retention.bytes
// bounds each partition, not the topic.
const (
	KeyMs    = "retention.ms"
	KeyBytes = "retention.bytes"
)

// Keys are the keys a change may touch, in the order they are shown.
var Keys = []string{KeyMs, KeyBytes}

// setting is one key's effective value on a topic.
type setting struct {
	Value int64
	// Source is "topic", "broker" or "default".
	Source string
	// Below is the value without the topic's own override, and
	// BelowSource its source: what deleting the override leaves
	// (BelowKnown false when the broker sent no synonyms).
	Below       int64
	BelowSource string
	BelowKnown  bool
}

// topicState is what the cluster says of a topic's retention.
type topicState struct {
	ClusterID string
	Settings  map[string]setting
}

// state reads the cluster id (Metadata) and the topic's effective
// retention.ms and retention.bytes with their sources and synonyms
// (DescribeConfigs v1+, IncludeSynonyms: KIP-226).
func (a *Admin) state(ctx context.Context, topic string) (topicState, error) {
	var st topicState
	md := kmsg.NewPtrMetadataRequest()
	// No topic at all (an empty list, not null, which is every topic),
	// and none created: only the cluster id is wanted.
	md.Topics = []kmsg.MetadataRequestTopic{}
	md.AllowAutoTopicCreation = false
	mresp, err := md.RequestWith(ctx, a.cl)
	if err != nil {
		return st, a.unreachable(ctx, "Metadata", err)
	}
	if mresp.ClusterID != nil {
		st.ClusterID = *mresp.ClusterID
	}

	req := kmsg.NewPtrDescribeConfigsRequest()
	req.IncludeSynonyms = true
	r := kmsg.NewDescribeConfigsRequestResource()
	r.ResourceType = kmsg.ConfigResourceTypeTopic
	r.ResourceName = topic
	r.ConfigNames = Keys
	req.Resources = append(req.Resources, r)
	resp, err := req.RequestWith(ctx, a.cl)
	if err != nil {
		return st, a.unreachable(ctx, "DescribeConfigs", err)
	}
	if len(resp.Resources) != 1 {
		return st, &Error{ErrCluster, fmt.Errorf("DescribeConfigs of topic %s: the broker answered %d resources", topic, len(resp.Resources))}
	}
	rr := resp.Resources[0]
	if err := kerr.ErrorForCode(rr.ErrorCode); err != nil {
		return st, topicError(topic, st.ClusterID, "DescribeConfigs", "read", err, rr.ErrorMessage)
	}
	st.Settings = map[string]setting{}
	for _, c := range rr.Configs {
		if c.Name != KeyMs && c.Name != KeyBytes {
			continue
		}
		if c.Value == nil {
			return st, &Error{ErrCluster, fmt.Errorf("the cluster does not say topic %s's %s (null)", topic, c.Name)}
		}
		v, err := strconv.ParseInt(*c.Value, 10, 64)
		if err != nil {
			return st, &Error{ErrCluster, fmt.Errorf("topic %s's %s is %q, not a number", topic, c.Name, *c.Value)}
		}
		s := setting{Value: v, Source: inspect.ConfigSource(c.Source)}
		// The first synonym not of the topic's is what the topic
		// falls back to. Kafka lists the entry itself first, then the
		// broker's keys in precedence order (log.retention.ms before
		// .minutes before .hours).
		for _, syn := range c.ConfigSynonyms {
			if syn.Source == kmsg.ConfigSourceDynamicTopicConfig || syn.Value == nil {
				continue
			}
			if b, ok := synonymValue(syn.Name, *syn.Value); ok {
				s.Below, s.BelowSource, s.BelowKnown = b, inspect.ConfigSource(syn.Source), true
				break
			}
		}
		if s.Source != "topic" && !s.BelowKnown {
			s.Below, s.BelowSource, s.BelowKnown = s.Value, s.Source, true
		}
		st.Settings[c.Name] = s
	}
	for _, k := range Keys {
		if _, ok := st.Settings[k]; !ok {
			return st, &Error{ErrCluster, fmt.Errorf("the cluster does not say topic %s's %s", topic, k)}
		}
	}
	return st, nil
}

// synonymValue is a broker key's value in the topic key's unit:
// log.retention.hours 168 is retention.ms 604800000.
func synonymValue(name, value string) (int64, bool) {
	mult := map[string]int64{
		KeyMs: 1, "log.retention.ms": 1, "log.retention.minutes": 60_000, "log.retention.hours": 3_600_000,
		KeyBytes: 1, "log.retention.bytes": 1,
	}[name]
	if mult == 0 {
		return 0, false
	}
	v, err := strconv.ParseInt(value, 10, 64)
	if err != nil {
		return 0, false
	}
	if v < 0 {
		return Unlimited, true
	}
	return v * mult, true
}

// op is one key to set (Delete false) or whose topic override to delete.
type op struct {
	Key    string
	Value  int64
	Delete bool
}

// alter applies ops to the topic in one IncrementalAlterConfigs request
// (KIP-339): the broker validates and applies one resource's configs
// together, so a bump of both keys changes both or neither.
func (a *Admin) alter(ctx context.Context, topic, clusterID string, ops []op) error {
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	r := kmsg.NewIncrementalAlterConfigsRequestResource()
	r.ResourceType = kmsg.ConfigResourceTypeTopic
	r.ResourceName = topic
	for _, o := range ops {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name = o.Key
		if o.Delete {
			c.Op = kmsg.IncrementalAlterConfigOpDelete
		} else {
			c.Op = kmsg.IncrementalAlterConfigOpSet
			c.Value = kmsg.StringPtr(strconv.FormatInt(o.Value, 10))
		}
		r.Configs = append(r.Configs, c)
	}
	req.Resources = append(req.Resources, r)
	resp, err := req.RequestWith(ctx, a.cl)
	if err != nil {
		return a.unreachable(ctx, "IncrementalAlterConfigs", err)
	}
	for _, rr := range resp.Resources {
		if err := kerr.ErrorForCode(rr.ErrorCode); err != nil {
			return topicError(topic, clusterID, "IncrementalAlterConfigs", "alter", err, rr.ErrorMessage)
		}
	}
	return nil
}

// topicError is a broker's error about the topic as one line a person can
// act on.
func topicError(topic, clusterID, request, verb string, err error, msg *string) error {
	acl := "DescribeConfigs"
	if verb == "alter" {
		acl = "AlterConfigs"
	}
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return &Error{ErrNotFound, fmt.Errorf("topic %s does not exist on cluster %s", topic, clusterID)}
	case errors.Is(err, kerr.TopicAuthorizationFailed):
		return &Error{ErrDenied, fmt.Errorf("not allowed to %s the configs of topic %s (%w): the principal needs the ACL %s on topic %s", verb, topic, err, acl, topic)}
	case errors.Is(err, kerr.ClusterAuthorizationFailed):
		return &Error{ErrDenied, fmt.Errorf("not allowed to %s the configs of topic %s (%w): the principal needs the ACL %s on the topic, and Describe on the cluster", verb, topic, err, acl)}
	}
	if msg != nil && *msg != "" {
		return &Error{ErrCluster, fmt.Errorf("%s of topic %s: %w: %s", request, topic, err, *msg)}
	}
	return &Error{ErrCluster, fmt.Errorf("%s of topic %s: %w", request, topic, err)}
}

// unreachable is a request that got no answer.
func (a *Admin) unreachable(ctx context.Context, request string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return &Error{ErrCluster, fmt.Errorf("cannot reach the cluster at %v (%s): %w", a.brokers, request, err)}
}
