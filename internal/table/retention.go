package table

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"kscope/internal/retention"
)

// RetentionChange renders a retention change: each key before and after,
// the value and where it came from, as a person reads it and as Kafka
// stores it.
func RetentionChange(w io.Writer, r *retention.Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tKEY\tBEFORE\tAFTER")
	deleted := map[string]bool{}
	for _, k := range r.Deleted {
		deleted[k] = true
	}
	for _, e := range r.Entries {
		after := retentionValue(e.Key, e.New, "topic")
		if deleted[e.Key] {
			after = retentionValue(e.Key, e.New, "the topic's override deleted")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Topic, e.Key, retentionValue(e.Key, e.Old, e.OldSource), after)
	}
	return tw.Flush()
}

// retentionValue is "7d (604800000, default)".
func retentionValue(key string, v int64, source string) string {
	return retention.Format(key, v) + " (" + strconv.FormatInt(v, 10) + ", " + source + ")"
}

// RetentionHistory renders the audit log, oldest first.
func RetentionHistory(w io.Writer, entries []retention.Entry) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tID\tACTION\tTOPIC\tKEY\tOLD\tNEW\tWHO\tREASON")
	for _, e := range entries {
		action := string(e.Action)
		if e.Reverts != "" {
			action += " " + e.Reverts
		}
		who := e.Who
		if e.RequestedBy != "" {
			who += " for " + e.RequestedBy
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s (%s)\t%s\t%s\t%s\n",
			e.Time.UTC().Format(time.RFC3339), e.ID, action, e.Topic, e.Key,
			retention.Format(e.Key, e.Old), e.OldSource, retention.Format(e.Key, e.New), clip(who, 32), clip(e.Reason, 60))
	}
	return tw.Flush()
}
