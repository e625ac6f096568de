// Package webtest serves the web console's real pages over generated
// views, for tests that load them in a browser at a size no demo reaches
// (a flow graph of 200 nodes, hundreds of partitions). The product never
// imports it: the pages read nothing but the API.
package webtest

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"time"

	"kscope/internal/inspect"
	"kscope/internal/view"
	"kscope/internal/web"
)

// Data is what Handler answers: the views the Overview and Cluster pages
// read. A nil Lag or Health answers 503 as an agent without a cluster
// inspector does.
type Data struct {
	Overview view.OverviewView
	Lag      *view.LagView
	Health   *view.HealthView
	// Polls, when set, are the cluster polls GET /api/v1/history/lag
	// answers from, through the lag history's own view.
	Polls []inspect.Snapshot
}

// Polls makes n polls, 5 s apart and ending at now, of a cluster where
// each of groups groups commits on 4 of 20 topics' 10 partitions, a
// little behind; each 10th group falls further behind at every poll.
func Polls(groups, n int, now time.Time) []inspect.Snapshot {
	const topics, partitions = 20, 10
	var out []inspect.Snapshot
	for i := range n {
		at := now.Add(time.Duration(i-n+1) * 5 * time.Second)
		s := inspect.Snapshot{Time: at}
		for ti := range topics {
			t := inspect.Topic{Name: fmt.Sprintf("topic-%02d", ti), Retention: inspect.Retention{Known: true, CleanupPolicy: "delete", Ms: 86400000, Bytes: -1}}
			for p := range int32(partitions) {
				hw := int64(1000 + 10*i)
				t.Partitions = append(t.Partitions, inspect.Partition{Partition: p, Leader: 0, Replicas: []int32{0}, ISR: []int32{0},
					LogStartOffset: 0, HighWatermark: hw, LastStableOffset: hw, SizeBytes: hw * 100,
					Batches: []inspect.Batch{{BaseOffset: 0, LastOffset: hw - 1, MaxTimestamp: at}}})
			}
			s.Topics = append(s.Topics, t)
		}
		for g := range groups {
			grp := inspect.Group{Group: fmt.Sprintf("group-%04d", g), State: "Stable", Protocol: "classic"}
			behind := int64(g % 50)
			if g%10 == 0 {
				behind += int64(10 * i)
			}
			for k := range 4 {
				grp.Offsets = append(grp.Offsets, inspect.Offset{Topic: fmt.Sprintf("topic-%02d", (g+k)%topics), Partition: int32(g % partitions),
					Committed: int64(1000+10*i) - behind, LeaderEpoch: -1, SeenSince: at})
			}
			s.Groups = append(s.Groups, grp)
		}
		out = append(out, s)
	}
	return out
}

