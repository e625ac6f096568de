package demo

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"kscope/internal/broker"
)

// The running demo's control endpoints, served beside the agent's API.
const (
	StatusPath = "/api/v1/demo"
	DelayPath  = "/api/v1/demo/invoicing-delay"
	ScalePath  = "/api/v1/demo/scale"
	BrokerPath = "/api/v1/demo/broker"
)

// Status is what a running demo says of itself (GET /api/v1/demo).
type Status struct {
	// Demo is always true: it tells a demo from an agent on the same
	// address.
	Demo    bool      `json:"demo"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	API     string    `json:"api"`
	// Bootstrap are the brokers' addresses, in node order.
	Bootstrap []string `json:"bootstrap"`
	// Brokers are the brokers, running or stopped (kscope demo broker).
	Brokers []BrokerInfo `json:"brokers"`
	// Traced says whether the agent traces the services (false with
	// --no-trace).
	Traced bool `json:"traced"`
	// SyscallHook is where the agent's BPF programs run (ebpf.Hook).
	SyscallHook    string        `json:"syscall_hook,omitempty"`
	Topic          TopicInfo     `json:"topic"`
	InvoicingDelay Delay         `json:"invoicing_delay"`
	Processes      []ProcessInfo `json:"processes"`
	// Alerting is the demo's Prometheus and Alertmanager.
	Alerting AlertingInfo `json:"alerting"`
}

// TopicInfo is the topic the services talk through.
type TopicInfo struct {
	Name              string `json:"name"`
	Partitions        int    `json:"partitions"`
	ReplicationFactor int    `json:"replication_factor"`
}

// BrokerInfo is one broker of the demo's cluster.
type BrokerInfo struct {
	ID      int32  `json:"id"`
	Address string `json:"address"`
	Rack    string `json:"rack,omitempty"`
	// Up is false while the broker is stopped.
	Up bool `json:"up"`
}

// BrokerResult answers a broker stop or start.
type BrokerResult struct {
	Action string     `json:"action"` // stop or start
	Broker BrokerInfo `json:"broker"`
	Status Status     `json:"status"`
}

// Cluster is what the controls need of the demo's cluster.
type Cluster interface {
	Brokers() []broker.BrokerState
	StopBroker(id int32) error
	StartBroker(id int32) error
}

// Delay is invoicing's slow-down.
type Delay struct {
	On bool `json:"on"`
	// PerOrderSeconds is what invoicing spends on one order while on.
	PerOrderSeconds float64 `json:"per_order_seconds"`
}

// ScaleResult answers a scale request.
type ScaleResult struct {
	Service   string `json:"service"`
	Processes int    `json:"processes"`
	Started   []int  `json:"started"`
	Stopped   []int  `json:"stopped"`
	Status    Status `json:"status"`
}

// Control serves a running demo's status and controls.
type Control struct {
	sup     *Supervisor
	cluster Cluster
	base    Status
}

// NewControl serves the status of a demo whose fixed facts are base; the
// processes and the delay come from sup, the brokers from cluster.
func NewControl(sup *Supervisor, cluster Cluster, base Status) *Control {
	base.Demo = true
	return &Control{sup: sup, cluster: cluster, base: base}
}

// Status returns the demo's status now.
func (c *Control) Status() Status {
	s := c.base
	s.Brokers = brokerInfos(c.cluster)
	s.Processes = c.sup.Processes()
	s.InvoicingDelay = Delay{On: c.sup.Slow(), PerOrderSeconds: c.sup.cfg.SlowDelay.Seconds()}
	return s
}

// Register adds the endpoints through handle (the API server's, which
// puts them behind its token).
func (c *Control) Register(handle func(pattern string, h http.Handler)) {
	handle("GET "+StatusPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, c.Status())
	}))
	handle("POST "+DelayPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		on, err := strconv.ParseBool(r.URL.Query().Get("on"))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "on must be true or false"})
			return
		}
		c.sup.SetSlow(on)
		c.sup.cfg.Log.Info("invoicing delay", "on", on, "per_order", c.sup.cfg.SlowDelay)
		writeJSON(w, http.StatusOK, c.Status())
	}))
	handle("POST "+ScalePath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		service := q.Get("service")
		n, err := strconv.Atoi(q.Get("processes"))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "processes must be a number"})
			return
		}
		started, stopped, err := c.sup.Scale(service, n)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		c.sup.cfg.Log.Info("scaled", "service", service, "processes", n, "started", started, "stopped", stopped)
		writeJSON(w, http.StatusOK, ScaleResult{Service: service, Processes: n,
			Started: nonNil(started), Stopped: nonNil(stopped), Status: c.Status()})
	}))
	handle("POST "+BrokerPath, http.HandlerFunc(c.serveBroker))
}

// serveBroker stops or starts a broker: POST BrokerPath?id=N&action=stop.
func (c *Control) serveBroker(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n := len(c.cluster.Brokers())
	id, err := strconv.ParseInt(q.Get("id"), 10, 32)
	if err != nil || id < 0 || int(id) >= n {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("broker %q: a broker id, 0 to %d", q.Get("id"), n-1)})
		return
	}
	action := q.Get("action")
	switch action {
	case "stop":
		err = c.cluster.StopBroker(int32(id))
	case "start":
		err = c.cluster.StartBroker(int32(id))
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "action must be stop or start"})
		return
	}
	if err != nil {
		// Stopping the last broker, starting a running one: the
		// cluster's state forbids it.
		writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
		return
	}
	st := c.Status()
	msg := map[string]string{"stop": "broker stopped", "start": "broker started"}[action]
	c.sup.cfg.Log.Info(msg, "broker", id, "addr", st.Brokers[id].Address, "rack", st.Brokers[id].Rack)
	writeJSON(w, http.StatusOK, BrokerResult{Action: action, Broker: st.Brokers[id], Status: st})
}

// brokerInfos is the status of c's brokers.
func brokerInfos(c Cluster) []BrokerInfo {
	var out []BrokerInfo
	for _, b := range c.Brokers() {
		out = append(out, BrokerInfo{ID: b.ID, Address: b.Addr, Rack: b.Rack, Up: b.Up})
	}
	return out
}

func nonNil(s []int) []int {
	if s == nil {
		return []int{}
	}
	return s
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
