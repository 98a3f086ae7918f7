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

// fakeReader is a Reader over fixed window counts and list members.
// It returns the same map for a list on every call, as a caching store
// would.
type fakeReader struct {
	counts  map[string]int      // by "window key"
	members map[string][]string // by list name
	err     error               // every read fails with it when set

	reads       []string // the "window key" of each WindowCount call
	memberCalls int
	maps        map[string]map[string]struct{}
}

func (f *fakeReader) WindowCount(w *Window, key string, _ time.Time) (int, error) {
	f.reads = append(f.reads, w.Name+" "+key)
	if f.err != nil {
		return 0, f.err
	}
	return f.counts[w.Name+" "+key], nil
}

func (f *fakeReader) Members(l *List, _ time.Time) (map[string]struct{}, error) {
	f.memberCalls++
	if f.err != nil {
		return nil, f.err
	}
	if f.maps == nil {
		f.maps = make(map[string]map[string]struct{})
	}
	m, ok := f.maps[l.Name]
	if !ok {
		m = make(map[string]struct{})
		for _, x := range f.members[l.Name] {
			m[x] = struct{}{}
		}
		f.maps[l.Name] = m
	}
	return m, nil
}

// firedLock is a lock_seat action that a rule rendered.
type firedLock struct {
	Rule     string
	LockSeat LockSeat
}

// evalNoState evaluates ev at t0 without a Reader.
func evalNoState(t testing.TB, s *Set, ev *Event) []Match {
	t.Helper()
	ms, err := NewEvaluator().Eval(s, ev, t0, nil, nil)
	if err != nil {
		t.Errorf("Eval: %v", err)
	}
	return ms
}

// fired lists the actions of matches that fired, as test expectations do.
func fired(ms []Match) []firedLock {
	out := []firedLock{}
	for _, m := range ms {
		if m.Err != nil {
			continue
		}
		for _, a := range m.Actions {
			out = append(out, firedLock{Rule: m.Rule.Name, LockSeat: a.LockSeat})
		}
	}
	return out
}
