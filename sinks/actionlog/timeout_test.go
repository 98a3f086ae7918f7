package actionlog

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWriteTimeoutThenRecovery points the log at a FIFO whose reader stops
// reading, so writes block once the pipe is full: Record must give up after
// WriteTimeout instead of blocking event processing, and succeed again
// once the reader drains the pipe.
func TestWriteTimeoutThenRecovery(t *testing.T) {
	path := filepath.Join(t.TempDir(), "actions.fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	reader, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	l := openLog(t, path, Config{WriteTimeout: 20 * time.Millisecond, CheckInterval: time.Hour})

	o := outcome(1)
	o.ErrorInfo = strings.Repeat("x", 4096)
	var lastErr error
	for i := 0; i < 10_000 && lastErr == nil; i++ { // the pipe holds 64 KiB
		lastErr = l.Record(o)
	}
	if !errors.Is(lastErr, ErrTimeout) {
		t.Fatalf("Record into a full pipe = %v, want ErrTimeout", lastErr)
	}
	if err := l.Healthy(); !errors.Is(err, ErrTimeout) {
		t.Errorf("Healthy() = %v, want ErrTimeout", err)
	}

	go io.Copy(io.Discard, reader) // the reader catches up
	waitFor(t, "a Record to succeed", func() bool { return l.Record(outcome(2)) == nil })
	if err := l.Healthy(); err != nil {
		t.Errorf("Healthy() after recovery: %v", err)
	}
}
