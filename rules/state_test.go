package rules

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// reported is a user.flagged event about u1 in room r1 on seat 3.
func reported(user string) *Event {
	return &Event{ID: "e1", Type: "user.flagged", RoomID: "r1", User: User{ID: user, Score: 0.9}, Seat: Seat{Index: 3}}
}

// actionsString formats the actions of the matches, one string each.
func actionsString(ms []Match) []string {
	var out []string
	for _, m := range ms {
		if m.Err != nil {
			out = append(out, m.Rule.Name+" error: "+m.Err.Error())
			continue
		}
		for _, a := range m.Actions {
			switch a.Kind {
			case KindLockSeat:
				out = append(out, fmt.Sprintf("%s lock_seat %s/%d audio=%s for %v", m.Rule.Name, a.LockSeat.RoomID, a.LockSeat.Index, a.LockSeat.ForbidAudio, a.For))
			case KindLabel:
				out = append(out, fmt.Sprintf("%s label %s(%s) %s for %v", m.Rule.Name, a.Label.List, a.Label.Bucket, a.Label.Member, a.For))
			}
		}
	}
	return out
}

// TestEvalWindows: window() reads the count at the key the window's key
// gives on the event, and `for` can escalate with it.
func TestEvalWindows(t *testing.T) {
	s := loadValid(t)
	tests := []struct {
		name      string
		ev        *Event
		counts    map[string]int
		members   []string // of the KV list watched
		want      []string
		wantReads []string
	}{
		{
			name:      "two reporters are not enough",
			ev:        reported("u1"),
			counts:    map[string]int{"reports r1/u1": 2},
			wantReads: []string{"reports r1/u1"},
		},
		{
			name:   "the third reporter locks for 5m on a first offence, and labels",
			ev:     reported("u1"),
			counts: map[string]int{"reports r1/u1": 3, "offences u1": 1},
			want: []string{
				"lock-after-three-reporters lock_seat r1/3 audio=true for 5m0s",
				"lock-after-three-reporters label watched(watched_users) u1 for 24h0m0s",
			},
			wantReads: []string{"reports r1/u1", "offences u1"},
		},
		{
			name:   "a repeat offender is locked for an hour",
			ev:     reported("u1"),
			counts: map[string]int{"reports r1/u1": 5, "offences u1": 2},
			want: []string{
				"lock-after-three-reporters lock_seat r1/3 audio=true for 1h0m0s",
				"lock-after-three-reporters label watched(watched_users) u1 for 24h0m0s",
			},
			wantReads: []string{"reports r1/u1", "offences u1"},
		},
		{
			name:      "counts are per key",
			ev:        reported("u2"),
			counts:    map[string]int{"reports r1/u1": 5},
			wantReads: []string{"reports r1/u2"},
		},
		{
			name:      "a static list still excludes",
			ev:        reported("vip-1"),
			counts:    map[string]int{"reports r1/vip-1": 5},
			wantReads: []string{"reports r1/vip-1"},
		},
		{
			name:      "a rule on another event type reads a window at its own event's key",
			ev:        &Event{Type: "member.enter", RoomID: "r2", User: User{ID: "u1"}},
			counts:    map[string]int{"offences u1": 1},
			members:   []string{"u1"},
			want:      []string{"watched-user-enters lock_seat r2/1 audio=true for 10m0s"},
			wantReads: []string{"offences u1"},
		},
		{
			name:    "the window is not read when the KV list excludes first",
			ev:      &Event{Type: "member.enter", RoomID: "r2", User: User{ID: "u1"}},
			counts:  map[string]int{"offences u1": 1},
			members: []string{"u9"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &fakeReader{counts: tc.counts, members: map[string][]string{"watched": tc.members}}
			ms, err := NewEvaluator().Eval(s, tc.ev, t0, r, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := actionsString(ms); !slices.Equal(got, tc.want) {
				t.Errorf("actions:\n got %q\nwant %q", got, tc.want)
			}
			if !slices.Equal(r.reads, tc.wantReads) {
				t.Errorf("window reads = %q, want %q (each window once)", r.reads, tc.wantReads)
			}
		})
	}
}

// TestEvalWindowReadOncePerEvaluation: every rule reading a window on
// one event sees one read of the state.
func TestEvalWindowReadOncePerEvaluation(t *testing.T) {
	s := mustCompile(t, `windows:
  w: {on: [a], key: event.user.id, for: 1m}
rules:
  - name: first
    on: [a]
    when: window("w") > 1
    actions: [{lock_seat: {room_id: event.room_id, index: 1, forbid_audio: true}}]
  - name: second
    on: [a]
    when: window("w") > 1 && all(1..100, window("w") > 1)
    actions: [{lock_seat: {room_id: event.room_id, index: window("w"), forbid_audio: true}}]
`)
	r := &fakeReader{counts: map[string]int{"w u1": 4}}
	e := NewEvaluator()
	ms, err := e.Eval(s, &Event{Type: "a", RoomID: "r", User: User{ID: "u1"}}, t0, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[1].Actions[0].LockSeat.Index != 4 {
		t.Fatalf("matches = %q, want both, the second on seat 4", actionsString(ms))
	}
	if want := []string{"w u1"}; !slices.Equal(r.reads, want) {
		t.Errorf("reads = %q, want %q", r.reads, want)
	}
	if _, err := e.Eval(s, &Event{Type: "a", RoomID: "r", User: User{ID: "u2"}}, t0, r, nil); err != nil {
		t.Fatal(err)
	}
	if want := []string{"w u1", "w u2"}; !slices.Equal(r.reads, want) {
		t.Errorf("reads after a second event = %q, want %q (nothing kept between evaluations)", r.reads, want)
	}
}

// TestEvalReaderError: a failing Reader aborts the evaluation, with an
// error that wraps the Reader's; dst comes back as given.
func TestEvalReaderError(t *testing.T) {
	errDown := errors.New("store down")
	s := loadValid(t)
	tests := []struct {
		name string
		ev   *Event
		want string
	}{
		{"a window", reported("u1"), `rule "lock-after-three-reporters": state unavailable: read window "reports" at key "r1/u1": store down`},
		{"a KV list", &Event{Type: "member.enter", User: User{ID: "u1", Flagged: true}},
			`rule "watched-user-enters": state unavailable: read list "watched" (KV bucket "watched_users"): store down`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := []Match{{CooldownKey: "given"}}
			ms, err := NewEvaluator().Eval(s, tc.ev, t0, &fakeReader{err: errDown}, dst)
			if !errors.Is(err, errDown) || err.Error() != tc.want {
				t.Errorf("err = %v, want %q wrapping the Reader's error", err, tc.want)
			}
			if len(ms) != 1 || ms[0].CooldownKey != "given" {
				t.Errorf("matches = %+v, want dst as given", ms)
			}
			xs, err := NewEvaluator().Explain(s, tc.ev, t0, &fakeReader{err: errDown})
			if !errors.Is(err, errDown) || xs != nil {
				t.Errorf("Explain = %v, %v; want the Reader's error", xs, err)
			}
		})
	}
}

// TestEvalWithoutReader: reading state without a Reader fails the rule
// that does; the others still run.
func TestEvalWithoutReader(t *testing.T) {
	s := loadValid(t)
	ms, err := NewEvaluator().Eval(s, &Event{Type: "member.enter", RoomID: "r1", User: User{ID: "u1", Flagged: true}}, t0, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := actionsString(ms)
	want := []string{
		"every-field lock_seat r1/2 audio=true for 0s",
		"every-field lock_seat lobby-r1/0 audio=unset for 0s",
		`watched-user-enters error: rule "watched-user-enters": testdata/valid/state.yaml:33:25: list "watched" is kept in KV bucket "watched_users", which reads state, and this evaluation has none`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("actions:\n got %q\nwant %q", got, want)
	}
	ms, _ = NewEvaluator().Eval(s, reported("u1"), t0, nil, nil)
	if len(ms) != 1 || ms[0].Err == nil || !strings.Contains(ms[0].Err.Error(), `window("reports") reads state, and this evaluation has none`) {
		t.Errorf("matches = %q, want a window error", actionsString(ms))
	}
}

// kvSet has a KV list and rules using it each way.
const kvSet = `lists:
  watched: {kv: watched_users}
rules:
  - name: member
    on: [a]
    when: event.user.id in lists.watched
    actions: [{lock_seat: {room_id: event.room_id, index: 1, forbid_audio: true}}]
  - name: not-member
    on: [a]
    when: event.user.id not in lists.watched && !(event.attrs.n in lists.watched)
    actions: [{lock_seat: {room_id: event.room_id, index: 2, forbid_audio: true}}]
  - name: as-a-list
    on: [a]
    when: join(lists.watched, ",") == "a,b,u1" && len(lists.watched) == 3 && has_any(["b"], lists.watched)
    actions: [{lock_seat: {room_id: event.room_id, index: 3, forbid_audio: true}}]
`

// TestKVLists: `x in lists.KV` is one lookup in the Reader's set; any
// other use sees the members sorted.
func TestKVLists(t *testing.T) {
	s := mustCompile(t, kvSet)
	if when := s.Rule("member").when.prog.Node().String(); !strings.Contains(when, kvInFunc) {
		t.Errorf("x in lists.watched compiled to %s, want a %s lookup", when, kvInFunc)
	}
	tests := []struct {
		user    string
		members []string
		want    []string
	}{
		{"u1", []string{"u1", "b", "a"}, []string{"member", "as-a-list"}},
		{"u2", []string{"u1", "b", "a"}, []string{"not-member", "as-a-list"}},
		{"u1", []string{"u1"}, []string{"member"}},
		{"u1", nil, []string{"not-member"}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s in %v", tc.user, tc.members), func(t *testing.T) {
			r := &fakeReader{members: map[string][]string{"watched": tc.members}}
			ev := &Event{Type: "a", User: User{ID: tc.user}, Attrs: map[string]any{"n": 1.0}}
			ms, err := NewEvaluator().Eval(s, ev, t0, r, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range ms {
				if m.Err != nil {
					t.Fatal(m.Err)
				}
				got = append(got, m.Rule.Name)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("matched %q, want %q", got, tc.want)
			}
			if r.memberCalls != 1 {
				t.Errorf("Members called %d times, want once per evaluation", r.memberCalls)
			}
		})
	}
}

// TestKVListSortedOnce: the sorted members are kept while the Reader
// returns the same map, and rebuilt for a new one.
func TestKVListSortedOnce(t *testing.T) {
	s := mustCompile(t, kvSet)
	l := s.KVLists()[0]
	m := map[string]struct{}{"b": {}, "a": {}}
	first := l.sorted.sortedOf(m)
	if !slices.Equal(first, []string{"a", "b"}) {
		t.Fatalf("sorted = %v", first)
	}
	if again := l.sorted.sortedOf(m); &again[0] != &first[0] {
		t.Error("the same map was sorted again")
	}
	if other := l.sorted.sortedOf(map[string]struct{}{"c": {}, "a": {}}); !slices.Equal(other, []string{"a", "c"}) {
		t.Errorf("a new map gave %v, want [a c]", other)
	}
	if empty := l.sorted.sortedOf(nil); empty == nil || len(empty) != 0 {
		t.Errorf("no members gave %#v, want an empty list", empty)
	}
}

// TestActionFor: for as a literal, as an expression, as a string parsed
// when the rule runs; a bad one fails the rule.
func TestActionFor(t *testing.T) {
	s := loadValid(t)
	tests := []struct {
		muteFor any
		want    string
	}{
		{"10m", "mute-for-attribute lock_seat r1/3 audio=true for 10m0s"},
		{"1h30m", "mute-for-attribute lock_seat r1/3 audio=true for 1h30m0s"},
		{"soon", `mute-for-attribute error: rule "mute-for-attribute": testdata/valid/state.yaml:52:14: for evaluated to "soon", which is not a duration such as 10m`},
		{"-5m", `mute-for-attribute error: rule "mute-for-attribute": testdata/valid/state.yaml:52:14: for evaluated to -5m0s; it must be positive`},
		{"0s", `mute-for-attribute error: rule "mute-for-attribute": testdata/valid/state.yaml:52:14: for evaluated to 0s; it must be positive`},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.muteFor), func(t *testing.T) {
			ev := &Event{Type: "user.muted", RoomID: "r1", Seat: Seat{Index: 3}, Attrs: map[string]any{"mute_for": tc.muteFor}}
			ms, err := NewEvaluator().Eval(s, ev, t0, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := actionsString(ms); len(got) != 1 || got[0] != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("an expression of type duration", func(t *testing.T) {
		s := mustCompile(t, `rules:
  - name: r
    on: [a]
    when: "true"
    actions:
      - lock_seat: {room_id: event.room_id, index: 1, forbid_audio: true}
        for: duration(string(event.seat.index) + "m") * 2
`)
		ms := evalNoState(t, s, &Event{Type: "a", RoomID: "r1", Seat: Seat{Index: 3}})
		if got := actionsString(ms); len(got) != 1 || got[0] != "r lock_seat r1/1 audio=true for 6m0s" {
			t.Errorf("got %q", got)
		}
	})
}

func TestRuleBudget(t *testing.T) {
	s := loadValid(t)
	b := s.Rule("lock-after-three-reporters").Budget
	if b == nil || *b != (ActionBudget{Max: 50, Per: time.Minute}) {
		t.Errorf("Budget = %+v, want {50 1m}", b)
	}
	if s.Rule("watched-user-enters").Budget != nil {
		t.Error("a rule without budget has one")
	}
}

// TestRuleHash: a rule's hash follows its definition, and nothing else.
func TestRuleHash(t *testing.T) {
	const rule = `  - name: r
    on: [a]
    when: event.user.flagged   # a comment
    actions: [{lock_seat: {room_id: event.room_id, index: 1, forbid_audio: true}}]
`
	const other = `  - name: other
    on: [b]
    when: "true"
    actions: [{lock_seat: {room_id: event.room_id, index: 1, forbid_audio: true}}]
`
	hash := func(src string) string {
		t.Helper()
		return mustCompile(t, src).Rule("r").Hash
	}
	base := hash("rules:\n" + rule)
	if len(base) != 64 {
		t.Fatalf("Hash = %q, want a hex SHA-256", base)
	}
	same := map[string]string{
		"another rule before it":    "rules:\n" + other + rule,
		"lists and comments around": "# head\nlists:\n  x: [a]\nrules:\n" + rule + other,
		"a changed comment":         "rules:\n" + strings.Replace(rule, "a comment", "another", 1),
		"flow style and quoting":    "rules:\n  - {name: r, on: [a], when: 'event.user.flagged', actions: [{lock_seat: {room_id: event.room_id, index: 1, forbid_audio: true}}]}\n",
	}
	for name, src := range same {
		if got := hash(src); got != base {
			t.Errorf("%s changed the hash", name)
		}
	}
	changed := map[string]string{
		"the condition":    "rules:\n" + strings.Replace(rule, "flagged", "flagged == true", 1),
		"an action's seat": "rules:\n" + strings.Replace(rule, "index: 1", "index: 2", 1),
		"a new field":      "rules:\n" + rule + "    dry_run: true\n",
		"the name":         "rules:\n" + strings.Replace(rule, "name: r", "name: r2", 1) + strings.Replace(other, "name: other", "name: r", 1),
	}
	for name, src := range changed {
		if got := hash(src); got == base {
			t.Errorf("changing %s left the hash alone", name)
		}
	}
}

// TestConcurrentEvaluators: Evaluators on several goroutines share a
// Set, its KV lists' sorted members included (run with -race).
func TestConcurrentEvaluators(t *testing.T) {
	s := mustCompile(t, kvSet)
	shared := map[string]struct{}{"a": {}, "b": {}, "u1": {}}
	done := make(chan error)
	for g := range 4 {
		go func() {
			e := NewEvaluator()
			r := &fakeReader{maps: map[string]map[string]struct{}{"watched": shared}}
			if g%2 == 1 { // a Reader returning a new map each time
				r = &fakeReader{members: map[string][]string{"watched": {"u1", "b", "a"}}}
			}
			for range 200 {
				ms, err := e.Eval(s, &Event{Type: "a", User: User{ID: "u1"}}, t0, r, nil)
				if err == nil && len(ms) != 2 {
					err = fmt.Errorf("%d matches, want 2", len(ms))
				}
				if err != nil {
					done <- err
					return
				}
				r.maps = map[string]map[string]struct{}{"watched": shared}
				if g%2 == 1 {
					r.maps = nil
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
