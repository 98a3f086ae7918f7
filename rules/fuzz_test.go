package rules

import (
	"bytes"
	"encoding/json"
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
			for _, typ := range eventTypes(s) {
				ev := fuzzEvent(typ)
				checkFeeds(t, s, ev, data)
				ms := checkEval(t, s, ev, data)
				checkExplain(t, s, ev, ms)
				checkIndex(t, s, ev)
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

// eventTypes returns the event types that the rules or the windows of
// s listen for.
func eventTypes(s *Set) []string {
	types := slices.Clone(s.Types())
	for _, w := range s.Windows() {
		for _, t := range w.On {
			if !slices.Contains(types, t) {
				types = append(types, t)
			}
		}
	}
	return types
}

// fuzzReader is a small fake state: counts that depend on the key, and
// the same members for every KV list.
type fuzzReader struct{}

func (fuzzReader) WindowCount(_ *Window, key string, _ time.Time) (int, error) {
	return len(key) % 4, nil
}

func (fuzzReader) Members(*List, time.Time) (map[string]struct{}, error) {
	return map[string]struct{}{"u": {}, "spam": {}}, nil
}

// checkFeeds checks that the feeds of ev are for windows listening for
// its type, and that their errors are placed in the file.
func checkFeeds(t *testing.T, s *Set, ev *Event, data []byte) {
	t.Helper()
	feeds, errs := NewEvaluator().Feeds(s, ev, t0, nil)
	for _, f := range feeds {
		if !slices.Contains(s.WindowsFor(ev.Type), f.Window) || (f.Value != "" && !f.Window.HasDistinct) {
			t.Fatalf("feed %+v of a %s event", f, ev.Type)
		}
	}
	for _, err := range errs {
		var e Error
		if !errors.As(err, &e) {
			t.Fatalf("window error %T %v is not a rules.Error", err, err)
		}
		checkInFile(t, e, data)
	}
	if len(feeds)+len(errs) > len(s.WindowsFor(ev.Type)) {
		t.Fatalf("%d feeds and %d errors from %d windows", len(feeds), len(errs), len(s.WindowsFor(ev.Type)))
	}
}

// checkEval evaluates ev against s and checks the matches: evaluation
// ends within the budgets (with slack for a loaded machine: this is a
// guard against runaways, not a timing test); matches come from the
// candidates, in order; a failed rule has a runtime error placed in the
// file and no actions; a matched rule has all of its actions.
func checkEval(t *testing.T, s *Set, ev *Event, data []byte) []Match {
	t.Helper()
	cands := s.Candidates(ev.Type)
	type result struct {
		ms  []Match
		err error
	}
	done := make(chan result, 1)
	go func() {
		ms, err := NewEvaluator().Eval(s, ev, t0, fuzzReader{}, nil)
		done <- result{ms, err}
	}()
	var res result
	guard := time.Duration(len(cands)+1) * (maxEvalTime + 10*time.Second)
	select {
	case res = <-done:
	case <-time.After(guard):
		t.Fatalf("evaluating %d rules took longer than %v", len(cands), guard)
	}
	if res.err != nil {
		t.Fatalf("Eval with a Reader that never fails: %v", res.err)
	}
	next := 0
	for _, m := range res.ms {
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
	return res.ms
}

// checkExplain explains ev and checks that it agrees with Eval's
// matches ms, for the rules that did not fail (a failure may depend on
// the clock), and that its values encode as JSON. Sets with a rule
// that fails are not explained: each sub-expression would run into
// the same budget again, which takes too long for a fuzz iteration.
func checkExplain(t *testing.T, s *Set, ev *Event, ms []Match) {
	t.Helper()
	for _, m := range ms {
		if m.Err != nil {
			return
		}
	}
	xs, err := NewEvaluator().Explain(s, ev, t0, fuzzReader{})
	if err != nil {
		t.Fatalf("Explain with a Reader that never fails: %v", err)
	}
	if len(xs) != len(s.Candidates(ev.Type)) {
		t.Fatalf("%d explanations for %d candidates", len(xs), len(s.Candidates(ev.Type)))
	}
	for _, x := range xs {
		matched := slices.ContainsFunc(ms, func(m Match) bool { return m.Rule == x.Rule })
		if x.Err == nil && x.Matched != matched {
			t.Fatalf("rule %q: Explain says matched=%v, Eval %v", x.Rule.Name, x.Matched, matched)
		}
		if _, err := json.Marshal(x.Values); err != nil {
			t.Fatalf("rule %q: values do not encode as JSON: %v", x.Rule.Name, err)
		}
	}
}
