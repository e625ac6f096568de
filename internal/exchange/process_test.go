package exchange

import (
	"net/netip"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"kscope/internal/capture"
	"kscope/internal/conn"
	"kscope/internal/kafka"
)

// A traced process owns end A of its connection: it is named on the side
// it plays, and the exchange says which side that is.
func TestTracedSide(t *testing.T) {
	c := &capture.Conn{ID: 1, A: netip.MustParseAddrPort("10.0.0.1:5000"), B: netip.MustParseAddrPort("10.0.0.2:9092"), PID: 42}
	req := &kafka.Request{Header: kafka.RequestHeader{Key: 3, Version: 12}, Start: time.Unix(1, 0), Body: kmsg.NewPtrMetadataRequest()}
	lookup := func(pid uint32) (conn.Process, bool) {
		return conn.Process{PID: pid, Comm: "kcat", ContainerID: "abc", PodUID: "pod-1"}, pid == 42
	}
	for _, tc := range []struct {
		dir  capture.Dir
		side string
	}{{capture.AtoB, "client"}, {capture.BtoA, "server"}} {
		x := Build(kafka.Pair{Conn: c, ClientDir: tc.dir, Req: req}, nil, Options{Process: lookup})
		traced := x.Client
		if tc.side == "server" {
			traced = x.Server
		}
		if x.Side != tc.side || traced.PID != 42 || traced.Process != "kcat" || traced.Container != "abc" || traced.Pod != "pod-1" {
			t.Errorf("dir %v: side %q client %+v server %+v", tc.dir, x.Side, x.Client, x.Server)
		}
	}
	x := Build(kafka.Pair{Conn: &capture.Conn{A: c.A, B: c.B}, Req: req}, nil, Options{Process: lookup})
	if x.Side != "" || x.Client.PID != 0 {
		t.Errorf("capture file exchange claims a process: %+v", x)
	}
}

func TestSCRAMUser(t *testing.T) {
	for tok, want := range map[string]string{
		"n,,n=alice,r=fyko+d2lbbFgONRv9qkxdawL":                       "alice",
		"n,a=admin,n=bob=2Cjr,r=abc":                                  "bob,jr",
		"c=biws,r=abc,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=": "",
		"y,,n=carol": "",
	} {
		got, _ := scramUser([]byte(tok))
		if got != want {
			t.Errorf("%q: user %q, want %q", tok, got, want)
		}
	}
}
