package rules

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// withoutIndex returns s with the rule index off: every enabled rule
// listening for an event's type is evaluated, as before there was one.
func withoutIndex(s *Set) *Set {
	c := *s
	c.byType = make(map[string]*typeIndex, len(s.byType))
	for t, idx := range s.byType {
		u := *idx
		u.sel = nil
		c.byType[t] = &u
	}
	return &c
}

// TestIndexDifferential evaluates random events against random rule
// sets with and without the index, and requires the same result: the
// same matches in the same order, with the same actions, cooldown keys
// and errors, the same abort, and the same state reads.
func TestIndexDifferential(t *testing.T) {
	sets := 500
	if testing.Short() {
		sets = 100
	}
	var st diffStats
	for seed := range uint64(sets) {
		checkIndexDiff(t, seed, 40, &st)
	}
	// The test means something only if the index left rules out, and
	// if rules failed and matched.
	t.Logf("%+v", st)
	if st.skipped < st.evaluated/4 || st.failed == 0 || st.matched == 0 || st.aborted == 0 {
		t.Errorf("the random sets exercise too little: %+v", st)
	}
}

// diffStats counts what a differential run exercised.
type diffStats struct {
	evaluated, skipped       int // rules run with the index, and left out by it
	matched, failed, aborted int
}

// checkIndexDiff compiles the random set of seed and compares nEvents
// random events' evaluations.
func checkIndexDiff(t *testing.T, seed uint64, nEvents int, st *diffStats) {
	t.Helper()
	g := &ruleGen{rng: rand.New(rand.NewPCG(seed, 0x5eed))}
	src := g.set()
	s, err := Compile(Source{Path: "diff.yaml", Data: []byte(src)})
	if err != nil {
		t.Fatalf("seed %d: %v\n%s", seed, err, src)
	}
	plain := withoutIndex(s)
	withIdx, without := NewEvaluator(), NewEvaluator() // reused: buffers carry over
	for i := range nEvents {
		ev := g.event()
		failAt := 0
		if g.rng.IntN(10) == 0 {
			failAt = 1 + g.rng.IntN(3)
		}
		r1, r2 := &diffReader{failAt: failAt}, &diffReader{failAt: failAt}
		got, gotErr := withIdx.Eval(s, ev, t0, r1, nil)
		want, wantErr := without.Eval(plain, ev, t0, r2, nil)
		where := fmt.Sprintf("seed %d event %d %+v", seed, i, *ev)
		if d := diffEval(got, gotErr, want, wantErr); d != "" {
			t.Fatalf("%s: with the index %s\nrules:\n%s", where, d, src)
		}
		if !slices.Equal(r1.calls, r2.calls) {
			t.Fatalf("%s: state reads with the index %q, without %q\nrules:\n%s", where, r1.calls, r2.calls, src)
		}
		st.count(s, withIdx, ev, got, gotErr)
	}
}

func (st *diffStats) count(s *Set, e *Evaluator, ev *Event, ms []Match, err error) {
	if idx := s.byType[ev.Type]; idx != nil {
		n := len(e.cands.of(idx, ev))
		st.evaluated += n
		st.skipped += len(idx.rules) - n
	}
	if err != nil {
		st.aborted++
	}
	for _, m := range ms {
		if m.Err != nil {
			st.failed++
		} else {
			st.matched++
		}
	}
}

// diffEval describes how an evaluation's result differs from want's, or
// returns "".
func diffEval(got []Match, gotErr error, want []Match, wantErr error) string {
	if !sameErr(gotErr, wantErr) {
		return fmt.Sprintf("returns error %q, without %q", errString(gotErr), errString(wantErr))
	}
	if len(got) != len(want) {
		return fmt.Sprintf("matches %s, without %s", matchNames(got), matchNames(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		switch {
		case g.Rule != w.Rule:
			return fmt.Sprintf("match %d is rule %q, without %q", i, g.Rule.Name, w.Rule.Name)
		case !sameErr(g.Err, w.Err):
			return fmt.Sprintf("rule %q fails with %q, without %q", g.Rule.Name, errString(g.Err), errString(w.Err))
		case !reflect.DeepEqual(g.Actions, w.Actions):
			return fmt.Sprintf("rule %q renders %+v, without %+v", g.Rule.Name, g.Actions, w.Actions)
		case g.CooldownKey != w.CooldownKey:
			return fmt.Sprintf("rule %q has cooldown key %q, without %q", g.Rule.Name, g.CooldownKey, w.CooldownKey)
		}
	}
	return ""
}

// sameErr reports whether a and b are the same error. The time budget
// is a wall-clock backstop: on a loaded machine it may trip before the
// step budget in one run and not in the other, so a time budget error
// is the same as any other budget error.
func sameErr(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	x, y := a.Error(), b.Error()
	const budget, clock = "budget exceeded", "time budget exceeded"
	return x == y || (strings.Contains(x, clock) || strings.Contains(y, clock)) &&
		strings.Contains(x, budget) && strings.Contains(y, budget)
}

func matchNames(ms []Match) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.Rule.Name)
	}
	return out
}

