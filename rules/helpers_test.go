package rules

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// t0 is the base time of evaluation tests.
var t0 = time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)

// loadValid loads testdata/valid.
func loadValid(t testing.TB) *Set {
	t.Helper()
	s, err := Load("testdata/valid")
	if err != nil {
		t.Fatalf("Load(testdata/valid): %v", err)
	}
	return s
}

// mustCompile compiles one rules file given as a string.
func mustCompile(t testing.TB, yaml string) *Set {
	t.Helper()
	s, err := Compile(Source{Path: "inline.yaml", Data: []byte(yaml)})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return s
}

// writeFile writes data to dir/name, creating dir.
func writeFile(t testing.TB, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// fired lists the actions of matches that fired, as test expectations do.
func fired(ms []Match) []Fired {
	out := []Fired{}
	for _, m := range ms {
		if m.Err != nil {
			continue
		}
		for _, a := range m.Actions {
			out = append(out, Fired{Rule: m.Rule.Name, LockSeat: a})
		}
	}
	return out
}
