package loadgen

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Config says what a run sends.
type Config struct {
	// Server is the address of a Server.
	Server string
	// Rate is exchanges per second over all connections; 0 sends as
	// fast as the server answers.
	Rate float64
	// Connections share the rate evenly. Default 1.
	Connections int
	// Exchanges, when above 0, is the exact number sent; otherwise the
	// run sends for Duration.
	Exchanges int64
	Duration  time.Duration
	Mix       Mix
	Shape     Shape
	// InFlight is the most requests a connection has unanswered, as a
	// client's max in-flight requests per connection. Default 5.
	InFlight int
	// PerWrite is the most requests one writev carries (1, the default:
	// one request per system call, as franz-go writes them).
	PerWrite int
	// Drain is how long the last responses may take. Default 10s.
	Drain time.Duration
}

// Result is what a run sent and what was answered.
type Result struct {
	Sent, Answered [numKinds]int64
	Elapsed        time.Duration
	Latency        *Histogram
	// PerSecond is the number of exchanges answered in each whole second
	// of the run.
	PerSecond []int64
}

// inflight is a request waiting for its response.
type inflight struct {
	kind Kind
	corr int32
	sent time.Time
}

// Run sends the configured exchanges and waits for every answer.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Connections <= 0 {
		cfg.Connections = 1
	}
	if cfg.InFlight <= 0 {
		cfg.InFlight = 5
	}
	cfg.PerWrite = min(max(cfg.PerWrite, 1), maxIOV, cfg.InFlight)
	if cfg.Drain <= 0 {
		cfg.Drain = 10 * time.Second
	}
	if cfg.Exchanges <= 0 && cfg.Duration <= 0 {
		return nil, errors.New("neither a number of exchanges nor a duration")
	}
	var zero Mix
	if cfg.Mix == zero {
		cfg.Mix = DefaultMix
	}
	exs, err := Exchanges(cfg.Shape)
	if err != nil {
		return nil, err
	}
	conns := make([]net.Conn, cfg.Connections)
	for i := range conns {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", cfg.Server)
		if err != nil {
			for _, c := range conns[:i] {
				c.Close()
			}
			return nil, fmt.Errorf("connect to the bench server: %w", err)
		}
		conns[i] = c
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(ctx, func() {
		for _, c := range conns {
			c.Close()
		}
	})
	defer stop()

	var answered atomic.Int64
	results := make([]*Result, len(conns))
	start := time.Now().Add(10 * time.Millisecond) // every connection starts from the same instant
	var wg sync.WaitGroup
	for i, c := range conns {
		n := int64(0)
		if cfg.Exchanges > 0 {
			n = cfg.Exchanges / int64(len(conns))
			if int64(i) < cfg.Exchanges%int64(len(conns)) {
				n++
			}
		}
		w := &worker{cfg: cfg, exs: &exs, c: c, n: n, answered: &answered,
			res: &Result{Latency: &Histogram{}}}
		if cfg.Rate > 0 {
			w.interval = time.Duration(float64(time.Second) * float64(len(conns)) / cfg.Rate)
			// Spread the connections' sends over one interval.
			w.start = start.Add(w.interval * time.Duration(i) / time.Duration(len(conns)))
		} else {
			w.start = start
		}
		if cfg.Exchanges <= 0 {
			w.deadline = start.Add(cfg.Duration)
		}
		results[i] = w.res
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.run(ctx); err != nil {
				cancel(fmt.Errorf("connection %d: %w", i, err))
			}
		}()
	}
	var perSecond []int64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		time.Sleep(time.Until(start))
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last := int64(0)
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				n := answered.Load()
				perSecond = append(perSecond, n-last)
				last = n
			}
		}
	}()
	wg.Wait()
	end := time.Now()
	err = context.Cause(ctx)
	cancel(nil)
	<-sampled
	if err != nil && !errors.Is(err, context.Canceled) {
		return nil, err
	}
	total := &Result{Latency: &Histogram{}, Elapsed: end.Sub(start), PerSecond: perSecond}
	for _, r := range results {
		for k := range numKinds {
			total.Sent[k] += r.Sent[k]
			total.Answered[k] += r.Answered[k]
		}
		total.Latency.Merge(r.Latency)
	}
	return total, err
}

// worker drives one connection: a writer paced by the schedule and the
// window of requests in flight, and a reader matching responses in order.
type worker struct {
	cfg      Config
	exs      *[numKinds]Exchange
	c        net.Conn
	n        int64 // exact count, or 0: until deadline
	start    time.Time
	deadline time.Time
	interval time.Duration // 0: unpaced
	answered *atomic.Int64
	res      *Result
}

