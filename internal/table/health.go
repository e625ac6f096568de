package table

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"kscope/internal/inspect"
	"kscope/internal/view"
)

// HealthTables says which tables follow the health summary.
type HealthTables struct {
	Brokers, Partitions, Racks, Retention, Events bool
}

// Health renders the health view: the one-screen summary and findings,
// then the tables asked for.
func Health(w io.Writer, v *view.HealthView, t HealthTables) error {
	if v.AsOf.IsZero() {
		_, err := fmt.Fprintln(w, "no poll of the cluster yet: the inspector polls every few seconds, try again")
		return err
	}
	s := &v.Summary
	cluster := "cluster " + dash(v.ClusterID)
	if v.KRaft {
		cluster += " (KRaft)"
	}
	fmt.Fprintf(w, "%s as of %s (%d poll%s in the window)\n", cluster, v.AsOf.Format(time.TimeOnly), v.Polls, plural(v.Polls))
	ctl := fmt.Sprintf("controller %d", v.Controller)
	switch {
	case v.Controller < 0:
		ctl = "no controller named by the brokers"
	case v.ControllerNote != "":
		ctl += " as the brokers name it (KRaft: the active controller is known only on the controllers' listener)"
	}
	fmt.Fprintf(w, "brokers %d of %d up; %s\n", s.BrokersUp, s.Brokers, ctl)
	var tiers []string
	for _, tier := range inspect.Tiers {
		tiers = append(tiers, fmt.Sprintf("%d %s", s.ByTier[tier], tier))
	}
	fmt.Fprintf(w, "%d topics, %d partitions: %s\n", s.Topics, s.Partitions, strings.Join(tiers, ", "))
	fmt.Fprintf(w, "leaders: %.0f%% off the mean at most, %d not on the preferred replica; %d partitions with replicas sharing a rack; %d log directories offline\n",
		s.LeaderImbalancePct, s.NotPreferredLeader, s.RackConflicts, s.OfflineLogDirs)
	fmt.Fprintln(w)
	if len(v.Findings) == 0 {
		fmt.Fprintln(w, "no findings: every partition fully in sync, brokers up, racks apart, retention by time and size")
	}
	for _, f := range v.Findings {
		fmt.Fprintf(w, "%-8s %s\n%-8s   %s\n", strings.ToUpper(f.Severity), f.What, "", f.Do)
	}
	if t.Brokers {
		fmt.Fprintln(w)
		if err := healthBrokers(w, v); err != nil {
			return err
		}
	}
	if t.Partitions {
		fmt.Fprintln(w)
		if err := healthPartitions(w, v); err != nil {
			return err
		}
	}
	if t.Racks {
		fmt.Fprintln(w)
		if err := healthRacks(w, v); err != nil {
			return err
		}
	}
	if t.Retention {
		fmt.Fprintln(w)
		if err := Retention(w, v); err != nil {
			return err
		}
	}
	if t.Events {
		fmt.Fprintln(w)
		if err := healthEvents(w, v); err != nil {
			return err
		}
	}
	return nil
}

func healthBrokers(w io.Writer, v *view.HealthView) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BROKER\tADDRESS\tRACK\tSTATE\tSINCE\tLEADERS\tSKEW\tNOT PREFERRED\tREPLICAS\tSIZE\tLOG DIRS OFFLINE\tELECTIONS\tPRODUCE/S\tFETCH/S")
	for _, b := range v.Brokers {
		id := strconv.Itoa(int(b.ID))
		if b.Controller {
			id += "*"
		}
		addr := "-"
		if b.Host != "" {
			addr = fmt.Sprintf("%s:%d", b.Host, b.Port)
		}
		size := "-"
		if b.Bytes >= 0 {
			size = view.Bytes(b.Bytes)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%+.0f%%\t%d\t%d\t%s\t%d\t%d\t%s\t%s\n", id, addr, dash(b.Rack), b.State, b.Since.Format(time.TimeOnly),
			b.Leaders, b.LeaderSkewPct, b.PreferredNotLeading, b.Replicas, size, b.OfflineLogDirs, b.Elections, rateCell(b.ProduceBytesPerSec), rateCell(b.FetchBytesPerSec))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	e := &v.Elections
	pm := "-"
	if e.PerMinute != nil {
		pm = fmt.Sprintf("%.2f/min", *e.PerMinute)
	}
	_, err := fmt.Fprintf(w, "* controller. In the window: %d leader elections (%s), %d ISR shrinks, %d expands, %d unclean elections suspected\n",
		e.Total, pm, e.ISRShrinks, e.ISRExpands, e.Unclean)
	return err
}

