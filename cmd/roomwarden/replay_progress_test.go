package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/engine/replay"
)

func TestProgressBarLine(t *testing.T) {
	b := &progressBar{width: 10}
	got := b.line(replay.Progress{Messages: 250_000, Done: 250_000, Total: 1_000_000, Elapsed: 2 * time.Second})
	want := "replay [==        ]  25%  250000 messages  125000/s  ETA 6s"
	if got != want {
		t.Errorf("line = %q, want %q", got, want)
	}
}

// TestProgressBarQuiet: no bar unless stderr is a terminal.
func TestProgressBarQuiet(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if newProgressBar(&bytes.Buffer{}) != nil || newProgressBar(f) != nil {
		t.Error("a bar on a buffer or a file, want none")
	}
}
