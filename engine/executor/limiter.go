package executor

import (
	"context"
	"math"
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
//     jitter margin (Config.JitterMargin, 20 ms by default) and choose
//     b + r·T = maxPerSecond, so calls whose
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
//
// Shares. Replicas split one budget (see engine/replicas): each limiter
// is given a share of RatePerSecond with setShareAt, any time. The bucket
// is rebuilt for the share (the throttled fraction of the ceiling is
// kept), and the guard admits a call only while fewer than share starts
// lie in the window before it, counting the starts made under the old
// share: a lowered share holds calls back until the last window has
// drained to it, a raised one admits more at once. Waiters are woken by a
// change, so neither direction waits on a reservation made under the old
// share. A share of 0 admits nothing until it is raised. A share whose
// bucket rate rounds to 0 (a share of 1) is paced by the guard alone.
const (
	defaultJitterMargin = 20 * time.Millisecond
	maxJitterMargin     = time.Second
	limiterWindow       = time.Second + defaultJitterMargin
	// maxRatePerSecond bounds the guard's memory (8 bytes per call).
	maxRatePerSecond = 1_000_000
	// throttleEvery is the shortest time between two rate decreases.
	throttleEvery = time.Second
)

// RateWindow is the rolling window the limiter counts calls in with the
// default jitter margin: a second plus 20 ms. No window of
// Executor.RateWindow holds more call starts than the executor's share
// (RatePerSecond unless SetShare lowered it).
const RateWindow = limiterWindow

// callLimiter paces Room Engine calls; see the pacing comment above.
type callLimiter struct {
	bucket *rate.Limiter
	guard  *windowGuard
	most   int           // the largest share: RatePerSecond
	window time.Duration // a second plus the jitter margin

	mu           sync.Mutex
	ceiling      rate.Limit // bucket rate of the share, unthrottled
	floor        rate.Limit
	current      rate.Limit // bucket rate as of lastAdjust
	lastAdjust   time.Time
	lastDecrease time.Time
	holdUntil    time.Time // no call before (restart safety)
}

// bucketParams returns the token bucket's rate and burst for a limit of
// maxPerSecond calls in any rolling second, counted in windows of window
// (a second plus the jitter margin).
func bucketParams(maxPerSecond int, window time.Duration) (rate.Limit, int) {
	b := max(1, maxPerSecond/200)
	r := float64(maxPerSecond-b) / window.Seconds()
	return rate.Limit(r), b
}

// newCallLimiter paces maxPerSecond calls. It holds every call until one
// window after start has passed, as if the previous process had just
// used all of it (restart safety). The hold comes before the token
// bucket, so the calls that waited on it are still paced, not released
// in one burst.
func newCallLimiter(maxPerSecond int, window time.Duration, start time.Time) *callLimiter {
	r, b := bucketParams(maxPerSecond, window)
	l := &callLimiter{
		bucket:    rate.NewLimiter(r, b),
		guard:     newWindowGuard(maxPerSecond, window),
		most:      maxPerSecond,
		window:    window,
		ceiling:   r,
		floor:     r / 10,
		current:   r,
		holdUntil: start.Add(window),
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
	if err := l.reserve(ctx); err != nil {
		return time.Since(start), err
	}
	err := l.guard.admit(ctx)
	return time.Since(start), err
}

// reserve waits for a token of the bucket, starting over when the share
// changes meanwhile, and while the share is 0.
func (l *callLimiter) reserve(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		changed, share := l.guard.state()
		if share == 0 {
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		now := time.Now()
		if l.increaseAt(now) == 0 {
			return nil // the guard alone paces a bucket rate of 0
		}
		r := l.bucket.ReserveN(now, 1)
		d := r.DelayFrom(now)
		if d == 0 {
			return nil
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
			return nil
		case <-changed:
			t.Stop()
			r.CancelAt(time.Now())
		case <-ctx.Done():
			t.Stop()
			r.CancelAt(time.Now())
			return ctx.Err()
		}
	}
}

// setShareAt makes share (clamped to 0..RatePerSecond) the most calls
// in any window from t on; see the shares comment above.
func (l *callLimiter) setShareAt(share int, t time.Time) {
	share = min(max(share, 0), l.most)
	if share > 0 {
		l.mu.Lock()
		frac := 1.0
		if l.ceiling > 0 {
			frac = float64(l.rateLocked(t) / l.ceiling)
		}
		r, b := bucketParams(share, l.window)
		l.ceiling, l.floor = r, r/10
		l.current, l.lastAdjust = max(l.floor, r*rate.Limit(frac)), t
		l.bucket.SetBurstAt(t, b)
		l.bucket.SetLimitAt(t, l.current)
		l.mu.Unlock()
	}
	l.guard.setLimit(share)
}

// share returns the current share.
func (l *callLimiter) share() int {
	_, n := l.guard.state()
	return n
}

// rateAt returns the bucket rate in calls per second at t (0 while the
// share is 0).
func (l *callLimiter) rateAt(t time.Time) rate.Limit {
	if l.share() == 0 {
		return 0
	}
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

// increaseAt applies the additive increase accrued up to t and returns
// the bucket rate.
func (l *callLimiter) increaseAt(t time.Time) rate.Limit {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.current >= l.ceiling {
		return l.ceiling
	}
	r := l.rateLocked(t)
	l.current, l.lastAdjust = r, t
	l.bucket.SetLimitAt(t, r)
	return r
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

// windowGuard admits at most limit call starts in any window of the
// given length; limit may change at any time, up to the size it was
// made with.
type windowGuard struct {
	window time.Duration
	base   time.Time // starts are monotonic offsets from base

	mu      sync.Mutex
	starts  []time.Duration // ring of the latest starts
	next    int             // where the next start goes; the oldest entry once the ring is full
	filled  int
	limit   int           // starts admitted per window now
	changed chan struct{} // closed when limit changes
}

// guardBlocked is what tryAdmit returns while the limit is 0: wait for a
// change.
const guardBlocked = time.Duration(math.MaxInt64)

func newWindowGuard(n int, window time.Duration) *windowGuard {
	return &windowGuard{window: window, base: time.Now(), starts: make([]time.Duration, n),
		limit: n, changed: make(chan struct{})}
}

// setLimit changes the starts admitted per window (clamped to the
// guard's size) and wakes the callers waiting in admit.
func (g *windowGuard) setLimit(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n = min(max(n, 0), len(g.starts))
	if n == g.limit {
		return
	}
	g.limit = n
	close(g.changed)
	g.changed = make(chan struct{})
}

// state returns a channel closed at the next limit change, and the
// limit now.
func (g *windowGuard) state() (<-chan struct{}, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.changed, g.limit
}

// admit blocks until a call may start without a full window, and
// records the start.
func (g *windowGuard) admit(ctx context.Context) error {
	for {
		changed, _ := g.state()
		d := g.tryAdmit()
		if d <= 0 {
			return nil
		}
		if err := waitOrChange(ctx, d, changed); err != nil {
			return err
		}
	}
}

// waitOrChange waits for d (guardBlocked: for ever), until changed is
// closed or until ctx is done, and returns ctx's error in the last case.
func waitOrChange(ctx context.Context, d time.Duration, changed <-chan struct{}) error {
	var timeout <-chan time.Time
	if d != guardBlocked {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
		return nil
	case <-changed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// tryAdmit records a start now and returns 0, or returns how long to
// wait before trying again (guardBlocked: until the limit changes).
func (g *windowGuard) tryAdmit() time.Duration {
	return g.tryAdmitAt(time.Since(g.base))
}

// tryAdmitAt is tryAdmit at now, an offset from g.base.
func (g *windowGuard) tryAdmitAt(now time.Duration) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.limit == 0 {
		return guardBlocked
	}
	if g.filled >= g.limit {
		// The limit-th latest start must have left the window.
		i := (g.next - g.limit + len(g.starts)) % len(g.starts)
		if wait := g.starts[i] + g.window - now; wait > 0 {
			return wait
		}
	}
	if g.filled < len(g.starts) {
		g.filled++
	}
	g.starts[g.next] = now
	g.next = (g.next + 1) % len(g.starts)
	return 0
}