// diffReader is state that logs every read and fails from read number
// failAt on (0: never).
type diffReader struct {
	failAt int
	calls  []string
}

var errDiffState = errors.New("state store down")

func (r *diffReader) read(call string) error {
	r.calls = append(r.calls, call)
	if r.failAt > 0 && len(r.calls) >= r.failAt {
		return errDiffState
	}
	return nil
}

func (r *diffReader) WindowCount(w *Window, key string, _ time.Time) (int, error) {
	return len(key) % 3, r.read("window " + w.Name + " " + key)
}

func (r *diffReader) Members(l *List, _ time.Time) (map[string]struct{}, error) {
	return map[string]struct{}{"u1": {}, "mod-1": {}}, r.read("members " + l.Name)
}

// ruleGen writes random rules files and events over a few values of
// each field, so that keys often hold.
type ruleGen struct{ rng *rand.Rand }

var (
	genTypes = []string{"t0", "t1", "t2", "t3"}
	genRooms = []string{"", "r1", "r2", "r3"}
	genUsers = []string{"", "u1", "u2", "mod-1"}
	genIDs   = []string{"", "e1", "e2"}
)

func (g *ruleGen) pick(xs []string) string { return xs[g.rng.IntN(len(xs))] }
func (g *ruleGen) seat() int               { return g.rng.IntN(5) - 1 }
func (g *ruleGen) one(n int) bool          { return g.rng.IntN(n) == 0 }

// set returns a rules file of up to 60 rules.
func (g *ruleGen) set() string {
	var b strings.Builder
	b.WriteString(indexLists + "rules:\n")
	for i := range 1 + g.rng.IntN(60) {
		fmt.Fprintf(&b, "  - name: r%d\n    on: [%s]\n    when: %q\n    actions:\n      - %s\n", i, g.on(), g.when(), g.action())
		if g.one(4) {
			b.WriteString("    cooldown: {key: 'event.room_id + \"/\" + event.user.id', for: 1m}\n")
		}
		if g.one(15) {
			b.WriteString("    enabled: false\n")
		}
	}
	return b.String()
}

// on returns one or two event types; t3 has few rules.
func (g *ruleGen) on() string {
	a := g.pick(genTypes)
	if g.one(3) {
		if b := g.pick(genTypes[:3]); b != a {
			return a + ", " + b
		}
	}
	return a
}

func (g *ruleGen) action() string {
	switch g.rng.IntN(6) {
	case 0:
		return "lock_seat: {room_id: event.room_id, index: event.attrs.n, forbid_audio: true}" // fails unless n is a whole number
	case 1:
		return "label: {list: kv, member: event.user.id}"
	}
	return "lock_seat: {room_id: event.room_id, index: event.seat.index, forbid_audio: true}"
}

// when returns a random condition: mostly && chains, sometimes nested
// in parentheses, and forms that the index must not look into.
func (g *ruleGen) when() string {
	switch g.rng.IntN(30) {
	case 0:
		return g.chain(1+g.rng.IntN(3)) + " || " + g.chain(1+g.rng.IntN(3))
	case 1:
		return "!(" + g.chain(1+g.rng.IntN(3)) + ")"
	case 2:
		return g.pick([]string{"true", "false"})
	case 3:
		return "let x = 1; x == 1 && " + g.chain(1+g.rng.IntN(3))
	}
	return g.chain(1 + g.rng.IntN(5))
}

// chain returns n conjuncts joined by && or and, grouped at random.
func (g *ruleGen) chain(n int) string {
	if n == 1 {
		return g.conjunct()
	}
	k := 1 + g.rng.IntN(n-1)
	l, r := g.chain(k), g.chain(n-k)
	if k > 1 && g.one(3) {
		l = "(" + l + ")"
	}
	if n-k > 1 && g.one(3) {
		r = "(" + r + ")"
	}
	return l + g.pick([]string{" && ", " && ", " and "}) + r
}

