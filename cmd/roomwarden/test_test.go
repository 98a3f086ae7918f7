package main

import (
	"path/filepath"
	"testing"
)

const goodTest = `tests:
  - name: flagged join mutes seat 2
    events:
      - {type: member.enter, room_id: r1, user: {id: u1, flagged: true}}
    expect:
      - {rule: mute, lock_seat: {room_id: r1, index: 2, forbid_audio: true}}
`

const failingTest = `tests:
  - name: wrong seat
    events:
      - {type: member.enter, room_id: r1, user: {id: u1, flagged: true}}
    expect:
      - {rule: mute, lock_seat: {room_id: r1, index: 3, forbid_audio: true}}
`

func TestTestCommand(t *testing.T) {
	passing := writeRules(t, map[string]string{"mute.yaml": goodRule, "mute_test.yaml": goodTest})
	failing := writeRules(t, map[string]string{"mute.yaml": goodRule, "a_test.yaml": goodTest, "b_test.yaml": failingTest})
	noTests := writeRules(t, map[string]string{"mute.yaml": goodRule})
	badRules := writeRules(t, map[string]string{"mute.yaml": "rules: [{name: x}]\n", "mute_test.yaml": goodTest})
	runCases(t, []cmdCase{
		{
			name:       "examples",
			args:       []string{"test", "../../examples/rules"},
			wantStdout: "ok: 31 cases passed (7 files)\n",
		},
		{
			name: "verbose test file",
			args: []string{"test", "-v", filepath.Join(passing, "mute_test.yaml")},
			wantStdout: "--- PASS: " + passing + "/mute_test.yaml:2: flagged join mutes seat 2\n" +
				"ok: 1 case passed (1 file)\n",
		},
		{
			name:     "a failing case",
			args:     []string{"test", failing},
			wantCode: 1,
			wantStdout: "--- FAIL: " + failing + `/b_test.yaml:2: wrong seat
    actions (-want +got): want 1 action, got 1 action
      - mute: lock_seat{room_id: "r1", index: 3, forbid_audio: true}
      + mute: lock_seat{room_id: "r1", index: 2, forbid_audio: true}
FAIL: 1 of 2 cases failed
`,
		},
		{
			name:       "no test files",
			args:       []string{"test", noTests},
			wantStdout: "?    " + noTests + " [no test files]\nok: 0 cases passed (0 files)\n",
		},
		{
			name:       "rules that do not load",
			args:       []string{"test", badRules},
			wantCode:   1,
			wantStdout: "--- FAIL: " + badRules + ": rules do not load\nFAIL: the rules of 1 directory did not load; 0 cases passed\n",
			wantStderr: badRules + `/mute.yaml:1:9: rule "x" is missing "on"` + "\n" +
				badRules + `/mute.yaml:1:9: rule "x" is missing "when"` + "\n" +
				badRules + `/mute.yaml:1:9: rule "x" is missing "actions"` + "\n",
		},
		{
			name:       "a rules file is not a test",
			args:       []string{"test", filepath.Join(passing, "mute.yaml")},
			wantCode:   2,
			wantStderr: "roomwarden test: " + filepath.Join(passing, "mute.yaml") + " is not a rule test (*_test.yaml); pass it or its directory\n",
		},
		{
			name:       "no arguments",
			args:       []string{"test"},
			wantCode:   2,
			wantStderr: testUsage + "\nflags:\n  -v\tlist passing cases too\n",
		},
		{
			name:       "help asked for",
			args:       []string{"test", "-h"},
			wantStdout: testUsage + "\nflags:\n  -v\tlist passing cases too\n",
		},
		{
			name:       "a directory of something else",
			args:       []string{"test", "../../rules"},
			wantCode:   2,
			wantStderr: "roomwarden test: ../../rules holds no rules files and no rule tests (*_test.yaml); the examples are in examples/rules\n",
		},
	})
}
