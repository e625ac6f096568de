// Package table renders what kscope shows as the text tables its commands
// print: exchanges (events, analyze), the overview, clients, latency and
// rebalances views. It formats results and never computes them: every
// figure comes from a view or a decoder's counters.
package table

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/exchange"
)

// Exchanges renders exchanges as the events table. Traced live
// traffic adds the PROCESS and SIDE columns.
func Exchanges(w io.Writer, xs []exchange.Exchange) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	procs := hasProcess(xs)
	if procs {
		fmt.Fprintln(tw, "TIME\tCLIENT\tSERVER\tPROCESS\tSIDE\tAPI\tCLIENT ID\tTOPICS\tBYTES\tLATENCY\tERROR")
	} else {
		fmt.Fprintln(tw, "TIME\tCLIENT\tSERVER\tAPI\tCLIENT ID\tTOPICS\tBYTES\tLATENCY\tERROR")
	}
	for i := range xs {
		e := &xs[i]
		fmt.Fprintf(tw, "%s\t%s\t%s\t", e.Time.UTC().Format("15:04:05.000000"), e.Client.Addr, e.Server.Addr)
		if procs {
			fmt.Fprintf(tw, "%s\t%s\t", clip(processCell(e), 24), e.Side)
		}
		fmt.Fprintf(tw, "%s v%d\t%s\t%s\t%s\t%s\t%s\n",
			e.API, e.APIVersion, clip(e.ClientID, 24), clip(topicsCell(e), 40), bytesCell(e), latencyCell(e), errorCell(e))
	}
	return tw.Flush()
}

func hasProcess(xs []exchange.Exchange) bool {
	for i := range xs {
		if xs[i].Client.PID != 0 || xs[i].Server.PID != 0 {
			return true
		}
	}
	return false
}

// processCell names the traced process: comm[pid].
func processCell(e *exchange.Exchange) string {
	p := &e.Client
	if e.Side == "server" || p.PID == 0 {
		p = &e.Server
	}
	if p.PID == 0 {
		return "-"
	}
	return p.Process + "[" + strconv.FormatUint(uint64(p.PID), 10) + "]"
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// topicsCell lists topics with their partitions: orders[0,1] audit[3].
func topicsCell(e *exchange.Exchange) string {
	var b strings.Builder
	for i, t := range e.Topics {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t.Name)
		if len(t.Partitions) == 0 {
			continue
		}
		b.WriteByte('[')
		for j, p := range t.Partitions {
			if j > 0 {
				b.WriteByte(',')
			}
			if j == 8 {
				fmt.Fprintf(&b, "+%d", len(t.Partitions)-j)
				break
			}
			b.WriteString(strconv.Itoa(int(p.Partition)))
		}
		b.WriteByte(']')
	}
	if d := e.Detail; b.Len() == 0 && d != nil && d.TransactionalID != "" {
		return txnCell(d)
	}
	if b.Len() == 0 && e.Group != "" {
		if e.Generation != nil && *e.Generation >= 0 {
			if e.APIKey == int16(kmsg.ConsumerGroupHeartbeat) {
				return fmt.Sprintf("group %s epoch %d", e.Group, *e.Generation) // KIP-848 member epoch
			}
			return fmt.Sprintf("group %s gen %d", e.Group, *e.Generation)
		}
		return "group " + e.Group
	}
	return b.String()
}

// txnCell names the transaction of an exchange without topics, and what
// EndTxn asked: txn ledger-writer commit.
func txnCell(d *exchange.Detail) string {
	s := "txn " + d.TransactionalID
	if d.Commit != nil {
		if *d.Commit {
			return s + " commit"
		}
		return s + " abort"
	}
	return s
}

func bytesCell(e *exchange.Exchange) string {
	if e.ResponseBytes == 0 {
		return strconv.Itoa(e.RequestBytes) + "/-"
	}
	return strconv.Itoa(e.RequestBytes) + "/" + strconv.Itoa(e.ResponseBytes)
}

func latencyCell(e *exchange.Exchange) string {
	if e.LatencyNS == nil {
		if e.NoResponse != "" {
			return "(" + e.NoResponse + ")"
		}
		return "-"
	}
	d := time.Duration(*e.LatencyNS)
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// errorCell is the top-level error, else the first partition error and
// how many partitions failed.
func errorCell(e *exchange.Exchange) string {
	if e.Error != "" {
		return e.Error
	}
	first, n := "", 0
	for _, t := range e.Topics {
		for _, p := range t.Partitions {
			if p.Error != "" {
				if first == "" {
					first = p.Error
				}
				n++
			}
		}
	}
	if n > 1 {
		return fmt.Sprintf("%s (%d partitions)", first, n)
	}
	if e.Truncated && first == "" {
		return "(truncated)"
	}
	return first
}

// Follow mode cannot wait to align a table on its widest cell: the
// columns have fixed widths, and longer cells are clipped.
var followColumns = []struct {
	name  string
	width int
}{
	{"TIME", 15}, {"CLIENT", 21}, {"SERVER", 21}, {"PROCESS", 20}, {"SIDE", 6},
	{"API", 26}, {"CLIENT ID", 20}, {"TOPICS", 32}, {"BYTES", 13}, {"LATENCY", 12}, {"ERROR", 0},
}

// FollowHeader writes the header of the following table, whose columns
// have fixed widths.
func FollowHeader(w io.Writer) {
	cells := make([]string, len(followColumns))
	for i, c := range followColumns {
		cells[i] = c.name
	}
	io.WriteString(w, followRow(cells))
}

func followRow(cells []string) string {
	var b strings.Builder
	for i, c := range followColumns {
		s := cells[i]
		if c.width == 0 {
			b.WriteString(s)
			break
		}
		s = clip(s, c.width)
		b.WriteString(s)
		// Two spaces at least, as the tabwriter table has.
		b.WriteString(strings.Repeat(" ", max(0, c.width-len([]rune(s)))+2))
	}
	return strings.TrimRight(b.String(), " ") + "\n"
}

// FollowRow writes e as one row under FollowHeader.
func FollowRow(w io.Writer, e *exchange.Exchange) error {
	_, err := io.WriteString(w, followRow([]string{
		e.Time.UTC().Format("15:04:05.000000"), e.Client.Addr, e.Server.Addr, processCell(e), e.Side,
		e.API + " v" + strconv.Itoa(int(e.APIVersion)), e.ClientID, topicsCell(e), bytesCell(e), latencyCell(e), errorCell(e),
	}))
	return err
}
