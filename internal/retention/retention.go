// Package retention is the audited retention change, "the Big Red
// Retention Button": it raises a topic's retention.ms and retention.bytes
// (or sets them, or reverts a change) with IncrementalAlterConfigs, after
// reading the effective values and their source with DescribeConfigs, and
// appends every change to an audit log, a JSON-lines file a team can keep
// in git.
//
// It must never change the cluster without logging the change (the log is
// opened before the cluster is asked), never lower retention when asked to
// bump it, and never write a SASL password anywhere.
package retention

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"kscope/internal/inspect"
)

// Kinds of error, for errors.Is: the API answers each with its status.
var (
	// ErrInvalid is a request missing something (a reason, a value).
	ErrInvalid = errors.New("invalid request")
	// ErrNotFound is an unknown topic or change id.
	ErrNotFound = errors.New("not found")
	// ErrRefused is a change refused for what it would do: lower
	// retention with bump, revert twice, revert over a later change.
	ErrRefused = errors.New("refused")
	// ErrDenied is a change the cluster's ACLs do not allow.
	ErrDenied = errors.New("not authorized")
	// ErrCluster is a cluster that did not answer, or failed.
	ErrCluster = errors.New("cluster error")
)

// Error is an error of one of the kinds above. Its text is Err's.
type Error struct {
	Kind error
	Err  error
}

func (e *Error) Error() string   { return e.Err.Error() }
func (e *Error) Unwrap() []error { return []error{e.Kind, e.Err} }

func errorf(kind error, format string, args ...any) error {
	return &Error{kind, fmt.Errorf(format, args...)}
}

// ClientID names kscope's retention changes to the brokers (and in the
// traffic an agent shows).
const ClientID = "kscope-retention"

// Admin changes the retention of one cluster's topics and logs each
// change to its audit log.
type Admin struct {
	cl      *kgo.Client
	brokers []string
	log     auditLog
	// mu makes each change one step: read, check, alter, log. Two
	// reverts of one change at once would both find it not reverted.
	mu sync.Mutex
}

// New is an Admin of the cluster cfg reaches (its client id
// kscope-retention unless cfg names one), logging to the audit log at
// path. It connects at the first change.
func New(cfg inspect.Config, path string) (*Admin, error) {
	if path == "" {
		return nil, errors.New("retention: no audit log path")
	}
	if cfg.ClientID == "" {
		cfg.ClientID = ClientID
	}
	opts, err := cfg.ClientOpts()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("retention: %w", err)
	}
	return &Admin{cl: cl, brokers: cfg.Brokers, log: auditLog{path}}, nil
}

// Close closes the client.
func (a *Admin) Close() { a.cl.Close() }

// AuditLog is the audit log's path.
func (a *Admin) AuditLog() string { return a.log.path }

// Change asks for new retention on one topic.
type Change struct {
	// Action is ActionBump (only raises) or ActionSet (may lower).
	Action Action
	Topic  string
	// Ms and Bytes are the new retention.ms and retention.bytes (per
	// partition); 0 leaves the key as it is, Unlimited is no limit.
	Ms, Bytes int64
	// Reason is required: the audit log says why.
	Reason string
	// Who makes the change, RequestedBy who asked for it (optional).
	Who, RequestedBy string
	// DryRun checks and shows the change without making it or logging
	// it.
	DryRun bool
}

// Revert asks to restore what the change ID found.
type Revert struct {
	ID               string
	Reason           string
	Who, RequestedBy string
	DryRun           bool
}

// Result is what a change did, or would do: the audit log's lines, one
// per key (without ID and Time on a dry run).
type Result struct {
	DryRun  bool    `json:"dry_run"`
	Entries []Entry `json:"entries"`
	// Deleted are the keys whose topic override a revert deleted, the
	// topic falling back to the broker's or the default value.
	Deleted []string `json:"deleted_overrides,omitempty"`
}

