package table

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"kscope/internal/view"
)

// Transactions renders the transactions view: per transactional id and
// producer process, then each transaction, then the findings.
func Transactions(w io.Writer, v *view.TransactionsView) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TRANSACTIONAL ID\tPROCESS\tPRODUCER ID\tTIMEOUT\tBEGUN\tCOMMITTED\tABORTED\tFAILED\tOPEN\tRECORDS COMMITTED\tRECORDS ABORTED\tMEAN OPEN\tMAX OPEN")
	for _, p := range v.Producers {
		pid, timeout := "-", "-"
		if p.ProducerID != nil {
			pid = strconv.FormatInt(*p.ProducerID, 10)
		}
		if p.TimeoutMS != nil {
			timeout = lagSecondsCell(float64(*p.TimeoutMS) / 1000)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", p.TransactionalID, clip(p.Process, 40), pid, timeout,
			p.Begun, p.Committed, p.Aborted, p.Failed, p.Open, p.CommittedRecords, p.AbortedRecords, rbSecondsCell(p.MeanSeconds), rbSecondsCell(p.MaxSeconds))
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "BEGIN\tTRANSACTIONAL ID\tPROCESS\tRESULT\tOPEN\tRECORDS\tTOPICS\tERROR")
	for _, t := range v.Transactions {
		open := lagSecondsCell(t.Seconds)
		if t.PastTimeout {
			open += " (past timeout)"
		}
		topics := ""
		for i, tt := range t.Topics {
			if i > 0 {
				topics += " "
			}
			topics += tt.Topic
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", t.Begin.UTC().Format("15:04:05.000000"), t.TransactionalID, clip(t.Process, 40),
			t.Result, open, t.Records, dash(clip(topics, 40)), dash(t.Error))
	}
	for _, f := range v.Findings {
		fmt.Fprintf(tw, "\n%s: %s\n  %s\n", f.Severity, f.What, f.Do)
	}
	return tw.Flush()
}
