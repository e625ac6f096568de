package view

import "sort"

func (a *ovAgg) result(w Window) OverviewView {
	secs := w.Seconds()
	o := OverviewView{
		From: w.From, To: w.To, Seconds: secs, Exchanges: a.n,
		Nodes: []Node{}, Edges: []Edge{}, Topics: []TopicRow{}, Brokers: []BrokerRow{},
		Producers: []ClientRow{}, Consumers: []ClientRow{},
	}
	type ovTopicSum struct {
		row                  *TopicRow
		bytesIn, recordsIn   int64
		bytesOut, recordsOut int64
	}
	sums := make(map[*ovTopic]*ovTopicSum, len(a.topics))
	for _, t := range a.topics {
		row := TopicRow{
			Name:                   t.name,
			Partitions:             t.count(),
			ReplicationBytesPerSec: float64(t.replBytes) / secs,
		}
		sums[t] = &ovTopicSum{row: &row}
	}
	edge := func(from, to string, ed *ovEdge) Edge {
		return Edge{
			From: from, To: to,
			BytesPerSec:    float64(ed.bytes) / secs,
			RecordsPerSec:  float64(ed.records) / secs,
			RequestsPerSec: float64(ed.requests) / secs,
			Bytes:          ed.bytes, Records: ed.records, Requests: ed.requests,
		}
	}
	clientRow := func(id string, ca *ovClient, r *ovRole) ClientRow {
		row := ClientRow{
			ID: id, Client: ca.c, Topics: []string{},
			Requests: r.requests, RequestsPerSec: float64(r.requests) / secs,
			Errors: r.errors, ErrorsByCode: r.errorsByCode,
		}
		for t, ed := range r.edges {
			row.Topics = append(row.Topics, t.name)
			row.Bytes += ed.bytes
			row.Records += ed.records
		}
		sort.Strings(row.Topics)
		row.BytesPerSec = float64(row.Bytes) / secs
		row.RecordsPerSec = float64(row.Records) / secs
		return row
	}
	for _, ca := range a.clients {
		who := ovWho(&ca.c)
		if r := ca.prod; r != nil {
			id := KindProducer + ":" + who + ":" + ca.c.ClientID
			c := ca.c
			o.Nodes = append(o.Nodes, Node{ID: id, Kind: KindProducer, Label: ovLabel(&c, ""), Client: &c})
			row := clientRow(id, ca, r)
			if x := ca.txn; x != nil {
				row.CommittedRecords, row.AbortedRecords = x.committed, x.aborted
			}
			o.Producers = append(o.Producers, row)
			for t, ed := range r.edges {
				s := sums[t]
				s.row.Producers++
				s.bytesIn += ed.bytes
				s.recordsIn += ed.records
				o.Edges = append(o.Edges, edge(id, KindTopic+":"+t.name, ed))
			}
		}
		if r := ca.cons; r != nil {
			id := KindConsumer + ":" + who + ":" + ca.c.ClientID
			c := ca.c
			o.Nodes = append(o.Nodes, Node{ID: id, Kind: KindConsumer, Label: ovLabel(&c, ca.group), Client: &c, Group: ca.group})
			row := clientRow(id, ca, r)
			row.Group = ca.group
			o.Consumers = append(o.Consumers, row)
			for t, ed := range r.edges {
				s := sums[t]
				s.row.Consumers++
				s.bytesOut += ed.bytes
				s.recordsOut += ed.records
				o.Edges = append(o.Edges, edge(KindTopic+":"+t.name, id, ed))
			}
		}
		for _, r := range ca.lat.rows(secs, nil) {
			c := ca.c
			r.Client = &c
			o.Latency.ByClient = append(o.Latency.ByClient, r)
		}
	}
	for _, s := range sums {
		s.row.BytesInPerSec = float64(s.bytesIn) / secs
		s.row.RecordsInPerSec = float64(s.recordsIn) / secs
		s.row.BytesOutPerSec = float64(s.bytesOut) / secs
		s.row.RecordsOutPerSec = float64(s.recordsOut) / secs
		o.Topics = append(o.Topics, *s.row)
		o.Nodes = append(o.Nodes, Node{ID: KindTopic + ":" + s.row.Name, Kind: KindTopic, Label: s.row.Name})
	}
	for _, b := range a.brokers {
		if b.requests == 0 {
			continue
		}
		lat := b.lat.rows(secs, nil)
		o.Brokers = append(o.Brokers, BrokerRow{
			Broker:                     b.addr,
			RequestsPerSec:             float64(b.requests) / secs,
			ProduceRequestsPerSec:      float64(b.produce) / secs,
			FetchRequestsPerSec:        float64(b.fetch) / secs,
			ReplicaFetchRequestsPerSec: float64(b.replicaFetch) / secs,
			BytesInPerSec:              float64(b.bytesIn) / secs,
			BytesOutPerSec:             float64(b.bytesOut) / secs,
			ReplicationBytesPerSec:     float64(b.replBytes) / secs,
			Replicas:                   len(b.replicas),
			Latency:                    lat,
		})
		for _, r := range lat {
			r.Broker = b.addr
			o.Latency.ByBroker = append(o.Latency.ByBroker, r)
		}
	}
	all := make(rlSet)
	for _, b := range a.brokers {
		for api, st := range b.lat {
			all.get(api).merge(st)
		}
	}
	o.Latency.ByAPI = all.rows(secs, nil)
	if o.Latency.ByBroker == nil {
		o.Latency.ByBroker = []LatencyRow{}
	}
	if o.Latency.ByClient == nil {
		o.Latency.ByClient = []LatencyRow{}
	}
	kindOrder := map[string]int{KindProducer: 0, KindTopic: 1, KindConsumer: 2}
	sort.Slice(o.Nodes, func(i, j int) bool {
		if ki, kj := kindOrder[o.Nodes[i].Kind], kindOrder[o.Nodes[j].Kind]; ki != kj {
			return ki < kj
		}
		return o.Nodes[i].ID < o.Nodes[j].ID
	})
	sort.Slice(o.Edges, func(i, j int) bool {
		if o.Edges[i].From != o.Edges[j].From {
			return o.Edges[i].From < o.Edges[j].From
		}
		return o.Edges[i].To < o.Edges[j].To
	})
	sort.Slice(o.Topics, func(i, j int) bool { return o.Topics[i].Name < o.Topics[j].Name })
	sort.Slice(o.Brokers, func(i, j int) bool { return o.Brokers[i].Broker < o.Brokers[j].Broker })
	sort.Slice(o.Producers, func(i, j int) bool { return o.Producers[i].ID < o.Producers[j].ID })
	sort.Slice(o.Consumers, func(i, j int) bool { return o.Consumers[i].ID < o.Consumers[j].ID })
	sort.SliceStable(o.Latency.ByBroker, func(i, j int) bool {
		if o.Latency.ByBroker[i].API != o.Latency.ByBroker[j].API {
			return o.Latency.ByBroker[i].API < o.Latency.ByBroker[j].API
		}
		return o.Latency.ByBroker[i].Broker < o.Latency.ByBroker[j].Broker
	})
	sort.SliceStable(o.Latency.ByClient, func(i, j int) bool {
		ri, rj := &o.Latency.ByClient[i], &o.Latency.ByClient[j]
		if ri.API != rj.API {
			return ri.API < rj.API
		}
		if wi, wj := ovWho(ri.Client), ovWho(rj.Client); wi != wj {
			return wi < wj
		}
		return ri.Client.ClientID < rj.Client.ClientID
	})
	return o
}

// ovLabel is how a person names a client: "process (client id)", with
// the pod and the group when known.
func ovLabel(c *Client, group string) string {
	s := ovWho(c)
	if c.Pod != "" {
		s = "pod " + c.Pod + " " + s
	}
	if c.ClientID != "" {
		s += " (" + c.ClientID + ")"
	}
	if group != "" {
		s += " group " + group
	}
	return s
}
