package executor

import (
	"testing"
	"time"
)

func TestRetryBackoffCeiling(t *testing.T) {
	b := newRetryBackoff(200*time.Millisecond, 10*time.Second)
	tests := []struct {
		retry int
		want  time.Duration
	}{
		{1, 200 * time.Millisecond},
		{2, 400 * time.Millisecond},
		{3, 800 * time.Millisecond},
		{6, 6400 * time.Millisecond},
		{7, 10 * time.Second},
		{1000, 10 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.want.String(), func(t *testing.T) {
			if got := b.ceiling(tc.retry); got != tc.want {
				t.Errorf("ceiling(%d) = %v, want %v", tc.retry, got, tc.want)
			}
		})
	}
}

func TestRetryBackoffFullJitter(t *testing.T) {
	tests := []struct {
		name    string
		b       retryBackoff
		retry   int
		wantMax time.Duration // exclusive; 0: always 0
	}{
		{name: "first retry", b: newRetryBackoff(200*time.Millisecond, 10*time.Second), retry: 1, wantMax: 200 * time.Millisecond},
		{name: "capped", b: newRetryBackoff(200*time.Millisecond, time.Second), retry: 9, wantMax: time.Second},
		{name: "zero initial", b: newRetryBackoff(0, 0), retry: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var top time.Duration
			for range 2000 {
				d := tc.b.delay(tc.retry)
				if d < 0 || (d >= tc.wantMax && d != 0) {
					t.Fatalf("delay = %v, want in [0, %v)", d, tc.wantMax)
				}
				top = max(top, d)
			}
			// Full jitter spreads over the whole range, not just near 0.
			if tc.wantMax > 0 && top < tc.wantMax/2 {
				t.Errorf("largest of 2000 delays = %v, want some above %v", top, tc.wantMax/2)
			}
		})
	}
}

func TestRetryBackoffPinnedJitter(t *testing.T) {
	b := newRetryBackoff(time.Second, time.Minute)
	var gotN int64
	b.jitter = func(n int64) int64 { gotN = n; return n / 2 }
	if got := b.delay(3); got != 2*time.Second || gotN != int64(4*time.Second) {
		t.Errorf("delay = %v from jitter(%v), want 2s from jitter(4s)", got, time.Duration(gotN))
	}
}
