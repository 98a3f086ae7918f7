package rules

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// explainSet has rules of each shape explain must show: nested logic,
// static and KV list membership, attribute helpers, now(), windows, a
// predicate, and a runtime error.
const explainSet = `lists:
  moderators: [mod-1, mod-2]
  watched: {kv: watched_users}
windows:
  reports: {on: [user.flagged], key: event.room_id + "/" + event.user.id, for: 1m}
  offences: {on: [user.flagged], key: event.user.id, for: 168h}
rules:
  - name: nested
    on: [user.flagged]
    when: (event.user.score >= 0.5 || has_label("vip")) && !(event.user.id in lists.moderators) && event.user.id in lists.watched
    actions:
      - lock_seat: {room_id: event.room_id, index: event.seat.index, forbid_audio: true}
        for: 'window("offences") > 1 ? duration("1h") : duration("5m")'
    cooldown: {key: event.user.id, for: 1m}
  - name: attrs
    on: [user.flagged]
    when: attr_string("severity") == "high" && attr_number("reports") > 5 && now() - event.time < duration("1m")
    actions: [{lock_seat: {room_id: event.room_id, index: 1, forbid_audio: true}}]
  - name: windows
    on: [user.flagged]
    when: 'window("reports") >= 3 && any(event.user.labels, # startsWith "sp") && len(lists.watched) > 1'
    actions: [{label: {list: watched, member: event.user.id, for: 1h}}]
  - name: failing
    on: [user.flagged]
    when: event.attrs.missing > 3 || event.user.flagged
    actions: [{lock_seat: {room_id: event.room_id, index: 1, forbid_audio: true}}]
  - name: other-type
    on: [member.enter]
    when: "true"
    actions: [{lock_seat: {room_id: event.room_id, index: 1, forbid_audio: true}}]
`

func TestExplain(t *testing.T) {
	s := mustCompile(t, explainSet)
	r := &fakeReader{counts: map[string]int{"reports r1/u1": 3, "offences u1": 2}, members: map[string][]string{"watched": {"u1", "u3"}}}
	ev := &Event{Type: "user.flagged", RoomID: "r1", Time: t0.Add(-30 * time.Second), Seat: Seat{Index: 2},
		User:  User{ID: "u1", Score: 0.7, Labels: []string{"spam"}},
		Attrs: map[string]any{"severity": "high", "reports": 4.0}}
	xs, err := NewEvaluator().Explain(s, ev, t0, r)
	if err != nil {
		t.Fatal(err)
	}
	v := func(expr string, value any) Value { return Value{Expr: expr, Value: value} }
	want := []struct {
		rule     string
		matched  bool
		err      string
		values   []Value
		windows  []WindowRead
		actions  []Action
		cooldown string
	}{
		{
			rule: "nested", matched: true, cooldown: "u1",
			values: []Value{
				v(`(event.user.score >= 0.5 || has_label("vip")) && !(event.user.id in lists.moderators) && event.user.id in lists.watched`, true),
				v(`(event.user.score >= 0.5 || has_label("vip")) && !(event.user.id in lists.moderators)`, true),
				v(`event.user.score >= 0.5 || has_label("vip")`, true),
				v(`event.user.score >= 0.5`, true),
				v(`event.user.score`, 0.7),
				v(`has_label("vip")`, false), // short-circuited, still shown
				v(`!(event.user.id in lists.moderators)`, true),
				v(`event.user.id in lists.moderators`, false),
				v(`event.user.id`, "u1"),
				v(`event.user.id in lists.watched`, true),
			},
			windows: []WindowRead{{Window: "offences", Key: "u1", Count: 2}}, // read by the action's for
			actions: []Action{{Kind: KindLockSeat, LockSeat: LockSeat{RoomID: "r1", Index: 2, ForbidAudio: True}, For: time.Hour}},
		},
		{
			rule: "attrs",
			values: []Value{
				v(`attr_string("severity") == "high" && attr_number("reports") > 5 && now() - event.time < duration("1m")`, false),
				v(`attr_string("severity") == "high" && attr_number("reports") > 5`, false),
				v(`attr_string("severity") == "high"`, true),
				v(`attr_string("severity")`, "high"),
				v(`attr_number("reports") > 5`, false),
				v(`attr_number("reports")`, 4.0),
				v(`now() - event.time < duration("1m")`, true),
				v(`now() - event.time`, "30s"),
				v(`now()`, "2026-11-25T21:00:00Z"),
				v(`event.time`, "2026-11-25T20:59:30Z"),
			},
		},
		{
			rule: "windows", matched: true,
			values: []Value{
				v(`window("reports") >= 3 && any(event.user.labels, # startsWith "sp") && len(lists.watched) > 1`, true),
				v(`window("reports") >= 3 && any(event.user.labels, # startsWith "sp")`, true),
				v(`window("reports") >= 3`, true),
				v(`window("reports")`, 3),
				v(`any(event.user.labels, # startsWith "sp")`, true),
				v(`event.user.labels`, []string{"spam"}),
				v(`len(lists.watched) > 1`, true),
				v(`len(lists.watched)`, 2),
			},
			windows: []WindowRead{{Window: "reports", Key: "r1/u1", Count: 3}},
			actions: []Action{{Kind: KindLabel, Label: Label{List: "watched", Bucket: "watched_users", Member: "u1"}, For: time.Hour}},
		},
		{
			rule: "failing",
			err:  `rule "failing": inline.yaml:25:31: invalid operation: <nil> > int`,
			values: []Value{
				{Expr: `event.attrs.missing > 3 || event.user.flagged`, Err: "invalid operation: <nil> > int"},
				{Expr: `event.attrs.missing > 3`, Err: "invalid operation: <nil> > int"},
				v(`event.attrs.missing`, nil),
				v(`event.user.flagged`, false),
			},
		},
	}
	if len(xs) != len(want) {
		t.Fatalf("%d explanations, want %d (the rules listening for user.flagged)", len(xs), len(want))
	}
	for i, w := range want {
		x := xs[i]
		t.Run(w.rule, func(t *testing.T) {
			if x.Rule.Name != w.rule || x.Matched != w.matched || x.CooldownKey != w.cooldown {
				t.Errorf("rule %s matched=%v cooldown=%q, want %s %v %q", x.Rule.Name, x.Matched, x.CooldownKey, w.rule, w.matched, w.cooldown)
			}
			if got := errString(x.Err); got != w.err {
				t.Errorf("err = %q, want %q", got, w.err)
			}
			if !reflect.DeepEqual(x.Values, w.values) {
				t.Errorf("values:\n got %s\nwant %s", jsonString(x.Values), jsonString(w.values))
			}
			if !reflect.DeepEqual(x.Windows, w.windows) {
				t.Errorf("windows = %+v, want %+v", x.Windows, w.windows)
			}
			if !reflect.DeepEqual(x.Actions, w.actions) {
				t.Errorf("actions = %+v, want %+v", x.Actions, w.actions)
			}
		})
	}
}

