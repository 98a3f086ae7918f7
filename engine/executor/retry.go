package executor

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// retryBackoff computes full-jitter exponential backoff: the sleep before
// retry n (n = 1 after the first failed attempt) is uniform in
// [0, min(max, initial·2^(n-1))).
type retryBackoff struct {
	initial, max time.Duration
	// jitter returns a value in [0, n); rand.Int64N unless a test pins it.
	jitter func(n int64) int64
}

func newRetryBackoff(initial, max time.Duration) retryBackoff {
	return retryBackoff{initial: initial, max: max, jitter: rand.Int64N}
}

// ceiling is min(max, initial·2^(n-1)), without overflowing.
func (b retryBackoff) ceiling(n int) time.Duration {
	d := b.initial
	for i := 1; i < n && d < b.max; i++ {
		d *= 2
	}
	return min(d, b.max)
}

// delay is the jittered sleep before retry n.
func (b retryBackoff) delay(n int) time.Duration {
	c := b.ceiling(n)
	if c <= 0 {
		return 0
	}
	return time.Duration(b.jitter(int64(c)))
}

// retryLater schedules c's next attempt after its backoff, off any worker.
func (e *Executor) retryLater(c *execCall) {
	d := e.backoff.delay(max(1, c.attempts+c.shortages))
	e.metrics.retries.Inc()
	e.log.Debug("room engine call failed; will retry", "room_id", c.key.params.RoomID,
		"index", c.key.params.Index, "attempt", c.attempts, "backoff", d, "err", c.lastErr)
	if !e.scheduleRetry(c, d) {
		e.abandon(c, fmt.Errorf("%w: retry refused", ErrStopped))
	}
}

// scheduleRetry starts c's backoff timer, unless retries are refused.
// From here until retryDue or abortWaiting takes it, nobody touches c.
func (e *Executor) scheduleRetry(c *execCall, d time.Duration) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.noRetry {
		return false
	}
	e.timers.Add(1)
	e.waiting[c] = struct{}{}
	c.timer = time.AfterFunc(d, func() { e.retryDue(c) })
	return true
}

// retryDue hands c to the next free worker once its backoff has elapsed.
func (e *Executor) retryDue(c *execCall) {
	defer e.timers.Done()
	e.mu.Lock()
	_, ok := e.waiting[c]
	delete(e.waiting, c)
	e.mu.Unlock()
	if !ok {
		return // abortWaiting took it
	}
	select {
	case e.retries <- c:
	case <-e.stopped:
		e.abandon(c, fmt.Errorf("%w: retry due at shutdown", ErrStopped))
	}
}

// abortWaiting refuses further retries and abandons the calls waiting
// for one with err.
func (e *Executor) abortWaiting(err error) {
	e.mu.Lock()
	e.noRetry = true
	calls := make([]*execCall, 0, len(e.waiting))
	for c := range e.waiting {
		if c.timer.Stop() {
			e.timers.Done() // retryDue will not run
		}
		calls = append(calls, c)
	}
	clear(e.waiting)
	e.mu.Unlock()
	for _, c := range calls {
		e.abandon(c, err)
	}
}
