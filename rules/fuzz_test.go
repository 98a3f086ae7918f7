package rules

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// FuzzLoad feeds arbitrary bytes to the rules loader, the rule-test
// parser and, when a set loads, the evaluator. Errors are fine; panics
// are not. Every load error must be an ErrorList naming the file, every
// warning must be placed in the file, and evaluating a loaded set must
// end within the budgets with consistent matches (see checkEval).
func FuzzLoad(f *testing.F) {
	for _, glob := range []string{"../examples/rules/*.yaml", "testdata/valid/*.yaml", "testdata/invalid/*.yaml"} {
		files, err := filepath.Glob(glob)
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range files {
			data, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Compile(Source{Path: "fuzz.yaml", Data: data})
		if err != nil {
			checkErrorList(t, err)
		} else {
			for _, w := range s.Warnings() {
				checkInFile(t, w, data)
			}
			for _, typ := range s.Types() {
				checkEval(t, s, fuzzEvent(typ), data)
			}
		}
		if _, err := ParseTests("fuzz_test.yaml", data); err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("ParseTests error %T %v is not an ErrorList", err, err)
			}
		}
	})
}

func checkErrorList(t *testing.T, err error) {
	t.Helper()
	var list ErrorList
	if !errors.As(err, &list) || len(list) == 0 {
		t.Fatalf("error %T %v is not an ErrorList", err, err)
	}
	for _, e := range list {
		if e.Path != "fuzz.yaml" || e.Line < 0 || e.Col < 0 || e.Msg == "" {
			t.Fatalf("malformed error %#v", e)
		}
	}
}

// checkInFile checks that e is a message placed inside the file data.
func checkInFile(t *testing.T, e Error, data []byte) {
	t.Helper()
	lines := bytes.Count(data, []byte{'\n'}) + 1
	if e.Path != "fuzz.yaml" || e.Line < 1 || e.Line > lines || e.Col < 1 || e.Msg == "" {
		t.Fatalf("%#v is not a message placed in the file's %d lines", e, lines)
	}
}

func fuzzEvent(typ string) *Event {
	return &Event{Type: typ, RoomID: "r", User: User{ID: "u", Flagged: true, Labels: []string{"spam"}, Score: 0.9},
		Seat: Seat{Index: 1}, Seats: []Seat{{Index: 1, UserID: "u"}},
		Attrs: map[string]any{"n": 1.0, "s": "x", "list": []any{"a", 1.0}}}
}

// checkEval evaluates ev against s and checks the matches: evaluation
// ends within the budgets (with slack for a loaded machine: this is a
// guard against runaways, not a timing test); matches come from the
// candidates, in order; a failed rule has a runtime error placed in the
// file and no actions; a matched rule has all of its actions.
func checkEval(t *testing.T, s *Set, ev *Event, data []byte) {
	t.Helper()
	cands := s.Candidates(ev.Type)
	done := make(chan []Match, 1)
	go func() { done <- NewEvaluator().Eval(s, ev, t0, nil) }()
	var ms []Match
	guard := time.Duration(len(cands)+1) * (maxEvalTime + 10*time.Second)
	select {
	case ms = <-done:
	case <-time.After(guard):
		t.Fatalf("evaluating %d rules took longer than %v", len(cands), guard)
	}
	next := 0
	for _, m := range ms {
		i := slices.Index(cands[next:], m.Rule)
		if i < 0 {
			t.Fatalf("match of rule %q is not a candidate after the previous match", m.Rule.Name)
		}
		next += i + 1
		if m.Err != nil {
			var e Error
			if !errors.As(m.Err, &e) || len(m.Actions) != 0 {
				t.Fatalf("rule %q failed with %T %v and %d actions, want a rules.Error and none", m.Rule.Name, m.Err, m.Err, len(m.Actions))
			}
			checkInFile(t, e, data)
			continue
		}
		if len(m.Actions) != m.Rule.ActionCount() || (m.Rule.CooldownFor <= 0 && m.CooldownKey != "") {
			t.Fatalf("rule %q matched with %d actions and cooldown key %q, want %d actions", m.Rule.Name, len(m.Actions), m.CooldownKey, m.Rule.ActionCount())
		}
	}
}