func (w *worker) run(ctx context.Context) error {
	window := make(chan struct{}, w.cfg.InFlight)
	pending := make(chan inflight, w.cfg.InFlight)
	var sent atomic.Int64
	read := make(chan error, 1)
	go func() { read <- w.read(pending, window, &sent) }()
	werr := w.write(ctx, pending, window, &sent)
	if werr == nil {
		// Half-close: the server answers what it read, then closes, so
		// the reader knows when it has every response.
		werr = w.c.(*net.TCPConn).CloseWrite()
		w.c.SetReadDeadline(time.Now().Add(w.cfg.Drain))
	} else {
		w.c.Close()
	}
	rerr := <-read
	if werr != nil {
		return werr
	}
	if rerr != nil {
		return rerr
	}
	var got int64
	for _, a := range w.res.Answered {
		got += a
	}
	if got != sent.Load() {
		return fmt.Errorf("%d of %d requests unanswered", sent.Load()-got, sent.Load())
	}
	return nil
}

func (w *worker) write(ctx context.Context, pending chan<- inflight, window chan struct{}, sent *atomic.Int64) error {
	perWrite := w.cfg.PerWrite
	// A ring of perWrite copies of each request: requests of one writev
	// each need their own correlation id.
	var copies [numKinds][][]byte
	for k := range copies {
		for range perWrite {
			copies[k] = append(copies[k], append([]byte(nil), w.exs[k].Request.Bytes...))
		}
	}
	seq := newSequence(w.cfg.Mix)
	out := make(net.Buffers, 0, perWrite)
	corr := int32(0)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for i := int64(0); ; {
		if w.n > 0 && i >= w.n {
			return nil
		}
		due := w.start
		if w.interval > 0 {
			due = w.start.Add(time.Duration(i) * w.interval)
		}
		if !w.deadline.IsZero() && !due.Before(w.deadline) {
			return nil
		}
		now := time.Now()
		if d := due.Sub(now); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
			}
			now = time.Now()
		}
		if w.interval == 0 && !w.deadline.IsZero() && !now.Before(w.deadline) {
			return nil // unpaced: the deadline itself ends the run
		}
		// The first request waits for room in the window; the others of
		// the same writev go only if there is room and they are due.
		select {
		case window <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		out = out[:0]
		var used [numKinds]int
		for {
			k := seq.next()
			corr++
			b := copies[k][used[k]]
			used[k]++
			w.exs[k].Request.SetCorrelation(b, corr)
			out = append(out, b)
			pending <- inflight{kind: k, corr: corr, sent: now}
			w.res.Sent[k]++
			i++
			if len(out) == perWrite || (w.n > 0 && i >= w.n) {
				break
			}
			if w.interval > 0 {
				next := w.start.Add(time.Duration(i) * w.interval)
				if next.After(now) || (!w.deadline.IsZero() && !next.Before(w.deadline)) {
					break
				}
			}
			if used[seq.peek()] == perWrite {
				break
			}
			select {
			case window <- struct{}{}:
				continue
			default:
			}
			break
		}
		sent.Add(int64(len(out)))
		b := out // WriteTo consumes its receiver
		if _, err := b.WriteTo(w.c); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("write: %w", err)
		}
	}
}

func (w *worker) read(pending <-chan inflight, window <-chan struct{}, sent *atomic.Int64) error {
	largest := 0
	for _, e := range w.exs {
		largest = max(largest, len(e.Response.Bytes))
	}
	buf := make([]byte, max(256<<10, 2*largest))
	have := 0
	for {
		n, err := w.c.Read(buf[have:])
		have += n
		now := time.Now()
		off := 0
		for have-off >= 8 {
			size := int(binary.BigEndian.Uint32(buf[off:]))
			if size < 4 || size > len(buf)-4 {
				return fmt.Errorf("response frame of %d bytes", size)
			}
			if have-off < 4+size {
				break
			}
			corr := int32(binary.BigEndian.Uint32(buf[off+4:]))
			var req inflight
			select {
			case req = <-pending:
			default:
				return fmt.Errorf("response to correlation id %d, which no request waits for", corr)
			}
			if req.corr != corr {
				return fmt.Errorf("response to correlation id %d, want %d: responses out of order", corr, req.corr)
			}
			if want := len(w.exs[req.kind].Response.Bytes); 4+size != want {
				return fmt.Errorf("%s response of %d bytes, want %d", req.kind, 4+size, want)
			}
			w.res.Latency.Add(now.Sub(req.sent))
			w.res.Answered[req.kind]++
			w.answered.Add(1)
			<-window
			off += 4 + size
		}
		have = copy(buf, buf[off:have])
		if err != nil {
			if isEOF(err) {
				return nil
			}
			return fmt.Errorf("read: %w", err)
		}
	}
}

func isEOF(err error) bool { return errors.Is(err, io.EOF) }
