package rules

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/expr-lang/expr"
)

// indexLists are the lists of the index tests' rules files.
const indexLists = `lists:
  mods: [u1, mod-1]
  rooms: [r1, r2]
  nobody: []
  bad: [spam]
  kv: {kv: kvb}
windows:
  w: {on: [t0, t1], key: event.room_id, for: 1m}
`

// compileWhens compiles one rule on t0 per condition.
func compileWhens(t *testing.T, whens ...string) *Set {
	t.Helper()
	var b strings.Builder
	b.WriteString(indexLists + "rules:\n")
	for i, w := range whens {
		fmt.Fprintf(&b, "  - name: r%d\n    on: [t0]\n    when: %q\n    actions: [{lock_seat: {room_id: event.room_id, index: 1, forbid_audio: true}}]\n", i, w)
	}
	return mustCompile(t, b.String())
}

// keysString formats keys as "room_id=[r1 r2]; seat.index=[2]".
func keysString(keys []indexKey) string {
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%s=%v", indexFieldPaths[k.field], k.values))
	}
	return strings.Join(out, "; ")
}

func TestRuleKeys(t *testing.T) {
	tests := []struct {
		when string
		want string // "" for no key
	}{
		{`event.room_id == "r1"`, "room_id=[r1]"},
		{`"r1" == event.room_id`, "room_id=[r1]"},
		{`event.user.id == "u1" && event.seat.index == 2`, "user.id=[u1]; seat.index=[2]"},
		{`event.seat.user_id == "u1" and event.id == "e1"`, "seat.user_id=[u1]; id=[e1]"},
		{`event.type in ["t1", "t0", "t1"]`, "type=[t0 t1]"},
		{`event.room_id in ["r2", "r1"]`, "room_id=[r1 r2]"},
		{`event.seat.index in [3, 1]`, "seat.index=[1 3]"},
		{`event.room_id in lists.rooms`, "room_id=[r1 r2]"},
		{`event.user.id in lists.nobody`, "user.id=[]"},
		{`event.room_id in []`, "room_id=[]"},
		{`event.room_id == "r1" || event.room_id in ["r3", "r1"]`, "room_id=[r1 r3]"},
		{`(event.user.flagged && (event.user.score > 0.8 && event.room_id == "r1")) && event.seat.index == 1`, "room_id=[r1]; seat.index=[1]"},
		{`!(event.user.id in lists.mods) && event.room_id != "q" && event.room_id not in ["x"] && event.seat.index == 1`, "seat.index=[1]"},
		{`event.seat.index < 3 && event.user.score == 1 && event.room_id == nil && event.room_id == "r1"`, "room_id=[r1]"},
		{`(event.room_id == "r1" || event.user.id == "u1") && event.id == "e1"`, "id=[e1]"},

		// Not keys: other operators, other types, KV lists, attrs.
		{`event.room_id != "r1"`, ""},
		{`event.room_id not in ["r1"]`, ""},
		{`!(event.room_id == "r1")`, ""},
		{`event.room_id == "r1" || event.user.id == "u1"`, ""},
		{`event.room_id == "r1" || event.user.flagged`, ""},
		{`event.seat.index == 2.0`, ""},
		{`event.seat.index in [1, 2.0]`, ""},
		{`event.seat.index in 1..3`, ""},
		{`event.user.score == 1`, ""},
		{`event.user.flagged == true`, ""},
		{`event.user.id in lists.kv`, ""},
		{`event.attrs.room == "r1"`, ""},
		{`event.seats[0].user_id == "u1"`, ""},
		{`attr_string("room") == "r1"`, ""},
		{`let r = event.room_id; r == "r1"`, ""},
		{`true`, ""},

		// A key after a conjunct that may fail is no key: that conjunct
		// runs first and its error is the rule's result.
		{`event.attrs.n > 1 && event.room_id == "r1"`, ""},
		{`has_any(event.user.labels, lists.bad) && event.room_id == "r1"`, ""},
		{`window("w") > 1 && event.room_id == "r1"`, ""},
		{`event.user.id in lists.kv && event.room_id == "r1"`, ""},
		{`event.room_id == "r1" && event.attrs.n > 1 && event.user.id == "u1"`, "room_id=[r1]"},
		{`event.seat.index % 2 == 0 && event.room_id == "r1"`, ""},
		{`(event.room_id == "r1" || event.attrs.n > 1) && event.user.id == "u1"`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.when, func(t *testing.T) {
			s := compileWhens(t, tc.when)
			if got := keysString(ruleKeys(s.Rules()[0], s.sym.lists.static)); got != tc.want {
				t.Errorf("keys = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestIndexFieldValues checks that the index reads each field as the
// expressions see it.
func TestIndexFieldValues(t *testing.T) {
	s := compileWhens(t, "true")
	events := []*Event{
		{},
		{ID: "e1", Type: "t0", RoomID: "r1", User: User{ID: "u1"}, Seat: Seat{Index: 3, UserID: "u2"}},
		{ID: "e2", Type: "t1", User: User{ID: "mod-1"}, Seat: Seat{Index: -1}},
	}
	for f, path := range indexFieldPaths {
		field := indexField(f)
		opts, _ := s.sym.options(anyKind, false)
		prog, err := expr.Compile("event."+path, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := fieldOf(prog.Node()); !ok || got != field {
			t.Errorf("fieldOf(event.%s) = %v, %v; want %v, true", path, got, ok, field)
		}
		for _, ev := range events {
			want, err := expr.Run(prog, exprEnv{Event: *ev})
			if err != nil {
				t.Fatal(err)
			}
			var got any = field.str(ev)
			if field.isInt() {
				got = field.int(ev)
			}
			if got != want {
				t.Errorf("event.%s of %+v = %#v, want %#v", path, ev, got, want)
			}
		}
	}
}

// TestIndexShortCircuit pins what the index relies on: && stops at a
// false conjunct, so what follows it cannot fail the rule.
func TestIndexShortCircuit(t *testing.T) {
	s := compileWhens(t, `event.room_id == "r1" && event.attrs.missing.x == 1`)
	if ms := evalNoState(t, s, &Event{Type: "t0", RoomID: "r2"}); len(ms) != 0 {
		t.Errorf("room r2: %d matches (%v), want none: && must stop at a false conjunct", len(ms), ms)
	}
	ms := evalNoState(t, s, &Event{Type: "t0", RoomID: "r1"})
	if len(ms) != 1 || ms[0].Err == nil {
		t.Errorf("room r1: %v, want the rule's runtime error", ms)
	}
}

// TestIndexCandidates checks which rules an event's evaluation runs.
func TestIndexCandidates(t *testing.T) {
	s := compileWhens(t,
		`event.room_id == "r1"`,                                // r0
		`event.user.flagged && event.seat.index == 2`,          // r1
		`event.attrs.n > 1`,                                    // r2: no key
		`event.user.id in lists.mods && event.room_id == "r2"`, // r3: room_id, the more selective
		`event.type == "t1"`,                                   // r4: never on t0
		`event.type == "t0" && event.room_id in ["r1", "r3"]`,  // r5
		`event.user.id in lists.nobody`,                        // r6: never
	)
	tests := []struct {
		name string
		ev   Event
		want []string
	}{
		{"bare", Event{Type: "t0"}, []string{"r2"}},
		{"room r1", Event{Type: "t0", RoomID: "r1"}, []string{"r0", "r2", "r5"}},
		{"room r2 user u1", Event{Type: "t0", RoomID: "r2", User: User{ID: "u1"}}, []string{"r2", "r3"}},
		{"room r3 seat 2", Event{Type: "t0", RoomID: "r3", Seat: Seat{Index: 2}}, []string{"r1", "r2", "r5"}},
	}
	typ := s.byType["t0"]
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b candidateBuf
			var got []string
			for _, i := range b.of(typ, &tc.ev) {
				got = append(got, typ.rules[i].Name)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("candidates = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestIndexWideKeys checks that a key on a long static list is not
// used, and does not stop the search for another.
func TestIndexWideKeys(t *testing.T) {
	var b strings.Builder
	b.WriteString("lists:\n  big: [")
	for i := range maxKeyValues + 1 {
		fmt.Fprintf(&b, "u%d, ", i)
	}
	b.WriteString("u]\nrules:\n")
	for i, w := range []string{`event.user.id in lists.big`, `event.user.id in lists.big && event.room_id == "r1"`,
		`(event.user.id in lists.big || event.user.id == "x") && event.seat.index == 1`} {
		fmt.Fprintf(&b, "  - name: r%d\n    on: [t0]\n    when: %q\n    actions: [{lock_seat: {room_id: event.room_id, index: 1, forbid_audio: true}}]\n", i, w)
	}
	s := mustCompile(t, b.String())
	want := []string{"", "room_id=[r1]", "seat.index=[1]"}
	for i, r := range s.Rules() {
		if got := keysString(ruleKeys(r, s.sym.lists.static)); got != want[i] {
			t.Errorf("%s: keys %q, want %q", r.When, got, want[i])
		}
	}
}

// TestIndexRoom checks that rules whose keys do not fit in what is
// left of the set's room are not indexed, and still run.
func TestIndexRoom(t *testing.T) {
	key := func(values ...any) []indexKey { return []indexKey{{field: fieldRoomID, values: values}} }
	keys := [][]indexKey{key("a"), key("b", "c"), nil, key("d")}
	room := 2
	x := newRuleIndex("t0", keys, &room)
	if room != 0 || !slices.Equal(x.rest, []int32{1, 2}) {
		t.Errorf("room left %d, rest %v; want 0, [1 2]", room, x.rest)
	}
	if got := x.fields[0].strs; len(got) != 2 || len(got["a"]) != 1 || len(got["d"]) != 1 {
		t.Errorf("filed %v, want a and d", got)
	}
}
