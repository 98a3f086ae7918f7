package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

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
