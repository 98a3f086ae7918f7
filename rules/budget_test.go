package rules

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// runawayGuard bounds an evaluation in tests: far above every budget,
// it only turns a runaway into a failure instead of a hung test.
const runawayGuard = 60 * time.Second

// bombSet is a rules file with the rule "bomb" on line 4, whose
// condition is when, and the rule "ok" after it on the same event type.
func bombSet(t *testing.T, when string) *Set {
	t.Helper()
	src := "rules:\n  - name: bomb\n    on: [a]\n    when: '" + when + "'\n" +
		"    actions: [{lock_seat: {room_id: event.room_id, index: 1, forbid_audio: true}}]\n" +
		"  - name: ok\n    on: [a]\n    when: event.user.flagged\n" +
		"    actions: [{lock_seat: {room_id: event.room_id, index: 2, forbid_audio: true}}]\n"
	s, err := Compile(Source{Path: "bomb.yaml", Data: []byte(src)})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return s
}

// evalGuarded evaluates ev against s, failing the test if evaluation
// runs away.
func evalGuarded(t *testing.T, s *Set, ev *Event) []Match {
	t.Helper()
	done := make(chan []Match, 1)
	go func() { done <- evalNoState(t, s, ev) }()
	select {
	case ms := <-done:
		return ms
	case <-time.After(runawayGuard):
		t.Fatalf("evaluation still running after %v", runawayGuard)
		return nil
	}
}

func bombEvent() *Event {
	return &Event{Type: "a", RoomID: "r", User: User{ID: "u", Flagged: true},
		Attrs: map[string]any{"pattern": "a+z", "s": "x"}}
}

// TestBudgetsStopBombs reproduces the probes of issue 17: each rule
// would exhaust memory or stall the daemon. Each must fail alone, with
// a budget error placed in its file, while the next rule still matches.
func TestBudgetsStopBombs(t *testing.T) {
	const cpu = "step budget exceeded|time budget exceeded"
	tests := []struct {
		name, when string
		want       string // alternatives separated by |
	}{
		{"replace bomb", `len(replace(repeat("a",100000),"a",repeat("b",100000))) > 0`, "memory budget exceeded: replace would build a string of 10000000000 bytes"},
		{"nested ranges", `let r = 1..1000; all(r, all(r, all(r, # > 0)))`, cpu},
		{"join of a shared string", `let s = repeat("x", 1000000); len(join(map(1..45000, s), "")) > 0`, "memory budget exceeded: join would build"},
		{"concatenation in map", `let s = repeat("x", 1000000); len(map(1..45000, s + "y")) > 0`, "memory budget exceeded"},
		{"split in map", `let s = repeat("x", 1000000); len(map(1..45000, split(s, ""))) > 0`, "memory budget exceeded"},
		{"upper in map", `let s = repeat("x", 1000000); len(map(1..45000, upper(s))) > 0`, "memory budget exceeded"},
		{"string() of shared lists", `let r = 1..40000; len(string(map(r, r))) > 0`, "memory budget exceeded: string would build"},
		{"toJSON of shared lists", `let r = 1..40000; len(toJSON(map(r, r))) > 0`, "memory budget exceeded: toJSON would build"},
		{"flatten of shared lists", `let r = 1..40000; len(flatten(map(r, r))) > 0`, cpu},
		{"max of shared lists", `let r = 1..40000; max(map(r, r)) > 0`, cpu},
		{"uniq is quadratic", `len(uniq(1..50000)) > 0`, cpu},
		{"in compares lists deeply", `let r = 1..15000; let a = map(1..15000, r); let b = concat(1..14999, [0]); b in a`, cpu},
		{"fromJSON in map", `let j = "[" + repeat("0,", 100000) + "0]"; len(map(1..1000, fromJSON(j))) > 0`, "memory budget exceeded"},
		{"dynamic pattern", `let s = repeat("a", 1000000); s matches repeat("(a|b)", 1000)`, cpu},
		{"trim with a long cutset", `let s = repeat("é", 400000); trim(s, repeat("ü", 400000) + "é") == ""`, cpu},
		{"a heavy operator in a loop", `let s = repeat("a", 1000000); any(1..20000, s matches "a+z")`, "time budget exceeded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms := evalGuarded(t, bombSet(t, tc.when), bombEvent())
			if len(ms) != 2 || ms[0].Rule.Name != "bomb" || ms[1].Rule.Name != "ok" {
				t.Fatalf("matches = %+v, want the bomb's error then ok", ms)
			}
			checkBudgetError(t, ms[0].Err, tc.want)
			if ms[1].Err != nil || len(ms[1].Actions) != 1 || ms[1].Actions[0].LockSeat.Index != 2 {
				t.Errorf("the next rule: %+v, want its action", ms[1])
			}
		})
	}
}

