package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

const brokerTestPassword = "kscope-secret-pw-7741"

// syncBuffer is a bytes.Buffer that the command and the test may use at once.
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

func TestBrokerCmd(t *testing.T) {
	t.Setenv(saslPasswordEnv, brokerTestPassword)
	cmd := brokerCmd()
	out, outw := io.Pipe()
	var errOut syncBuffer
	cmd.SetOut(outw)
	cmd.SetErr(&errOut)
	cmd.SetArgs([]string{"--brokers", "2", "--port", "0", "--topic", "orders", "--sasl-user", "alice"})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- cmd.ExecuteContext(ctx)
		outw.Close()
	}()

	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("no bootstrap line: %v (stderr: %s)", err, errOut.String())
	}
	bootstrap := strings.TrimSpace(line)
	if !regexp.MustCompile(`^127\.0\.0\.1:\d+,127\.0\.0\.1:\d+$`).MatchString(bootstrap) {
		t.Fatalf("bootstrap line = %q, want two 127.0.0.1 brokers", line)
	}

	// The password from the environment logs in.
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(bootstrap, ",")...),
		kgo.SASL(plain.Auth{User: "alice", Pass: brokerTestPassword}.AsMechanism()))
	if err != nil {
		t.Fatal(err)
	}
	pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
	defer pcancel()
	if err := cl.ProduceSync(pctx, &kgo.Record{Topic: "orders", Value: []byte("x")}).FirstErr(); err != nil {
		t.Errorf("produce to the seed topic as alice: %v", err)
	}
	cl.Close()

	cancel() // as SIGINT would
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("broker stopped with %v, want a clean stop", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("broker did not stop")
	}
	if strings.Contains(line+errOut.String(), brokerTestPassword) {
		t.Error("the broker printed the SASL password")
	}
}

func TestBrokerCmdSASLFlags(t *testing.T) {
	tests := []struct {
		name, env string
		args      []string
		wantErr   string
	}{
		{name: "user without password", args: []string{"--sasl-user", "alice"}, wantErr: saslPasswordEnv},
		{name: "password without user", args: []string{"--sasl-password", "pw"}, wantErr: "--sasl-user"},
		{name: "env password without user", env: "pw", wantErr: "--sasl-user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(saslPasswordEnv, tt.env)
			cmd := brokerCmd()
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			cmd.SetArgs(append([]string{"--port", "0", "--brokers", "1"}, tt.args...))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := cmd.ExecuteContext(ctx)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want one naming %s", err, tt.wantErr)
			}
		})
	}
}
