// Command roomwarden is the rule-driven trust-and-safety daemon for
// Tencent Cloud Room Engine rooms. See README.md.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: roomwarden <command> [arguments]

commands:
  run --config FILE      run the daemon
  demo                   run the daemon on embedded defaults against a simulator,
                         publishing the sample events (the quick start)
  check PATH...          load and compile rules; print every error
  test PATH...           run rule tests (*_test.yaml)
  explain EVENT_FILE|-   say what every rule would decide on one event, and why
  replay --config FILE   run the stream's history through the rules, sending nothing
  schema KIND            print the JSON Schema of rules, tests or config files
  version                print version information
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return runDaemon(args[1:], stdout, stderr)
	case "demo":
		return runDemo(args[1:], stdout, stderr)
	case "check":
		return runCheck(args[1:], stdout, stderr)
	case "test":
		return runTest(args[1:], stdout, stderr)
	case "explain":
		return runExplain(args[1:], stdout, stderr)
	case "replay":
		return runReplay(args[1:], stdout, stderr)
	case "schema":
		return runSchema(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		return runVersion(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "roomwarden: unknown command %q\n\n%s", args[0], usage)
	return 2
}