// Generate makes a consistent set of views of topics topics and clients
// clients (a third producers, the rest consumers in groups of five),
// the same for the same arguments: every topic has a producer, every
// group reads one or two topics, rates spread over five orders of
// magnitude, and the lag statuses and replication tiers take every
// value.
func Generate(topics, clients int, now time.Time) Data {
	r := rand.New(rand.NewPCG(uint64(topics), uint64(clients)))
	const window = 15 * time.Minute
	secs := window.Seconds()
	o := view.OverviewView{
		From: now.Add(-window), To: now, Seconds: secs,
		Nodes: []view.Node{}, Edges: []view.Edge{}, Topics: []view.TopicRow{}, Brokers: []view.BrokerRow{},
		Producers: []view.ClientRow{}, Consumers: []view.ClientRow{},
		Latency: view.RequestLatency{ByAPI: []view.LatencyRow{}, ByBroker: []view.LatencyRow{}, ByClient: []view.LatencyRow{}},
	}
	domains := []string{"orders", "payments", "shipping", "inventory", "customer-profile", "audit", "clickstream", "fraud-signals"}
	names := make([]string, topics)
	rows := make([]view.TopicRow, topics)
	for i := range names {
		names[i] = fmt.Sprintf("%s.%s-v%d", domains[i%len(domains)], []string{"events", "commands", "changelog", "dlq"}[i%4], i)
		rows[i] = view.TopicRow{Name: names[i], Partitions: 1 + r.IntN(48)}
	}
	// rate is log-uniform from 10 B/s to 10 MB/s.
	rate := func() float64 { return math.Pow(10, 1+6*r.Float64()) }
	edge := func(from, to string, bps float64) view.Edge {
		rec := bps / 300
		req := max(rec/20, 0.2)
		return view.Edge{From: from, To: to, BytesPerSec: bps, RecordsPerSec: rec, RequestsPerSec: req,
			Bytes: int64(bps * secs), Records: int64(rec * secs), Requests: int64(req * secs)}
	}
	lat := func(api string, c *view.Client, p99 float64, reqs float64) view.LatencyRow {
		n := int64(reqs * secs)
		return view.LatencyRow{API: api, Client: c, Requests: n, Answered: n, RequestsPerSec: reqs,
			P50: p99 / 4, P90: p99 / 2, P99: p99, Max: p99 * 1.5}
	}
	client := func(i int, svc string) view.Client {
		pid := uint32(1000 + i)
		return view.Client{Process: svc + "[" + strconv.Itoa(int(pid)) + "]", PID: pid, ClientID: svc + "-" + strconv.Itoa(i)}
	}
	producers := max(1, clients/3)
	for i := range producers {
		c := client(i, domains[i%len(domains)]+"-writer")
		id := view.KindProducer + ":" + c.Process + ":" + c.ClientID
		row := view.ClientRow{ID: id, Client: c, Topics: []string{}}
		// Producer i writes topic i (so that every topic has one) and
		// up to two more.
		ts := []int{i % topics}
		for range r.IntN(3) {
			ts = append(ts, r.IntN(topics))
		}
		slices.Sort(ts)
		ts = slices.Compact(ts)
		for _, t := range ts {
			e := edge(id, view.KindTopic+":"+names[t], rate())
			o.Edges = append(o.Edges, e)
			row.Topics = append(row.Topics, names[t])
			row.Bytes += e.Bytes
			row.Records += e.Records
			row.Requests += e.Requests
			rows[t].Producers++
			rows[t].BytesInPerSec += e.BytesPerSec
			rows[t].RecordsInPerSec += e.RecordsPerSec
		}
		if i%11 == 4 {
			row.Errors = int64(1 + r.IntN(40))
			row.ErrorsByCode = map[string]int64{"NOT_ENOUGH_REPLICAS": row.Errors}
		}
		row.BytesPerSec, row.RecordsPerSec, row.RequestsPerSec = float64(row.Bytes)/secs, float64(row.Records)/secs, float64(row.Requests)/secs
		cc := c
		o.Nodes = append(o.Nodes, view.Node{ID: id, Kind: view.KindProducer, Label: c.Process + " (" + c.ClientID + ")", Client: &cc})
		o.Producers = append(o.Producers, row)
		o.Latency.ByClient = append(o.Latency.ByClient, lat("Produce", &cc, 0.001+0.05*r.Float64(), row.RequestsPerSec))
	}
	lag := &view.LagView{From: o.From, To: now, PolledAt: &now, Polls: 10, Groups: []view.GroupLag{}, Errors: []view.PollErrors{}}
	consumers := clients - producers
	var group *view.GroupLag
	var groupTopics []int
	for i := range consumers {
		if i%5 == 0 {
			g := len(lag.Groups)
			groupTopics = []int{r.IntN(topics)}
			if r.IntN(3) == 0 {
				groupTopics = append(groupTopics, r.IntN(topics))
			}
			st := view.LagStatuses[g%len(view.LagStatuses)]
			lag.Groups = append(lag.Groups, view.GroupLag{Group: fmt.Sprintf("%s-consumers-%d", domains[g%len(domains)], g),
				State: "Stable", Protocol: "classic", Status: st, Reason: "generated: " + st, Partitions: []view.PartitionLag{}})
			group = &lag.Groups[len(lag.Groups)-1]
		}
		c := client(producers+i, group.Group)
		id := view.KindConsumer + ":" + c.Process + ":" + c.ClientID
		row := view.ClientRow{ID: id, Client: c, Group: group.Group, Topics: []string{}}
		for _, t := range groupTopics {
			e := edge(view.KindTopic+":"+names[t], id, rate())
			o.Edges = append(o.Edges, e)
			row.Topics = append(row.Topics, names[t])
			row.Bytes += e.Bytes
			row.Records += e.Records
			row.Requests += e.Requests
			rows[t].Consumers++
			rows[t].BytesOutPerSec += e.BytesPerSec
			rows[t].RecordsOutPerSec += e.RecordsPerSec
			lagN := int64(r.IntN(100000))
			appendLag := float64(r.IntN(600))
			group.Partitions = append(group.Partitions, view.PartitionLag{Topic: names[t], Partition: int32(i % 5),
				OffsetLag: &lagN, AppendLagSeconds: &appendLag, Status: group.Status, Reason: group.Reason,
				Owner: &view.LagOwner{ClientID: c.ClientID, Process: c.Process}})
			group.OffsetLag += lagN
		}
		group.Members++
		slices.Sort(row.Topics)
		row.Topics = slices.Compact(row.Topics)
		row.BytesPerSec, row.RecordsPerSec, row.RequestsPerSec = float64(row.Bytes)/secs, float64(row.Records)/secs, float64(row.Requests)/secs
		cc := c
		o.Nodes = append(o.Nodes, view.Node{ID: id, Kind: view.KindConsumer, Label: c.Process + " (" + c.ClientID + ") group " + group.Group, Client: &cc, Group: group.Group})
		o.Consumers = append(o.Consumers, row)
		o.Latency.ByClient = append(o.Latency.ByClient, lat("Fetch", &cc, 0.01+0.5*r.Float64(), row.RequestsPerSec))
	}
	for i, t := range rows {
		o.Nodes = append(o.Nodes, view.Node{ID: view.KindTopic + ":" + t.Name, Kind: view.KindTopic, Label: t.Name})
		rows[i].ReplicationBytesPerSec = 2 * t.BytesInPerSec
	}
	o.Topics = rows
	// The edges of a producer that wrote one topic twice are one edge,
	// as the view makes them.
	slices.SortFunc(o.Edges, func(a, b view.Edge) int {
		if a.From != b.From {
			return cmpString(a.From, b.From)
		}
		return cmpString(a.To, b.To)
	})
	o.Edges = slices.CompactFunc(o.Edges, func(a, b view.Edge) bool { return a.From == b.From && a.To == b.To })
	for _, e := range o.Edges {
		o.Exchanges += int(e.Requests)
	}
	for b := range 6 {
		o.Brokers = append(o.Brokers, view.BrokerRow{Broker: fmt.Sprintf("10.1.0.%d:9092", 10+b), RequestsPerSec: 100 + r.Float64()*900,
			ProduceRequestsPerSec: 50 + r.Float64()*100, FetchRequestsPerSec: 50 + r.Float64()*500, BytesInPerSec: rate(), BytesOutPerSec: rate(),
			Replicas: 5, Latency: []view.LatencyRow{lat("Produce", nil, 0.004, 80), lat("Fetch", nil, 0.4, 300)}})
	}
	o.Latency.ByAPI = []view.LatencyRow{lat("Fetch", nil, 0.45, 2000), lat("Metadata", nil, 0.002, 3), lat("Produce", nil, 0.02, 900)}
	return Data{Overview: o, Lag: lag, Health: health(names, rows, now)}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// health is a cluster of six brokers in three racks where some topics
// have a partition in each tier but ok.
func health(names []string, rows []view.TopicRow, now time.Time) *view.HealthView {
	h := &view.HealthView{AsOf: now, Polls: 60, From: now.Add(-time.Hour), To: now, ClusterID: "generated", Controller: 1, KRaft: true,
		Findings: []view.Finding{}, Brokers: []view.BrokerHealth{}, Partitions: []view.PartitionHealth{}, Retention: []view.TopicRetention{},
		Events: []inspect.Event{}, Racks: view.RackHealth{Racks: map[string][]int32{}, NoRack: []int32{}, Conflicts: []view.RackConflict{}},
		Summary:   view.HealthSummary{Brokers: 6, BrokersUp: 6, Topics: len(names), ByTier: map[string]int{}},
		Elections: view.Elections{ByBroker: map[string]uint64{}, ByTopic: map[string]uint64{}}}
	for b := range int32(6) {
		rack := "rack-" + string(rune('a'+b%3))
		h.Brokers = append(h.Brokers, view.BrokerHealth{ID: b, Host: fmt.Sprintf("10.1.0.%d", 10+b), Port: 9092, Rack: rack, State: inspect.BrokerUp,
			Since: now.Add(-time.Hour), Controller: b == 1, Bytes: 1 << 30})
		h.Racks.Racks[rack] = append(h.Racks.Racks[rack], b)
	}
	bad := inspect.Tiers[1:]
	for i, name := range names {
		h.Retention = append(h.Retention, view.TopicRetention{Topic: name, CleanupPolicy: "delete", RetentionMs: 7 * 24 * 3600 * 1000,
			MsSource: "default", RetentionBytes: -1, BytesSource: "default", Limits: "time-only", Partitions: rows[i].Partitions})
		h.Summary.Partitions += rows[i].Partitions
		if i%4 != 1 {
			h.Summary.ByTier[inspect.TierOK] += rows[i].Partitions
			continue
		}
		tier := bad[(i/4)%len(bad)]
		h.Partitions = append(h.Partitions, view.PartitionHealth{Topic: name, Partition: 0, Tier: tier, InTiers: []string{tier},
			Leader: 2, Replicas: []int32{2, 3, 4}, ISR: []int32{2}, Missing: []int32{3, 4}, MinISR: 2, Since: now.Add(-10 * time.Minute)})
		h.Summary.ByTier[tier]++
		h.Summary.ByTier[inspect.TierOK] += rows[i].Partitions - 1
		if slices.Index(inspect.Tiers, tier) > slices.Index(inspect.Tiers, h.Summary.Worst) {
			h.Summary.Worst = tier
		}
	}
	if h.Summary.Worst == "" {
		h.Summary.Worst = inspect.TierOK
	}
	return h
}

// Handler serves the console's pages and static files as the agent does,
// with the API endpoints they read answering d.
func Handler(d Data) (http.Handler, error) {
	ui, err := web.New(web.Options{})
	if err != nil {
		return nil, err
	}
	noCluster := "this kscope agent inspects no cluster: start it with --cluster host:port"
	mux := http.NewServeMux()
	mux.Handle("GET /", ui)
	mux.HandleFunc("GET /api/v1/overview", func(w http.ResponseWriter, r *http.Request) { answer(w, d.Overview, "") })
	mux.HandleFunc("GET /api/v1/lag", func(w http.ResponseWriter, r *http.Request) { answer(w, d.Lag, noCluster) })
	mux.HandleFunc("GET /api/v1/health", func(w http.ResponseWriter, r *http.Request) { answer(w, d.Health, noCluster) })
	mux.HandleFunc("GET /api/v1/history/lag", func(w http.ResponseWriter, r *http.Request) {
		if d.Polls == nil {
			answer(w, nil, noCluster)
			return
		}
		q := r.URL.Query()
		f := view.LagHistoryFilter{Group: q.Get("group"), Topic: q.Get("topic")}
		f.Offset, _ = strconv.Atoi(q.Get("offset"))
		f.Limit, _ = strconv.Atoi(q.Get("limit"))
		in := view.Input{Window: view.Window{From: d.Polls[0].Time, To: d.Polls[len(d.Polls)-1].Time.Add(time.Second)}, Cluster: d.Polls}
		answer(w, view.LagOverTime(in, f), "")
	})
	mux.HandleFunc("GET /api/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(map[string]string{"error": "webtest serves only the overview, lag, lag history and health"})
	})
	return mux, nil
}

// answer writes v as JSON, or, when v is nil, 503 with msg.
func answer(w http.ResponseWriter, v any, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	b, err := json.Marshal(v)
	if err != nil || string(b) == "null" {
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(map[string]string{"error": msg})
		return
	}
	w.Write(b)
}
