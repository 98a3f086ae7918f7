package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/internal/benchtest"
)

// defaultMaxKeys is the daemon's cooldowns.max_keys default.
const defaultMaxKeys = 1_000_000

type memFlags struct {
	natsURL, daemon, work string
	rules, keys           int
	timeout               time.Duration
}

// runMem is `loadgen mem`: start the roomwarden binary with the
// generated rules (each cooling down for an hour), publish one matching
// event per cooldown key, each in a room of its own, wait until the
// daemon has acknowledged them all, and read the daemon process's
// resident set size from /proc/<pid>/status.
func runMem(args []string, stdout io.Writer, logger *slog.Logger) error {
	var f memFlags
	fs := flag.NewFlagSet("mem", flag.ContinueOnError)
	fs.StringVar(&f.natsURL, "nats", "nats://127.0.0.1:4222", "NATS server URL (a real nats-server, not the daemon's embedded one)")
	fs.StringVar(&f.daemon, "daemon", "./bin/roomwarden", "the roomwarden binary")
	fs.StringVar(&f.work, "work", os.TempDir(), "where to create the daemon's rules, config and action log")
	fs.IntVar(&f.rules, "rules", 10_000, "rules loaded")
	fs.IntVar(&f.keys, "keys", 1_000_000, "cooldown keys to fill: one matching event each")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Minute, "give up after this long")
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
	nc, js, err := connect(f.natsURL)
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := resetStream(ctx, js); err != nil {
		return err
	}
	spec := daemonSpec{bin: f.daemon, work: f.work, natsURL: f.natsURL,
		rules: benchtest.RulesYAMLCooldown(f.rules, time.Hour)}
	if f.keys > defaultMaxKeys {
		spec.maxKeys = f.keys
	}
	d, err := startDaemon(spec)
	if err != nil {
		return err
	}
	defer d.stop()
	if err := d.waitReady(ctx); err != nil {
		return err
	}
	start, err := procMemory(d.cmd.Process.Pid)
	if err != nil {
		return err
	}
	began := time.Now()
	if err := publishMatching(ctx, js, f.keys, f.rules); err != nil {
		return err
	}
	if _, err := waitDrained(ctx, js, uint64(f.keys)); err != nil {
		return err
	}
	logger.Info("filled", "keys", f.keys, "took", time.Since(began).Round(time.Millisecond))
	return memReport(ctx, d, f, start, stdout)
}

// memReport checks that the daemon holds every key, forces a garbage
// collection in it, reads its memory and reports the figures.
func memReport(ctx context.Context, d *daemon, f memFlags, start procMem, stdout io.Writer) error {
	metrics, err := d.scrape(ctx, "/metrics")
	if err != nil {
		return err
	}
	keys, overflows := metricValue(metrics, "roomwarden_cooldown_keys"), metricValue(metrics, "roomwarden_cooldown_overflows_total")
	if keys != float64(f.keys) || overflows != 0 {
		return fmt.Errorf("the daemon holds %v cooldown keys (%v overflows), want %d (0)", keys, overflows, f.keys)
	}
	// The heap profile endpoint collects garbage first (gc=1): the RSS
	// that follows is what the live rules and keys hold.
	if _, err := d.scrape(ctx, "/debug/pprof/heap?gc=1"); err != nil {
		return err
	}
	end, err := procMemory(d.cmd.Process.Pid)
	if err != nil {
		return err
	}
	if metrics, err = d.scrape(ctx, "/metrics"); err != nil {
		return err
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
	report(stdout, "mem_cooldown_keys", keys, "keys (the daemon's roomwarden_cooldown_keys)")
	report(stdout, "mem_rss_start", start.rssMB, "MB (the daemon, rules loaded, no keys)")
	report(stdout, "mem_rss", end.rssMB, "MB (the daemon with rules and keys, after a GC)")
	report(stdout, "mem_rss_peak", end.peakMB, "MB (the daemon's VmHWM: the most it held while filling)")
	report(stdout, "mem_heap_inuse", metricValue(metrics, "go_memstats_heap_inuse_bytes")/(1<<20), "MB (the daemon's Go heap in use)")
	return nil
}

// publishMatching publishes n events, event i matching rule i mod nRules
// in room room-<i>, and waits for the stream to store them all.
func publishMatching(ctx context.Context, js jetstream.JetStream, n, nRules int) error {
	g := benchtest.NewGenerator(nRules, 0, 1)
	const window = 4000
	for seq := range uint64(n) {
		e := g.Matching(seq, int(seq%uint64(nRules)), time.Now())
		if _, err := js.PublishAsync(e.Subject, e.Data); err != nil {
			return fmt.Errorf("publish event %d: %w", seq, err)
		}
		if seq%window == window-1 {
			if err := waitPublished(ctx, js); err != nil {
				return err
			}
		}
	}
	return waitPublished(ctx, js)
}

// scrape GETs a path on the daemon's operations endpoint.
func (d *daemon) scrape(ctx context.Context, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+d.httpAddr+path, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("get %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("get %s: %s", path, resp.Status)
	}
	return string(body), err
}

// metricValue is the value of the first sample of series in a /metrics
// body, or -1.
func metricValue(body, series string) float64 {
	for line := range strings.Lines(body) {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			if v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64); err == nil {
				return v
			}
		}
	}
	return -1
}

// procMem is a process's resident set size now and at its peak, in MiB.
type procMem struct{ rssMB, peakMB float64 }

// procMemory reads VmRSS and VmHWM from /proc/<pid>/status.
func procMemory(pid int) (procMem, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procMem{}, fmt.Errorf("rss (Linux only): %w", err)
	}
	defer f.Close()
	var m procMem
	found := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, _ := strings.Cut(sc.Text(), ":")
		var dst *float64
		switch name {
		case "VmRSS":
			dst = &m.rssMB
		case "VmHWM":
			dst = &m.peakMB
		default:
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
		if err != nil {
			return m, fmt.Errorf("rss: %s: %w", name, err)
		}
		*dst = kb / 1024
		found++
	}
	if found != 2 {
		return m, fmt.Errorf("rss: no VmRSS and VmHWM in /proc/%d/status", pid)
	}
	return m, sc.Err()
}
