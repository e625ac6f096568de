package view

// merge adds b to a; b is not changed. A client's group is the one it
// named last, by exchange time.
func (a *ovAgg) merge(b *ovAgg) {
	a.n += b.n
	topics := make(map[*ovTopic]*ovTopic, len(b.topics))
	for name, bt := range b.topics {
		at := a.topic(name)
		for len(at.partitions) < len(bt.partitions) {
			at.partitions = append(at.partitions, 0)
		}
		for i, w := range bt.partitions {
			at.partitions[i] |= w
		}
		at.replBytes += bt.replBytes
		at.replRecords += bt.replRecords
		topics[bt] = at
	}
	mergeRole := func(ar, br *ovRole) *ovRole {
		if br == nil {
			return ar
		}
		if ar == nil {
			ar = &ovRole{}
		}
		ar.requests += br.requests
		ar.errors += br.errors
		for c, n := range br.errorsByCode {
			if ar.errorsByCode == nil {
				ar.errorsByCode = make(map[string]int64)
			}
			ar.errorsByCode[c] += n
		}
		for bt, be := range br.edges {
			ae := ar.edge(topics[bt])
			ae.bytes += be.bytes
			ae.records += be.records
			ae.requests += be.requests
		}
		return ar
	}
	for k, bc := range b.clients {
		ac := a.clients[k]
		if ac == nil {
			ac = &ovClient{c: bc.c, lat: make(rlSet)}
			a.clients[k] = ac
		}
		ac.nameGroup(bc.group, bc.groupAt)
		ac.prod = mergeRole(ac.prod, bc.prod)
		ac.cons = mergeRole(ac.cons, bc.cons)
		ac.lat.merge(bc.lat)
	}
	for addr, bb := range b.brokers {
		ab := a.brokers[addr]
		if ab == nil {
			ab = &ovBroker{addr: addr, lat: make(rlSet)}
			a.brokers[addr] = ab
		}
		ab.requests += bb.requests
		ab.produce += bb.produce
		ab.fetch += bb.fetch
		ab.replicaFetch += bb.replicaFetch
		ab.bytesIn += bb.bytesIn
		ab.bytesOut += bb.bytesOut
		ab.replBytes += bb.replBytes
		for r := range bb.replicas {
			if ab.replicas == nil {
				ab.replicas = make(map[string]struct{})
			}
			ab.replicas[r] = struct{}{}
		}
		ab.lat.merge(bb.lat)
	}
}
