package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/roomwarden/roomwarden/engine/replay"
)

// progressBar draws a replay's progress on a terminal: one line,
// redrawn in place, with the rate and the time left.
type progressBar struct {
	w     io.Writer
	width int // of the bar itself
}

// newProgressBar returns a bar drawing on w if w is a terminal, else
// nil: redirected, the replay stays quiet.
func newProgressBar(w io.Writer) *progressBar {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	info, err := f.Stat()
	if err != nil || info.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return &progressBar{w: w, width: 30}
}

// update redraws the bar.
func (b *progressBar) update(p replay.Progress) {
	fmt.Fprintf(b.w, "\r\033[K%s", b.line(p))
}

// clear erases the bar, so the report starts on a clean line.
func (b *progressBar) clear() {
	if b != nil {
		fmt.Fprint(b.w, "\r\033[K")
	}
}

// line renders p: bar, percentage, messages, rate and time left.
func (b *progressBar) line(p replay.Progress) string {
	frac := 1.0
	if p.Total > 0 {
		frac = float64(p.Done) / float64(p.Total)
	}
	filled := int(frac * float64(b.width))
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", b.width-filled)
	rate, eta := 0.0, "?"
	if secs := p.Elapsed.Seconds(); secs > 0 && p.Done > 0 {
		rate = float64(p.Messages) / secs
		left := time.Duration(float64(p.Total-p.Done) / float64(p.Done) * float64(p.Elapsed))
		eta = left.Round(time.Second).String()
	}
	return fmt.Sprintf("replay [%s] %3.0f%%  %d messages  %.0f/s  ETA %s", bar, frac*100, p.Messages, rate, eta)
}
