package demo

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"kscope/internal/broker/brokertest"
)

// kscope demo broker stop|start N, through the control endpoint: broker
// ids are checked, the states a broker can be in are kept to, and the
// status shows each broker.
func TestBrokerControl(t *testing.T) {
	c := brokertest.Start(t, clusterConfig(0))
	ctl := NewControl(NewSupervisor(SupervisorConfig{}), c, Status{})
	mux := http.NewServeMux()
	ctl.Register(func(pattern string, h http.Handler) { mux.Handle(pattern, h) })

	// An answer is a BrokerResult, or an error.
	type answer struct {
		BrokerResult
		Error string `json:"error"`
	}
	post := func(q url.Values) (int, answer) {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("POST", BrokerPath+"?"+q.Encode(), nil))
		var a answer
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
			t.Fatalf("answer %d %q: %v", rec.Code, rec.Body, err)
		}
		return rec.Code, a
	}
	for _, tt := range []struct {
		name, id, action string
		code             int
		err              string // in the answer's error
		up               []bool // the brokers after
	}{
		{"not a number", "one", "stop", http.StatusBadRequest, "0 to 2", nil},
		{"no such broker", "3", "stop", http.StatusBadRequest, "0 to 2", nil},
		{"negative", "-1", "stop", http.StatusBadRequest, "0 to 2", nil},
		{"no action", "1", "restart", http.StatusBadRequest, "stop or start", nil},
		{"stop 1", "1", "stop", http.StatusOK, "", []bool{true, false, true}},
		{"stop 1 again", "1", "stop", http.StatusConflict, "stopped already", nil},
		{"stop 2", "2", "stop", http.StatusOK, "", []bool{true, false, false}},
		{"stop the last", "0", "stop", http.StatusConflict, "last one running", nil},
		{"start 1", "1", "start", http.StatusOK, "", []bool{true, true, false}},
		{"start 1 again", "1", "start", http.StatusConflict, "running already", nil},
		{"start 2", "2", "start", http.StatusOK, "", []bool{true, true, true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, a := post(url.Values{"id": {tt.id}, "action": {tt.action}})
			if code != tt.code {
				t.Fatalf("answer %d %+v, want %d", code, a, tt.code)
			}
			if tt.err != "" {
				if !strings.Contains(a.Error, tt.err) {
					t.Errorf("error %q, want it to say %q", a.Error, tt.err)
				}
				return
			}
			st := ctl.Status()
			for i, b := range st.Brokers {
				if b.Up != tt.up[i] || b.Rack != Racks[i] || b.Address != c.Addrs()[i] {
					t.Errorf("status: broker %+v, want up %v in %s at %s", b, tt.up[i], Racks[i], c.Addrs()[i])
				}
			}
			if b := a.Broker; strconv.Itoa(int(b.ID)) != tt.id || b.Up != tt.up[b.ID] || a.Action != tt.action || len(a.Status.Brokers) != 3 {
				t.Errorf("answer %+v, want broker %s after %s", a.BrokerResult, tt.id, tt.action)
			}
		})
	}

	if err := c.StopBroker(1); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := PrintStatus(&out, ctl.Status()); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^1 +` + regexp.QuoteMeta(c.Addrs()[1]) + ` +rack-a +stopped$`).MatchString(out.String()) {
		t.Errorf("kscope demo status does not show broker 1 stopped:\n%s", out.String())
	}
}

// TestRemoveStale: the directories of a killed demo's Prometheus and
// Alertmanager go at the next start; a running demo's stay.
func TestRemoveStale(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	// A pid past pid_max runs nothing.
	dead, err := os.MkdirTemp("", stalePrefix+"99999999-")
	if err != nil {
		t.Fatal(err)
	}
	alive, err := os.MkdirTemp("", stalePrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		t.Fatal(err)
	}
	removeStale()
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("a dead demo's %s stays: %v", dead, err)
	}
	if _, err := os.Stat(alive); err != nil {
		t.Errorf("a running demo's %s went: %v", alive, err)
	}
}
