package table

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"kscope/internal/view"
)

// GroupLag renders the lag view as kafka-consumer-groups --describe does,
// a row per group and partition, then a row per group with its status and
// why, then the brokers that did not answer.
func GroupLag(w io.Writer, v *view.LagView) error {
	if v.PolledAt == nil {
		_, err := fmt.Fprintln(w, "no poll of the cluster yet")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tTOPIC\tPARTITION\tCOMMITTED\tLOG-END\tLAG\tAPPEND-LAG\tTIME-LAG\tTIME-TO-LOSS\tSTATUS\tOWNER")
	for _, g := range v.Groups {
		for _, p := range g.Partitions {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", clip(g.Group, 40), p.Topic, p.Partition,
				lagIntCell(p.CommittedOffset), lagIntCell(p.HighWatermark), lagIntCell(p.OffsetLag),
				lagSecondsPtr(p.AppendLagSeconds), lagSecondsPtr(p.TimeLagSeconds), lossCell(p.TimeToLossSeconds), p.Status, ownerCell(p.Owner))
		}
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "GROUP\tSTATE\tPROTOCOL\tMEMBERS\tLAG\tMAX APPEND-LAG\tMAX TIME-LAG\tSTATUS\tREASON")
	for _, g := range v.Groups {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", clip(g.Group, 40), dash(g.State), g.Protocol, g.Members, g.OffsetLag,
			lagSecondsPtr(g.MaxAppendLagSeconds), lagSecondsPtr(g.MaxTimeLagSeconds), g.Status, clip(g.Reason, 100))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\npolled at %s; statuses over the last %d polls\n", v.PolledAt.UTC().Format("15:04:05"), v.Polls)
	for _, e := range v.Errors {
		who := "the cluster"
		if e.Broker >= 0 {
			who = "broker " + strconv.Itoa(int(e.Broker))
		}
		fmt.Fprintf(w, "%s did not answer %s since %s: %s\n", who, e.Request, e.Since.UTC().Format("15:04:05"), e.Error)
	}
	return nil
}

func ownerCell(o *view.LagOwner) string {
	switch {
	case o == nil:
		return "-"
	case o.Process != "":
		return o.Process
	case o.ClientID != "":
		return o.ClientID + "@" + o.Host
	}
	return clip(o.MemberID, 40)
}

// lossCell shows a time to loss; past a day it is days.
func lossCell(s *float64) string {
	if s == nil {
		return "-"
	}
	if d := time.Duration(*s * float64(time.Second)); d >= 48*time.Hour {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	return lagSecondsCell(*s)
}
