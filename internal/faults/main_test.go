package faults

import (
	"fmt"
	"os"
	"testing"

	"github.com/roomwarden/roomwarden/internal/daemontest"
)

// daemonBin is the roomwarden binary built once by TestMain for the tests
// that run the daemon as a real process.
var daemonBin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	release, err := daemontest.LockMachine()
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		return 1
	}
	defer release()
	dir, err := os.MkdirTemp("", "roomwarden-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if daemonBin, err = daemontest.BuildDaemon(dir); err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		return 1
	}
	return m.Run()
}
