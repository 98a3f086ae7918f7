package rules

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden .err files of testdata/invalid")

// TestLoadInvalid loads each file (or directory) of testdata/invalid,
// one mistake each, and compares the errors with its golden .err file.
func TestLoadInvalid(t *testing.T) {
	entries, err := os.ReadDir("testdata/invalid")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() && !strings.HasSuffix(name, ".yaml") {
			continue
		}
		n++
		path := filepath.Join("testdata/invalid", name)
		golden := filepath.Join("testdata/invalid", strings.TrimSuffix(name, ".yaml")+".err")
		t.Run(name, func(t *testing.T) {
			set, err := Load(path)
			if err == nil {
				t.Fatalf("Load(%s) = %d rules, want an error", path, set.Len())
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error is %T, want ErrorList", err)
			}
			got := err.Error() + "\n"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("errors:\n%s\nwant:\n%s", got, want)
			}
		})
	}
	if n < 25 {
		t.Errorf("found %d invalid cases, want the whole corpus", n)
	}
}
