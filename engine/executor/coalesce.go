package executor

import (
	"context"
	"sync"
	"time"

	"github.com/roomwarden/roomwarden/engine"
)

// coalesceKey identifies identical actions: the same lock_seat parameters
// (room, index and the three flags), sent for real or dry-run.
type coalesceKey struct {
	params engine.LockSeat
	dry    bool
}

// execWaiter is one submitted action waiting for its call's outcome.
type execWaiter struct {
	rule    string
	eventID string
	kind    string        // lock_seat or unlock_seat: the same call
	lasts   time.Duration // a timed lock's duration, for its outcome
	decided time.Time
	done    func(engine.Outcome, error)
	still   func(context.Context) (bool, error) // Action.Still: asked before each call
}

// execCall is one call sequence (the attempts and their retries) shared
// by every waiter that submitted an identical action while it was in
// flight. Its fields other than waiters are owned by whichever goroutine
// currently holds the call (Submit, a worker, a retry timer).
type execCall struct {
	key       coalesceKey
	attempts  int
	shortages int // calls not sent for want of a local resource (not attempts)
	lastErr   error
	receipt   engine.Receipt
	queued    time.Time   // when it entered the queue
	started   time.Time   // when its first call began
	timer     *time.Timer // while waiting to retry; guarded by Executor.mu

	waiters []execWaiter // guarded by coalescer.mu
	one     [1]execWaiter
}

// coalescer tracks the calls in flight by key.
type coalescer struct {
	mu    sync.Mutex
	calls map[coalesceKey]*execCall
}

func newCoalescer() *coalescer {
	return &coalescer{calls: make(map[coalesceKey]*execCall)}
}

// join adds w to the call in flight for key, or starts a new call for it.
// leader reports whether the call is new: its submitter must queue it.
func (co *coalescer) join(key coalesceKey, w execWaiter) (c *execCall, leader bool) {
	co.mu.Lock()
	defer co.mu.Unlock()
	if c := co.calls[key]; c != nil {
		c.waiters = append(c.waiters, w)
		return c, false
	}
	c = &execCall{key: key}
	c.waiters = append(c.one[:0], w)
	co.calls[key] = c
	return c, true
}

// release ends c's time in flight and returns its waiters, leader first.
// Identical actions submitted afterwards start a new call.
func (co *coalescer) release(c *execCall) []execWaiter {
	co.mu.Lock()
	defer co.mu.Unlock()
	if co.calls[c.key] == c {
		delete(co.calls, c.key)
	}
	ws := c.waiters
	c.waiters = nil
	return ws
}

// inFlight returns how many calls are in flight.
func (co *coalescer) inFlight() int {
	co.mu.Lock()
	defer co.mu.Unlock()
	return len(co.calls)
}
