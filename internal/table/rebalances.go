package table

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"kscope/internal/view"
)

// Rebalances renders the rebalances view: groups, their members, each
// rebalance with its members' delays, and the events.
func Rebalances(w io.Writer, v *view.Rebalances) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tPROTOCOL\tGENERATION\tASSIGNOR\tLEADER\tMEMBERS\tREBALANCES\tLAST REBALANCE")
	for _, g := range v.Groups {
		gen := "-"
		if g.Generation != nil {
			gen = strconv.Itoa(int(*g.Generation))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", g.Group, g.GroupProtocol, gen, dash(g.Protocol), dash(clip(g.Leader, 40)),
			len(g.Members), g.Rebalances, rbSecondsCell(g.LastRebalanceSeconds))
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "GROUP\tMEMBER\tCLIENT ID\tPROCESS/HOST\tINSTANCE\tASSIGNMENT")
	for _, g := range v.Groups {
		for _, m := range g.Members {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", g.Group, clip(m.MemberID, 48), dash(m.ClientID), dash(rbWho(m.Client)), dash(m.InstanceID), dash(clip(view.PartitionsText(m.Assignment), 60)))
		}
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "STARTED\tGROUP\tGENERATION\tSTOP-THE-WORLD\tMEMBER\tCLIENT ID\tDELAY\tREVOKED\tASSIGNED\tREASON")
	for _, rb := range v.Rebalances {
		started := "-"
		if rb.Started != nil {
			started = rb.Started.UTC().Format("15:04:05.000000")
		}
		stw := rbSecondsCell(rb.DelaySeconds)
		if !rb.Complete {
			stw = "incomplete"
		}
		if len(rb.Members) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t-\t-\t-\t-\t-\t%s\n", started, rb.Group, rb.Generation, stw, rb.Reason)
		}
		for i, m := range rb.Members {
			if i > 0 {
				started, stw = "", ""
			}
			reason := ""
			if i == 0 {
				reason = rb.Reason
			}
			// Revoked and assigned partitions: KIP-848 epochs only.
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", started, rb.Group, rb.Generation, stw, clip(m.MemberID, 48), dash(m.ClientID), rbSecondsCell(m.DelaySeconds),
				dash(clip(view.PartitionsText(m.Revoked), 40)), dash(clip(view.PartitionsText(m.Assigned), 40)), clip(reason, 80))
		}
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "TIME\tGROUP\tAPI\tMEMBER\tCLIENT ID\tGENERATION\tLATENCY\tERROR\tDETAIL")
	for _, e := range v.Events {
		gen := "-"
		if e.Generation != nil {
			gen = strconv.Itoa(int(*e.Generation))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format("15:04:05.000000"), e.Group, e.API, dash(clip(e.MemberID, 48)),
			dash(e.ClientID), gen, rbSecondsCell(e.LatencySeconds), dash(e.Error), clip(e.Detail, 60))
	}
	return tw.Flush()
}

func rbWho(c view.Client) string {
	if c.Process != "" {
		return c.Process
	}
	return c.Host
}

func rbSecondsCell(s *float64) string {
	if s == nil {
		return "-"
	}
	return lagSecondsCell(*s)
}
