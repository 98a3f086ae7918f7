package executor

import (
	"context"
	"fmt"
	"time"

	"github.com/roomwarden/roomwarden/engine"
)

// stillWanted asks the Still hooks of c's waiters whether the call is
// still wanted, right before it is sent: after the rate limiter, so
// that no wait lies between the answer and the call. It reports whether
// to send it.
//
// Waiters whose hook answers false leave the call, their done given
// engine.ErrNotWanted; waiters without a hook always want it. If none is
// left, the call ends unsent. If a hook fails, nothing is sent this
// time: the call is retried after its backoff without spending an
// attempt, as after a local shortage (the answer is unknown, so neither
// sending nor dropping it would be safe). Waiters that join while the
// hooks are asked are asked too before anything is sent.
func (e *Executor) stillWanted(ctx context.Context, c *execCall) bool {
	var gone []int // positions in c.waiters of the waiters that said no
	asked := 0
	for {
		ws := e.coalesce.waitersFrom(c, asked)
		for i, w := range ws {
			if w.still == nil {
				continue
			}
			ok, err := w.still(ctx)
			if err != nil {
				e.unsure(ctx, c, err)
				return false
			}
			if !ok {
				gone = append(gone, asked+i)
			}
		}
		asked += len(ws)
		dropped, left, all := e.coalesce.drop(c, gone, asked)
		if !all {
			continue // waiters joined meanwhile: ask them too
		}
		now := time.Now()
		for _, w := range dropped {
			e.log.Debug("action no longer wanted; not sent", "rule", w.rule, "event_id", w.eventID,
				"room_id", c.key.params.RoomID, "index", c.key.params.Index, "attempts", c.attempts)
			e.metrics.outcomes.WithLabelValues(notWantedLabel).Inc()
			w.done(c.outcome(w, "", now), engine.ErrNotWanted)
			e.settled()
		}
		return left > 0
	}
}

// notWantedLabel counts, in roomwarden_executor_outcomes_total, the
// actions that ended unsent because their Still hook said so.
const notWantedLabel = "not_wanted"

// unsure puts c back to wait for a retry after a Still hook failed:
// nothing was sent, so no attempt is spent.
func (e *Executor) unsure(ctx context.Context, c *execCall, err error) {
	c.lastErr = fmt.Errorf("executor: asking whether the action is still wanted: %w", err)
	if ctx.Err() != nil {
		e.abandon(c, fmt.Errorf("%w: %w", ErrStopped, c.lastErr))
		return
	}
	e.log.Info("could not tell whether an action is still wanted; will retry", "room_id", c.key.params.RoomID,
		"index", c.key.params.Index, "err", err)
	c.shortages++
	e.retryLater(c)
}

// waitersFrom returns a copy of c's waiters from position from on. While
// c is in flight its waiters only grow, so positions stay put.
func (co *coalescer) waitersFrom(c *execCall, from int) []execWaiter {
	co.mu.Lock()
	defer co.mu.Unlock()
	if from >= len(c.waiters) {
		return nil
	}
	return append([]execWaiter(nil), c.waiters[from:]...)
}

// drop removes the waiters at positions gone (ascending) from c and
// returns them, with how many are left, provided that c has exactly
// asked waiters; otherwise (more joined since) it changes nothing and
// reports all false. If none is left, c leaves flight as in release:
// identical actions submitted afterwards start a new call.
func (co *coalescer) drop(c *execCall, gone []int, asked int) (dropped []execWaiter, left int, all bool) {
	co.mu.Lock()
	defer co.mu.Unlock()
	if len(c.waiters) != asked {
		return nil, 0, false
	}
	if len(gone) == 0 {
		return nil, len(c.waiters), true
	}
	kept := make([]execWaiter, 0, len(c.waiters)-len(gone))
	for i, w := range c.waiters {
		if len(gone) > 0 && gone[0] == i {
			dropped, gone = append(dropped, w), gone[1:]
			continue
		}
		kept = append(kept, w)
	}
	c.waiters = kept
	if len(kept) == 0 && co.calls[c.key] == c {
		delete(co.calls, c.key)
	}
	return dropped, len(kept), true
}
