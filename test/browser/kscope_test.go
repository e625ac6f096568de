package browser

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// The kscope binary, built once from the repository's root.
var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// kscopeBinary builds kscope as a user would (go build ./cmd/kscope).
func kscopeBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "kscope-browser-bin-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "kscope")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/kscope")
		cmd.Dir = "../.."
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/kscope: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// syncBuffer is a bytes.Buffer written by a process and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a kscope process started by a test and stopped when it ends.
type proc struct {
	bin    string
	cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
	done   chan struct{}
	err    error // the exit, once done is closed
}

// start runs kscope with args until t ends: interrupted then, as Ctrl-C
// would, and killed if it does not stop.
func start(t testing.TB, args ...string) *proc {
	t.Helper()
	p := &proc{bin: kscopeBinary(t), done: make(chan struct{})}
	p.cmd = exec.Command(p.bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("kscope %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), p.stdout.String(), p.stderr.String())
		}
	})
	return p
}

// exited fails t when the process has ended.
func (p *proc) exited(t testing.TB) {
	t.Helper()
	select {
	case <-p.done:
		t.Fatalf("kscope exited: %v\n%s", p.err, p.stderr.String())
	default:
	}
}

// freeAddr returns a loopback address nothing listens on now.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// demo is a running kscope demo.
type demo struct {
	*proc
	url   string // the API and console: http://host:port
	token string
}

// startDemo runs "kscope demo" on free ports and waits until its four
// services run (order, shipping, invoicing, ledger).
func startDemo(t testing.TB, args ...string) *demo {
	t.Helper()
	listen := freeAddr(t)
	d := &demo{proc: start(t, append([]string{"demo", "--port", "0", "--listen", listen}, args...)...), url: "http://" + listen}
	for i, a := range args {
		if a == "--token" && i+1 < len(args) {
			d.token = args[i+1]
		}
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		var st struct {
			Processes []struct {
				Service string `json:"service"`
			} `json:"processes"`
		}
		if err := d.get("/api/v1/demo", &st); err == nil && len(st.Processes) == 4 {
			return d
		}
		d.exited(t)
		if time.Now().After(deadline) {
			t.Fatalf("kscope demo's API did not answer within 90s\n%s", d.stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// get asks the demo's API for path into v.
func (d *demo) get(path string, v any) error {
	req, err := http.NewRequest("GET", d.url+path, nil)
	if err != nil {
		return err
	}
	if d.token != "" {
		req.Header.Set("Authorization", "Bearer "+d.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", path, resp.Status, b)
	}
	return json.Unmarshal(b, v)
}

// kscope runs a kscope command against the demo (kscope demo scale ...).
func (d *demo) kscope(t testing.TB, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args = append(args, "--server", d.url)
	if d.token != "" {
		args = append(args, "--token", d.token)
	}
	out, err := exec.CommandContext(ctx, d.bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("kscope %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// startAnalyze runs "kscope analyze --ui" on capture files and returns
// the URL it serves.
func startAnalyze(t testing.TB, files ...string) string {
	t.Helper()
	p := start(t, append([]string{"analyze", "--ui", "--listen", "127.0.0.1:0"}, files...)...)
	served := regexp.MustCompile(`serving (http://\S+)/ read-only`)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		sc := bufio.NewScanner(strings.NewReader(p.stdout.String()))
		for sc.Scan() {
			if m := served.FindStringSubmatch(sc.Text()); m != nil {
				return m[1]
			}
		}
		p.exited(t)
	}
	t.Fatalf("kscope analyze --ui printed no URL within 30s:\n%s\n%s", p.stdout.String(), p.stderr.String())
	return ""
}
