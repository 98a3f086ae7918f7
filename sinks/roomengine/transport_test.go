package roomengine

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/roomwarden/roomwarden/engine"
)

// TestTransportClass: running out of file descriptors is a local
// shortage, not a failure of the call; other transport errors are
// retryable.
func TestTransportClass(t *testing.T) {
	dialEMFILE := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("socket", syscall.EMFILE)}
	tests := []struct {
		name string
		err  error
		want engine.ErrorClass
	}{
		{"too many open files", fmt.Errorf("post: %w", dialEMFILE), engine.Local},
		{"file table full", syscall.ENFILE, engine.Local},
		{"connection refused", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, engine.Retryable},
		{"other", errors.New("eof"), engine.Retryable},
	}
	for _, tc := range tests {
		if got := transportClass(tc.err); got != tc.want {
			t.Errorf("%s: class %v, want %v", tc.name, got, tc.want)
		}
	}
}
