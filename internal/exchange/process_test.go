package exchange

import (
	"maps"
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

// TestProcessAskedOncePerSecond: with a Cache, Build asks for a pid's
// process once per second of traffic, and at once for another pid; what
// it is told in between is what it was last told.
func TestProcessAskedOncePerSecond(t *testing.T) {
	asked := map[uint32]int{}
	comm := "kcat"
	lookup := func(pid uint32) (conn.Process, bool) {
		asked[pid]++
		return conn.Process{PID: pid, Comm: comm}, true
	}
	cache := NewCache()
	build := func(pid uint32, at time.Duration) Exchange {
		c := &capture.Conn{ID: 1, A: netip.MustParseAddrPort("10.0.0.1:5000"), B: netip.MustParseAddrPort("10.0.0.2:9092"), PID: pid}
		req := &kafka.Request{Header: kafka.RequestHeader{Key: 3, Version: 12}, Start: time.Unix(100, 0).Add(at), Body: kmsg.NewPtrMetadataRequest()}
		return Build(kafka.Pair{Conn: c, Req: req}, nil, Options{Process: lookup, Cache: cache})
	}
	for i, step := range []struct {
		pid   uint32
		at    time.Duration
		comm  string
		asked map[uint32]int
		want  string
	}{
		{42, 0, "kcat", map[uint32]int{42: 1}, "kcat"},
		{42, 900 * time.Millisecond, "renamed", map[uint32]int{42: 1}, "kcat"},
		{7, time.Second, "other", map[uint32]int{42: 1, 7: 1}, "other"},
		{42, time.Second, "renamed", map[uint32]int{42: 2, 7: 1}, "renamed"},
		{7, 1900 * time.Millisecond, "again", map[uint32]int{42: 2, 7: 1}, "other"},
		{42, 1500 * time.Millisecond, "again", map[uint32]int{42: 2, 7: 1}, "renamed"},
		{42, 2 * time.Second, "again", map[uint32]int{42: 3, 7: 1}, "again"},
	} {
		comm = step.comm
		x := build(step.pid, step.at)
		if x.Client.Process != step.want || !maps.Equal(asked, step.asked) {
			t.Errorf("step %d: process %q, want %q; asked %v, want %v", i, x.Client.Process, step.want, asked, step.asked)
		}
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
