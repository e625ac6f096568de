package table

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"kscope/internal/alerting"
	"kscope/internal/view"
)

// Alerts renders what fires in Alertmanager, most urgent first: each
// severity's alerts, for how long, who they went to, and why the held ones
// are held.
func Alerts(w io.Writer, v *alerting.View, now time.Time) error {
	fmt.Fprintf(w, "Alertmanager %s: %d firing, %d held back (inhibited or silenced)\n", v.Alertmanager, v.Firing, v.Held)
	if v.Firing == 0 && v.Held == 0 {
		_, err := fmt.Fprintln(w, "nothing fires")
		return err
	}
	held := false
	for _, g := range v.Severities {
		for _, a := range g.Alerts {
			held = held || a.State == "suppressed"
		}
	}
	for _, g := range v.Severities {
		fmt.Fprintf(w, "\n%s (%d)\n", strings.ToUpper(g.Severity), len(g.Alerts))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		head := "  ALERT\tABOUT\tFOR\tTO\tSUMMARY"
		if held {
			head += "\tHELD BY"
		}
		fmt.Fprintln(tw, head)
		for _, a := range g.Alerts {
			row := fmt.Sprintf("  %s\t%s\t%s\t%s\t%s", a.Name, dash(a.Subject), view.Seconds(now.Sub(a.Since).Seconds()), dash(strings.Join(a.Receivers, ",")), a.Summary)
			if held {
				by := strings.Join(a.InhibitedBy, "; ")
				if a.Silenced {
					by = strings.TrimPrefix(by+"; a silence", "; ")
				}
				row += "\t" + dash(by)
			}
			fmt.Fprintln(tw, row)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if v.Held > 0 && !held {
		fmt.Fprintf(w, "\n%d held back: --held shows them and what holds them\n", v.Held)
	}
	return nil
}
