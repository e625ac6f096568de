package retention

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Action is what a change did.
type Action string

// The actions: bump only raises retention, set may lower it, revert
// restores what a change found.
const (
	ActionBump   Action = "bump"
	ActionSet    Action = "set"
	ActionRevert Action = "revert"
)

// Entry is one line of the audit log: one key of one topic, changed.
// The lines of one change (bump and set change up to two keys) share its
// ID. Keys are only ever added.
type Entry struct {
	// ID names the change: its time and random hex.
	ID   string    `json:"id"`
	Time time.Time `json:"time"`
	// Who made it: the OS user of kscope retention --brokers, or
	// "api:" and the token's name through an agent.
	Who string `json:"who"`
	// RequestedBy is who asked for it, when someone else did (--as,
	// requested_by).
	RequestedBy string `json:"requested_by,omitempty"`
	ClusterID   string `json:"cluster_id"`
	Topic       string `json:"topic"`
	// Key is retention.ms or retention.bytes (per partition).
	Key string `json:"key"`
	// Old is the effective value found, and OldSource where it came
	// from: "topic" (an override of the topic's), "broker" or "default".
	Old       int64  `json:"old"`
	OldSource string `json:"old_source"`
	New       int64  `json:"new"`
	Reason    string `json:"reason"`
	Action    Action `json:"action"`
	// Reverts is the ID of the change a revert undid.
	Reverts string `json:"reverts,omitempty"`
}

// StateDir is where kscope keeps its state: $XDG_STATE_HOME/kscope, else
// ~/.local/state/kscope (the XDG Base Directory specification).
func StateDir() (string, error) {
	// The specification: a relative path is invalid and ignored.
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "kscope"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return "", errors.New("no state directory for the audit log ($XDG_STATE_HOME and $HOME are unset): pass --audit-log")
	}
	return filepath.Join(home, ".local", "state", "kscope"), nil
}

// DefaultAuditLogName is the audit log's file name in StateDir.
const DefaultAuditLogName = "retention-audit.jsonl"

// DefaultAuditLog is the audit log's path when none is given.
func DefaultAuditLog() (string, error) {
	dir, err := StateDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, DefaultAuditLogName), nil
}

// auditLog is the audit log: a JSON-lines file, only ever appended to, that
// a team can keep in git. Its owner (Admin) serializes writes; other
// processes may append at the same time, each line one write with
// O_APPEND.
type auditLog struct{ path string }

// open opens the log for appending, creating it (0600) and its directories
// (0700): done before the cluster is changed, so that a log that cannot be
// written stops the change.
func (l auditLog) open() (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(l.path), 0o700); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return f, nil
}

// write appends entries to f, a line each in one write, syncs and closes
// f.
func (l auditLog) write(f *os.File, entries []Entry) error {
	defer f.Close()
	for _, e := range entries {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("audit log %s: %w", l.path, err)
		}
		if _, err := f.Write(append(b, '\n')); err != nil {
			return fmt.Errorf("audit log: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return f.Close()
}

// read returns every entry, oldest first; none when the log does not
// exist yet.
func (l auditLog) read() ([]Entry, error) {
	b, err := os.ReadFile(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	var out []Entry
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(line, &e); err != nil || e.ID == "" {
			// A merge conflict kept in git, a hand edit: say where.
			return nil, fmt.Errorf("audit log %s, line %d: not an entry (%.40q): fix or remove the line", l.path, n, line)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("audit log %s: %w", l.path, err)
	}
	return out, nil
}

// newID is a change's id: its time to the second (UTC), then random hex,
// so that ids sort by time and two changes in one second differ.
func newID(t time.Time) string {
	var r [3]byte
	rand.Read(r[:])
	return t.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(r[:])
}

// Format writes a value of key as a person reads it: "3d", "50GiB",
// "unlimited".
func Format(key string, v int64) string {
	if key == KeyBytes {
		return FormatBytes(v)
	}
	return FormatMs(v)
}