// conjunct returns a key (about half the time), a conjunct that cannot
// fail, or one that may fail or reads state.
func (g *ruleGen) conjunct() string {
	room, user, seat := g.pick(genRooms), g.pick(genUsers), g.seat()
	forms := []string{
		// Keys.
		fmt.Sprintf("event.room_id == %q", room),
		fmt.Sprintf("%q == event.room_id", room),
		fmt.Sprintf("event.room_id in [%q, %q]", room, g.pick(genRooms)),
		fmt.Sprintf("event.user.id == %q", user),
		"event.user.id in lists.mods",
		"event.room_id in lists.rooms",
		"event.user.id in lists.nobody",
		"event.room_id in []",
		fmt.Sprintf("event.seat.index == %d", seat),
		fmt.Sprintf("%d == event.seat.index", seat),
		fmt.Sprintf("event.seat.index in [%d, %d]", seat, g.seat()),
		fmt.Sprintf("event.seat.user_id == %q", user),
		fmt.Sprintf("event.id == %q", g.pick(genIDs)),
		fmt.Sprintf("event.type == %q", g.pick(genTypes)),
		fmt.Sprintf("event.type in [%q, %q]", g.pick(genTypes), g.pick(genTypes)),
		fmt.Sprintf("(event.room_id == %q || event.room_id == %q)", room, g.pick(genRooms)),
		// Not keys, cannot fail.
		"event.user.flagged",
		"event.user.score > 0.5",
		fmt.Sprintf("event.seat.index != %d", seat),
		fmt.Sprintf("event.room_id not in [%q]", room),
		"!(event.user.id in lists.mods)",
		fmt.Sprintf("event.seat.index == %d.0", seat),
		fmt.Sprintf("event.seat.index in [%d, 2.0]", seat),
		"event.user.score == 1",
		"event.seat.index < 2",
		fmt.Sprintf("(event.room_id == %q || event.user.id == %q)", room, user),
		"event.room_id == nil",
		// May fail, or read state.
		"event.attrs.n > 0.5",
		"event.attrs.missing.x == 1",
		"event.seats[1].index == 0",
		"int(event.attrs.s) > 0",
		"event.seat.index % (event.seat.index - 1) == 0",
		`len(repeat("x", event.seat.index * 600000)) > 0`, // memory budget from seat 2 on, an error below 0
		`window("w") >= 1`,
		"event.user.id in lists.kv",
		"len(lists.kv) > 1",
		"has_any(event.user.labels, lists.bad)",
		`attr_number("n") > 0.5`,
		fmt.Sprintf("(event.room_id == %q || event.attrs.n > 1)", room),
	}
	return forms[g.rng.IntN(len(forms))]
}

// event returns a random event: fields often empty, attrs of every
// type the decoder allows, or none.
func (g *ruleGen) event() *Event {
	ev := &Event{
		ID: g.pick(genIDs), Type: g.pick(append(genTypes, "t9")), RoomID: g.pick(genRooms),
		User: User{ID: g.pick(genUsers), Flagged: g.one(2), Score: []float64{0, 0.5, 0.9, 1}[g.rng.IntN(4)]},
		Seat: Seat{Index: g.seat(), UserID: g.pick(genUsers)},
	}
	if g.one(2) {
		ev.User.Labels = []string{g.pick([]string{"spam", "new"})}
	}
	for range g.rng.IntN(3) {
		ev.Seats = append(ev.Seats, Seat{Index: g.seat()})
	}
	if !g.one(3) {
		ev.Attrs = map[string]any{}
		values := []any{nil, 1.0, 2.0, 0.5, "x", "2", true, []any{"a"}}
		for _, k := range []string{"n", "s", "missing"} {
			if !g.one(3) {
				ev.Attrs[k] = values[g.rng.IntN(len(values))]
			}
		}
	}
	return ev
}

