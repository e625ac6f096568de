package exchange

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Filter selects exchanges. Empty fields match everything; within a field
// any value may match.
type Filter struct {
	// APIs are API names (case-insensitive, "Produce") or keys ("0").
	APIs []string
	// Topics match a topic name exactly.
	Topics []string
	// Clients match the client id exactly, or the client address
	// ("ip:port", or just the ip).
	Clients []string
	// MinLatency keeps exchanges at least this slow; exchanges without a
	// response are then dropped.
	MinLatency time.Duration
	// Processes match the command name or the pid (as a decimal string)
	// of the traced process, on either side.
	Processes []string
	// Side keeps exchanges traced on this side: "client" or "server".
	Side string
	// Errors keeps the exchanges that failed: an error, top-level or in
	// a partition, or no response.
	Errors bool
	// Transactional keeps the exchanges that name a transactional id
	// (InitProducerId, a transactional producer's Produce,
	// AddPartitionsToTxn, EndTxn...): a transactions view needs no other
	// Produce.
	Transactional bool
}

// Validate reports an API filter that names no API.
func (f Filter) Validate() error {
	for _, a := range f.APIs {
		if _, ok := apiKey(a); !ok {
			return fmt.Errorf("unknown API %q: use a name such as Produce, Fetch, JoinGroup or a key number", a)
		}
	}
	switch f.Side {
	case "", "client", "server":
	default:
		return fmt.Errorf("unknown side %q: use client or server", f.Side)
	}
	return nil
}

// apiKeys maps every API name, as kmsg spells it and in lower case, to its
// key: filters match it against each exchange a query reads.
var apiKeys = func() map[string]int16 {
	m := map[string]int16{}
	for k := int16(0); k <= kmsg.MaxKey; k++ {
		if name := kmsg.NameForKey(k); name != "" {
			m[name], m[strings.ToLower(name)] = k, k
		}
	}
	return m
}()

func apiKey(s string) (int16, bool) {
	if k, ok := apiKeys[s]; ok {
		return k, true
	}
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		if n, err := strconv.Atoi(s); err == nil && n <= kmsg.MaxKey && kmsg.NameForKey(int16(n)) != "" {
			return int16(n), true
		}
		return 0, false
	}
	k, ok := apiKeys[strings.ToLower(s)]
	return k, ok
}

// APISet is the API keys a filter's APIs name, looked up once for a
// reader that checks many exchanges before it has the rest of each (Match
// looks each name up again).
type APISet struct {
	all  bool
	keys [kmsg.MaxKey + 1]bool
}

// APISet returns the set of keys the filter's APIs pass.
func (f Filter) APISet() *APISet {
	s := &APISet{all: len(f.APIs) == 0}
	for _, a := range f.APIs {
		if k, ok := apiKey(a); ok {
			s.keys[k] = true
		}
	}
	return s
}

// Has says an exchange of API key passes the filter's APIs.
func (s *APISet) Has(key int16) bool {
	return s.all || key >= 0 && int(key) < len(s.keys) && s.keys[key]
}

// IsTransactional says e names a transactional id: what
// Filter.Transactional keeps.
func IsTransactional(e *Exchange) bool { return e.Detail != nil && e.Detail.TransactionalID != "" }

// Match reports whether e passes the filter.
func (f Filter) Match(e *Exchange) bool {
	if len(f.APIs) > 0 && !f.matchAPI(e.APIKey) {
		return false
	}
	if len(f.Topics) > 0 && !f.matchTopic(e) {
		return false
	}
	if len(f.Clients) > 0 && !f.matchClient(e) {
		return false
	}
	if f.MinLatency > 0 && (e.LatencyNS == nil || time.Duration(*e.LatencyNS) < f.MinLatency) {
		return false
	}
	if f.Side != "" && e.Side != f.Side {
		return false
	}
	if len(f.Processes) > 0 && !f.matchProcess(e) {
		return false
	}
	if f.Errors && !e.Failed() {
		return false
	}
	if f.Transactional && !IsTransactional(e) {
		return false
	}
	return true
}

func (f Filter) matchProcess(e *Exchange) bool {
	for _, p := range f.Processes {
		for _, ep := range [2]*Endpoint{&e.Client, &e.Server} {
			if ep.PID == 0 {
				continue
			}
			if p == ep.Process || p == strconv.FormatUint(uint64(ep.PID), 10) {
				return true
			}
		}
	}
	return false
}

func (f Filter) matchAPI(key int16) bool {
	for _, a := range f.APIs {
		if k, ok := apiKey(a); ok && k == key {
			return true
		}
	}
	return false
}

func (f Filter) matchTopic(e *Exchange) bool {
	for _, want := range f.Topics {
		for _, t := range e.Topics {
			if t.Name == want {
				return true
			}
		}
	}
	return false
}

func (f Filter) matchClient(e *Exchange) bool {
	host := e.Client.Addr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = strings.Trim(host[:i], "[]")
	}
	for _, c := range f.Clients {
		if c == e.ClientID || c == e.Client.Addr || c == host {
			return true
		}
	}
	return false
}
