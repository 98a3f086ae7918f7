package executor

import (
	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/internal/wait"

	"context"
	"fmt"
	"time"
)

// Dead-letter publishing is retried a few times, quickly: the sink is
// NATS, not the Room Engine.
const (
	deadLetterAttempts = 4
	deadLetterBackoff  = 100 * time.Millisecond
)

// deadLetter publishes, for each of c's waiters, its Outcome with
// retries exhausted, then reports dead_lettered, or an error if the
// publish failed. It runs off the worker.
func (e *Executor) deadLetter(ctx context.Context, c *execCall) {
	ws := e.coalesce.release(c)
	now := time.Now()
	e.background.Go(func() {
		for _, w := range ws {
			e.deadLetterOne(ctx, c.outcome(w, engine.DeadLettered, now), w)
		}
	})
}

func (e *Executor) deadLetterOne(ctx context.Context, o engine.Outcome, w execWaiter) {
	if err := e.publishDeadLetter(ctx, o); err != nil {
		e.log.Error("dead letter not published; the event will be redelivered",
			"rule", o.Rule, "event_id", o.EventID, "err", err)
		o.Outcome = ""
		e.report(w, o, err)
		return
	}
	e.metrics.deadLetters.Inc()
	e.log.Warn("action dead-lettered", "rule", o.Rule, "event_id", o.EventID,
		"attempts", o.Attempts, "error_code", o.ErrorCode, "error_info", o.ErrorInfo)
	e.report(w, o, nil)
}

// publishDeadLetter publishes o, retrying with doubling sleeps.
func (e *Executor) publishDeadLetter(ctx context.Context, o engine.Outcome) error {
	var err error
	for i := range deadLetterAttempts {
		if i > 0 {
			if serr := wait.For(ctx, deadLetterBackoff<<(i-1)); serr != nil {
				return fmt.Errorf("publish dead letter: %w (last error: %w)", serr, err)
			}
		}
		if err = e.cfg.DeadLetters.DeadLetter(ctx, o); err == nil {
			return nil
		}
	}
	return fmt.Errorf("publish dead letter after %d attempts: %w", deadLetterAttempts, err)
}
