package exchange

import (
	"bytes"
	"encoding/json"
	"io"
	"runtime"
	"sync/atomic"
)

// LineWriter writes exchanges as JSON lines, as a json.Encoder would
// (the same fields, in the same order), faster: the request and response
// bodies are copied as rendered. A json.Encoder scans and compacts all a
// MarshalJSON method returns: for the bodies, most of an exchange's JSON,
// that compaction was over a third of `kscope analyze -o jsonl`'s output
// time in a profile on a mid-stream capture. The one
// difference is that <, > and & inside a body are not escaped as \u003c,
// \u003e and \u0026 (the same JSON value, as the JSON of an exchange is
// read).
type LineWriter struct {
	w   io.Writer
	buf bytes.Buffer
	enc *json.Encoder
	out []byte
}

// NewLineWriter writes to w, one Write per exchange.
func NewLineWriter(w io.Writer) *LineWriter {
	lw := &LineWriter{w: w}
	lw.enc = json.NewEncoder(&lw.buf)
	return lw
}

// The JSON of an exchange ends with its last field, truncated, which is
// never left out: the bodies go before it.
var (
	truncatedFalse = []byte(`,"truncated":false}` + "\n")
	truncatedTrue  = []byte(`,"truncated":true}` + "\n")
)

// Write writes e and a newline.
func (lw *LineWriter) Write(e *Exchange) error {
	c := *e
	c.Request, c.Response = Body{}, Body{}
	lw.buf.Reset()
	if err := lw.enc.Encode(&c); err != nil {
		return err
	}
	js := lw.buf.Bytes()
	tail := truncatedFalse
	if e.Truncated {
		tail = truncatedTrue
	}
	if !bytes.HasSuffix(js, tail) {
		// Not reached while Truncated is the last field
		// (TestLineWriter).
		lw.buf.Reset()
		if err := lw.enc.Encode(e); err != nil {
			return err
		}
		_, err := lw.w.Write(lw.buf.Bytes())
		return err
	}
	out := append(lw.out[:0], js[:len(js)-len(tail)]...)
	for _, b := range []struct {
		name string
		body *Body
	}{{`,"request":`, &e.Request}, {`,"response":`, &e.Response}} {
		if b.body.IsZero() {
			continue
		}
		out = b.body.appendJSON(append(out, b.name...))
	}
	out = append(out, tail...)
	lw.out = out
	_, err := lw.w.Write(out)
	return err
}

// asyncBatch is how many exchanges AsyncLines renders together: few
// enough that the rendering follows the decoding closely, enough that
// handing them over costs little per exchange.
const asyncBatch = 16

// AsyncLines writes exchanges as JSON lines, LineWriter's, in the order
// given, rendering them in goroutines of their own, one per CPU Go runs
// on: the caller, a decoder, goes on while the exchanges it gave are
// rendered, and exchanges given at once (those a capture's end releases)
// are rendered on every CPU. It holds a few batches at most: Write waits
// while the rendering is behind.
type AsyncLines struct {
	w     io.Writer
	batch []*Exchange
	jobs  chan asyncJob
	// queue holds each batch's result in the order given: the writer
	// waits for them in turn.
	queue chan chan asyncResult
	free  chan *bytes.Buffer
	done  chan struct{}
	err   atomic.Pointer[error]
}

type asyncJob struct {
	exs []*Exchange
	out chan asyncResult
}

type asyncResult struct {
	lines *bytes.Buffer
	err   error
}

// NewAsyncLines writes to w from goroutines that run until Close.
func NewAsyncLines(w io.Writer) *AsyncLines {
	n := min(max(runtime.GOMAXPROCS(0), 1), 8)
	a := &AsyncLines{
		w:     w,
		jobs:  make(chan asyncJob, n),
		queue: make(chan chan asyncResult, 2*n+2),
		free:  make(chan *bytes.Buffer, 2*n+4),
		done:  make(chan struct{}),
	}
	for range n {
		go a.render()
	}
	go a.write()
	return a
}

func (a *AsyncLines) render() {
	lw := NewLineWriter(nil)
	for j := range a.jobs {
		var buf *bytes.Buffer
		select {
		case buf = <-a.free:
			buf.Reset()
		default:
			buf = new(bytes.Buffer)
		}
		lw.w = buf
		var err error
		for _, e := range j.exs {
			if err = lw.Write(e); err != nil {
				break
			}
		}
		j.out <- asyncResult{lines: buf, err: err}
	}
}

func (a *AsyncLines) write() {
	defer close(a.done)
	for out := range a.queue {
		r := <-out
		if a.err.Load() == nil {
			err := r.err
			if err == nil {
				_, err = a.w.Write(r.lines.Bytes())
			}
			if err != nil {
				a.err.Store(&err)
			}
		}
		select {
		case a.free <- r.lines:
		default:
		}
	}
}

// Write hands e over to be written: nothing may change it afterwards. It
// returns the error of an earlier write, once one failed.
func (a *AsyncLines) Write(e *Exchange) error {
	if err := a.err.Load(); err != nil {
		return *err
	}
	a.batch = append(a.batch, e)
	if len(a.batch) == asyncBatch {
		a.send()
	}
	return nil
}

func (a *AsyncLines) send() {
	out := make(chan asyncResult, 1)
	a.queue <- out
	a.jobs <- asyncJob{exs: a.batch, out: out}
	a.batch = make([]*Exchange, 0, asyncBatch)
}

// Close writes what was handed over, stops the goroutines and returns the
// first error of a write.
func (a *AsyncLines) Close() error {
	if len(a.batch) > 0 {
		a.send()
	}
	close(a.jobs)
	close(a.queue)
	<-a.done
	if err := a.err.Load(); err != nil {
		return *err
	}
	return nil
}