// checkBudgetError checks that err is a positioned budget error
// containing one of the |-separated alternatives of want.
func checkBudgetError(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	var pos Error
	if !errors.As(err, &pos) || pos.Path != "bomb.yaml" || pos.Line != 4 || pos.Col < 12 {
		t.Errorf("error %q is not placed inside the bomb's condition (bomb.yaml:4)", err)
	}
	for _, w := range strings.Split(want, "|") {
		if strings.Contains(err.Error(), w) {
			return
		}
	}
	t.Errorf("error = %q, want it to contain %q", err, want)
}

// TestBudgetIsPerRule: each rule gets a fresh budget, and a rule's
// condition and actions share one. The rules build 3 MB of strings
// each, under the budget of 4 MiB per evaluation.
func TestBudgetIsPerRule(t *testing.T) {
	const threeMB = `len(repeat("x", 1000000)) + len(repeat("y", 1000000)) + len(repeat("z", 1000000)) == 3000000`
	src := fmt.Sprintf(`rules:
  - name: first
    on: [a]
    when: '%[1]s'
    actions: [{lock_seat: {room_id: event.room_id, index: 1, forbid_audio: true}}]
  - name: second
    on: [a]
    when: '%[1]s'
    actions: [{lock_seat: {room_id: event.room_id, index: 2, forbid_audio: true}}]
  - name: condition-and-actions
    on: [a]
    when: '%[1]s'
    actions: [{lock_seat: {room_id: event.room_id, index: 1, forbid_audio: '%[1]s'}}]
`, threeMB)
	s := mustCompile(t, src)
	ms := evalGuarded(t, s, &Event{Type: "a", RoomID: "r"})
	if len(ms) != 3 {
		t.Fatalf("matches = %+v, want 3", ms)
	}
	for _, m := range ms[:2] {
		if m.Err != nil || len(m.Actions) != 1 {
			t.Errorf("rule %s: %+v, want it to match within its own budget", m.Rule.Name, m)
		}
	}
	if err := ms[2].Err; err == nil || !strings.Contains(err.Error(), "memory budget exceeded") {
		t.Errorf("a condition and an action building 6 MB: err = %v, want a memory budget error", err)
	}
}

// TestMeteredBuiltinsKeepTheirMeaning: the metered builtins and
// operators behave as expr's own when within their budgets.
func TestMeteredBuiltinsKeepTheirMeaning(t *testing.T) {
	tests := []string{
		`replace("a-b-c", "-", "_") == "a_b_c"`,
		`replace("a-b-c", "-", "", 1) == "ab-c"`,
		`replace("ab", "", "-") == "-a-b-"`,
		`repeat("ab", 3) == "ababab"`,
		`join(["a", "b"], ",") == "a,b" && join(event.user.labels) == "spamscam"`,
		`split("a,b,c", ",") == ["a", "b", "c"] && len(split("a,b,c", ",", 2)) == 2`,
		`splitAfter("a,b", ",") == ["a,", "b"]`,
		`upper("ab") == "AB" && lower("AB") == "ab" && ("Ab" | lower()) == "ab"`,
		`trim("  a ") == "a" && trim("xxaxx", "x") == "a" && trim("éaé", "é") == "a"`,
		`toBase64("hi") == "aGk=" && fromBase64("aGk=") == "hi"`,
		`string(12) == "12" && string([1, 2]) == "[1 2]"`,
		`toJSON({"a": [1, 2]}) == "{\n  \"a\": [\n    1,\n    2\n  ]\n}"`,
		`fromJSON("[1, {\"b\": true}]")[1].b`,
		`keys({"a": 1}) == ["a"] && values({"a": 1}) == [1]`,
		`toPairs({"a": 1})[0][1] == 1 && fromPairs([["a", 1]]).a == 1`,
		`uniq([1, 2, 1, [3], [3]]) == [1, 2, [3]]`,
		`flatten([1, [2, [3]]]) == [1, 2, 3]`,
		`max(1, [5, 2]) == 5 && min([3, 1]) == 1 && mean([1, 3]) == 2 && median([1, 2, 9]) == 2`,
		`[1, 2] in [[1, 2]] && !([3] in [[1, 2]]) && event.attrs.list in [[1, 2]]`,
		`"aaz" matches event.attrs.pattern && !("b" matches event.attrs.pattern)`,
		`event.room_id + "-" + event.attrs.s == "r-x" && event.attrs.n + 1 == 3`,
		`all(event.seats, #.index > 0) && map(1..3, # * 2) == [2, 4, 6] && reduce(1..4, #acc + #, 0) == 10`,
	}
	ev := &Event{Type: "a", RoomID: "r", User: User{Labels: []string{"spam", "scam"}},
		Seats: []Seat{{Index: 1}, {Index: 2}},
		Attrs: map[string]any{"pattern": "a+z", "s": "x", "n": 2.0, "list": []any{1, 2}}}
	for _, when := range tests {
		t.Run(when, func(t *testing.T) {
			src := "rules:\n  - name: r\n    on: [a]\n    when: " + yamlQuote(when) + "\n" +
				"    actions: [{lock_seat: {room_id: event.room_id, index: 1, forbid_audio: true}}]\n"
			ms := evalNoState(t, mustCompile(t, src), ev)
			if len(ms) != 1 || ms[0].Err != nil {
				t.Errorf("matches = %+v, want one match", ms)
			}
		})
	}
}

