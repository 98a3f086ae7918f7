package benchtest

import (
	"fmt"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/roomwarden/roomwarden/engine/decode"
	"github.com/roomwarden/roomwarden/rules"
)

// TestGeneratedEventsMatchAsDocumented decodes generated events with the
// daemon's decoder and evaluates them against the generated rules: the
// marked events match exactly one rule, the others none.
func TestGeneratedEventsMatchAsDocumented(t *testing.T) {
	for _, n := range []int{20, 100, 1000} {
		t.Run(fmt.Sprintf("rules=%d", n), func(t *testing.T) {
			set, err := rules.Compile(rules.Source{Path: "bench.yaml", Data: RulesYAML(n)})
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			checkEvents(t, set, NewGenerator(n, 10, 1))
		})
	}
}

func checkEvents(t *testing.T, set *rules.Set, g *Generator) {
	t.Helper()
	ev := rules.NewEvaluator()
	at := time.Unix(1_800_000_000, 0)
	matched := 0
	for seq := range uint64(500) {
		e := g.Next(seq, at)
		if len(e.Data) != EventSize {
			t.Fatalf("event %d is %d bytes, want %d", seq, len(e.Data), EventSize)
		}
		evs, err := decode.Events(e.Data, nil)
		if err != nil {
			t.Fatalf("decode %s: %v", e.Data, err)
		}
		ms, err := ev.Eval(set, &evs[0], at, nil, nil)
		if err != nil {
			t.Fatalf("eval %s: %v", e.Data, err)
		}
		want := 0
		if e.Match {
			want = 1
			matched++
		}
		if len(ms) != want || (want == 1 && ms[0].Err != nil) {
			t.Fatalf("event %s: got %d matches (%v), want %d", e.Data, len(ms), ms, want)
		}
	}
	if matched != 50 {
		t.Errorf("got %d matching events of 500, want 50", matched)
	}
}

// TestMatchingEvents: Matching(seq, rule) matches that rule alone, in a
// room of its own, and a rules file with a longer cooldown keeps the
// same conditions.
func TestMatchingEvents(t *testing.T) {
	const n = 200
	set, err := rules.Compile(rules.Source{Path: "bench.yaml", Data: RulesYAMLCooldown(n, time.Hour)})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	g := NewGenerator(n, 0, 1)
	ev := rules.NewEvaluator()
	at := time.Unix(1_800_000_000, 0)
	for seq := range uint64(3 * n) {
		rule := int(seq*7) % n
		e := g.Matching(seq, rule, at)
		evs, err := decode.Events(e.Data, nil)
		if err != nil || len(e.Data) != EventSize {
			t.Fatalf("decode %s (%d bytes): %v", e.Data, len(e.Data), err)
		}
		if want := fmt.Sprintf("room-%d", seq); evs[0].RoomID != want {
			t.Fatalf("event %d in room %s, want %s", seq, evs[0].RoomID, want)
		}
		ms, err := ev.Eval(set, &evs[0], at, nil, nil)
		if err != nil {
			t.Fatalf("eval %s: %v", e.Data, err)
		}
		if want := fmt.Sprintf("bench-%05d", rule); len(ms) != 1 || ms[0].Err != nil || ms[0].Rule.Name != want {
			t.Fatalf("event %s: matches %v, want rule %s alone", e.Data, ms, want)
		}
	}
}

// TestRulesAreDistinct: no two generated rules have the same condition,
// so none shares a compiled program with another (rules.Compile shares
// one between identical expressions).
func TestRulesAreDistinct(t *testing.T) {
	const n = 1000
	var doc struct {
		Rules []struct {
			When string `yaml:"when"`
		} `yaml:"rules"`
	}
	if err := yaml.Unmarshal(RulesYAML(n), &doc); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range doc.Rules {
		seen[r.When] = true
	}
	if len(doc.Rules) != n || len(seen) != n {
		t.Errorf("%d rules with %d distinct conditions, want %d of each", len(doc.Rules), len(seen), n)
	}
}

func TestIDRoundTrip(t *testing.T) {
	at := time.Unix(1_800_000_000, 123456789)
	seq, got, err := ParseID(string(AppendID(nil, 42, at)))
	if err != nil || seq != 42 || !got.Equal(at) {
		t.Errorf("ParseID(AppendID(42, %v)) = %d, %v, %v", at, seq, got, err)
	}
	for _, bad := range []string{"", "evt-1", "lg-1", "lg-x-1", "lg-1-y"} {
		if _, _, err := ParseID(bad); err == nil {
			t.Errorf("ParseID(%q): no error", bad)
		}
	}
}
