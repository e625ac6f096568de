package table

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"kscope/internal/view"
)

// Overview renders the overview: the flow, then the topic, broker,
// producer, consumer and request latency tables.
func Overview(w io.Writer, o *view.OverviewView) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%d exchanges over %s s, %s to %s\n\n", o.Exchanges, ovNum(o.Seconds),
		o.From.UTC().Format("2006-01-02 15:04:05"), o.To.UTC().Format("15:04:05"))

	labels := map[string]string{}
	for _, n := range o.Nodes {
		labels[n.ID] = n.Label
	}
	// The flow: each producer -> topic -> consumer, topic by topic.
	fmt.Fprintln(tw, "FLOW\tBYTES/S\tRECORDS/S\tREQUESTS/S")
	for _, t := range o.Topics {
		id := view.KindTopic + ":" + t.Name
		var ins, outs []view.Edge
		for _, e := range o.Edges {
			if e.To == id {
				ins = append(ins, e)
			}
			if e.From == id {
				outs = append(outs, e)
			}
		}
		if len(ins) == 0 {
			fmt.Fprintf(tw, "(no producer seen) -> %s\t\t\t\n", t.Name)
		}
		for _, e := range ins {
			fmt.Fprintf(tw, "%s -> %s\t%s\t%s\t%s\n", labels[e.From], t.Name, ovNum(e.BytesPerSec), ovNum(e.RecordsPerSec), ovNum(e.RequestsPerSec))
		}
		if len(outs) == 0 {
			fmt.Fprintf(tw, "%s -> (no consumer seen)\t\t\t\n", t.Name)
		}
		for _, e := range outs {
			fmt.Fprintf(tw, "%s -> %s\t%s\t%s\t%s\n", t.Name, labels[e.To], ovNum(e.BytesPerSec), ovNum(e.RecordsPerSec), ovNum(e.RequestsPerSec))
		}
	}

	fmt.Fprintln(tw, "\nTOPIC\tPARTITIONS\tPRODUCERS\tCONSUMERS\tBYTES IN/S\tBYTES OUT/S\tRECORDS IN/S\tRECORDS OUT/S\tREPLICATION B/S")
	for _, t := range o.Topics {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.Partitions, t.Producers, t.Consumers,
			ovNum(t.BytesInPerSec), ovNum(t.BytesOutPerSec), ovNum(t.RecordsInPerSec), ovNum(t.RecordsOutPerSec), ovNum(t.ReplicationBytesPerSec))
	}

	fmt.Fprintln(tw, "\nBROKER\tREQUESTS/S\tPRODUCE/S\tFETCH/S\tREPLICA FETCH/S\tBYTES IN/S\tBYTES OUT/S\tREPLICATION B/S\tLATENCY P50/P99")
	for _, b := range o.Brokers {
		var lat []string
		for _, l := range b.Latency {
			if l.Answered > 0 && (l.API == "Produce" || strings.HasPrefix(l.API, "Fetch")) {
				lat = append(lat, fmt.Sprintf("%s %s/%s", l.API, ovDur(l.P50), ovDur(l.P99)))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", b.Broker, ovNum(b.RequestsPerSec), ovNum(b.ProduceRequestsPerSec),
			ovNum(b.FetchRequestsPerSec), ovNum(b.ReplicaFetchRequestsPerSec), ovNum(b.BytesInPerSec), ovNum(b.BytesOutPerSec),
			ovNum(b.ReplicationBytesPerSec), strings.Join(lat, ", "))
	}

	for _, sec := range []struct {
		title string
		rows  []view.ClientRow
	}{{"PRODUCER", o.Producers}, {"CONSUMER", o.Consumers}} {
		// Transactional producers' records, committed and aborted, in
		// two more columns when there are any.
		txn := slices.ContainsFunc(sec.rows, func(r view.ClientRow) bool { return r.CommittedRecords+r.AbortedRecords > 0 })
		head := "\n%s\tCLIENT ID\tGROUP\tTOPICS\tREQUESTS\tREQUESTS/S\tBYTES/S\tRECORDS/S\tERRORS"
		if txn {
			head += "\tCOMMITTED\tABORTED"
		}
		fmt.Fprintf(tw, head+"\n", sec.title)
		for _, r := range sec.rows {
			who := r.Process
			if who == "" {
				who = r.Host
			}
			if r.Pod != "" {
				who = "pod " + r.Pod + " " + who
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s", who, dash(r.ClientID), dash(r.Group), strings.Join(r.Topics, ","),
				r.Requests, ovNum(r.RequestsPerSec), ovNum(r.BytesPerSec), ovNum(r.RecordsPerSec), ovErrors(r.Errors, r.ErrorsByCode))
			if txn {
				fmt.Fprintf(tw, "\t%d\t%d", r.CommittedRecords, r.AbortedRecords)
			}
			fmt.Fprintln(tw)
		}
	}

	fmt.Fprintln(tw, "\nAPI\tREQUESTS\tREQUESTS/S\tP50\tP90\tP99\tMAX\tERRORS")
	for _, r := range o.Latency.ByAPI {
		p := func(v float64) string {
			if r.Answered == 0 {
				return "-"
			}
			return ovDur(v)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.API, r.Requests, ovNum(r.RequestsPerSec),
			p(r.P50), p(r.P90), p(r.P99), p(r.Max), ovErrors(r.Errors, r.ErrorsByCode))
	}
	return tw.Flush()
}

func ovNum(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

func ovDur(seconds float64) string {
	switch {
	case seconds >= 1:
		return strconv.FormatFloat(seconds, 'f', 2, 64) + "s"
	case seconds >= 0.001:
		return strconv.FormatFloat(seconds*1e3, 'f', 1, 64) + "ms"
	}
	return strconv.FormatFloat(seconds*1e6, 'f', 0, 64) + "µs"
}

func ovErrors(n int64, byCode map[string]int64) string {
	if n == 0 {
		return "0"
	}
	codes := make([]string, 0, len(byCode))
	for c := range byCode {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for i, c := range codes {
		codes[i] = c + "×" + strconv.FormatInt(byCode[c], 10)
	}
	return strconv.FormatInt(n, 10) + " (" + strings.Join(codes, ", ") + ")"
}
