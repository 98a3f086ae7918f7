package rules

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseTestsClock(t *testing.T) {
	cases, err := ParseTests("x_test.yaml", []byte(`tests:
  - name: c
    start: 2026-05-01T10:00:00Z
    events:
      - {type: a}
      - {type: a, at: 30s}
      - {type: a}
      - {type: a, time: "2026-05-01T09:00:00Z"}
    expect: []
`))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	want := []time.Time{start, start.Add(30 * time.Second), start.Add(30 * time.Second), start.Add(-time.Hour)}
	for i, te := range cases[0].Events {
		if !te.At.Equal(want[i]) || !te.Event.Time.Equal(want[i]) {
			t.Errorf("event %d at %v (time %v), want %v", i, te.At, te.Event.Time, want[i])
		}
		if want := "evt-" + string(rune('1'+i)); te.Event.ID != want {
			t.Errorf("event %d id = %q, want %q", i, te.Event.ID, want)
		}
	}
}

func TestParseTestsErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"empty file", "", `x_test.yaml: no tests: the file needs a top-level "tests:" list`},
		{"missing expect", "tests:\n  - name: c\n    events: []\n", `x_test.yaml:2:5: test is missing "expect" (use expect: [] when nothing should fire)`},
		{"unknown event field", "tests:\n  - name: c\n    events: [{type: a, usr: {id: u}}]\n    expect: []\n", `x_test.yaml:3:24: unknown field "usr" in event; did you mean "user"?`},
		{"time and at", "tests:\n  - name: c\n    events: [{type: a, at: 1s, time: \"2026-01-01T00:00:00Z\"}]\n    expect: []\n", `x_test.yaml:3:14: event sets both time and at; use one`},
		{"bad offset", "tests:\n  - name: c\n    events: [{type: a, at: soon}]\n    expect: []\n", `x_test.yaml:3:28: at must be an offset from the test's start such as 0s or 90s, got "soon"`},
		{"missing type", "tests:\n  - name: c\n    events: [{room_id: r}]\n    expect: []\n", `x_test.yaml:3:14: event is missing "type"`},
		{"bad flag", "tests:\n  - name: c\n    events: []\n    expect: [{rule: r, lock_seat: {room_id: r, index: 1, forbid_audio: yes}}]\n", `x_test.yaml:4:72: forbid_audio must be true or false, got "yes"`},
		{"duplicate names", "tests:\n  - {name: c, events: [], expect: []}\n  - {name: c, events: [], expect: []}\n", `x_test.yaml:3:5: test name "c" is used twice`},
		{"a step with other fields", "tests:\n  - name: c\n    events: [{at: 1m, room_id: r}]\n    expect: []\n", `x_test.yaml:3:14: event is missing "type" (a clock step holds only at or time)`},
		{"a step with time and at", "tests:\n  - name: c\n    events: [{at: 1m, time: \"2026-01-01T00:00:00Z\"}]\n    expect: []\n", `x_test.yaml:3:14: clock step sets both time and at; use one`},
		{"a bad step", "tests:\n  - name: c\n    events: [{at: later}]\n    expect: []\n", `x_test.yaml:3:19: at must be an offset from the test's start such as 0s or 90s, got "later"`},
		{"two actions in one expectation", "tests:\n  - name: c\n    events: []\n    expect: [{rule: r, lock_seat: {room_id: r, index: 1}, label: {list: l, member: m}}]\n", `x_test.yaml:4:59: expected action holds one of lock_seat, unlock_seat and label, not both lock_seat and label`},
		{"no action in an expectation", "tests:\n  - name: c\n    events: []\n    expect: [{rule: r, for: 1m}]\n", `x_test.yaml:4:14: expected action needs rule and one of lock_seat, unlock_seat and label`},
		{"unknown outcome", "tests:\n  - name: c\n    events: []\n    expect: [{rule: r, label: {list: l, member: m}, outcome: trippd}]\n", `x_test.yaml:4:62: unknown outcome "trippd"; did you mean "tripped"?`},
		{"unlock sets a flag", "tests:\n  - name: c\n    events: []\n    expect: [{rule: r, unlock_seat: {room_id: r, index: 1, forbid_audio: true}}]\n", `x_test.yaml:4:74: unlock_seat clears flags: write forbid_audio: false`},
		{"for on an unlock", "tests:\n  - name: c\n    events: []\n    expect: [{rule: r, unlock_seat: {room_id: r, index: 1, forbid_audio: false}, for: 1m}]\n", `x_test.yaml:4:82: for applies to lock_seat and label; an unlock_seat has no duration`},
		{"label without member", "tests:\n  - name: c\n    events: []\n    expect: [{rule: r, label: {list: l}}]\n", `x_test.yaml:4:31: label is missing "member", e.g. {list: watched, member: u1}`},
		{"bad expected for", "tests:\n  - name: c\n    events: []\n    expect: [{rule: r, label: {list: l, member: m}, for: ever}]\n", `x_test.yaml:4:58: for must be a positive duration such as 30s or 5m, got "ever"`},
		{"list members not strings", "tests:\n  - name: c\n    lists: {watched: [{id: u1}]}\n    events: []\n    expect: []\n", `x_test.yaml:3:23: list watched item must be a string, got a mapping`},
		{"lists not a mapping", "tests:\n  - name: c\n    lists: [watched]\n    events: []\n    expect: []\n", `x_test.yaml:3:12: lists must be a mapping, got a list`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTests("x_test.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatal("ParseTests accepted the file")
			}
			if got := strings.TrimSpace(err.Error()); got != tc.want {
				t.Errorf("error:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestParseTestsState(t *testing.T) {
	cases, err := ParseTests("x_test.yaml", []byte(`tests:
  - name: c
    lists: {watched: [u42, u43], empty: []}
    events:
      - {type: user.flagged, user: {id: u1}, at: 0s}
      - {at: 11m}
      - {type: user.flagged, user: {id: u2}}
      - {time: "2026-01-01T01:00:00Z"}
    expect:
      - {rule: r, lock_seat: {room_id: x, index: 2, forbid_audio: true}, for: 10m, at: 0s}
      - {rule: r, unlock_seat: {room_id: x, index: 2, forbid_audio: false}, at: 10m}
      - {rule: r, lock_seat: {room_id: x, index: 2, forbid_audio: true}, outcome: tripped}
      - {rule: l, label: {list: watched, member: u1}, for: 24h}
`))
	if err != nil {
		t.Fatal(err)
	}
	tc := cases[0]
	if want := map[string][]string{"watched": {"u42", "u43"}, "empty": {}}; !reflect.DeepEqual(tc.Lists, want) {
		t.Errorf("Lists = %#v, want %#v", tc.Lists, want)
	}
	start := defaultTestStart()
	wantEvents := []struct {
		id   string
		at   time.Time
		step bool
	}{
		{"evt-1", start, false},
		{"", start.Add(11 * time.Minute), true},
		{"evt-2", start.Add(11 * time.Minute), false},
		{"", start.Add(time.Hour), true},
	}
	for i, w := range wantEvents {
		te := tc.Events[i]
		if te.Event.ID != w.id || !te.At.Equal(w.at) || te.Step != w.step || w.step && te.Event.Type != "" {
			t.Errorf("event %d = {id %q at %v step %v}, want %+v", i, te.Event.ID, te.At, te.Step, w)
		}
	}
	lock := LockSeat{RoomID: "x", Index: 2, ForbidAudio: True}
	want := []Expect{
		{Rule: "r", Kind: KindLockSeat, LockSeat: lock, Outcome: "succeeded", For: 10 * time.Minute, HasFor: true, HasAt: true},
		{Rule: "r", Kind: KindUnlockSeat, LockSeat: LockSeat{RoomID: "x", Index: 2, ForbidAudio: False}, Outcome: "succeeded", At: 10 * time.Minute, HasAt: true},
		{Rule: "r", Kind: KindLockSeat, LockSeat: lock, Outcome: "tripped"},
		{Rule: "l", Kind: KindLabel, Label: Label{List: "watched", Member: "u1"}, Outcome: "succeeded", For: 24 * time.Hour, HasFor: true},
	}
	if !reflect.DeepEqual(tc.Expect, want) {
		t.Errorf("Expect:\n got %+v\nwant %+v", tc.Expect, want)
	}
}
