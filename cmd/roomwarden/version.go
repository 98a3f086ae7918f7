package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version and commit are set at build time with -ldflags "-X main.version=...".
var (
	version = "dev"
	commit  = ""
)

const versionUsage = `usage: roomwarden version

Prints the version, the commit it was built from and the Go version.
`

func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version", versionUsage)
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fs.SetOutput(stderr)
		fs.Usage()
		return 2
	}
	fmt.Fprintf(stdout, "roomwarden %s (%s, %s)\n", version, buildCommit(), runtime.Version())
	return 0
}

// buildCommit names the commit the binary was built from: the one set
// with -ldflags, else the VCS stamp that go build records in a git
// checkout, else the module version for go install module@version.
// go run records neither, and says so.
func buildCommit() string {
	if commit != "" {
		return "commit " + commit
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "no build information"
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	switch {
	case rev != "" && dirty:
		return "commit " + rev + " with local changes"
	case rev != "":
		return "commit " + rev
	case info.Main.Version != "" && info.Main.Version != "(devel)":
		return "module " + info.Main.Version
	}
	return "commit not recorded: go run records none, go build in a git checkout does"
}
