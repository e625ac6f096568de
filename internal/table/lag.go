package table

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"kscope/internal/view"
)

// Clients renders the clients view: consumers by partition, then
// producers.
func Clients(w io.Writer, v *view.ClientsView) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	// LAG counts from the commit when the consumer commits (it is where
	// the consumer is), FETCH LAG from what it fetched.
	fmt.Fprintln(tw, "CONSUMER\tCLIENT ID\tGROUP\tTOPIC\tPARTITION\tCOMMITTED\tFETCHED TO\tLOG END\tLAG\tFETCH LAG\tTIME LAG\tCOMMIT LAG\tRECORDS/S\tLAST FETCH")
	for _, c := range v.Consumers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t%s\n", clip(c.Process, 40), clip(c.ClientID, 24), dash(c.Group), c.Topic, c.Partition,
			lagIntCell(c.CommittedOffset), lagIntCell(c.NextOffset), lagIntCell(c.HighWatermark), lagIntCell(c.OffsetLag), lagIntCell(c.FetchLag),
			lagSecondsPtr(c.TimeLagSeconds), lagSecondsPtr(c.CommitLagSeconds), c.RecordsPerSec, agoCell(c.LastFetch, v.To))
	}
	if len(v.Producers) == 0 { // --group shows none
		return tw.Flush()
	}
	fmt.Fprintln(tw)
	// Transactional producers' records, committed and aborted, in two
	// more columns when there are any.
	txn := slices.ContainsFunc(v.Producers, func(p view.ProducerRate) bool { return p.CommittedRecords+p.AbortedRecords > 0 })
	head := "PRODUCER\tCLIENT ID\tTOPIC\tREQUESTS\tRECORDS/S\tBYTES/S\tACKS\tNO RESPONSE\tERRORS"
	if txn {
		head += "\tCOMMITTED\tABORTED"
	}
	fmt.Fprintln(tw, head)
	for _, p := range v.Producers {
		var errs []string
		for code, n := range p.Errors {
			errs = append(errs, fmt.Sprintf("%s×%d", code, n))
		}
		sort.Strings(errs)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.1f\t%.0f\t%s\t%d\t%s", clip(p.Process, 40), clip(p.ClientID, 24), p.Topic, p.Requests,
			p.RecordsPerSec, p.BytesPerSec, dash(p.Acks), p.NoResponse, dash(strings.Join(errs, ",")))
		if txn {
			fmt.Fprintf(tw, "\t%d\t%d", p.CommittedRecords, p.AbortedRecords)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// agoCell is how long before end t was: "12.3s ago".
func agoCell(t *time.Time, end time.Time) string {
	if t == nil {
		return "-"
	}
	return lagSecondsCell(max(end.Sub(*t).Seconds(), 0)) + " ago"
}

func lagSecondsPtr(s *float64) string {
	if s == nil {
		return "-"
	}
	return lagSecondsCell(*s)
}

// Latency renders the latency view, one row per series: its first and
// last delay show the trend, the max the worst.
func Latency(w io.Writer, v *view.LatencyView) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tCONSUMER\tPRODUCER\tBATCHES\tFIRST DELAY\tLAST DELAY\tMAX DELAY\tLAST EXACT\tTIMESTAMP")
	for _, s := range v.Series {
		if len(s.Points) == 0 {
			continue
		}
		first, last := s.Points[0], s.Points[len(s.Points)-1]
		worst := first.DelaySeconds
		for _, p := range s.Points {
			worst = max(worst, p.DelaySeconds)
		}
		exact := "-"
		if last.ExactDelaySeconds != nil {
			exact = lagSecondsCell(*last.ExactDelaySeconds)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", s.Topic, s.Partition, clip(s.Consumer, 40), dash(clip(s.Producer, 40)),
			len(s.Points), lagSecondsCell(first.DelaySeconds), lagSecondsCell(last.DelaySeconds), lagSecondsCell(worst), exact, last.TimestampType)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(v.Series) == 0 {
		fmt.Fprintln(w, "no consumer fetched record batches in this window")
	}
	return nil
}

// lagSecondsCell shows a duration in seconds as a person reads it.
func lagSecondsCell(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch a := max(d, -d); {
	case a < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case a < time.Second:
		return d.Round(100 * time.Microsecond).String()
	default:
		return d.Round(time.Millisecond).String()
	}
}

func lagIntCell(v *int64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatInt(*v, 10)
}

// dash shows a missing value in a table.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
