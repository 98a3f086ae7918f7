package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/internal/daemontest"
)

// TestHeapFloor runs the daemon binary as operators do. Without GOGC in
// its environment it keeps a heap floor: go_gc_gogc_percent is above 100,
// its live heap being far below 32 MiB. With GOGC=100 it is 100, and the
// log says why.
func TestHeapFloor(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	if os.Getenv("GOGC") != "" {
		t.Skip("GOGC is set in the test's environment")
	}
	bin, err := daemontest.BuildDaemon(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		env   []string
		floor bool
	}{
		{"no GOGC", nil, true},
		{"GOGC=100", []string{"GOGC=100"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := daemontest.New(t).StartBinary(bin, c.env...)

			deadline := time.Now().Add(20 * time.Second)
			percent := d.Metric("go_gc_gogc_percent")
			for c.floor && percent <= 100 && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond) // each scrape allocates: a collection comes
				percent = d.Metric("go_gc_gogc_percent")
			}
			if floor := percent > 100; floor != c.floor {
				t.Errorf("go_gc_gogc_percent = %v, want a heap floor: %v", percent, c.floor)
			}
			if said := strings.Contains(d.Output.String(), "GOGC is set: no heap floor"); said == c.floor {
				t.Errorf("log says GOGC is set: %v, want %v:\n%s", said, !c.floor, d.Output.String())
			}
		})
	}
}
