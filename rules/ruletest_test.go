package rules

import (
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
