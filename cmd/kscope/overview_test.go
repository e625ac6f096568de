package main

import (
	"strings"
	"testing"
	"time"

	"kscope/internal/view"
)

// TestOverviewCaptureEqualsStore: the view of a capture file is the view
// of an agent's store holding the same exchanges over the same window.
func TestOverviewCaptureEqualsStore(t *testing.T) {
	for _, file := range []string{"franz-go.pcap", "kcat.pcap"} {
		t.Run(file, func(t *testing.T) {
			xs := captureExchanges(t, captures+file)
			_, url := fakeAgent(t, "", xs...)
			w := view.WindowOf(xs)
			fromFile := mustRun(t, overviewCmd(), "--pcap", captures+file, "-o", "json")
			fromAgent := mustRun(t, overviewCmd(), "--server", url, "--since", w.From.Format(time.RFC3339Nano), "--until", w.To.Format(time.RFC3339Nano), "-o", "json")
			if fromFile != fromAgent {
				t.Errorf("capture and agent views differ:\n%s\n---\n%s", fromFile, fromAgent)
			}
		})
	}
}

func TestOverviewDeadAgent(t *testing.T) {
	_, err := run(t, overviewCmd(), "--server", "http://127.0.0.1:1")
	if err == nil || !strings.Contains(err.Error(), "cannot reach kscope agent") {
		t.Errorf("err = %v, want one line saying the agent cannot be reached", err)
	}
}
