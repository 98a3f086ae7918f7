package app_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/roomwarden/roomwarden/internal/daemontest"
)

// TestMain runs this package's daemons alone on the machine (see
// daemontest.LockMachine).
func TestMain(m *testing.M) {
	release, err := daemontest.LockMachine()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	release()
	os.Exit(code)
}
