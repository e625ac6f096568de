package main

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// DefaultAgentNice is the agent's scheduling priority. When the CPUs are
// busy, an agent at the traced processes' priority falls behind its ring
// buffer and drops events; ahead of them it drains the ring in short
// bursts and sleeps. Measured on the sync-produce benchmark, that also
// cost the producer less (README, Agent overhead).
const DefaultAgentNice = -10

// setNice gives every thread of this process the nice value n; threads
// made later inherit it from the thread that makes them. On Linux a nice
// value is per thread, so setting it once would miss the others.
func setNice(n int) error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.Setpriority(unix.PRIO_PROCESS, tid, n); err != nil {
			return fmt.Errorf("set nice %d: %w", n, err)
		}
	}
	return nil
}
