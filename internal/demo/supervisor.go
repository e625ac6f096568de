package demo

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"kscope/internal/childproc"
)

// MaxReplicas bounds how many processes of one service the demo runs.
const MaxReplicas = 10

// stopGrace is how long a service has to leave its group and exit before
// it is killed.
const stopGrace = 5 * time.Second

// SupervisorConfig says how to start the service processes.
type SupervisorConfig struct {
	// Exe is the kscope binary; each service runs as
	// "Exe demo-service NAME ...".
	Exe       string
	Bootstrap []string
	Rate      float64
	Burst     time.Duration
	SlowDelay time.Duration
	// Slow says whether invoicing starts slowed down.
	Slow bool
	// Stderr receives the services' log lines.
	Stderr io.Writer
	Log    *slog.Logger
}

// Supervisor runs the demo's services as processes of their own, so that
// the agent sees each one as the process it is.
type Supervisor struct {
	cfg SupervisorConfig

	mu       sync.Mutex
	procs    map[string][]*proc
	slow     bool
	stopping bool
	wg       sync.WaitGroup
}

// proc is one running service process.
type proc struct {
	name    string
	cmd     *exec.Cmd
	control io.WriteCloser // the service's stdin: commands, and its lifeline
	started time.Time
	done    chan struct{} // closed when it exited
	asked   bool          // it was asked to stop; guarded by Supervisor.mu
}

// NewSupervisor returns a supervisor that runs nothing yet.
func NewSupervisor(cfg SupervisorConfig) *Supervisor {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Stderr == nil {
		cfg.Stderr = io.Discard
	}
	if cfg.SlowDelay <= 0 {
		cfg.SlowDelay = DefaultSlowDelay
	}
	return &Supervisor{cfg: cfg, procs: make(map[string][]*proc), slow: cfg.Slow}
}

// serviceArgs are the arguments of "kscope demo-service" for a service.
func (s *Supervisor) serviceArgs(name string, slow bool) []string {
	args := []string{"demo-service", name,
		"--bootstrap", strings.Join(s.cfg.Bootstrap, ","),
		"--rate", strconv.FormatFloat(s.cfg.Rate, 'f', -1, 64),
		"--burst", s.cfg.Burst.String(),
		"--slow-delay", s.cfg.SlowDelay.String(),
	}
	if slow {
		args = append(args, "--slow")
	}
	return args
}

// start starts one process of a service; s.mu is held.
func (s *Supervisor) start(name string) (*proc, error) {
	cmd := exec.Command(s.cfg.Exe, s.serviceArgs(name, name == Invoicing && s.slow)...)
	cmd.Stdout = s.cfg.Stderr
	cmd.Stderr = s.cfg.Stderr
	// Ctrl-C reaches the demo alone, which stops the services in order
	// (consumers leave their groups). Should the demo die without
	// stopping them (SIGKILL), the kernel kills them; the end of their
	// stdin stops them too.
	cmd.SysProcAttr = childproc.Attr(syscall.SIGKILL)
	control, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		control.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, control: control, started: time.Now(), done: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := cmd.Wait()
		close(p.done)
		s.mu.Lock()
		asked := p.asked
		if i := slices.Index(s.procs[name], p); i >= 0 {
			s.procs[name] = slices.Delete(s.procs[name], i, i+1)
		}
		s.mu.Unlock()
		if !asked {
			s.cfg.Log.Warn("demo service exited by itself", "service", name, "pid", cmd.Process.Pid, "err", err)
		}
	}()
	s.cfg.Log.Debug("started demo service", "service", name, "pid", cmd.Process.Pid)
	return p, nil
}

// Scale runs n processes of service name: it starts the missing ones, or
// stops the newest. It returns the pids it started and stopped.
func (s *Supervisor) Scale(name string, n int) (started, stopped []int, err error) {
	if !IsService(name) {
		return nil, nil, fmt.Errorf("unknown service %q: one of %s", name, strings.Join(Services, ", "))
	}
	if n < 0 || n > MaxReplicas {
		return nil, nil, fmt.Errorf("%s: %d processes: from 0 to %d", name, n, MaxReplicas)
	}
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return nil, nil, errors.New("the demo is stopping")
	}
	for len(s.procs[name]) < n {
		p, err := s.start(name)
		if err != nil {
			s.mu.Unlock()
			return started, nil, err
		}
		s.procs[name] = append(s.procs[name], p)
		started = append(started, p.cmd.Process.Pid)
	}
	var stop []*proc
	if k := len(s.procs[name]); k > n {
		stop = slices.Clone(s.procs[name][n:])
		s.procs[name] = s.procs[name][:n]
		for _, p := range stop {
			p.asked = true
		}
	}
	s.mu.Unlock()
	for _, p := range stop {
		stopped = append(stopped, p.cmd.Process.Pid)
	}
	stopProcs(stop)
	return started, stopped, nil
}

// SetSlow slows invoicing down (on) or lets it run at full speed, in every
// invoicing process now and in those started later.
func (s *Supervisor) SetSlow(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slow = on
	line := "slow off\n"
	if on {
		line = "slow on\n"
	}
	for _, p := range s.procs[Invoicing] {
		// A process that just exited cannot take it; it needs it no more.
		io.WriteString(p.control, line)
	}
}

// Slow reports whether invoicing is slowed down.
func (s *Supervisor) Slow() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.slow
}

// ProcessInfo is one running service process.
type ProcessInfo struct {
	Service string    `json:"service"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	// ClientID is the Kafka client id it uses; Group its consumer group
	// (empty for order).
	ClientID string `json:"client_id"`
	Group    string `json:"group,omitempty"`
}

// Processes lists the running service processes, in service start order,
// oldest first.
func (s *Supervisor) Processes() []ProcessInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []ProcessInfo{}
	for _, name := range Services {
		for _, p := range s.procs[name] {
			pi := ProcessInfo{Service: name, PID: p.cmd.Process.Pid, Started: p.started, ClientID: clientID(name)}
			if name != Order && name != Ledger {
				pi.Group = name
			}
			out = append(out, pi)
		}
	}
	return out
}

// Stop stops every service process: each is asked to stop (its stdin
// closes; consumers leave their groups) and killed if it has not exited
// after a grace period. Stop returns when all have exited.
func (s *Supervisor) Stop() {
	s.mu.Lock()
	s.stopping = true
	var all []*proc
	for _, name := range Services {
		for _, p := range s.procs[name] {
			p.asked = true
			all = append(all, p)
		}
		s.procs[name] = nil
	}
	s.mu.Unlock()
	stopProcs(all)
	s.wg.Wait()
}

// stopProcs closes the processes' stdin and kills those still running
// after stopGrace, with their process group.
func stopProcs(ps []*proc) {
	for _, p := range ps {
		p.control.Close()
	}
	grace := time.NewTimer(stopGrace)
	defer grace.Stop()
	expired := false
	for _, p := range ps {
		if !expired {
			select {
			case <-p.done:
				continue
			case <-grace.C:
				expired = true
			}
		}
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Executable is the binary to run the services with: this one.
func Executable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the kscope binary to run the demo services: %w", err)
	}
	return exe, nil
}
