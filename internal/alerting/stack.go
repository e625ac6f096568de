package alerting

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"kscope/deploy"
	"kscope/internal/childproc"
)

// Binaries are Prometheus's and Alertmanager's programs, as Debian
// (prometheus, prometheus-alertmanager) or upstream names them.
func Binaries() (prometheus, alertmanager string, err error) {
	prometheus, err = exec.LookPath("prometheus")
	if err != nil {
		return "", "", errors.New("prometheus is not installed (apt-get install prometheus)")
	}
	for _, name := range []string{"prometheus-alertmanager", "alertmanager"} {
		if alertmanager, err = exec.LookPath(name); err == nil {
			return prometheus, alertmanager, nil
		}
	}
	return "", "", errors.New("prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)")
}

// StackConfig is a Prometheus scraping kscope with its rules, sending to an
// Alertmanager with the example routes and inhibitions.
type StackConfig struct {
	// Target is kscope's API address (host:port), scraped at /metrics
	// under the job "kscope"; Token its bearer token, if it needs one.
	Target, Token string
	// Every is the scrape and rule evaluation interval.
	Every time.Duration
	// Params derive the rules and the Alertmanager configuration loaded.
	Params deploy.Params
	// Dir holds their configurations, data and logs; it is the caller's.
	Dir string
}

// Stack is a running Prometheus and Alertmanager, on loopback ports of
// their own.
type Stack struct {
	Prometheus, Alertmanager string // http://127.0.0.1:port
	names                    []string
	procs                    []*exec.Cmd
	exited                   []chan struct{}
}

// StartStack starts Alertmanager, then Prometheus, and waits until both
// answer ready. Their logs go to Dir.
func StartStack(ctx context.Context, cfg StackConfig) (*Stack, error) {
	promBin, amBin, err := Binaries()
	if err != nil {
		return nil, err
	}
	rules, err := deploy.Rules(cfg.Params)
	if err != nil {
		return nil, err
	}
	amCfg, err := deploy.Alertmanager(cfg.Params)
	if err != nil {
		return nil, err
	}
	promAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	amAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	every := cfg.Every.String()
	scrape := fmt.Sprintf(`global:
  scrape_interval: %[1]s
  evaluation_interval: %[1]s
rule_files: [kscope-rules.yml]
alerting:
  alertmanagers:
    - static_configs: [{targets: [%[2]q]}]
scrape_configs:
  - job_name: kscope
    static_configs: [{targets: [%[3]q]}]
`, every, amAddr, cfg.Target)
	if cfg.Token != "" {
		scrape += "    authorization: {credentials_file: kscope.token}\n"
	}
	for name, b := range map[string][]byte{"kscope-rules.yml": rules, "alertmanager.yml": amCfg, "prometheus.yml": []byte(scrape), "kscope.token": []byte(cfg.Token)} {
		if err := os.WriteFile(filepath.Join(cfg.Dir, name), b, 0o600); err != nil {
			return nil, err
		}
	}
	s := &Stack{Prometheus: "http://" + promAddr, Alertmanager: "http://" + amAddr}
	if err := s.start(cfg.Dir, "alertmanager", amBin, "--config.file=alertmanager.yml", "--storage.path=alertmanager-data",
		"--web.listen-address="+amAddr, "--cluster.listen-address=", "--log.level=warn"); err != nil {
		return nil, err
	}
	if err := s.start(cfg.Dir, "prometheus", promBin, "--config.file=prometheus.yml", "--storage.tsdb.path=prometheus-data",
		"--web.listen-address="+promAddr, "--storage.tsdb.retention.time=1d", "--rules.alert.resend-delay="+every, "--log.level=warn"); err != nil {
		s.Close()
		return nil, err
	}
	for _, ready := range []string{s.Alertmanager + "/-/ready", s.Prometheus + "/-/ready"} {
		if err := s.await(ctx, ready, cfg.Dir); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// start runs one server in dir, its output to dir/name.log.
func (s *Stack) start(dir, name, bin string, args ...string) error {
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, logf, logf
	cmd.SysProcAttr = childproc.Attr(syscall.SIGTERM)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	s.names, s.procs, s.exited = append(s.names, name), append(s.procs, cmd), append(s.exited, done)
	return nil
}

// await waits until url answers 200, a server exits, or 30 s pass.
func (s *Stack) await(ctx context.Context, url, dir string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := (&http.Client{Timeout: time.Second}).Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		for i, done := range s.exited {
			select {
			case <-done:
				return fmt.Errorf("%s exited: %s", s.names[i], lastLines(filepath.Join(dir, s.names[i]+".log")))
			default:
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer ready within 30 s", url)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// lastLines is the end of a log, for an error.
func lastLines(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-3):], "; ")
}

// Close stops Prometheus, then Alertmanager, each given 10 s to finish.
func (s *Stack) Close() error {
	var errs []error
	for i := len(s.procs) - 1; i >= 0; i-- {
		p := s.procs[i]
		p.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited[i]:
		case <-time.After(10 * time.Second):
			p.Process.Kill()
			<-s.exited[i]
			errs = append(errs, fmt.Errorf("%s did not stop within 10 s: killed", s.names[i]))
		}
	}
	s.names, s.procs, s.exited = nil, nil, nil
	return errors.Join(errs...)
}

// freeAddr is a loopback address with a port free now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), nil
}
