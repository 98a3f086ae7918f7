package rules

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the rules loader, the rule-test
// parser and, when a set loads, the evaluator. Errors are fine; panics
// are not, and every error must be an ErrorList naming the file.
func FuzzLoad(f *testing.F) {
	for _, glob := range []string{"../examples/rules/*.yaml", "testdata/valid/*.yaml", "testdata/invalid/*.yaml"} {
		files, err := filepath.Glob(glob)
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range files {
			data, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Compile(Source{Path: "fuzz.yaml", Data: data})
		if err != nil {
			checkErrorList(t, err)
		} else {
			evalEveryType(s)
		}
		if _, err := ParseTests("fuzz_test.yaml", data); err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("ParseTests error %T %v is not an ErrorList", err, err)
			}
		}
	})
}

func checkErrorList(t *testing.T, err error) {
	t.Helper()
	var list ErrorList
	if !errors.As(err, &list) || len(list) == 0 {
		t.Fatalf("error %T %v is not an ErrorList", err, err)
	}
	for _, e := range list {
		if e.Path != "fuzz.yaml" || e.Line < 0 || e.Col < 0 || e.Msg == "" {
			t.Fatalf("malformed error %#v", e)
		}
	}
}

func evalEveryType(s *Set) {
	e := NewEvaluator()
	for _, typ := range s.Types() {
		ev := &Event{Type: typ, RoomID: "r", User: User{ID: "u", Labels: []string{"spam"}}, Seats: []Seat{{Index: 1}},
			Attrs: map[string]any{"n": 1.0, "s": "x"}}
		e.Eval(s, ev, t0, nil)
	}
}