// TestExplainAgreesWithEval: explain's verdicts are Eval's.
func TestExplainAgreesWithEval(t *testing.T) {
	s := loadValid(t)
	r := &fakeReader{counts: map[string]int{"reports r1/u1": 3}, members: map[string][]string{"watched": {"u1"}}}
	for _, ev := range []*Event{reported("u1"), reported("u2"), {Type: "member.enter", RoomID: "r1", User: User{ID: "u1", Flagged: true}},
		{Type: "seat.changed", RoomID: "r3", Seats: []Seat{{Index: 4, UserID: "u1"}}}} {
		ms, err := NewEvaluator().Eval(s, ev, t0, r, nil)
		if err != nil {
			t.Fatal(err)
		}
		xs, err := NewEvaluator().Explain(s, ev, t0, r)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range xs {
			var m *Match
			for i := range ms {
				if ms[i].Rule == x.Rule {
					m = &ms[i]
				}
			}
			switch {
			case m == nil && (x.Matched || x.Err != nil):
				t.Errorf("%s: rule %s explained as matched=%v err=%v, Eval has no match", ev.Type, x.Rule.Name, x.Matched, x.Err)
			case m != nil && (errString(m.Err) != errString(x.Err) || !reflect.DeepEqual(m.Actions, x.Actions) && m.Err == nil):
				t.Errorf("%s: rule %s explained as %+v, Eval says %+v", ev.Type, x.Rule.Name, x, *m)
			}
		}
	}
}

// TestJSONValue: values are converted for JSON as rule authors read them.
func TestJSONValue(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), `"2026-01-02T03:04:05Z"`},
		{90 * time.Second, `"1m30s"`},
		{[]any{1, "a", 2 * time.Second}, `[1,"a","2s"]`},
		{map[string]any{"t": time.Unix(0, 0).UTC()}, `{"t":"1970-01-01T00:00:00Z"}`},
		{User{ID: "u1", Labels: []string{"x"}}, `{"flagged":false,"id":"u1","labels":["x"],"score":0}`},
		{[]Seat{{Index: 2}}, `[{"index":2}]`},
		{map[int]bool{1: true}, `{"1":true}`},
		{nil, `null`},
		{func() {}, ""}, // formatted with fmt; not checked
	}
	for _, tc := range tests {
		b, err := json.Marshal(jsonValue(tc.in))
		if err != nil {
			t.Errorf("%#v: %v", tc.in, err)
			continue
		}
		if tc.want != "" && string(b) != tc.want {
			t.Errorf("%#v: got %s, want %s", tc.in, b, tc.want)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return strings.ReplaceAll(string(b), `\u0026`, "&")
}
