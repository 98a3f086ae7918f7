package main

import (
	"bufio"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/roomwarden/roomwarden/internal/syncbuf"
)

// demoAction is what the README's quick start shows of an action line:
// the fields that do not change from run to run.
type demoAction struct {
	Rule    string         `json:"rule"`
	EventID string         `json:"event_id"`
	Action  string         `json:"action"`
	Params  map[string]any `json:"params"`
	For     string         `json:"for"`
	Outcome string         `json:"outcome"`
}

// TestDemoShowsTheReadmeActions runs the quick start's first command (on
// free ports, for a few seconds) and checks that stdout holds exactly
// the action lines the README shows, and stderr says where the console
// is.
func TestDemoShowsTheReadmeActions(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the daemon for a few seconds")
	}
	var stdout, stderr syncbuf.Buffer
	code := runDemo([]string{
		"--nats-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
		"--rules", "../../examples/rules", "--events", "../../examples/events",
		"--for", "6s",
	}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("demo exited %d; stderr:\n%s", code, stderr.String())
	}
	got := demoActions(t, stdout.String())
	want := demoActions(t, readmeQuickStartActions(t))
	if len(want) != 3 {
		t.Fatalf("the README's quick start shows %d actions, want 3", len(want))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("demo's actions:\n%v\nthe README shows:\n%v", got, want)
	}
	for _, s := range []string{"console:", "rules, metrics:", "seat state:", "nats pub"} {
		if !strings.Contains(stderr.String(), s) {
			t.Errorf("stderr does not say %q:\n%s", s, stderr.String())
		}
	}
}

// readmeQuickStartActions returns the JSON lines of the first json block
// after the README's "## Quick start".
func readmeQuickStartActions(t *testing.T) string {
	t.Helper()
	_, qs, ok := strings.Cut(readme(t), "## Quick start")
	if !ok {
		t.Fatal("README has no Quick start")
	}
	_, block, ok := strings.Cut(qs, "```json\n")
	if !ok {
		t.Fatal("Quick start has no json block")
	}
	block, _, _ = strings.Cut(block, "```")
	return block
}

// demoActions decodes action lines, keyed by event id so that the order
// in which the executor finished them does not matter.
func demoActions(t *testing.T, lines string) map[string]demoAction {
	t.Helper()
	out := map[string]demoAction{}
	sc := bufio.NewScanner(strings.NewReader(lines))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var a demoAction
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("not an action line: %q: %v", line, err)
		}
		if _, dup := out[a.EventID]; dup {
			t.Errorf("two actions for %s", a.EventID)
		}
		out[a.EventID] = a
	}
	if len(out) == 0 {
		t.Errorf("no action lines in %q", lines)
	}
	t.Logf("actions for %v", slices.Sorted(maps.Keys(out)))
	return out
}
