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
	d, err := startDaemon(daemonSpec{bin: f.daemon, work: f.work, natsURL: f.natsURL,
		rules: benchtest.RulesYAMLCooldown(f.rules, time.Hour)})
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
	if err := publishMatching(ctx, js, f.keys, f.rules); err != nil {
		return err
	}
	if _, err := waitDrained(ctx, js, uint64(f.keys)); err != nil {
		return err
	}
	logger.Info("filled", "keys", f.keys, "took", time.Since(began).Round(time.Millisecond))
	return memReport(ctx, js, d, f, start, stdout)
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

// stateBucketName is the daemon's state.bucket default, which the
// generated config keeps: its cooldowns live there, one key each.
const stateBucketName = "roomwarden_state"

// deleteStateBucket removes the state a previous run left.
func deleteStateBucket(ctx context.Context, js jetstream.JetStream) error {
	if err := js.DeleteKeyValue(ctx, stateBucketName); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
		return fmt.Errorf("delete state bucket: %w", err)
	}
	return nil
}

// stateBucket returns how many values the state bucket holds (its
// history is 1: one per key) and their bytes. A dry run records no
// locks, so its only keys are the cooldowns.
func stateBucket(ctx context.Context, js jetstream.JetStream) (uint64, uint64, error) {
	kv, err := js.KeyValue(ctx, stateBucketName)
	if err != nil {
		return 0, 0, fmt.Errorf("state bucket: %w", err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("state bucket: %w", err)
	}
	return st.Values(), st.Bytes(), nil
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

// procMem is a process's resident set size now and at its peak, and
// its Go heap in use, in MiB.
type procMem struct{ rssMB, peakMB, heapMB float64 }

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
