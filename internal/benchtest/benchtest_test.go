package benchtest

import (
	"fmt"
	"testing"
	"time"

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
		ms := ev.Eval(set, &evs[0], at, nil)
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
