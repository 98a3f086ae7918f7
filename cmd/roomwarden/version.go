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

func runVersion(w io.Writer) int {
	c := commit
	if c == "" {
		c = vcsRevision()
	}
	fmt.Fprintf(w, "roomwarden %s (commit %s, %s)\n", version, c, runtime.Version())
	return 0
}

func vcsRevision() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			return s.Value
		}
	}
	return "unknown"
}
