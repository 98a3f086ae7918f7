package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCmd runs the roomwarden command line and returns its exit status
// and output.
func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// cmdCase is one command line and what it must print and return.
type cmdCase struct {
	name                   string
	args                   []string
	wantCode               int
	wantStdout, wantStderr string
}

// runCases runs each case as a subtest.
func runCases(t *testing.T, cases []cmdCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, tc.args...)
			if code != tc.wantCode || stdout != tc.wantStdout || stderr != tc.wantStderr {
				t.Errorf("roomwarden %s = %d\nstdout:\n%s\nstderr:\n%s\nwant %d\nstdout:\n%s\nstderr:\n%s",
					strings.Join(tc.args, " "), code, stdout, stderr, tc.wantCode, tc.wantStdout, tc.wantStderr)
			}
		})
	}
}

// writeRules writes files into a new temporary directory.
func writeRules(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const goodRule = `rules:
  - name: mute
    on: [member.enter]
    when: event.user.flagged
    actions:
      - lock_seat: {room_id: event.room_id, index: 2, forbid_audio: true}
`

func TestCheck(t *testing.T) {
	broken := writeRules(t, map[string]string{
		"a.yaml": goodRule,
		"b.yaml": "rules:\n  - name: typo\n    on: [member.enter]\n    when: event.usr.flagged\n    actions:\n      - lock_seat: {room_id: event.room_id, index: 2, forbid_audo: true}\n",
	})
	bomb := writeRules(t, map[string]string{"bomb.yaml": "rules:\n  - name: bomb\n    on: [x]\n" +
		"    when: 'len(replace(repeat(\"a\",100000),\"a\",repeat(\"b\",100000))) > 0'\n" +
		"    actions: [{lock_seat: {room_id: event.room_id, index: 1, forbid_audio: true}}]\n"})
	runCases(t, []cmdCase{
		{
			name:       "examples",
			args:       []string{"check", "../../examples/rules"},
			wantStdout: "ok: 7 files, 8 rules, 5 event types\n",
		},
		{
			name:       "one file",
			args:       []string{"check", "../../examples/rules/spam-seat.yaml"},
			wantStdout: "ok: 1 file, 1 rule, 1 event type\n",
		},
		{
			name:     "every error of a broken directory",
			args:     []string{"check", broken},
			wantCode: 1,
			wantStderr: broken + `/b.yaml:4:17: when: unknown field "usr" in event; did you mean "user"?
` + broken + `/b.yaml:6:20: lock_seat sets none of forbid_taken, forbid_video, forbid_audio
` + broken + `/b.yaml:6:55: unknown field "forbid_audo" in lock_seat; did you mean "forbid_audio"?
`,
		},
		{
			name:       "missing path",
			args:       []string{"check", "no/such/dir"},
			wantCode:   1,
			wantStderr: "no/such/dir: no such file or directory\n",
		},
		{
			name:       "no arguments",
			args:       []string{"check"},
			wantCode:   2,
			wantStderr: checkUsage,
		},
		{
			name:       "help asked for",
			args:       []string{"check", "--help"},
			wantStdout: checkUsage,
		},
		{
			name:     "a directory without rules files",
			args:     []string{"check", "../../rules"},
			wantCode: 1,
			wantStderr: "../../rules: no rules files here (*.yaml or *.yml, not *_test.yaml); " +
				"the example rules are in examples/rules\n",
		},
		{
			name:       "a warning about the evaluation budget",
			args:       []string{"check", bomb},
			wantStdout: "ok: 1 file, 1 rule, 1 event type, 1 warning\n",
			wantStderr: bomb + `/bomb.yaml:4:16: warning: when: replace builds a string of up to 10000000000 bytes, ` +
				`over the limit of 1048576: the rule will fail with "memory budget exceeded"` + "\n",
		},
		{
			name:       "version help",
			args:       []string{"version", "-h"},
			wantStdout: versionUsage,
		},
		{
			name:       "run help",
			args:       []string{"run", "-h"},
			wantStdout: runUsage + "\nflags:\n" + runFlagDefaults(),
		},
		{
			name:       "a bad flag",
			args:       []string{"version", "-x"},
			wantCode:   2,
			wantStderr: "flag provided but not defined: -x\n" + versionUsage,
		},
	})
}

// runFlagDefaults is what `run -h` prints for its flags.
func runFlagDefaults() string {
	var b strings.Builder
	fs := newFlags("run", "")
	fs.SetOutput(&b)
	fs.String("config", "", "config file (YAML); empty: built-in defaults")
	addLogFlags(fs, "info")
	fs.PrintDefaults()
	return b.String()
}