func rateCell(r *float64) string {
	if r == nil {
		return "-"
	}
	return view.Bytes(int64(*r))
}

func healthPartitions(w io.Writer, v *view.HealthView) error {
	if len(v.Partitions) == 0 {
		_, err := fmt.Fprintln(w, "no partition in the tiers asked for")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tTIER\tLEADER\tEPOCH\tREPLICAS\tISR\tMISSING\tMIN ISR\tSINCE\tALSO")
	for _, p := range v.Partitions {
		var also []string
		for _, t := range p.InTiers {
			if t != p.Tier {
				also = append(also, t)
			}
		}
		if p.NotPreferred {
			also = append(also, "not preferred leader")
		}
		if len(p.Adding) > 0 {
			also = append(also, "adding "+ids(p.Adding))
		}
		leader := strconv.Itoa(int(p.Leader))
		if p.Leader < 0 {
			leader = "none"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%s\t%s\t%s\t%d\t%s\t%s\n", p.Topic, p.Partition, p.Tier, leader, p.Epoch, ids(p.Replicas), ids(p.ISR),
			dash(ids(p.Missing)), p.MinISR, p.Since.Format(time.TimeOnly), dash(strings.Join(also, ", ")))
	}
	return tw.Flush()
}

func ids(b []int32) string {
	s := make([]string, len(b))
	for i, x := range b {
		s[i] = strconv.Itoa(int(x))
	}
	return strings.Join(s, ",")
}

func healthRacks(w io.Writer, v *view.HealthView) error {
	r := &v.Racks
	for _, rack := range slices.Sorted(maps.Keys(r.Racks)) {
		fmt.Fprintf(w, "rack %s: brokers %s\n", rack, ids(r.Racks[rack]))
	}
	if len(r.NoRack) > 0 {
		fmt.Fprintf(w, "no rack: brokers %s\n", ids(r.NoRack))
	}
	if r.ConflictsTotal == 0 {
		_, err := fmt.Fprintln(w, "no partition has two replicas in one rack")
		return err
	}
	fmt.Fprintf(w, "%d partitions have replicas sharing a rack:\n", r.ConflictsTotal)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tRACK\tBROKERS")
	for _, c := range r.Conflicts {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", c.Topic, c.Partition, c.Rack, ids(c.Brokers))
	}
	return tw.Flush()
}

// Retention renders each topic's retention: its limits and where each
// is set, how full its fullest partition is, the time its log covers and
// when size-based deletion cuts into the time configured.
func Retention(w io.Writer, v *view.HealthView) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPOLICY\tRETENTION.MS\tRETENTION.BYTES\tLIMITS\tSIZE\tFULLEST\tCOVERS\tPRODUCE/S\tSIZE LIMIT HOLDS\tSIZE DELETION IN")
	for _, r := range v.Retention {
		ms, bytes := "unlimited", "unlimited"
		if r.RetentionMs >= 0 {
			ms = view.Seconds(float64(r.RetentionMs) / 1000)
		}
		if r.RetentionBytes >= 0 {
			bytes = view.Bytes(r.RetentionBytes)
		}
		if r.MsSource != "" {
			ms += " (" + r.MsSource + ")"
			bytes += " (" + r.BytesSource + ")"
		}
		full := "-"
		if r.MaxSizePct != nil {
			full = fmt.Sprintf("%.0f%%", *r.MaxSizePct)
		}
		rate := rateCell(r.ProduceBytesPerSec)
		if r.RateSource == "log growth" {
			rate += " (growth)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Topic, dash(r.CleanupPolicy), ms, bytes, dash(r.Limits), view.Bytes(r.SizeBytes), full,
			secondsCell(r.CoveredSeconds), rate, secondsCell(r.SizeLimitCoversSeconds), secondsCell(r.SizeDeletionInSeconds))
	}
	return tw.Flush()
}

func secondsCell(s *float64) string {
	if s == nil {
		return "-"
	}
	if *s == 0 {
		return "now"
	}
	return view.Seconds(*s)
}

func healthEvents(w io.Writer, v *view.HealthView) error {
	if len(v.Events) == 0 {
		_, err := fmt.Fprintf(w, "no change between the %d polls of the window\n", v.Polls)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tEVENT\tDETAIL")
	for _, e := range v.Events {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Time.Format(time.TimeOnly), e.Kind, e.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if v.EventsTotal > len(v.Events) {
		fmt.Fprintf(w, "(%d older events not shown)\n", v.EventsTotal-len(v.Events))
	}
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
