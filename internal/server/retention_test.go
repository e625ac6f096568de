package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"kscope/internal/broker"
	"kscope/internal/broker/brokertest"
	"kscope/internal/inspect"
	"kscope/internal/retention"
	"kscope/internal/store"
)

func post(t *testing.T, u, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The retention button through the API: behind the token, changes logged
// as made by "api:" and the token's name for whoever asked, refusals with
// their status and reason.
func TestRetentionEndpoints(t *testing.T) {
	c := brokertest.Start(t, broker.Config{Brokers: 1, Partitions: 1, Topics: []string{"orders"}})
	admin, err := retention.New(inspect.Config{Brokers: c.Addrs()}, filepath.Join(t.TempDir(), "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	const token = "s3cret"
	ts := newServer(t, Config{Token: token, TokenName: "ops-bot", Retention: admin}, store.New(store.Config{}))
	adm := kadm.NewClient(brokertest.Client(t, c))
	value := func(key string) string {
		t.Helper()
		rc, err := adm.DescribeTopicConfigs(context.Background(), "orders")
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := rc.On("orders", nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range cfg.Configs {
			if kv.Key == key {
				return kv.MaybeValue() + " " + kv.Source.String()
			}
		}
		return ""
	}
	result := func(body string) retention.Result {
		t.Helper()
		var r retention.Result
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		return r
	}

	bump := `{"topic":"orders","to":"10d","reason":"INC-7","requested_by":"alice"}`
	for _, p := range []string{"/api/v1/retention/bump", "/api/v1/retention/set", "/api/v1/retention/revert"} {
		if code, body := post(t, ts.URL+p, "", bump); code != http.StatusUnauthorized {
			t.Errorf("POST %s without the token: %d %s", p, code, body)
		}
	}
	if resp, _ := get(t, ts.URL+"/api/v1/retention/history", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("history without the token: %d", resp.StatusCode)
	}
	if v := value("retention.ms"); v != "604800000 DEFAULT_CONFIG" {
		t.Fatalf("a request without the token changed retention.ms: %s", v)
	}

	// A dry run, then the bump.
	code, body := post(t, ts.URL+"/api/v1/retention/bump", token, `{"topic":"orders","to":"10d","reason":"INC-7","dry_run":true}`)
	if r := result(body); code != http.StatusOK || !r.DryRun || len(r.Entries) != 1 || r.Entries[0].New != 864000000 || value("retention.ms") != "604800000 DEFAULT_CONFIG" {
		t.Errorf("dry run: %d %s", code, body)
	}
	code, body = post(t, ts.URL+"/api/v1/retention/bump", token, bump)
	r := result(body)
	if code != http.StatusOK || r.DryRun || len(r.Entries) != 1 {
		t.Fatalf("bump: %d %s", code, body)
	}
	e := r.Entries[0]
	if e.Who != "api:ops-bot" || e.RequestedBy != "alice" || e.Key != "retention.ms" || e.Old != 604800000 || e.OldSource != "default" || e.New != 864000000 || e.Reason != "INC-7" || e.Action != "bump" {
		t.Errorf("bump's entry: %+v", e)
	}
	if v := value("retention.ms"); v != "864000000 DYNAMIC_TOPIC_CONFIG" {
		t.Errorf("after the bump: %s", v)
	}

	// bytes as a number and as a size.
	if code, body := post(t, ts.URL+"/api/v1/retention/set", token, `{"topic":"orders","bytes":1073741824,"reason":"cap"}`); code != http.StatusOK {
		t.Errorf("set bytes as a number: %d %s", code, body)
	}
	if code, body := post(t, ts.URL+"/api/v1/retention/bump", token, `{"topic":"orders","bytes":"50GiB","reason":"more"}`); code != http.StatusOK || value("retention.bytes") != "53687091200 DYNAMIC_TOPIC_CONFIG" {
		t.Errorf("bump bytes as a size: %d %s, %s", code, body, value("retention.bytes"))
	}

	// Refusals: their status and their reason.
	for _, c := range []struct {
		path, body string
		code       int
		says       string
	}{
		{"bump", `{"topic":"orders","to":"2d","reason":"r"}`, http.StatusConflict, "bump only raises retention"},
		{"bump", `{"topic":"orders","to":"20d"}`, http.StatusBadRequest, "a reason is required"},
		{"bump", `{"topic":"orders","to":"20d","reson":"typo"}`, http.StatusBadRequest, `unknown field "reson"`},
		{"bump", `{"topic":"orders","to":"20 days","reason":"r"}`, http.StatusBadRequest, "to: "},
		{"bump", `{"topic":"orders","bytes":true,"reason":"r"}`, http.StatusBadRequest, "bytes: a size such as"},
		{"bump", `{"topic":"nope","to":"20d","reason":"r"}`, http.StatusNotFound, "topic nope does not exist"},
		{"revert", `{"id":"` + e.ID + `"}`, http.StatusBadRequest, "a reason is required"},
	} {
		code, body := post(t, ts.URL+"/api/v1/retention/"+c.path, token, c.body)
		var msg struct{ Error string }
		json.Unmarshal([]byte(body), &msg)
		if code != c.code || !strings.Contains(msg.Error, c.says) {
			t.Errorf("%s %s: %d %s; want %d saying %q", c.path, c.body, code, body, c.code, c.says)
		}
	}

	// Revert the bump: the default again; twice is refused.
	code, body = post(t, ts.URL+"/api/v1/retention/revert", token, `{"id":"`+e.ID+`","reason":"over","requested_by":"bob"}`)
	if rv := result(body); code != http.StatusOK || len(rv.Entries) != 1 || rv.Entries[0].Reverts != e.ID || rv.Entries[0].Who != "api:ops-bot" || rv.Entries[0].RequestedBy != "bob" {
		t.Errorf("revert: %d %s", code, body)
	}
	if v := value("retention.ms"); v != "604800000 DEFAULT_CONFIG" {
		t.Errorf("after the revert: %s", v)
	}
	if code, body := post(t, ts.URL+"/api/v1/retention/revert", token, `{"id":"`+e.ID+`","reason":"again"}`); code != http.StatusConflict || !strings.Contains(body, "reverted already") {
		t.Errorf("revert twice: %d %s", code, body)
	}

	resp, body := get(t, ts.URL+"/api/v1/retention/history?topic=orders", token)
	var h RetentionHistory
	if err := json.Unmarshal([]byte(body), &h); err != nil || resp.StatusCode != http.StatusOK || len(h.Entries) != 4 || h.Entries[3].Action != "revert" {
		t.Errorf("history: %d %s", resp.StatusCode, body)
	}
	if _, body := get(t, ts.URL+"/api/v1/retention/history?topic=payments", token); !strings.Contains(body, `"entries": []`) {
		t.Errorf("history of a topic never changed: %s", body)
	}

	// No token (loopback only): who is api:loopback.
	open := newServer(t, Config{Retention: admin}, store.New(store.Config{}))
	code, body = post(t, open.URL+"/api/v1/retention/bump", "", `{"topic":"orders","to":"8d","reason":"r"}`)
	if r := result(body); code != http.StatusOK || r.Entries[0].Who != "api:loopback" {
		t.Errorf("without a token: %d %s", code, body)
	}
}

// An agent without --cluster says how to start one.
func TestRetentionWithoutCluster(t *testing.T) {
	ts := newServer(t, Config{}, store.New(store.Config{}))
	code, body := post(t, ts.URL+"/api/v1/retention/bump", "", `{"topic":"orders","to":"8d","reason":"r"}`)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "start it with --cluster host:port") {
		t.Errorf("bump: %d %s", code, body)
	}
	if resp, body := get(t, ts.URL+"/api/v1/retention/history", ""); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("history: %d %s", resp.StatusCode, body)
	}
}
