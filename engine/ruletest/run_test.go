package ruletest

import (
	"testing"

	"github.com/roomwarden/roomwarden/rules"
)

// TestExamples runs the example rule tests through the same path as
// `roomwarden test examples/rules`.
func TestExamples(t *testing.T) {
	const dir = "../../examples/rules"
	s, err := rules.Load(dir)
	if err != nil {
		t.Fatalf("Load(%s): %v", dir, err)
	}
	files, err := rules.TestFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("found %d example test files, want one per example", len(files))
	}
	for _, f := range files {
		cases, err := rules.LoadTests(f)
		if err != nil {
			t.Fatalf("LoadTests(%s): %v", f, err)
		}
		for _, tc := range cases {
			t.Run(tc.Name, func(t *testing.T) {
				if res := RunCase(s, tc); !res.Pass {
					t.Errorf("%s:%d failed:\n%s", tc.File, tc.Line, res.Diff())
				}
			})
		}
	}
}

const testRules = `
lists:
  moderators: [mod-1]
rules:
  - name: mute
    on: [member.enter]
    when: event.user.flagged && !(event.user.id in lists.moderators)
    actions:
      - lock_seat: {room_id: event.room_id, index: 2, forbid_audio: true}
    cooldown: {key: event.room_id, for: 1m}
  - name: fragile
    on: [seat.changed]
    when: event.attrs.n > 1
    actions:
      - lock_seat: {room_id: event.room_id, index: 1, forbid_taken: true}
`

func TestRunCase(t *testing.T) {
	s := mustCompile(t, testRules)
	tests := []struct {
		name     string
		yaml     string
		wantPass bool
		wantDiff string
	}{
		{
			name: "pass with a cooldown and the simulated clock",
			yaml: `tests:
  - name: c
    events:
      - {type: member.enter, room_id: r, user: {id: u1, flagged: true}}
      - {type: member.enter, room_id: r, user: {id: u2, flagged: true}, at: 59s}
      - {type: member.enter, room_id: r, user: {id: u3, flagged: true}, time: "2026-01-01T00:01:00Z"}
    expect:
      - {rule: mute, lock_seat: {room_id: r, index: 2, forbid_audio: true}}
      - {rule: mute, lock_seat: {room_id: r, index: 2, forbid_audio: true}}
`,
			wantPass: true,
		},
		{
			name: "missing and unexpected actions",
			yaml: `tests:
  - name: c
    events:
      - {type: member.enter, room_id: r, user: {id: u1, flagged: true}}
    expect:
      - {rule: mute, lock_seat: {room_id: r, index: 3, forbid_audio: true}}
`,
			wantDiff: `    actions (-want +got): want 1 action, got 1 action
      - mute: lock_seat{room_id: "r", index: 3, forbid_audio: true}
      + mute: lock_seat{room_id: "r", index: 2, forbid_audio: true}
`,
		},
		{
			name: "a flag the rule does not set must not be expected",
			yaml: `tests:
  - name: c
    events:
      - {type: member.enter, room_id: r, user: {id: u1, flagged: true}}
    expect:
      - {rule: mute, lock_seat: {room_id: r, index: 2, forbid_audio: true, forbid_taken: false}}
`,
			wantDiff: `    actions (-want +got): want 1 action, got 1 action
      - mute: lock_seat{room_id: "r", index: 2, forbid_taken: false, forbid_audio: true}
      + mute: lock_seat{room_id: "r", index: 2, forbid_audio: true}
`,
		},
		{
			name: "nothing expected, something fired",
			yaml: `tests:
  - name: c
    events:
      - {type: member.enter, room_id: r, user: {id: u1, flagged: true}}
    expect: []
`,
			wantDiff: `    actions (-want +got): want 0 actions, got 1 action
      + mute: lock_seat{room_id: "r", index: 2, forbid_audio: true}
`,
		},
		{
			name: "runtime errors and unknown rules fail the case",
			yaml: `tests:
  - name: c
    events:
      - {id: e1, type: seat.changed, room_id: r}
    expect:
      - {rule: nope, lock_seat: {room_id: r, index: 1, forbid_taken: true}}
`,
			wantDiff: `    error: expect names rule "nope", which is not loaded
    error: event e1: rule "fragile": inline.yaml:13:25: invalid operation: <nil> > int
    actions (-want +got): want 1 action, got 0 actions
      - nope: lock_seat{room_id: "r", index: 1, forbid_taken: true}
`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cases, err := rules.ParseTests("x_test.yaml", []byte(tc.yaml))
			if err != nil {
				t.Fatalf("ParseTests: %v", err)
			}
			res := RunCase(s, cases[0])
			if res.Pass != tc.wantPass {
				t.Errorf("Pass = %v, want %v", res.Pass, tc.wantPass)
			}
			if got := res.Diff(); got != tc.wantDiff {
				t.Errorf("Diff:\n%s\nwant:\n%s", got, tc.wantDiff)
			}
		})
	}
}

// mustCompile compiles one rules file given as a string.
func mustCompile(t testing.TB, yaml string) *rules.Set {
	t.Helper()
	s, err := rules.Compile(rules.Source{Path: "inline.yaml", Data: []byte(yaml)})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return s
}
