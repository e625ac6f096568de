package agent

import (
	"fmt"
	"os/exec"
	"testing"
	"time"

	"kscope/internal/capture/ebpf"
	"kscope/internal/exchange"
	"kscope/internal/store"
	"kscope/internal/view"
)

// pyLatencyProducer writes one record at a time to lat/0, 30 a second,
// for argv[2] seconds.
const pyLatencyProducer = `
import sys, time
from kafka import KafkaProducer
p = KafkaProducer(bootstrap_servers=sys.argv[1], client_id="lat-producer", linger_ms=0)
end = time.time() + float(sys.argv[2])
i = 0
while time.time() < end:
    p.send("lat", b"order-%d" % i, partition=0)
    i += 1
    time.sleep(1/30)
p.flush()
p.close()
`

// pyLatencyConsumer polls lat for argv[3] seconds. "slow" fetches little
// (one or two batches a fetch) and sleeps between polls, so it reads
// fewer records a second than are produced; "fast" keeps up.
const pyLatencyConsumer = `
import sys, time
from kafka import KafkaConsumer
slow = sys.argv[2] == "slow"
kw = dict(max_partition_fetch_bytes=150, fetch_max_bytes=150, max_poll_records=2) if slow else {}
c = KafkaConsumer("lat", bootstrap_servers=sys.argv[1], client_id=sys.argv[2], group_id=sys.argv[2] + "-group",
                  auto_offset_reset="earliest", **kw)
end = time.time() + float(sys.argv[3])
while time.time() < end:
    c.poll(timeout_ms=100)
    c.commit()
    if slow:
        time.sleep(0.5)
c.close()
`

// TestLiveLatencySlowAndFastConsumer: a consumer that sleeps between
// polls shows a rising producer-consumer delay and offset lag, while a
// fast consumer of the same topic stays near zero.
func TestLiveLatencySlowAndFastConsumer(t *testing.T) {
	py := python(t)
	c := startCluster(t, "lat")
	l := startAgent(t, c, ebpf.Options{})
	var cons []*exec.Cmd
	for _, name := range []string{"fast", "slow"} {
		cmd := exec.Command(py, "-c", pyLatencyConsumer, l.addr, name, "20")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cons = append(cons, cmd)
	}
	time.Sleep(4 * time.Second) // both joined their groups
	run(t, "", py, "-c", pyLatencyProducer, l.addr, "12")
	for _, cmd := range cons {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("consumer: %v", err)
		}
	}
	time.Sleep(500 * time.Millisecond)
	recs, _ := l.st.Query(store.Query{})
	xs := make([]exchange.Exchange, len(recs))
	for i := range recs {
		xs[i] = recs[i].Exchange
	}
	w := view.WindowOf(xs)

	delays := func(consumer string) (first, last, worst float64, exact int) {
		v := view.Latency(view.Of(xs, w), view.LatencyFilter{Topic: "lat", Consumer: consumer})
		var pts []view.LatencyPoint
		for _, s := range v.Series {
			pts = append(pts, s.Points...)
		}
		if len(pts) < 5 {
			t.Fatalf("%s: %d latency points, want a series", consumer, len(pts))
		}
		// Series split by producer: order the points again.
		for i := range pts {
			for j := i + 1; j < len(pts); j++ {
				if pts[j].Time.Before(pts[i].Time) {
					pts[i], pts[j] = pts[j], pts[i]
				}
			}
		}
		for _, p := range pts {
			worst = max(worst, p.DelaySeconds)
			if p.ExactDelaySeconds != nil {
				exact++
			}
		}
		return pts[0].DelaySeconds, pts[len(pts)-1].DelaySeconds, worst, exact
	}
	ff, fl, fw, fexact := delays("fast")
	sf, sl, sw, sexact := delays("slow")
	t.Logf("fast: first %.3fs last %.3fs max %.3fs (%d exact); slow: first %.3fs last %.3fs max %.3fs (%d exact)", ff, fl, fw, fexact, sf, sl, sw, sexact)
	if fw > 1 {
		t.Errorf("fast consumer's delay reached %.3fs, want near zero", fw)
	}
	if sl < 3 || sl < sf+2 {
		t.Errorf("slow consumer's delay went %.3fs -> %.3fs, want rising past 3s", sf, sl)
	}
	if fexact == 0 || sexact == 0 {
		t.Errorf("the producer was traced, yet exact delays: fast %d, slow %d", fexact, sexact)
	}

	cv := view.Clients(view.Of(xs, w), view.ClientsFilter{Topic: "lat"})
	lag := map[string]view.ConsumerLag{}
	for _, cl := range cv.Consumers {
		if cl.Partition == 0 {
			lag[cl.ClientID] = cl
		}
	}
	fast, slow := lag["fast"], lag["slow"]
	show := func(c view.ConsumerLag) string {
		s := fmt.Sprintf("%s group %s offset lag %v", c.Process, c.Group, deref(c.OffsetLag))
		if c.TimeLagSeconds != nil {
			s += fmt.Sprintf(" time lag %.3fs", *c.TimeLagSeconds)
		}
		return s
	}
	t.Logf("fast: %s; slow: %s", show(fast), show(slow))
	if fast.OffsetLag == nil || *fast.OffsetLag > 30 {
		t.Errorf("fast consumer's offset lag %v, want near zero", deref(fast.OffsetLag))
	}
	if slow.OffsetLag == nil || *slow.OffsetLag < 60 {
		t.Errorf("slow consumer's offset lag %v, want it far behind", deref(slow.OffsetLag))
	}
	if slow.TimeLagSeconds == nil || *slow.TimeLagSeconds < 2 {
		t.Errorf("slow consumer's time lag %v, want known (the produce was traced) and seconds", slow.TimeLagSeconds)
	}
	if slow.Group != "slow-group" || fast.Group != "fast-group" {
		t.Errorf("groups %q %q", slow.Group, fast.Group)
	}
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}