// TestMeteredBuiltinsKeepTheirLoadErrors: wrong calls of the metered
// builtins fail to load with expr's messages, the hidden argument
// unseen.
func TestMeteredBuiltinsKeepTheirLoadErrors(t *testing.T) {
	tests := []struct{ when, want string }{
		{`max() > 0`, "x.yaml:4:12: when: not enough arguments to call max"},
		{`upper() == ""`, "x.yaml:4:12: when: not enough arguments to call upper"},
		{`upper("a", "b") == ""`, "x.yaml:4:12: when: too many arguments to call upper"},
		{`replace(1, "a", "b") == ""`, "x.yaml:4:20: when: cannot use int as argument (type string) to call replace"},
		{`join(1) == ""`, "x.yaml:4:17: when: cannot use int as argument (type []string) to call join"},
		{`flatten(1) == []`, "x.yaml:4:12: when: cannot flatten int"},
	}
	for _, tc := range tests {
		t.Run(tc.when, func(t *testing.T) {
			src := "rules:\n  - name: r\n    on: [a]\n    when: '" + tc.when + "'\n" +
				"    actions: [{lock_seat: {room_id: event.room_id, index: 1, forbid_audio: true}}]\n"
			_, err := Compile(Source{Path: "x.yaml", Data: []byte(src)})
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

// yamlQuote quotes s as a YAML double-quoted scalar.
func yamlQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// TestBudgetWarnings: what the load can see of a budget a rule will
// exceed is a warning at its position; the rule still loads.
func TestBudgetWarnings(t *testing.T) {
	tests := []struct {
		name, when, want string
	}{
		{"replace bomb", `len(replace(repeat("a",100000),"a",repeat("b",100000))) > 0`,
			`w.yaml:4:16: when: replace builds a string of up to 10000000000 bytes, over the limit of 1048576: the rule will fail with "memory budget exceeded"`},
		{"repeat", `repeat("ab", 1000000) != ""`,
			`w.yaml:4:12: when: repeat builds a string of up to 2000000 bytes, over the limit of 1048576`},
		{"concatenation", `let s = repeat("x", 600000); s + s != ""`,
			`w.yaml:4:43: when: + builds a string of up to 1200000 bytes`},
		{"nested ranges", `let r = 1..1000; all(r, all(r, all(r, # > 0)))`,
			`w.yaml:4:36: when: loops here can run up to 1001000 steps on one event, over the budget of 1000000: the rule will fail with "step budget exceeded"`},
		{"a loop over a list", `any(lists.big, any(lists.big, # == event.room_id))`,
			`w.yaml:4:12: when: loops here can run up to 1001000 steps`},
		{"a long range", `len(1..10000000) > 0`,
			`w.yaml:4:17: when: this can build up to 10000000 list and map elements, over the limit of 100000`},
		{"strings built in a loop", `len(map(1..100, repeat("x", 50000))) > 0`,
			`w.yaml:4:16: when: this can build up to 5000000 bytes of strings and lists on one event, over the budget of 4194304`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := "rules:\n  - name: r\n    on: [a]\n    when: '" + tc.when + "'\n" +
				"    actions: [{lock_seat: {room_id: event.room_id, index: 1, forbid_audio: true}}]\n" +
				"lists:\n  big: [" + strings.Repeat("a, ", 999) + "a]\n"
			s, err := Compile(Source{Path: "w.yaml", Data: []byte(src)})
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			ws := s.Warnings()
			if len(ws) != 1 || !strings.HasPrefix(ws[0].Error(), tc.want) {
				t.Errorf("warnings = %q, want one starting %q", ws, tc.want)
			}
		})
	}
	t.Run("ordinary rules have none", func(t *testing.T) {
		if ws := loadValid(t).Warnings(); len(ws) != 0 {
			t.Errorf("warnings = %q, want none", ws)
		}
	})
}
