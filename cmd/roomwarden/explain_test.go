package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExplainText explains the example events against the example
// rules: what acts, with the values that made it act, and what does not.
func TestExplainText(t *testing.T) {
	code, stdout, stderr := runCmd(t, "explain", "--rules", "../../examples/rules", "../../examples/events/flagged-join.json")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	for _, want := range []string{
		"event evt-demo-0001 (member.enter) in room-demo at 2026-11-25T21:00:00Z\n",
		"\nmute-seat-2-on-flagged-join: act\n",
		"  event.user.flagged = true\n",
		"  event.user.id in lists.moderators = false\n",
		`  would lock_seat {"room_id":"room-demo","index":2,"forbid_audio":true}` + "\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}

	code, stdout, _ = runCmd(t, "explain", "--rules", "../../examples/rules", "../../examples/events/clean-join.json")
	if code != 0 || !strings.Contains(stdout, "\nmute-seat-2-on-flagged-join: no_match\n") ||
		!strings.Contains(stdout, "  event.user.flagged = false\n") || strings.Contains(stdout, "would ") {
		t.Errorf("clean join: exit %d, stdout:\n%s\nwant no_match, event.user.flagged = false, no action", code, stdout)
	}
}

// TestExplainJSONFromStdinWithLists reads a seat.taken from stdin and
// fills the KV-backed watch list with --list: the watched user's rule
// acts, with the list's membership among its values.
func TestExplainJSONFromStdinWithLists(t *testing.T) {
	event := `{"id":"ev-seat","type":"seat.taken","time":"2026-11-25T21:00:00Z","room_id":"room-1",` +
		`"user":{"id":"u-watched"},"seat":{"index":4}}`
	explain := func(lists ...string) map[string]ruleJSON {
		t.Helper()
		args := append([]string{"explain", "--rules", "../../examples/rules", "--json"}, lists...)
		code, stdout, stderr := runStdin(t, event, append(args, "-")...)
		if code != 0 {
			t.Fatalf("exit %d, stderr:\n%s", code, stderr)
		}
		var doc struct {
			Event map[string]any `json:"event"`
			Rules []ruleJSON     `json:"rules"`
		}
		if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
			t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
		}
		if doc.Event["id"] != "ev-seat" {
			t.Errorf("event %v, want ev-seat", doc.Event)
		}
		byRule := make(map[string]ruleJSON)
		for _, r := range doc.Rules {
			byRule[r.Rule] = r
		}
		return byRule
	}

	r := explain("--list", "watched=u-other,u-watched")["mute-watched-on-seat"]
	if r.Verdict != "act" || !r.Matched || r.Values["event.user.id in lists.watched"] != true {
		t.Errorf("watched user: %+v, want act with event.user.id in lists.watched = true", r)
	}
	if len(r.Actions) != 1 || r.Actions[0].For != "10m0s" {
		t.Errorf("watched user: actions %+v, want one lock for 10m0s", r.Actions)
	}
	r = explain()["mute-watched-on-seat"]
	if r.Verdict != "no_match" || r.Values["event.user.id in lists.watched"] != false {
		t.Errorf("empty watch list: %+v, want no_match", r)
	}
}

type ruleJSON struct {
	Rule    string         `json:"rule"`
	Matched bool           `json:"matched"`
	Verdict string         `json:"verdict"`
	Values  map[string]any `json:"values"`
	Actions []struct {
		For string `json:"for"`
	} `json:"actions"`
}

func TestExplainBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"type": "member.enter", "room_id": 7}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"malformed event", []string{"explain", "--rules", "../../examples/rules", bad}, 1, "room_id"},
		{"missing file", []string{"explain", "--rules", "../../examples/rules", filepath.Join(dir, "none.json")}, 1, "none.json"},
		{"unknown list", []string{"explain", "--rules", "../../examples/rules", "--list", "nosuch=a", "../../examples/events/flagged-join.json"}, 2, "nosuch"},
		{"no event", []string{"explain", "--rules", "../../examples/rules"}, 2, "usage: roomwarden explain"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, tc.args...)
			if code != tc.wantCode || stdout != "" || !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and stderr naming %q",
					code, stdout, stderr, tc.wantCode, tc.wantStderr)
			}
		})
	}
}

// runStdin is runCmd with stdin read from in.
func runStdin(t *testing.T, in string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		w.WriteString(in)
		w.Close()
	}()
	old := os.Stdin
	os.Stdin = r
	defer func() { os.Stdin = old; r.Close() }()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}