// TestIndexBudgets checks that the index neither hides nor invents a
// budget error: a loop over the step budget before a key fails the
// rule on every event (the key is not used); after it, only on the
// events the key lets through, as without the index.
func TestIndexBudgets(t *testing.T) {
	const loop = `any(1..1000, {any(1..1001, {false})})` // 1,001,000 steps
	s := compileWhens(t,
		loop+` && event.room_id == "r1"`,
		`event.room_id == "r1" && `+loop,
		`event.room_id == "r1" && len(repeat("x", 2000000)) > 0`,
		`event.seat.index == 2 && event.attrs.n > 1`,
	)
	tests := []struct {
		name string
		ev   Event
		want []string // the rules that fail, in order
	}{
		{"other room", Event{Type: "t0", RoomID: "r2"}, []string{"r0"}},
		{"room r1", Event{Type: "t0", RoomID: "r1"}, []string{"r0", "r1", "r2"}},
		{"seat 2", Event{Type: "t0", RoomID: "r2", Seat: Seat{Index: 2}}, []string{"r0", "r3"}},
	}
	e := NewEvaluator()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, gotErr := e.Eval(s, &tc.ev, t0, nil, nil)
			want, wantErr := NewEvaluator().Eval(withoutIndex(s), &tc.ev, t0, nil, nil)
			if d := diffEval(got, gotErr, want, wantErr); d != "" {
				t.Fatalf("with the index %s", d)
			}
			var failed []string
			for _, m := range got {
				if m.Err != nil {
					failed = append(failed, m.Rule.Name)
				}
			}
			if !slices.Equal(failed, tc.want) || len(got) != len(failed) {
				t.Errorf("matches %v, failed %v; want failures of %v", matchNames(got), failed, tc.want)
			}
			for _, m := range got {
				if m.Rule.Name != "r3" && !strings.Contains(m.Err.Error(), "budget exceeded") {
					t.Errorf("rule %s: %v, want a budget error", m.Rule.Name, m.Err)
				}
			}
		})
	}
}

// TestIndexReload checks that sets built again from the same or
// changed files index their own rules, and that the old set still
// answers as before.
func TestIndexReload(t *testing.T) {
	old := compileWhens(t, `event.room_id == "r1" && event.user.flagged`, `event.seat.index in [1, 2]`)
	same := compileWhens(t, `event.room_id == "r1" && event.user.flagged`, `event.seat.index in [1, 2]`)
	changed := compileWhens(t, `event.room_id == "r2" && event.user.flagged`, `event.seat.index in [2, 3]`)
	tests := []struct {
		ev                 Event
		old, same, changed []string
	}{
		{Event{Type: "t0", RoomID: "r1", User: User{Flagged: true}, Seat: Seat{Index: 1}}, []string{"r0", "r1"}, []string{"r0", "r1"}, []string{}},
		{Event{Type: "t0", RoomID: "r2", User: User{Flagged: true}, Seat: Seat{Index: 3}}, []string{}, []string{}, []string{"r0", "r1"}},
		{Event{Type: "t0", RoomID: "r2", Seat: Seat{Index: 2}}, []string{"r1"}, []string{"r1"}, []string{"r1"}},
	}
	e := NewEvaluator() // one evaluator across the sets, as the engine keeps
	for _, tc := range tests {
		for _, c := range []struct {
			name string
			s    *Set
			want []string
		}{{"old", old, tc.old}, {"same", same, tc.same}, {"changed", changed, tc.changed}} {
			ms, err := e.Eval(c.s, &tc.ev, t0, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := matchNames(ms); !slices.Equal(got, c.want) {
				t.Errorf("%s set, %+v: matches %v, want %v", c.name, tc.ev, got, c.want)
			}
		}
	}
}

// checkIndex checks that evaluating ev and a bare event of its type
// gives the same result with and without the index (FuzzLoad).
func checkIndex(t *testing.T, s *Set, ev *Event) {
	t.Helper()
	plain := withoutIndex(s)
	for _, ev := range []*Event{ev, {Type: ev.Type}} {
		got, gotErr := NewEvaluator().Eval(s, ev, t0, fuzzReader{}, nil)
		want, wantErr := NewEvaluator().Eval(plain, ev, t0, fuzzReader{}, nil)
		if d := diffEval(got, gotErr, want, wantErr); d != "" {
			t.Fatalf("event %+v: with the index %s", *ev, d)
		}
	}
}

// FuzzIndex compares evaluations with and without the index over the
// random rule sets and events that seed makes.
func FuzzIndex(f *testing.F) {
	for seed := range uint64(8) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, seed uint64) {
		checkIndexDiff(t, seed, 20, &diffStats{})
	})
}
