package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/internal/daemontest"
	"github.com/roomwarden/roomwarden/internal/natstest"
)

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
	if err := preload(ctx, js, n, 100, 100); err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, streamName)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.CachedInfo().State.Msgs; got != n {
		t.Errorf("stream holds %d messages, want %d", got, n)
	}
}

func TestMemReportsFigures(t *testing.T) {
	var out bytes.Buffer
	if err := runMem([]string{"-rules", "40", "-keys", "5000"}, &out, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"mem_rules: 40 rules", "mem_cooldown_keys: 5000 keys", "mem_rss: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestExecutorAgainstSimulator(t *testing.T) {
	var out bytes.Buffer
	// 200 actions at 150/s: a short run that still spans a rolling second.
	err := runExecutor([]string{"-rate", "150", "-actions", "200"}, &out, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"executor_failed: 0 actions", "executor_calls: 200 calls", "executor_throttled: 0 calls"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

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
	bin, err := daemontest.BuildDaemon(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := natstest.RunServer(t)
	var out bytes.Buffer
	err = runLatency([]string{"-nats", s.ClientURL(), "-daemon", bin, "-work", t.TempDir(), "-rules", "20",
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
	if within := reported(t, o, "decision_lag_within_10ms"); within < 0 || within > 100 {
		t.Errorf("decision_lag_within_10ms = %v%%", within)
	}
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
}
