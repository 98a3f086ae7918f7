package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/internal/benchtest"
	"github.com/roomwarden/roomwarden/internal/procstat"
)

type e2eFlags struct {
	daemonFlags
	n       int
	timeout time.Duration
}

// runE2E is `loadgen e2e`: pre-load the stream, start the daemon, time
// the drain.
func runE2E(args []string, stdout io.Writer, logger *slog.Logger) error {
	var f e2eFlags
	fs := newDaemonFlagSet("e2e", &f.daemonFlags, &f.timeout, 5*time.Minute)
	fs.IntVar(&f.n, "n", 200_000, "events to pre-load")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	return e2e(ctx, f, stdout, logger)
}

func e2e(ctx context.Context, f e2eFlags, stdout io.Writer, logger *slog.Logger) error {
	nc, js, err := connectEmpty(ctx, f.natsURL)
	if err != nil {
		return err
	}
	defer nc.Close()
	start := time.Now()
	g := f.events(1)
	matching, err := preload(ctx, js, f.n, g)
	if err != nil {
		return err
	}
	logger.Info("pre-loaded", "events", f.n, "took", time.Since(start).Round(time.Millisecond))

	d, err := f.start()
	if err != nil {
		return err
	}
	defer d.stop()
	t, err := waitDrained(ctx, js, uint64(f.n))
	if err != nil {
		return err
	}
	var ops bytes.Buffer // the daemon's figures, read before it stops
	if cpu, err := procstat.CPU(d.cmd.Process.Pid); err == nil {
		report(&ops, "e2e_daemon_cpu_s", cpu.Seconds(), "s (the daemon's CPU time, start-up included)")
		report(&ops, "e2e_daemon_cpu_per_event", float64(cpu.Microseconds())/float64(f.n), "µs")
	}
	if err := d.reportStateOps(ctx, &ops, "e2e"); err != nil {
		return err
	}
	feeds, err := d.stateOps(ctx, "feed")
	if err != nil {
		return err
	}
	keys, stored, err := stateBucket(ctx, js)
	if err != nil {
		return err
	}
	writes, err := stateWrites(ctx, js)
	if err != nil {
		return err
	}
	if err := d.stop(); err != nil {
		return err
	}
	lines, err := countLines(d.actionLog)
	if err != nil {
		return err
	}
	reportE2E(stdout, f, t, lines)
	report(stdout, "e2e_state_keys", float64(keys), "keys (in the state bucket "+stateBucketName+" after the run)")
	report(stdout, "e2e_state_bytes", float64(stored), "B (stored)")
	report(stdout, "e2e_state_writes", float64(writes), "messages (every write the state bucket's stream took)")
	_, _ = ops.WriteTo(stdout)
	if wg, ok := g.(*benchtest.WindowGenerator); ok {
		report(stdout, "e2e_windows", float64(f.win.windows), "windows")
		report(stdout, "e2e_window_reports", float64(wg.Reports()), "events (feeding a window)")
		report(stdout, "e2e_window_actions", float64(wg.WindowActs()), "actions (reports that bring a window to its threshold)")
		if err := checkFeeds(feeds, wg.Reports(), d.dir); err != nil {
			return err
		}
	}
	if rr, ok := g.(*roomReports); ok {
		report(stdout, "e2e_window_reports", float64(rr.Reports()), "events (feeding a window)")
		if err := checkFeeds(feeds, rr.Reports(), d.dir); err != nil {
			return err
		}
	}
	if lines != matching {
		return fmt.Errorf("action log has %d lines, want %d (one per matching event); see %s", lines, matching, d.dir)
	}
	return nil
}

// checkFeeds checks that the daemon fed the windows once per report and
// never failed to.
func checkFeeds(feeds stateOps, reports int, dir string) error {
	if feeds.ok != float64(reports) || feeds.failed != 0 {
		return fmt.Errorf("the daemon fed windows %v times (%v failed), want once per report (%d); see %s", feeds.ok, feeds.failed, reports, dir)
	}
	return nil
}

// drainTimes are when the daemon started, when its consumer first showed
// a delivery, and when every event was acknowledged.
type drainTimes struct{ start, first, done time.Time }

// waitDrained polls the daemon's consumer until n messages have been
// delivered and none is pending or unacknowledged.
func waitDrained(ctx context.Context, js jetstream.JetStream, n uint64) (drainTimes, error) {
	t := drainTimes{start: time.Now()}
	for {
		info, err := consumerInfo(ctx, js)
		if err != nil {
			return t, err
		}
		if info != nil && info.Delivered.Consumer > 0 && t.first.IsZero() {
			t.first = time.Now()
		}
		if info != nil && info.AckFloor.Stream >= n && info.NumAckPending == 0 && info.NumPending == 0 {
			t.done = time.Now()
			return t, nil
		}
		select {
		case <-ctx.Done():
			return t, fmt.Errorf("waiting for the daemon to drain the stream: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// consumerInfo returns the daemon's consumer, or nil before it exists.
func consumerInfo(ctx context.Context, js jetstream.JetStream) (*jetstream.ConsumerInfo, error) {
	c, err := js.Consumer(ctx, streamName, durableName)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("consumer info: %w", err)
	}
	return c.CachedInfo(), nil
}

func reportE2E(w io.Writer, f e2eFlags, t drainTimes, lines int) {
	report(w, "e2e_events", float64(f.n), "events")
	report(w, "e2e_rules", float64(f.rules), "rules")
	report(w, "e2e_total_s", t.done.Sub(t.start).Seconds(), "s (daemon start to last ack)")
	report(w, "e2e_drain_s", t.done.Sub(t.first).Seconds(), "s (first delivery to last ack)")
	report(w, "e2e_throughput", float64(f.n)/t.done.Sub(t.first).Seconds(), "msgs/s")
	report(w, "e2e_action_log_lines", float64(lines), "lines")
}

func countLines(path string) (int, error) {
	file, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("action log: %w", err)
	}
	defer file.Close()
	n := 0
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		n++
	}
	return n, sc.Err()
}
