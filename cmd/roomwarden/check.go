package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/roomwarden/roomwarden/rules"
)

const checkUsage = `usage: roomwarden check PATH...

Loads and compiles the rules files and directories given, printing every
error as path:line:col: message. Exit status 1 on any error.
`

// runCheck implements `roomwarden check`.
func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, checkUsage) }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	set, err := rules.Load(fs.Args()...)
	if err != nil {
		printErrors(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "ok: %s, %s, %s\n",
		count(len(set.Files()), "file"), count(set.Len(), "rule"), count(len(set.Types()), "event type"))
	return 0
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

func count(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
