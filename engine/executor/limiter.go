package executor

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/roomwarden/roomwarden/internal/wait"
)

// Pacing. The Room Engine counts calls per rolling second at its side, by
// arrival time, and allows maxPerSecond (200). Two layers keep every such
// window at or under the limit, retries included:
//
//   - A token bucket (x/time/rate) with burst b and rate r grants at most
//     b + r·T calls in any interval of length T. We take T = 1 s plus a
//     jitter margin and choose b + r·T = maxPerSecond, so calls whose
//     network delay varies by up to the margin still arrive at most
//     maxPerSecond to a server second. b = max(1, maxPerSecond/200) and
//     r = (maxPerSecond - b) / T: for 200/s that is b = 1, r ≈ 195.1/s,
//     97.5 % of the budget under a backlog.
//   - A sliding-window guard remembers when the last maxPerSecond calls
//     started and holds a call back while the window T before it is full.
//     The bucket bounds grants; the guard makes the bound hold for actual
//     call starts too, when goroutines wake late and calls bunch up.
//
// Throttled answers (60007, 60011, 60018, 60019) lower the bucket rate,
// AIMD style: halve it, at most once per second, never below a tenth of
// the ceiling; then add a tenth of the ceiling back every second.
const (
	limiterJitterMargin = 20 * time.Millisecond
	limiterWindow       = time.Second + limiterJitterMargin
	// maxRatePerSecond bounds the guard's memory (8 bytes per call).
	maxRatePerSecond = 1_000_000
	// throttleEvery is the shortest time between two rate decreases.
	throttleEvery = time.Second
)

// callLimiter paces Room Engine calls; see the pacing comment above.
type callLimiter struct {
	bucket  *rate.Limiter
	guard   *windowGuard
	ceiling rate.Limit
	floor   rate.Limit

	mu           sync.Mutex
	current      rate.Limit // bucket rate as of lastAdjust
	lastAdjust   time.Time
	lastDecrease time.Time
	holdUntil    time.Time // no call before (restart safety)
}

// bucketParams returns the token bucket's rate and burst for a limit of
// maxPerSecond calls in any rolling second.
func bucketParams(maxPerSecond int) (rate.Limit, int) {
	b := max(1, maxPerSecond/200)
	r := float64(maxPerSecond-b) / limiterWindow.Seconds()
	return rate.Limit(r), b
}

// newCallLimiter paces maxPerSecond calls. It holds every call until one
// window after start has passed, as if the previous process had just
// used all of it (restart safety). The hold comes before the token
// bucket, so the calls that waited on it are still paced, not released
// in one burst.
func newCallLimiter(maxPerSecond int, start time.Time) *callLimiter {
	r, b := bucketParams(maxPerSecond)
	l := &callLimiter{
		bucket:    rate.NewLimiter(r, b),
		guard:     newWindowGuard(maxPerSecond, limiterWindow),
		ceiling:   r,
		floor:     r / 10,
		current:   r,
		holdUntil: start.Add(limiterWindow),
	}
	return l
}

// wait blocks until a call may start, and returns how long it waited.
func (l *callLimiter) wait(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	if hold := l.holdUntil.Sub(start); hold > 0 {
		if err := wait.For(ctx, hold); err != nil {
			return time.Since(start), err
		}
	}
	l.increaseAt(start)
	if err := l.bucket.Wait(ctx); err != nil {
		return time.Since(start), err
	}
	err := l.guard.admit(ctx)
	return time.Since(start), err
}

// rateAt returns the bucket rate in calls per second at t.
func (l *callLimiter) rateAt(t time.Time) rate.Limit {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rateLocked(t)
}

func (l *callLimiter) rateLocked(t time.Time) rate.Limit {
	if l.current >= l.ceiling {
		return l.ceiling
	}
	elapsed := t.Sub(l.lastAdjust).Seconds()
	if elapsed <= 0 {
		return l.current
	}
	return min(l.ceiling, l.current+l.ceiling/10*rate.Limit(elapsed))
}

// increaseAt applies the additive increase accrued up to t.
func (l *callLimiter) increaseAt(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.current >= l.ceiling {
		return
	}
	r := l.rateLocked(t)
	l.current, l.lastAdjust = r, t
	l.bucket.SetLimitAt(t, r)
}

// throttleAt halves the rate at t, unless it was lowered less than
// throttleEvery before. It returns the rate and whether it was lowered.
func (l *callLimiter) throttleAt(t time.Time) (rate.Limit, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.lastDecrease.IsZero() && t.Sub(l.lastDecrease) < throttleEvery {
		return l.rateLocked(t), false
	}
	r := max(l.floor, l.rateLocked(t)/2)
	l.current, l.lastAdjust, l.lastDecrease = r, t, t
	l.bucket.SetLimitAt(t, r)
	return r, true
}

// windowGuard admits at most len(starts) call starts in any window of
// the given length.
type windowGuard struct {
	window time.Duration
	base   time.Time // starts are monotonic offsets from base

	mu     sync.Mutex
	starts []time.Duration // ring of the latest starts
	next   int             // oldest entry once the ring is full
	filled int
}

func newWindowGuard(n int, window time.Duration) *windowGuard {
	return &windowGuard{window: window, base: time.Now(), starts: make([]time.Duration, n)}
}

// admit blocks until a call may start without a full window, and
// records the start.
func (g *windowGuard) admit(ctx context.Context) error {
	for {
		d := g.tryAdmit()
		if d <= 0 {
			return nil
		}
		if err := wait.For(ctx, d); err != nil {
			return err
		}
	}
}

// tryAdmit records a start now and returns 0, or returns how long to
// wait before trying again.
func (g *windowGuard) tryAdmit() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Since(g.base)
	if g.filled == len(g.starts) {
		if wait := g.starts[g.next] + g.window - now; wait > 0 {
			return wait
		}
	} else {
		g.filled++
	}
	g.starts[g.next] = now
	g.next = (g.next + 1) % len(g.starts)
	return 0
}
