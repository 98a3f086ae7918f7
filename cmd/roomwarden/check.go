package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/roomwarden/roomwarden/rules"
)

const checkUsage = `usage: roomwarden check PATH...

Loads and compiles the rules files and directories given, printing every
error as path:line:col: message. Exit status 1 on any error.
`

// runCheck implements `roomwarden check`.
func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check", checkUsage)
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	if err := requireRuleFiles(fs.Args()); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	set, err := rules.Load(fs.Args()...)
	if err != nil {
		printErrors(stderr, err)
		return 1
	}
	for _, w := range set.Warnings() {
		w.Msg = "warning: " + w.Msg
		fmt.Fprintln(stderr, w.Error())
	}
	summary := fmt.Sprintf("ok: %s, %s, %s", count(len(set.Files()), "file"), count(set.Len(), "rule"),
		count(len(set.Types()), "event type"))
	if n := len(set.Warnings()); n > 0 {
		summary += ", " + count(n, "warning")
	}
	fmt.Fprintln(stdout, summary)
	return 0
}

// requireRuleFiles reports each path that holds no rules file: checking
// a directory of something else (the Go package rules/, say) must not
// pass as "0 rules".
func requireRuleFiles(paths []string) error {
	var errs []error
	for _, p := range paths {
		srcs, err := rules.ReadSources(p)
		if err == nil && len(srcs) == 0 {
			errs = append(errs, fmt.Errorf("%s: no rules files here (*.yaml or *.yml, not *_test.yaml); "+
				"the example rules are in examples/rules", p))
		}
	}
	return errors.Join(errs...)
}

// printErrors prints a rules error one problem per line.
func printErrors(w io.Writer, err error) {
	var list rules.ErrorList
	if !errors.As(err, &list) {
		fmt.Fprintln(w, err)
		return
	}
	for _, e := range list {
		fmt.Fprintln(w, e.Error())
	}
}

// count writes n and word, in the plural unless n is 1.
func count(n int, word string) string {
	switch {
	case n == 1:
		return "1 " + word
	case strings.HasSuffix(word, "y"):
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(word, "y"))
	}
	return fmt.Sprintf("%d %ss", n, word)
}
