package executor

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestBucketParams(t *testing.T) {
	tests := []struct {
		max      int
		minShare float64 // of max, sustained under backlog
	}{
		{max: 200, minShare: 0.97},
		{max: 20, minShare: 0.9},
		{max: 1, minShare: 0},
		{max: 10000, minShare: 0.97},
		{max: maxRatePerSecond, minShare: 0.97},
	}
	for _, tc := range tests {
		t.Run(time.Duration(tc.max).String(), func(t *testing.T) {
			r, b := bucketParams(tc.max, limiterWindow)
			if b < 1 {
				t.Fatalf("burst %d, want at least 1", b)
			}
			// Any interval of length T admits at most b + r·T calls.
			if most := float64(b) + float64(r)*limiterWindow.Seconds(); most > float64(tc.max)+1e-6 {
				t.Errorf("b + r·T = %v, want <= %d", most, tc.max)
			}
			if share := float64(r) / float64(tc.max); share < tc.minShare {
				t.Errorf("sustained rate %v is %.3f of %d, want >= %.2f", r, share, tc.max, tc.minShare)
			}
		})
	}
}

func TestLimiterThrottleAndRecover(t *testing.T) {
	l := newCallLimiter(200, limiterWindow, aWindowAgo())
	c := l.ceiling
	t0 := time.Unix(1700000000, 0)
	type step struct {
		name       string
		throttleAt time.Duration // from t0; <0: no throttle in this step
		wantLower  bool
		rateAt     time.Duration
		want       rate.Limit
	}
	steps := []step{
		{name: "unthrottled", throttleAt: -1, rateAt: 0, want: c},
		{name: "halved", throttleAt: 0, wantLower: true, rateAt: 0, want: c / 2},
		{name: "second throttle within a second ignored", throttleAt: 500 * time.Millisecond, rateAt: 500 * time.Millisecond, want: c/2 + c/20},
		{name: "recovering a tenth per second", throttleAt: -1, rateAt: 2500 * time.Millisecond, want: c/2 + c/4},
		{name: "recovered after five seconds", throttleAt: -1, rateAt: 5 * time.Second, want: c},
		{name: "stays at the ceiling", throttleAt: -1, rateAt: time.Hour, want: c},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.throttleAt >= 0 {
				if _, lowered := l.throttleAt(t0.Add(s.throttleAt)); lowered != s.wantLower {
					t.Errorf("throttleAt lowered = %v, want %v", lowered, s.wantLower)
				}
			}
			if got := l.rateAt(t0.Add(s.rateAt)); !near(got, s.want) {
				t.Errorf("rate = %v, want %v", got, s.want)
			}
		})
	}
}

func TestLimiterFloor(t *testing.T) {
	l := newCallLimiter(200, limiterWindow, aWindowAgo())
	t0 := time.Unix(1700000000, 0)
	for i := range 30 {
		// Throttled every second, the rate converges on the floor: each
		// step halves what a second of recovery added.
		got, lowered := l.throttleAt(t0.Add(time.Duration(i) * time.Second))
		if !lowered || got < l.floor {
			t.Fatalf("throttle %d: rate %v lowered %v, want lowered and >= the floor %v", i, got, lowered, l.floor)
		}
	}
	if got := l.bucket.Limit(); got-l.floor > 1e-3 {
		t.Errorf("bucket limit after repeated throttling = %v, want the floor %v", got, l.floor)
	}
}

func near(a, b rate.Limit) bool {
	d := float64(a - b)
	return d < 1e-9 && d > -1e-9
}

func TestWindowGuard(t *testing.T) {
	tests := []struct {
		name   string
		n      int
		window time.Duration
		calls  int
		want   []bool // admitted, per call
	}{
		{name: "full window holds calls back", n: 3, window: time.Hour, calls: 5, want: []bool{true, true, true, false, false}},
		{name: "empty window admits all", n: 2, window: 0, calls: 4, want: []bool{true, true, true, true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newWindowGuard(tc.n, tc.window)
			for i := range tc.calls {
				wait := g.tryAdmit()
				if got := wait <= 0; got != tc.want[i] {
					t.Errorf("call %d admitted = %v (wait %v), want %v", i, got, wait, tc.want[i])
				}
				if wait > tc.window {
					t.Errorf("call %d wait %v, want at most the window %v", i, wait, tc.window)
				}
			}
		})
	}
}

func TestLimiterWaitCancelled(t *testing.T) {
	l := newCallLimiter(1, limiterWindow, aWindowAgo())
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := l.wait(ctx); err != nil { // the burst
		t.Fatalf("first wait: %v", err)
	}
	cancel()
	if _, err := l.wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("wait with a cancelled context = %v, want context.Canceled", err)
	}
}

// TestRestartSafeHold: a restart-safe limiter lets no call start until
// a whole window has passed; a cold one lets the first start at once.
// TestRestartHold: the first call waits until one window after the
// start, as if the previous process had just used all of it.
func TestRestartHold(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), limiterWindow/2)
	defer cancel()
	if _, err := newCallLimiter(200, limiterWindow, aWindowAgo()).wait(ctx); err != nil {
		t.Fatalf("started a window ago: first call: %v, want no wait", err)
	}
	if _, err := newCallLimiter(200, limiterWindow, time.Now()).wait(ctx); err == nil {
		t.Fatal("a call started within half a window of the start")
	}
}

// aWindowAgo is a start time whose restart hold has passed.
func aWindowAgo() time.Time { return time.Now().Add(-limiterWindow) }
