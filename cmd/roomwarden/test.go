package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/roomwarden/roomwarden/engine/ruletest"
	"github.com/roomwarden/roomwarden/rules"
)

const testUsage = `usage: roomwarden test [-v] PATH...

Runs rule tests (*_test.yaml) against the rules beside them. A directory
runs all its tests; a test file runs against the rules of its directory.
Exit status 1 when a case fails or a file does not load.
`

// runTest implements `roomwarden test`.
func runTest(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("test", testUsage)
	verbose := fs.Bool("v", false, "list passing cases too")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	plan, err := planTests(fs.Args())
	if err != nil {
		fmt.Fprintf(stderr, "roomwarden test: %v\n", err)
		return 2
	}
	t := &testRun{stdout: stdout, stderr: stderr, verbose: *verbose}
	for _, dir := range plan.dirs {
		t.runDir(dir, plan.files[dir])
	}
	return t.summary()
}

// testPlan is the test files to run, grouped by the rules directory
// they test, in the order given.
type testPlan struct {
	dirs  []string
	files map[string][]string
}

func planTests(paths []string) (testPlan, error) {
	p := testPlan{files: make(map[string][]string)}
	add := func(dir string, files ...string) {
		if _, ok := p.files[dir]; !ok {
			p.dirs = append(p.dirs, dir)
		}
		p.files[dir] = append(p.files[dir], files...)
	}
	for _, path := range paths {
		info, err := os.Stat(path)
		switch {
		case err != nil:
			return p, err
		case info.IsDir():
			files, err := rules.TestFiles(path)
			if err != nil {
				return p, err
			}
			if srcs, _ := rules.ReadSources(path); len(files) == 0 && len(srcs) == 0 {
				return p, fmt.Errorf("%s holds no rules files and no rule tests (*_test.yaml); the examples are in examples/rules", path)
			}
			add(path, files...)
		case rules.IsTestFile(path):
			add(filepath.Dir(path), path)
		default:
			return p, fmt.Errorf("%s is not a rule test (*_test.yaml); pass it or its directory", path)
		}
	}
	return p, nil
}

// testRun runs test files and keeps the counts for the summary.
type testRun struct {
	stdout, stderr       io.Writer
	verbose              bool
	files, cases, failed int
	brokenDirs           int // rules directories that did not load
	brokenFiles          int // test files that did not load
}

func (t *testRun) runDir(dir string, files []string) {
	if len(files) == 0 {
		fmt.Fprintf(t.stdout, "?    %s [no test files]\n", dir)
		return
	}
	set, err := rules.Load(dir)
	if err != nil {
		fmt.Fprintf(t.stdout, "--- FAIL: %s: rules do not load\n", dir)
		printErrors(t.stderr, err)
		t.brokenDirs++
		return
	}
	for _, f := range files {
		t.runFile(set, f)
	}
}

func (t *testRun) runFile(set *rules.Set, path string) {
	t.files++
	cases, err := rules.LoadTests(path)
	if err != nil {
		fmt.Fprintf(t.stdout, "--- FAIL: %s: test file does not load\n", path)
		printErrors(t.stderr, err)
		t.brokenFiles++
		return
	}
	for _, tc := range cases {
		t.cases++
		res := ruletest.RunCase(set, tc)
		switch {
		case !res.Pass:
			t.failed++
			fmt.Fprintf(t.stdout, "--- FAIL: %s:%d: %s\n%s", tc.File, tc.Line, tc.Name, res.Diff())
		case t.verbose:
			fmt.Fprintf(t.stdout, "--- PASS: %s:%d: %s\n", tc.File, tc.Line, tc.Name)
		}
	}
}

func (t *testRun) summary() int {
	if t.failed == 0 && t.brokenDirs == 0 && t.brokenFiles == 0 {
		fmt.Fprintf(t.stdout, "ok: %s passed (%s)\n", count(t.cases, "case"), count(t.files, "file"))
		return 0
	}
	var what []string
	if t.failed > 0 {
		what = append(what, fmt.Sprintf("%d of %s failed", t.failed, count(t.cases, "case")))
	}
	if t.brokenDirs > 0 {
		what = append(what, fmt.Sprintf("the rules of %s did not load", count(t.brokenDirs, "directory")))
	}
	if t.brokenFiles > 0 {
		what = append(what, fmt.Sprintf("%s did not load", count(t.brokenFiles, "test file")))
	}
	if t.failed == 0 {
		what = append(what, fmt.Sprintf("%s passed", count(t.cases, "case")))
	}
	fmt.Fprintf(t.stdout, "FAIL: %s\n", strings.Join(what, "; "))
	return 1
}
