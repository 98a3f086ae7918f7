package daemontest

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// LockMachine serialises the heavy end-to-end test packages of one
// `go test ./...` run (each takes it in TestMain), so that a package that
// counts calls per rolling second at the simulator does not share two
// cores with another package's daemons. It blocks until the lock is
// free and returns the func that releases it.
func LockMachine() (release func(), err error) {
	path := filepath.Join(os.TempDir(), "roomwarden-e2e-tests.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("machine lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("machine lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil // closing the file drops the lock
}