func checkCommon(reason, who string) error {
	if strings.TrimSpace(reason) == "" {
		return errorf(ErrInvalid, "a reason is required (--reason): the audit log says why retention changed")
	}
	if strings.TrimSpace(who) == "" {
		return errorf(ErrInvalid, "retention: who makes the change is unknown")
	}
	return nil
}

// Apply makes the change c asks for, after checking it against the
// topic's effective retention, and logs it.
func (a *Admin) Apply(ctx context.Context, c Change) (Result, error) {
	if c.Action != ActionBump && c.Action != ActionSet {
		return Result{}, errorf(ErrInvalid, "retention: action %q: use bump or set", c.Action)
	}
	if err := checkCommon(c.Reason, c.Who); err != nil {
		return Result{}, err
	}
	if c.Topic == "" {
		return Result{}, errorf(ErrInvalid, "name a topic")
	}
	want := map[string]int64{}
	for _, kv := range []struct {
		key string
		v   int64
	}{{KeyMs, c.Ms}, {KeyBytes, c.Bytes}} {
		switch {
		case kv.v == 0:
		case kv.v < Unlimited:
			return Result{}, errorf(ErrInvalid, "%s %d: use a positive value, or -1 for unlimited", kv.key, kv.v)
		default:
			want[kv.key] = kv.v
		}
	}
	if len(want) == 0 {
		return Result{}, errorf(ErrInvalid, "nothing to change: give a time (--to, e.g. 72h or 7d) or a size per partition (--bytes, e.g. 50GiB), or both")
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	st, err := a.state(ctx, c.Topic)
	if err != nil {
		return Result{}, err
	}
	res := Result{DryRun: c.DryRun}
	var ops []op
	for _, key := range Keys {
		v, ok := want[key]
		if !ok {
			continue
		}
		cur := st.Settings[key]
		if err := check(c.Action, c.Topic, key, cur, v); err != nil {
			return Result{}, err
		}
		ops = append(ops, op{Key: key, Value: v})
		res.Entries = append(res.Entries, Entry{
			Who: c.Who, RequestedBy: strings.TrimSpace(c.RequestedBy), ClusterID: st.ClusterID, Topic: c.Topic,
			Key: key, Old: cur.Value, OldSource: cur.Source, New: v, Reason: strings.TrimSpace(c.Reason), Action: c.Action,
		})
	}
	return a.commit(ctx, c.Topic, st.ClusterID, ops, res)
}

// check refuses what the action must not do: bump never lowers, and no
// change leaves a key as it is.
func check(action Action, topic, key string, cur setting, v int64) error {
	was := fmt.Sprintf("%s (%s)", Format(key, cur.Value), from(cur.Source))
	switch {
	case v == cur.Value:
		return errorf(ErrRefused, "%s of topic %s is %s already: nothing to change", key, topic, was)
	case action != ActionBump:
		return nil
	case cur.Value == Unlimited:
		return errorf(ErrRefused, "%s of topic %s is %s: there is nothing higher to bump it to", key, topic, was)
	case v != Unlimited && v < cur.Value:
		return errorf(ErrRefused, "%s would lower %s of topic %s, now %s: bump only raises retention; kscope retention set lowers it", Format(key, v), key, topic, was)
	}
	return nil
}

// from says a source in words.
func from(source string) string {
	switch source {
	case "topic":
		return "set on the topic"
	case "broker":
		return "the broker's"
	}
	return "Kafka's default"
}

// Revert restores the values the change r.ID found: a value set on the
// topic is set again, one the topic had from the broker or the default is
// restored by deleting the topic's override. It refuses a change already
// reverted, a key changed since (its value is not what the change left),
// and a change of another cluster.
func (a *Admin) Revert(ctx context.Context, r Revert) (Result, error) {
	r.ID = strings.TrimSpace(r.ID)
	if r.ID == "" {
		return Result{}, errorf(ErrInvalid, "name the change to revert by its id (kscope retention history lists them)")
	}
	if err := checkCommon(r.Reason, r.Who); err != nil {
		return Result{}, err
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	all, err := a.log.read()
	if err != nil {
		return Result{}, err
	}
	var lines []Entry
	for _, e := range all {
		if e.ID == r.ID {
			lines = append(lines, e)
		}
	}
	if len(lines) == 0 {
		return Result{}, errorf(ErrNotFound, "no change %s in the audit log %s (kscope retention history lists them)", r.ID, a.log.path)
	}
	for _, e := range all {
		if e.Reverts == r.ID {
			return Result{}, errorf(ErrRefused, "change %s was reverted already, by %s on %s (change %s)", r.ID, e.Who, e.Time.Format(time.RFC3339), e.ID)
		}
	}
	topic := lines[0].Topic
	st, err := a.state(ctx, topic)
	if err != nil {
		return Result{}, err
	}
	if lines[0].ClusterID != st.ClusterID {
		return Result{}, errorf(ErrRefused, "change %s was made on cluster %s, and this is cluster %s: revert it where it was made", r.ID, lines[0].ClusterID, st.ClusterID)
	}
	res := Result{DryRun: r.DryRun}
	var ops []op
	for _, e := range lines {
		cur := st.Settings[e.Key]
		if cur.Value != e.New {
			return Result{}, errorf(ErrRefused, "%s of topic %s is %s (%s) now, not %s as change %s left it: it changed since (kscope retention history %s); kscope retention set changes it from here",
				e.Key, topic, Format(e.Key, cur.Value), from(cur.Source), Format(e.Key, e.New), r.ID, topic)
		}
		next := Entry{
			Who: r.Who, RequestedBy: strings.TrimSpace(r.RequestedBy), ClusterID: st.ClusterID, Topic: topic,
			Key: e.Key, Old: cur.Value, OldSource: cur.Source, New: e.Old, Reason: strings.TrimSpace(r.Reason),
			Action: ActionRevert, Reverts: r.ID,
		}
		o := op{Key: e.Key, Value: e.Old}
		if e.OldSource != "topic" {
			// The topic had no override of its own: delete the
			// one the change made, and the topic follows the broker
			// again, also when the broker's value changes later.
			o.Delete = true
			if cur.BelowKnown {
				next.New = cur.Below
			}
			res.Deleted = append(res.Deleted, e.Key)
		}
		ops = append(ops, o)
		res.Entries = append(res.Entries, next)
	}
	return a.commit(ctx, topic, st.ClusterID, ops, res)
}

// commit alters the topic and logs res's entries, under one new id; on a
// dry run, neither.
func (a *Admin) commit(ctx context.Context, topic, clusterID string, ops []op, res Result) (Result, error) {
	if res.DryRun {
		return res, nil
	}
	f, err := a.log.open()
	if err != nil {
		return Result{}, fmt.Errorf("%w: retention of topic %s is not changed", err, topic)
	}
	if err := a.alter(ctx, topic, clusterID, ops); err != nil {
		f.Close()
		return Result{}, err
	}
	now := time.Now().UTC().Truncate(time.Second)
	id := newID(now)
	for i := range res.Entries {
		res.Entries[i].ID, res.Entries[i].Time = id, now
	}
	if err := a.log.write(f, res.Entries); err != nil {
		return res, fmt.Errorf("retention of topic %s CHANGED (change %s), but the audit log %s was not written: %w", topic, id, a.log.path, err)
	}
	return res, nil
}

// History is the audit log's entries of topic (every topic when empty),
// oldest first.
func (a *Admin) History(topic string) ([]Entry, error) {
	return History(a.log.path, topic)
}

// History reads the audit log at path: the entries of topic (every topic
// when empty), oldest first.
func History(path, topic string) ([]Entry, error) {
	all, err := auditLog{path}.read()
	if err != nil {
		return nil, err
	}
	out := []Entry{}
	for _, e := range all {
		if topic == "" || e.Topic == topic {
			out = append(out, e)
		}
	}
	return out, nil
}
