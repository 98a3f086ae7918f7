package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/examples/roomengine-sim/sim"
	"github.com/roomwarden/roomwarden/internal/benchtest"
	"github.com/roomwarden/roomwarden/internal/daemontest"
	"github.com/roomwarden/roomwarden/internal/natstest"
	"github.com/roomwarden/roomwarden/sinks/roomengine"
)

// TestMain runs this package's daemons and rate measurements alone on
// the machine (see daemontest.LockMachine).
func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	release, err := daemontest.LockMachine()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer release()
	if binDir, err = os.MkdirTemp("", "loadgen-test-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(binDir)
	return m.Run()
}

// binDir holds the roomwarden binary that daemonBin builds.
var binDir string

// daemonBin builds the roomwarden binary once for the tests that run it.
var daemonBin = sync.OnceValues(func() (string, error) { return daemontest.BuildDaemon(binDir) })

func TestPercentile(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		out := make([]time.Duration, len(n))
		for i, v := range n {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		name string
		in   []time.Duration
		q    float64
		want time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one", ms(7), 0.99, 7 * time.Millisecond},
		{"median of odd", ms(3, 1, 2), 0.5, 2 * time.Millisecond},
		{"p99 of 100", ms(seq(100)...), 0.99, 99 * time.Millisecond},
		{"p99.9 of 100 is the max", ms(seq(100)...), 0.999, 100 * time.Millisecond},
		{"max", ms(5, 9, 1), 1, 9 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.in, tc.q); got != tc.want {
				t.Errorf("percentile(q=%g) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

// seq returns 100, 99, ..., 1 for n = 100: unsorted on purpose.
func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = n - i
	}
	return out
}

func TestPreloadStoresEveryEvent(t *testing.T) {
	s := natstest.RunServer(t)
	nc, js, err := connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := resetStream(ctx, js); err != nil {
		t.Fatal(err)
	}
	const n = 3000
	matching, err := preload(ctx, js, n, benchtest.NewGenerator(100, 100, 1))
	if err != nil {
		t.Fatal(err)
	}
	if matching != n/100 {
		t.Errorf("preload reports %d matching events, want %d", matching, n/100)
	}
	st, err := js.Stream(ctx, streamName)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.CachedInfo().State.Msgs; got != n {
		t.Errorf("stream holds %d messages, want %d", got, n)
	}
}

// TestMemMeasuresTheDaemon runs `mem` against the daemon binary: it
// fills every cooldown key through real events (memRun checks the
// daemon's roomwarden_cooldown_keys and its action log) and reports the
// daemon's own memory, which holds more than its rules alone.
func TestMemMeasuresTheDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	s := natstest.RunServer(t)
	var out bytes.Buffer
	err := runMem([]string{"-nats", s.ClientURL(), "-daemon", buildDaemon(t), "-work", t.TempDir(),
		"-rules", "40", "-keys", "5000"}, &out, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	o := out.String()
	if got := reported(t, o, "mem_cooldown_keys"); got != 5000 {
		t.Errorf("mem_cooldown_keys = %v, want 5000", got)
	}
	start, rss, peak := reported(t, o, "mem_rss_start"), reported(t, o, "mem_rss"), reported(t, o, "mem_rss_peak")
	if start <= 0 || peak < rss || peak < start || reported(t, o, "mem_heap_inuse_start") <= 0 || reported(t, o, "mem_heap_inuse") <= 0 {
		t.Errorf("not a process's memory: start %v MB, with keys %v MB, peak %v MB:\n%s", start, rss, peak, o)
	}
}

// TestExecutorAgainstSimulator runs a backlog through the real executor
// and Room Engine client to the (strict) simulator at the API's limit,
// 200 calls a second: every action succeeds with one call, and no
// rolling window holds more than 200 calls. The window counted is
// checkedWindow, not a full second: the simulator stamps each call when
// its handler runs in this -race process, which on a loaded machine can
// trail the arrival and bunch calls together (see checkedWindow).
func TestExecutorAgainstSimulator(t *testing.T) {
	const rate, actions = 200, 400 // two seconds at the limit
	logger := slog.New(slog.DiscardHandler)
	key := []byte("loadgen-test-secret-key")
	s, url, stop, err := serveSim(key, -1, actions, false, logger) // count every call; refuse none
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	client, err := roomengine.New(roomengine.Config{Endpoint: url, SDKAppID: simAppID, Identifier: sim.DefaultAdmin, SecretKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	_, failed, err := runBacklog(client, rate, actions, logger)
	if err != nil {
		t.Fatal(err)
	}
	calls := s.Calls()
	if failed != 0 || len(calls) != actions {
		t.Errorf("%d of %d actions failed, %d calls; want 0 failed and one call each", failed, actions, len(calls))
	}
	for _, c := range calls {
		if c.Code != 0 {
			t.Errorf("call for %s: code %d, want 0", c.RoomID, c.Code)
		}
	}
	if got := s.MaxReceivedInWindow(checkedWindow); got > rate {
		t.Errorf("%d calls within %s at the simulator, want at most %d", got, checkedWindow, rate)
	}
	t.Logf("most calls in a rolling second: %d; within %s: %d", s.MaxReceivedInWindow(time.Second),
		checkedWindow, s.MaxReceivedInWindow(checkedWindow))
}

// checkedWindow is the rolling window TestExecutorAgainstSimulator
// counts calls in: the executor's limiter keeps every 1.02 s window of
// call starts at or under the limit, and counting windows 100 ms
// shorter tolerates up to 100 ms of delay between a call's start and
// the simulator's stamp, while a burst or a limiter running fast
// (beyond ~217 calls a second at 200) still overshoots it.
const checkedWindow = time.Second + 20*time.Millisecond - 100*time.Millisecond

// reported returns the value of a loadgen figure in out, failing the
// test if it is missing.
func reported(t *testing.T, out, name string) float64 {
	t.Helper()
	for line := range strings.Lines(out) {
		rest, ok := strings.CutPrefix(line, name+": ")
		if !ok {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(rest, &v); err != nil {
			t.Fatalf("figure %s: %v", name, err)
		}
		return v
	}
	t.Fatalf("output lacks %s:\n%s", name, out)
	return 0
}

func TestLatencyPlainConsumerSeesEveryMatchingEvent(t *testing.T) {
	s := natstest.RunServer(t)
	var out bytes.Buffer
	err := runLatency([]string{"-nats", s.ClientURL(), "-plain", "-rate", "2000", "-for", "1s", "-settle", "10s"},
		&out, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	matching := reported(t, out.String(), "latency_matching")
	if matching == 0 || reported(t, out.String(), "latency_decisions") != matching {
		t.Errorf("decisions differ from the %v matching events:\n%s", matching, out.String())
	}
	if p50, p99 := reported(t, out.String(), "latency_p50"), reported(t, out.String(), "latency_p99"); p50 <= 0 || p99 < p50 {
		t.Errorf("p50 %v ms, p99 %v ms: not a latency distribution", p50, p99)
	}
}

// TestLatencyWithDaemon runs `latency` against the real daemon binary:
// every matching event gets a decision, and the daemon's decision-lag
// histogram counts every published event.
func TestLatencyWithDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	s := natstest.RunServer(t)
	var out bytes.Buffer
	err := runLatency([]string{"-nats", s.ClientURL(), "-daemon", buildDaemon(t), "-work", t.TempDir(), "-rules", "20",
		"-rate", "2000", "-for", "1s", "-settle", "20s"}, &out, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	o := out.String()
	matching := reported(t, o, "latency_matching")
	if matching == 0 || reported(t, o, "latency_decisions") != matching {
		t.Errorf("decisions differ from the %v matching events:\n%s", matching, o)
	}
	if got, want := reported(t, o, "decision_lag_events"), reported(t, o, "latency_published"); got != want {
		t.Errorf("decision lag histogram counts %v events, want the %v published", got, want)
	}
	if d, oc := reported(t, o, "latency_p50"), reported(t, o, "outcome_latency_p50"); oc < d {
		t.Errorf("outcome p50 %v ms before decision p50 %v ms", oc, d)
	}
	// The shares within 1, 2, 5 and 10 ms are read from the daemon's own
	// buckets: all four must be there, and each holds the one before.
	prev := 0.0
	for _, name := range []string{"1ms", "2ms", "5ms", "10ms"} {
		share := reported(t, o, "decision_lag_within_"+name)
		if share < prev || share > 100 {
			t.Errorf("decision_lag_within_%s = %v%%, after %v%% for the bucket below", name, share, prev)
		}
		prev = share
	}
}

// buildDaemon returns the roomwarden binary, built once per run.
func buildDaemon(t *testing.T) string {
	t.Helper()
	bin, err := daemonBin()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestParseDecisionLag(t *testing.T) {
	const text = `# HELP roomwarden_event_decision_lag_seconds Time from ...
# TYPE roomwarden_event_decision_lag_seconds histogram
roomwarden_event_decision_lag_seconds_bucket{le="0.001"} 50
roomwarden_event_decision_lag_seconds_bucket{le="0.005"} 90
roomwarden_event_decision_lag_seconds_bucket{le="+Inf"} 100
roomwarden_event_decision_lag_seconds_sum 0.4
roomwarden_event_decision_lag_seconds_count 100
roomwarden_events_received_total 100
`
	l, err := parseDecisionLag(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if l.count != 100 {
		t.Errorf("count = %v, want 100", l.count)
	}
	if share, ok := l.within(0.005); !ok || share != 0.9 {
		t.Errorf("within 5 ms = %v, %v; want 0.9, true", share, ok)
	}
	if _, ok := l.within(0.002); ok {
		t.Error("within 2 ms reported without such a bucket")
	}
	if _, err := parseDecisionLag(strings.NewReader("roomwarden_events_received_total 1\n")); err == nil {
		t.Error("no error for metrics without the histogram")
	}
	var out bytes.Buffer
	reportDecisionLag(&out, l)
	want := "decision_lag_events: 100 events\ndecision_lag_within_1ms: 50 %\ndecision_lag_within_5ms: 90 %\n"
	if out.String() != want {
		t.Errorf("report:\n%s\nwant (no line for the buckets the histogram lacks):\n%s", out.String(), want)
	}
}

// TestE2EWithWindows runs `e2e -windows` against the real daemon: every
// report is fed to its window once (the daemon's feed count), and the
// action log holds one line per event a rule acts on, the window rules'
// included (which only a daemon that counted every report reaches).
func TestE2EWithWindows(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	s := natstest.RunServer(t)
	var out bytes.Buffer
	err := runE2E([]string{"-nats", s.ClientURL(), "-daemon", buildDaemon(t), "-work", t.TempDir(),
		"-n", "4000", "-windows", "10", "-window-share", "0.1", "-window-keys", "20", "-timeout", "2m"},
		&out, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	o := out.String()
	if got := reported(t, o, "e2e_window_reports"); got != 400 {
		t.Errorf("e2e_window_reports = %v, want 400 (one event in 10)", got)
	}
	if got := reported(t, o, "e2e_window_actions"); got == 0 {
		t.Errorf("no window rule acted: 400 reports over 20 keys should bring some to the threshold:\n%s", o)
	}
	if got, want := reported(t, o, "e2e_action_log_lines"), 40+reported(t, o, "e2e_window_actions"); got != want {
		t.Errorf("action log lines = %v, want %v", got, want)
	}
	if reported(t, o, "e2e_state_keys") == 0 {
		t.Errorf("the state bucket is empty after a run with windows:\n%s", o)
	}
}

// TestWindowMem runs `windowmem`: the state bucket holds one window key
// per report, and the figures per key are reported.
func TestWindowMem(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	s := natstest.RunServer(t)
	var out bytes.Buffer
	err := runWindowMem([]string{"-nats", s.ClientURL(), "-daemon", buildDaemon(t), "-work", t.TempDir(), "-keys", "2000"},
		&out, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	o := out.String()
	if got := reported(t, o, "windowmem_keys"); got != 2000 {
		t.Errorf("windowmem_keys = %v, want 2000", got)
	}
	// A key holds at least its value: the window's name, the user and one
	// 24-byte entry.
	if got := reported(t, o, "windowmem_bucket_per_key"); got < float64(24+len("reports_spam")+len("ru-1999")) {
		t.Errorf("windowmem_bucket_per_key = %v B: less than a value", got)
	}
}

func TestWindowFlagsAreChecked(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"more windows than rules", []string{"-rules", "5", "-windows", "10"}},
		{"no share", []string{"-windows", "10", "-window-share", "0"}},
		{"every event a report", []string{"-windows", "10", "-window-share", "1"}},
		{"no keys", []string{"-windows", "10", "-window-keys", "0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The flags are checked before anything connects to -nats.
			args := append([]string{"-nats", "nats://127.0.0.1:1", "-daemon", "/nonexistent"}, tc.args...)
			for _, cmd := range []func([]string, io.Writer, *slog.Logger) error{runE2E, runLatency} {
				err := cmd(args, io.Discard, slog.New(slog.DiscardHandler))
				if err == nil || !strings.Contains(err.Error(), "-window") {
					t.Errorf("error %v, want one about the -window flags", err)
				}
			}
		})
	}
	err := runLatency([]string{"-plain", "-windows", "10"}, io.Discard, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "-plain") {
		t.Errorf("latency -plain -windows: error %v, want one saying they do not go together", err)
	}
}

func TestStateFlagsAreChecked(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		args       []string
	}{
		{"unknown workload", "-state", []string{"-state", "locks"}},
		{"with windows", "-windows", []string{"-state", "window", "-windows", "10"}},
		{"no rooms", "-window-keys", []string{"-state", "window", "-window-keys", "0"}},
		{"no rules", "-rules", []string{"-state", "cooldown", "-rules", "0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The flags are checked before anything connects to -nats.
			args := append([]string{"-nats", "nats://127.0.0.1:1", "-daemon", "/nonexistent"}, tc.args...)
			for _, cmd := range []func([]string, io.Writer, *slog.Logger) error{runE2E, runLatency} {
				err := cmd(args, io.Discard, slog.New(slog.DiscardHandler))
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %v, want one about %s", err, tc.want)
				}
			}
		})
	}
	err := runLatency([]string{"-plain", "-state", "cooldown"}, io.Discard, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "-plain") {
		t.Errorf("latency -plain -state: error %v, want one saying they do not go together", err)
	}
}

// TestE2EWithState runs `e2e -state` against the real daemon: with
// window, every event feeds the window once (e2e checks the daemon's
// feed count) and no rule reads the store for it, and the probes act;
// with cooldown, every event acts and starts a cooldown of its own.
func TestE2EWithState(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	s := natstest.RunServer(t)
	e2eWith := func(t *testing.T, args ...string) string {
		t.Helper()
		var out bytes.Buffer
		args = append([]string{"-nats", s.ClientURL(), "-daemon", buildDaemon(t), "-work", t.TempDir(),
			"-rules", "20", "-timeout", "2m"}, args...)
		if err := runE2E(args, &out, slog.New(slog.DiscardHandler)); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		return out.String()
	}
	t.Run("window", func(t *testing.T) {
		o := e2eWith(t, "-n", "2000", "-state", "window", "-window-keys", "50")
		for name, want := range map[string]float64{"e2e_window_reports": 2000, "e2e_state_feed": 2000, "e2e_action_log_lines": 20} {
			if got := reported(t, o, name); got != want {
				t.Errorf("%s = %v, want %v:\n%s", name, got, want, o)
			}
		}
		// The keys are the 50 rooms' windows and the probes' cooldowns
		// (fewer than 20 when two probes meet in a room); each feed and
		// each cooldown started is one write.
		if keys, writes := reported(t, o, "e2e_state_keys"), reported(t, o, "e2e_state_writes"); keys <= 50 || keys > 70 || writes != 2000+keys-50 {
			t.Errorf("%v keys and %v writes, want 50 windows and up to 20 cooldowns, one write per feed and per cooldown:\n%s", keys, writes, o)
		}
		if strings.Contains(o, "e2e_state_count:") {
			t.Errorf("the probe rule read its window from the store:\n%s", o)
		}
	})
	t.Run("cooldown", func(t *testing.T) {
		o := e2eWith(t, "-n", "1000", "-state", "cooldown")
		for _, name := range []string{"e2e_action_log_lines", "e2e_state_acquire", "e2e_state_keys"} {
			if got := reported(t, o, name); got != 1000 {
				t.Errorf("%s = %v, want 1000 (one per event):\n%s", name, got, o)
			}
		}
		if got := reported(t, o, "e2e_state_writes"); got < 1000 {
			t.Errorf("e2e_state_writes = %v, want at least a cooldown per event", got)
		}
		if got := reported(t, o, "e2e_daemon_cpu_per_event"); got <= 0 {
			t.Errorf("e2e_daemon_cpu_per_event = %v µs", got)
		}
	})
}

// TestRulesWritesTheWindowsWorkload: `rules -windows` writes the rules
// that e2e and latency -windows load.
func TestRulesWritesTheWindowsWorkload(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := runRules([]string{"-n", "100", "-windows", "10", "-out", dir}, &out, nil); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatal(err)
	}
	want := benchtest.WindowWorkload{Rules: 100, Windows: 10, WindowEvery: 10, MatchEvery: 100, Keys: 1}.RulesYAML()
	if !bytes.Equal(data, want) {
		t.Errorf("rules -windows 10 wrote another file than the windows workload's")
	}
}
