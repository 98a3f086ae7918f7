package benchtest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/engine/decode"
	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/rules"
)

// TestWindowWorkloadActsAsGenerated decides the generated events with the
// daemon's Decider on the in-memory store: the windows are fed by the
// reports alone, and exactly the events marked Match get a decision (a
// plain rule's, or a window rule's once its window reaches the
// threshold), one each.
func TestWindowWorkloadActsAsGenerated(t *testing.T) {
	w := WindowWorkload{Rules: 100, Windows: 10, WindowEvery: 10, MatchEvery: 100, Keys: 20}
	set, err := rules.Compile(rules.Source{Path: "bench.yaml", Data: w.RulesYAML()})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	if got := len(set.Rules()); got != 100 {
		t.Fatalf("%d rules, want 100", got)
	}
	store := state.NewMemory(0)
	d := engine.NewDecider(engine.DeciderConfig{Store: store, DryRun: true})
	g := NewWindowGenerator(w, 1)
	at := time.Unix(1_800_000_000, 0)
	const n = 5000
	matching, byWindow := 0, 0
	for seq := range uint64(n) {
		now := at.Add(time.Duration(seq) * time.Millisecond)
		e := g.Next(seq, now)
		if len(e.Data) != EventSize {
			t.Fatalf("event %d is %d bytes, want %d: %s", seq, len(e.Data), EventSize, e.Data)
		}
		evs, err := decode.Events(e.Data, nil)
		if err != nil {
			t.Fatalf("decode %s: %v", e.Data, err)
		}
		decs, err := d.Decide(context.Background(), set, &evs[0], fmt.Sprint(seq), now, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		if e.Match {
			want = 1
			matching++
		}
		if len(decs) != want {
			t.Fatalf("event %s: %d decisions, want %d", e.Data, len(decs), want)
		}
		if want == 1 && strings.HasPrefix(decs[0].Rule.Name, "window-") {
			byWindow++
		}
	}
	if got := g.Reports(); got != n/10 {
		t.Errorf("%d reports, want %d (one event in 10)", got, n/10)
	}
	if byWindow != g.WindowActs() || byWindow == 0 {
		t.Errorf("window rules decided %d events, the generator expected %d (want some)", byWindow, g.WindowActs())
	}
	if plain := matching - byWindow; plain != n/100 {
		t.Errorf("plain rules decided %d events, want %d (one in 100)", plain, n/100)
	}
}

// TestWindowWorkloadFeedsOneWindowPerReport: each report feeds exactly
// one window, of its own reason, and other events feed none.
func TestWindowWorkloadFeedsOneWindowPerReport(t *testing.T) {
	w := WindowWorkload{Rules: 40, Windows: 10, WindowEvery: 4, MatchEvery: 10, Keys: 1000}
	set, err := rules.Compile(rules.Source{Path: "bench.yaml", Data: w.RulesYAML()})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	ev := rules.NewEvaluator()
	g := NewWindowGenerator(w, 2)
	at := time.Unix(1_800_000_000, 0)
	fed := map[string]int{}
	for seq := range uint64(1000) {
		e := g.Next(seq, at)
		evs, err := decode.Events(e.Data, nil)
		if err != nil {
			t.Fatal(err)
		}
		feeds, errs := ev.Feeds(set, &evs[0], at, nil)
		if len(errs) != 0 {
			t.Fatalf("feeds of %s: %v", e.Data, errs)
		}
		isReport := seq%4 == 3 && seq%10 != 0
		if want := map[bool]int{true: 1, false: 0}[isReport]; len(feeds) != want {
			t.Fatalf("event %s feeds %d windows, want %d", e.Data, len(feeds), want)
		}
		for _, f := range feeds {
			fed[f.Window.Name]++
		}
	}
	if len(fed) != 10 {
		t.Errorf("fed windows %v, want all 10", fed)
	}
	for name, n := range fed {
		if n < g.Reports()/10 || n > g.Reports()/10+1 {
			t.Errorf("window %s fed %d times of %d reports, want a tenth", name, n, g.Reports())
		}
	}
}

func TestWindowWorkloadValidate(t *testing.T) {
	good := WindowWorkload{Rules: 100, Windows: 10, WindowEvery: 10, MatchEvery: 100, Keys: 10_000}
	if err := good.Validate(); err != nil {
		t.Errorf("Validate(%+v) = %v, want nil", good, err)
	}
	for _, tc := range []struct {
		name string
		edit func(*WindowWorkload)
	}{
		{"no windows", func(w *WindowWorkload) { w.Windows = 0 }},
		{"more windows than rules", func(w *WindowWorkload) { w.Windows = 101 }},
		{"every event a report", func(w *WindowWorkload) { w.WindowEvery = 1 }},
		{"no keys", func(w *WindowWorkload) { w.Keys = 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := good
			tc.edit(&w)
			if w.Validate() == nil {
				t.Errorf("Validate(%+v) = nil, want an error", w)
			}
		})
	}
}
