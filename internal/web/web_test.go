package web

import (
	"testing"
)

// TestSize: the console stays small, its vendored libraries included
// (pprof-like: a few small files, no bundler).
func TestSize(t *testing.T) {
	const limit = 500 << 10
	n, err := Size()
	if err != nil {
		t.Fatal(err)
	}
	if n > limit {
		t.Errorf("embedded assets are %d bytes, over %d", n, limit)
	}
	t.Logf("embedded assets: %d bytes", n)
}

// TestPages: every page the header links to parses, and the six the
// console is made of are there once their files are.
func TestPages(t *testing.T) {
	u, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range u.Pages() {
		if seen[p] {
			t.Errorf("page %s twice", p)
		}
		seen[p] = true
		if _, err := files.ReadFile("static/" + p + ".js"); err != nil {
			t.Errorf("page %s has no script: %v", p, err)
		}
	}
	for _, p := range []string{"overview", "cluster"} {
		if !seen[p] {
			t.Errorf("no page %s in %v", p, u.Pages())
		}
	}
}
