package main

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"kscope/internal/store"
	"kscope/internal/view"
)

// TestOverviewPartsOnCaptures: for every capture, the overview merged from
// a store's per-second parts (the live API's path) has the same JSON as
// the overview computed from the exchanges (the --pcap path).
func TestOverviewPartsOnCaptures(t *testing.T) {
	files, _ := filepath.Glob(captures + "*.pcap")
	if len(files) == 0 {
		t.Fatal("no captures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			xs := mustAnalyze(t, false, f).Exchanges
			if len(xs) == 0 {
				t.Skip("no exchanges")
			}
			w := view.WindowOf(xs)
			w = view.Window{From: w.From.Truncate(time.Second), To: w.To.Truncate(time.Second).Add(time.Second)}
			want := view.Overview(view.Of(xs, w), view.OverviewFilter{})

			st := store.New(store.Config{})
			st.KeepPartials(func() store.Partial { return view.NewOverviewPart() })
			for _, e := range xs {
				st.Add(e)
			}
			var got view.OverviewView
			if whole, ok := st.Partials(w.From, w.To, func(ps []store.Partial) { got = view.OverviewOfParts(w, overviewParts(ps)) }); !ok || !whole.Equal(w.From) {
				t.Fatal("partials do not cover the capture")
			}
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(want)
			var g, wv any
			json.Unmarshal(gj, &g)
			json.Unmarshal(wj, &wv)
			if !jsonClose(g, wv) {
				t.Fatalf("overview from parts:\n%s\nfrom exchanges:\n%s", gj, wj)
			}
			if want.Exchanges == 0 {
				t.Error("no exchange in the overview")
			}
		})
	}
}

// jsonClose compares decoded JSON, numbers to a relative 1e-9.
func jsonClose(a, b any) bool {
	switch av := a.(type) {
	case float64:
		bv, ok := b.(float64)
		d := av - bv
		return ok && d*d <= 1e-18*max(av*av, bv*bv)
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for k := range av {
			if !jsonClose(av[k], bv[k]) {
				return false
			}
		}
		return true
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for i := range av {
			if !jsonClose(av[i], bv[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}

func overviewParts(ps []store.Partial) []*view.OverviewPart {
	out := make([]*view.OverviewPart, len(ps))
	for i, p := range ps {
		out[i] = p.(*view.OverviewPart)
	}
	return out
}
