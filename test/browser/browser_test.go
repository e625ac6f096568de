package browser

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"kscope/internal/testenv"
)

// Screen is the browser window's size, and that of the screenshots.
const (
	screenWidth  = 1200
	screenHeight = 800
)

// ScreenshotsEnv names the directory where each test saves screenshots
// of the pages it saw (PNG), test/browser/screenshots when it is 1; none
// are taken without it.
const ScreenshotsEnv = "KSCOPE_SCREENSHOTS"

// browser is a headless chromium, one tab, that records what the pages
// write to the console.
type browser struct {
	t   testing.TB
	ctx context.Context
	// base is the console's address, http://host:port.
	base string
	con  *console
}

// console holds what the pages wrote to the console.
type console struct {
	mu   sync.Mutex
	msgs []chromedp.ConsoleMessage
}

// on is b for the subtest t: the same tab.
func (b *browser) on(t testing.TB) *browser {
	c := *b
	c.t = t
	return &c
}

// newBrowser starts Debian's chromium on base until t ends, skipping t
// when it is not installed (failing under CI=true).
func newBrowser(t testing.TB, base string) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		testenv.Skip(t, "chromium not installed (apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.WindowSize(screenWidth, screenHeight),
	)
	if os.Geteuid() == 0 {
		// Chromium refuses to run as root inside its sandbox.
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	b := &browser{t: t, ctx: ctx, base: strings.TrimSuffix(base, "/"), con: &console{}}
	// The first call starts the browser (and must have no timeout);
	// Console listens from then on.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			b.con.mu.Lock()
			b.con.msgs = append(b.con.msgs, m)
			b.con.mu.Unlock()
		}
	}()
	return b
}

// do runs actions, failing t when they fail or take more than a minute.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// open loads the page at path (e.g. "/overview?since=15m").
func (b *browser) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path))
}

// text is the visible text of the first element sel (CSS) matches,
// waiting for it to be visible.
func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

// eval evaluates a JavaScript expression (awaiting a promise).
func eval[T any](b *browser, js string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// waitFor evaluates a JavaScript expression until ok holds of its value,
// and fails t with what it last saw after timeout.
func waitFor[T any](b *browser, timeout time.Duration, what, js string, ok func(T) bool) T {
	b.t.Helper()
	var (
		v   T
		err error
	)
	for deadline := time.Now().Add(timeout); ; {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		var cur T
		cur, err = chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
		cancel()
		if err == nil {
			v = cur
			if ok(v) {
				return v
			}
		}
		if time.Now().After(deadline) {
			b.screenshot("failed-" + sanitize(b.t.Name()))
			b.t.Fatalf("%s: not within %s; last saw %+v (%v)", what, timeout, v, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// center scrolls the element the JavaScript expression el gives into
// view and returns its centre in the window, failing t when there is none.
func (b *browser) center(what, el string) (x, y float64) {
	b.t.Helper()
	p := eval[[]float64](b, `(() => { const el = `+el+`; if (!el) return [];
		el.scrollIntoView({block: 'center', inline: 'center'});
		const r = el.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; })()`)
	if len(p) != 2 {
		b.screenshot("failed-" + sanitize(b.t.Name()))
		b.t.Fatalf("%s: not on the page", what)
	}
	return p[0], p[1]
}

// hover moves the mouse over the element el (a JavaScript expression).
func (b *browser) hover(what, el string) {
	b.t.Helper()
	x, y := b.center(what, el)
	b.do("hover "+what, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x, y))
}

// click clicks the element el (a JavaScript expression) with the mouse.
func (b *browser) click(what, el string) {
	b.t.Helper()
	x, y := b.center(what, el)
	b.do("click "+what, chromedp.MouseClickXY(x, y))
}

// errors are the console's errors and uncaught exceptions so far, but
// those that contain one of allow.
func (b *browser) errors(allow ...string) []string {
	b.con.mu.Lock()
	defer b.con.mu.Unlock()
	var out []string
	for _, m := range b.con.msgs {
		if m.Type != chromedp.ConsoleError && !m.IsException() {
			continue
		}
		if slices.ContainsFunc(allow, func(a string) bool { return strings.Contains(m.Text, a) || strings.Contains(m.URL, a) }) {
			continue
		}
		out = append(out, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
	}
	return out
}

// noErrors fails t when a page wrote an error to the console or threw, but
// for those that contain one of allow; it forgets them after.
func (b *browser) noErrors(page string, allow ...string) {
	b.t.Helper()
	// Errors of the last refresh may still be on their way.
	time.Sleep(200 * time.Millisecond)
	for _, e := range b.errors(allow...) {
		b.t.Errorf("%s: console: %s", page, e)
	}
	b.con.mu.Lock()
	b.con.msgs = nil
	b.con.mu.Unlock()
}

// screenshot saves the window as NAME.png in $KSCOPE_SCREENSHOTS, when
// set.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	dir := os.Getenv(ScreenshotsEnv)
	switch dir {
	case "":
		return
	case "1":
		dir = "screenshots"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s (%d KiB)", p, len(png)>>10)
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' {
			return '-'
		}
		return r
	}, s)
}

// script is an action that runs JavaScript for its effect.
func script(js string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Evaluate[bool]("(() => { "+js+"; return true; })()")(ctx, t)
		return chromedp.Void{}, err
	}
}

// setSelect chooses value in the <select> sel (CSS), as a person does:
// the page hears the change.
func setSelect(sel, value string) chromedp.Action[chromedp.Void] {
	return script(`const el = document.querySelector(` + jsString(sel) + `); el.value = ` + jsString(value) +
		`; el.dispatchEvent(new Event('change', {bubbles: true}))`)
}

// setValue types value into the input sel (CSS), emptied first.
func setValue(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Clear(chromedp.CSS(sel)),
		chromedp.SendKeys(chromedp.CSS(sel), value),
	)
}
