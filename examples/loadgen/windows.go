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

	"github.com/nats-io/nats.go/jetstream"

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
	fs.IntVar(&f.keys, "window-keys", 10_000, "with -windows: the users and the rooms the reports are about")
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

// check validates the flags before anything starts.
func (f daemonFlags) check() error {
	if f.win.windows == 0 {
		return nil
	}
	_, err := f.workload()
	return err
}

// rulesYAML is the daemon's rules file: the plain rules, or the windows
// workload's.
func (f daemonFlags) rulesYAML() []byte {
	if w, err := f.workload(); f.win.windows > 0 && err == nil {
		return w.RulesYAML()
	}
	return benchtest.RulesYAML(f.rules)
}

// eventSource is an event generator: the plain one or the windows one.
type eventSource interface {
	Next(seq uint64, at time.Time) benchtest.Event
}

// events returns the generator of these flags' workload.
func (f daemonFlags) events(seed uint64) eventSource {
	if w, err := f.workload(); f.win.windows > 0 && err == nil {
		return benchtest.NewWindowGenerator(w, seed)
	}
	return benchtest.NewGenerator(f.rules, f.matchEvery, seed)
}

// stateOps is what the daemon's metrics say of its store calls of one
// kind: how many succeeded and failed (roomwarden_state_ops_total), and
// their mean duration (roomwarden_state_op_duration_seconds; 0 if none).
type stateOps struct{ ok, failed, meanMS float64 }

// stateOps reads the daemon's figures for the store calls of op.
func (d *daemon) stateOps(ctx context.Context, op string) (stateOps, error) {
	body, err := d.scrape(ctx, "/metrics")
	if err != nil {
		return stateOps{}, err
	}
	var s stateOps
	for _, r := range []string{"ok", "conflict", "unavailable", "error"} {
		v := metricValue(body, fmt.Sprintf("roomwarden_state_ops_total{op=%q,result=%q}", op, r))
		switch {
		case v < 0:
		case r == "ok":
			s.ok = v
		default:
			s.failed += v
		}
	}
	sum := metricValue(body, fmt.Sprintf("roomwarden_state_op_duration_seconds_sum{op=%q}", op))
	if n := metricValue(body, fmt.Sprintf("roomwarden_state_op_duration_seconds_count{op=%q}", op)); n > 0 && sum >= 0 {
		s.meanMS = 1000 * sum / n
	}
	return s, nil
}

// reportStateOps reports the daemon's store calls of each kind that it
// made: how many, and their mean duration.
func (d *daemon) reportStateOps(ctx context.Context, w io.Writer, prefix string) error {
	for _, op := range []string{"feed", "count", "acquire", "overridden_until", "override", "spend"} {
		s, err := d.stateOps(ctx, op)
		if err != nil {
			return err
		}
		if s.ok+s.failed == 0 {
			continue
		}
		report(w, prefix+"_state_"+op, s.ok, "calls")
		if s.failed > 0 {
			report(w, prefix+"_state_"+op+"_failed", s.failed, "calls")
		}
		report(w, prefix+"_state_"+op+"_mean", s.meanMS, "ms")
	}
	return nil
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
	fs := flag.NewFlagSet("windowmem", flag.ContinueOnError)
	f.register(fs, "NATS server URL (a real nats-server, not the daemon's embedded one)", "the roomwarden binary")
	fs.IntVar(&f.keys, "keys", 100_000, "window keys to fill: one report each")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Minute, "give up after this long")
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
	nc, js, err := connect(f.natsURL)
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := resetStream(ctx, js); err != nil {
		return err
	}
	if err := deleteStateBucket(ctx, js); err != nil {
		return err
	}
	d, err := f.start()
	if err != nil {
		return err
	}
	defer d.stop()
	if err := d.waitReady(ctx); err != nil {
		return err
	}
	start, err := d.memory(ctx)
	if err != nil {
		return err
	}
	began := time.Now()
	if err := publishReports(ctx, js, f.keys); err != nil {
		return err
	}
	if _, err := waitDrained(ctx, js, uint64(f.keys)); err != nil {
		return err
	}
	logger.Info("filled", "keys", f.keys, "took", time.Since(began).Round(time.Millisecond))
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

// publishReports publishes n reports of the first reason, report i
// about user ru-<i>, so each feeds window 0 (counted by user) at a key
// of its own and no rule acts, and waits for the stream to store them.
func publishReports(ctx context.Context, js jetstream.JetStream, n int) error {
	g := benchtest.NewWindowGenerator(benchtest.WindowWorkload{Rules: 1, Windows: 1, WindowEvery: 2, Keys: 1}, 1)
	const window = 4000
	for seq := range uint64(n) {
		e := g.Report(seq, time.Now(), 0, int(seq), int(seq))
		if _, err := js.PublishAsync(e.Subject, e.Data); err != nil {
			return fmt.Errorf("publish report %d: %w", seq, err)
		}
		if seq%window == window-1 {
			if err := waitPublished(ctx, js); err != nil {
				return err
			}
		}
	}
	return waitPublished(ctx, js)
}
