package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/internal/benchtest"
)

type memFlags struct {
	natsURL, daemon, work, heapProfile string
	rules, keys                        int
	timeout                            time.Duration
}

// runMem is `loadgen mem`: start the roomwarden binary with the
// generated rules (each cooling down for an hour), publish one matching
// event per cooldown key, each in a room of its own, wait until the
// daemon has acknowledged them all and its state bucket holds every key,
// and read the daemon process's resident set size from
// /proc/<pid>/status.
func runMem(args []string, stdout io.Writer, logger *slog.Logger) error {
	var f memFlags
	fs := flag.NewFlagSet("mem", flag.ContinueOnError)
	fs.StringVar(&f.natsURL, "nats", "nats://127.0.0.1:4222", "NATS server URL (a real nats-server, not the daemon's embedded one)")
	fs.StringVar(&f.daemon, "daemon", "./bin/roomwarden", "the roomwarden binary")
	fs.StringVar(&f.work, "work", os.TempDir(), "where to create the daemon's rules, config and action log")
	fs.IntVar(&f.rules, "rules", 10_000, "rules loaded")
	fs.IntVar(&f.keys, "keys", 1_000_000, "cooldown keys to fill: one matching event each")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Minute, "give up after this long")
	fs.StringVar(&f.heapProfile, "heapprofile", "", "write the daemon's heap profile, taken with the keys filled, to this file (go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if f.rules < 1 || f.keys < 1 {
		return errors.New("-rules and -keys must be positive")
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	return memRun(ctx, f, stdout, logger)
}

func memRun(ctx context.Context, f memFlags, stdout io.Writer, logger *slog.Logger) error {
	nc, js, err := connectEmpty(ctx, f.natsURL)
	if err != nil {
		return err
	}
	defer nc.Close()
	spec := daemonSpec{bin: f.daemon, work: f.work, natsURL: f.natsURL, rules: benchtest.RulesYAMLCooldown(f.rules, time.Hour)}
	d, start, err := startAndFill(ctx, js, spec, f.keys, newCooldownEvents(f.rules), logger)
	if err != nil {
		return err
	}
	defer d.stop()
	return memReport(ctx, js, d, f, start, stdout)
}

// startAndFill starts the daemon of spec, reads its memory once it is
// ready (before), publishes n events from g and waits until the daemon
// has acknowledged them all. The caller stops the daemon; on an error
// startAndFill has stopped it.
func startAndFill(ctx context.Context, js jetstream.JetStream, spec daemonSpec, n int, g eventSource, logger *slog.Logger) (d *daemon, before procMem, err error) {
	if d, err = startDaemon(spec); err != nil {
		return nil, before, err
	}
	defer func() {
		if err != nil {
			_ = d.stop()
		}
	}()
	if err := d.waitReady(ctx); err != nil {
		return d, before, err
	}
	if before, err = d.memory(ctx); err != nil {
		return d, before, err
	}
	began := time.Now()
	if _, err := preload(ctx, js, n, g); err != nil {
		return d, before, err
	}
	if _, err := waitDrained(ctx, js, uint64(n)); err != nil {
		return d, before, err
	}
	logger.Info("filled", "keys", n, "took", time.Since(began).Round(time.Millisecond))
	return d, before, nil
}

// memReport checks that the state bucket holds every key, reads the
// daemon's memory and reports the figures.
func memReport(ctx context.Context, js jetstream.JetStream, d *daemon, f memFlags, start procMem, stdout io.Writer) error {
	keys, bytes, err := stateBucket(ctx, js)
	if err != nil {
		return err
	}
	if keys != uint64(f.keys) {
		return fmt.Errorf("the state bucket %s holds %d keys, want %d (one cooldown per event)", stateBucketName, keys, f.keys)
	}
	end, err := d.memory(ctx)
	if err != nil {
		return err
	}
	if f.heapProfile != "" {
		profile, err := d.scrape(ctx, "/debug/pprof/heap")
		if err != nil {
			return err
		}
		if err := os.WriteFile(f.heapProfile, []byte(profile), 0o644); err != nil {
			return fmt.Errorf("heap profile: %w", err)
		}
	}
	if err := d.stop(); err != nil {
		return err
	}
	lines, err := countLines(d.actionLog)
	if err != nil {
		return err
	}
	if lines != f.keys {
		return fmt.Errorf("action log has %d lines, want %d (one per event); see %s", lines, f.keys, d.dir)
	}
	_ = os.Remove(d.actionLog) // a line per key: hundreds of MB at a million
	report(stdout, "mem_rules", float64(f.rules), "rules")
	report(stdout, "mem_cooldown_keys", float64(keys), "keys (in the state bucket "+stateBucketName+")")
	report(stdout, "mem_state_bucket", float64(bytes)/(1<<20), "MB (the bucket's stream, stored by the NATS server)")
	report(stdout, "mem_rss_start", start.rssMB, "MB (the daemon, rules loaded, no keys, after a GC)")
	report(stdout, "mem_heap_inuse_start", start.heapMB, "MB (its Go heap in use then)")
	report(stdout, "mem_rss", end.rssMB, "MB (the daemon with rules and keys, after a GC)")
	report(stdout, "mem_heap_inuse", end.heapMB, "MB (its Go heap in use then)")
	report(stdout, "mem_rss_peak", end.peakMB, "MB (the daemon's VmHWM: the most it held while filling)")
	return nil
}

// memory collects garbage in the daemon (the heap profile endpoint does
// with gc=1, so the RSS that follows is what live data holds), then
// reads its resident set from /proc and its heap from /metrics.
func (d *daemon) memory(ctx context.Context) (procMem, error) {
	if _, err := d.scrape(ctx, "/debug/pprof/heap?gc=1"); err != nil {
		return procMem{}, err
	}
	m, err := procMemory(d.cmd.Process.Pid)
	if err != nil {
		return m, err
	}
	metrics, err := d.scrape(ctx, "/metrics")
	if err != nil {
		return m, err
	}
	if m.heapMB = metricValue(metrics, "go_memstats_heap_inuse_bytes") / (1 << 20); m.heapMB <= 0 {
		return m, errors.New("the daemon's /metrics has no go_memstats_heap_inuse_bytes")
	}
	return m, nil
}
