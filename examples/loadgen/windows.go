package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"

	"github.com/roomwarden/roomwarden/internal/benchtest"
)

// windowFlags select the workload with windows (benchtest.WindowWorkload):
// -windows of the rules read windows fed by -window-share of the events.
type windowFlags struct {
	windows int
	share   float64
	keys    int
}

func (f *windowFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&f.windows, "windows", 0, "windows, each read by one of the rules (0: the plain rules, no windows); see benchtest.WindowWorkload")
	fs.Float64Var(&f.share, "window-share", 0.1, "with -windows: the share of events that are reports feeding a window (one event in round(1/share))")
	fs.IntVar(&f.keys, "window-keys", 10_000, "with -windows or -state window: the users and the rooms the reports are about")
}

// workload returns the windows workload of these flags, or an error if
// they describe none that is valid.
func (f daemonFlags) workload() (benchtest.WindowWorkload, error) {
	w := benchtest.WindowWorkload{Rules: f.rules, Windows: f.win.windows, MatchEvery: f.matchEvery, Keys: f.win.keys}
	if f.win.share <= 0 || f.win.share > 1 {
		return w, fmt.Errorf("-window-share %g: want more than 0 and at most 1", f.win.share)
	}
	w.WindowEvery = int(math.Round(1 / f.win.share))
	if err := w.Validate(); err != nil {
		return w, fmt.Errorf("-windows: %w", err)
	}
	return w, nil
}

type windowMemFlags struct {
	daemonFlags
	keys    int
	timeout time.Duration
}

// runWindowMem is `loadgen windowmem`: what a window key costs, in the
// state bucket and in the daemon. It starts the daemon with the windows
// workload's rules, publishes one report per key (each about a user of
// its own, feeding the count window keyed by user), waits until the
// daemon has acknowledged them all, and reads the bucket's stored bytes
// and the daemon's Go heap after a GC, before and after.
func runWindowMem(args []string, stdout io.Writer, logger *slog.Logger) error {
	var f windowMemFlags
	fs := newDaemonFlagSet("windowmem", &f.daemonFlags, &f.timeout, 10*time.Minute)
	fs.IntVar(&f.keys, "keys", 100_000, "window keys to fill: one report each")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if f.win.windows == 0 {
		f.win.windows = 10
	}
	if err := f.check(); err != nil {
		return err
	}
	if f.keys < 1 {
		return errors.New("-keys must be positive")
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	return windowMem(ctx, f, stdout, logger)
}

func windowMem(ctx context.Context, f windowMemFlags, stdout io.Writer, logger *slog.Logger) error {
	nc, js, err := connectEmpty(ctx, f.natsURL)
	if err != nil {
		return err
	}
	defer nc.Close()
	d, start, err := startAndFill(ctx, js, f.spec(), f.keys, newUserReports(), logger)
	if err != nil {
		return err
	}
	defer d.stop()
	feeds, err := d.stateOps(ctx, "feed")
	if err != nil {
		return err
	}
	end, err := d.memory(ctx)
	if err != nil {
		return err
	}
	keys, bytes, err := stateBucket(ctx, js)
	if err != nil {
		return err
	}
	if err := d.stop(); err != nil {
		return err
	}
	if feeds.ok != float64(f.keys) || feeds.failed != 0 || keys != uint64(f.keys) {
		return fmt.Errorf("%v feeds (%v failed) and %d keys in the state bucket, want %d of each; see %s", feeds.ok, feeds.failed, keys, f.keys, d.dir)
	}
	report(stdout, "windowmem_keys", float64(keys), "window keys (in the state bucket "+stateBucketName+")")
	report(stdout, "windowmem_bucket", float64(bytes)/(1<<20), "MB (the bucket's stream, stored by the NATS server)")
	report(stdout, "windowmem_bucket_per_key", float64(bytes)/float64(keys), "B")
	report(stdout, "windowmem_heap_inuse_start", start.heapMB, "MB (the daemon's Go heap in use, rules loaded, no keys, after a GC)")
	report(stdout, "windowmem_heap_inuse", end.heapMB, "MB (the same with the keys)")
	report(stdout, "windowmem_heap_per_key", (end.heapMB-start.heapMB)*(1<<20)/float64(keys), "B (the difference, per key)")
	report(stdout, "windowmem_rss_start", start.rssMB, "MB")
	report(stdout, "windowmem_rss", end.rssMB, "MB")
	return nil
}

// userReports are the events of windowmem: report seq, of the first
// reason, is about user ru-<seq>, so each feeds window 0 (counted by
// user) at a key of its own and no rule acts.
type userReports struct{ g *benchtest.WindowGenerator }

func newUserReports() userReports { return userReports{newReportFormatter(1)} }

func (u userReports) Next(seq uint64, at time.Time) benchtest.Event {
	return u.g.Report(seq, at, 0, int(seq), int(seq))
}

// newReportFormatter returns a windows generator for its Report alone,
// which formats a report and counts nothing.
func newReportFormatter(seed uint64) *benchtest.WindowGenerator {
	return benchtest.NewWindowGenerator(benchtest.WindowWorkload{Rules: 1, Windows: 1, WindowEvery: 2, Keys: 1}, seed)
}
