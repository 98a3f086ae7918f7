package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Errors reported by the Executor.
var (
	// ErrExecutorClosed is returned by Submit after Close, Drain or the end
	// of Run.
	ErrExecutorClosed = errors.New("executor closed")
	// ErrExecutorStopped is wrapped by the error given to done when an
	// action was abandoned by a shutdown before its terminal outcome.
	ErrExecutorStopped = errors.New("executor stopped before the action finished")
)

// ExecutorConfig configures an Executor. Zero fields take the defaults.
type ExecutorConfig struct {
	// RatePerSecond is the most calls (retries included) that any rolling
	// second may hold at the Room Engine. Default 200, the API's limit;
	// at most 1,000,000.
	RatePerSecond int
	// MaxAttempts is the most calls per action before it is dead-lettered.
	// Default 6.
	MaxAttempts int
	// BackoffInitial and BackoffMax bound the full-jitter backoff between
	// attempts. Defaults 200ms and 10s.
	BackoffInitial, BackoffMax time.Duration
	// Workers is the most concurrent calls. Default 64.
	Workers int
	// QueueSize bounds the actions waiting for a worker. Default 10000.
	QueueSize int
	// RestartSafe holds the first call until one rolling window (about a
	// second) has passed since NewExecutor. The limiter's memory dies with
	// the process, so without the hold a daemon restarted right after its
	// last calls could put more than RatePerSecond calls in one second at
	// the Room Engine. The daemon sets it; tests and benchmarks that
	// measure rates from a cold start leave it off.
	RestartSafe bool
}

// withDefaults fills zero fields and checks the rest.
func (c ExecutorConfig) withDefaults() (ExecutorConfig, error) {
	c.RatePerSecond = cmp.Or(c.RatePerSecond, 200)
	c.MaxAttempts = cmp.Or(c.MaxAttempts, 6)
	c.BackoffInitial = cmp.Or(c.BackoffInitial, 200*time.Millisecond)
	c.BackoffMax = cmp.Or(c.BackoffMax, 10*time.Second)
	c.Workers = cmp.Or(c.Workers, 64)
	c.QueueSize = cmp.Or(c.QueueSize, 10000)
	switch {
	case c.RatePerSecond < 0 || c.RatePerSecond > maxRatePerSecond:
		return c, fmt.Errorf("executor: rate_per_second %d: want 1 to %d", c.RatePerSecond, maxRatePerSecond)
	case c.MaxAttempts < 0:
		return c, fmt.Errorf("executor: max_attempts %d: want at least 1", c.MaxAttempts)
	case c.BackoffInitial < 0 || c.BackoffMax < c.BackoffInitial:
		return c, fmt.Errorf("executor: backoff %v to %v: want 0 <= initial <= max", c.BackoffInitial, c.BackoffMax)
	case c.Workers < 0 || c.QueueSize < 0:
		return c, fmt.Errorf("executor: workers %d, queue %d: want positive sizes", c.Workers, c.QueueSize)
	}
	return c, nil
}

// Executor runs actions: a bounded queue feeds a pool of workers; each
// call waits for the rate limiter, goes to the sink, and is retried with
// full-jitter backoff on retryable errors. A call waiting to retry sits
// on a timer, not on a worker. Identical actions in flight at the same
// time share one call sequence. Actions whose retries are exhausted go to
// the dead-letter sink. Dry-run actions go to the dry-run sink, unpaced.
//
// Lifecycle: NewExecutor; Run in a goroutine (it returns once its
// context is cancelled and the workers have stopped); Submit from any
// goroutine. To stop gracefully, call Drain with a deadline: it closes
// the executor to new submissions and waits until every accepted action
// has reported; at the deadline it abandons the actions waiting to retry
// (their done gets an error wrapping ErrExecutorStopped) and returns the
// context's error. (Drain relies on Run: queued actions only move while it
// runs.) Then cancel Run's context: calls still in progress are cancelled,
// and they and anything still queued are abandoned the same way, before
// Run returns. Close alone just refuses new submissions.
type Executor struct {
	cfg      ExecutorConfig
	sink     Sink
	dryRun   Sink
	dlq      DeadLetterSink
	log      *slog.Logger
	metrics  *executorMetrics
	limiter  *callLimiter
	backoff  retryBackoff
	coalesce *coalescer

	queue   chan *execCall // leaders waiting for a worker
	retries chan *execCall // calls whose backoff has elapsed
	stopped chan struct{}  // closed when Run shuts down
	running atomic.Bool

	mu      sync.Mutex
	closed  bool                   // Submit refused
	noRetry bool                   // retries refused: past a drain deadline or stopped
	pending int                    // accepted actions not yet reported
	idle    chan struct{}          // closed when pending drops to 0
	waiting map[*execCall]struct{} // calls waiting to retry

	submitting sync.WaitGroup // Submit calls in progress
	timers     sync.WaitGroup // retry timers not yet finished
	background sync.WaitGroup // dead-letter publishes
}

// NewExecutor returns an Executor calling sink, or dryRun for dry-run
// actions, and publishing exhausted actions to dlq. Its metrics are
// registered on reg unless reg is nil.
func NewExecutor(cfg ExecutorConfig, sink, dryRun Sink, dlq DeadLetterSink,
	logger *slog.Logger, reg prometheus.Registerer) (*Executor, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if sink == nil || dryRun == nil || dlq == nil {
		return nil, errors.New("executor: sink, dry-run sink and dead-letter sink are required")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	e := &Executor{
		cfg: cfg, sink: sink, dryRun: dryRun, dlq: dlq,
		log:      logger.With("component", "executor"),
		limiter:  newCallLimiter(cfg.RatePerSecond, cfg.RestartSafe),
		backoff:  newRetryBackoff(cfg.BackoffInitial, cfg.BackoffMax),
		coalesce: newCoalescer(),
		queue:    make(chan *execCall, cfg.QueueSize),
		retries:  make(chan *execCall),
		stopped:  make(chan struct{}),
		waiting:  make(map[*execCall]struct{}),
	}
	e.metrics, err = newExecutorMetrics(reg,
		func() float64 { return float64(len(e.queue)) },
		func() float64 { return float64(e.limiter.rateAt(time.Now())) })
	if err != nil {
		return nil, err
	}
	return e, nil
}

// Submit queues a for execution and arranges for done to be called exactly
// once: with a's terminal Outcome and a nil error, or with a non-nil error
// if a reached no terminal outcome (the executor stopped first, or the
// dead-letter publish failed); the Outcome then carries a's identity and
// last error but no outcome kind. done runs on an executor goroutine and
// must not block for long.
//
// Submit blocks while the queue is full, until ctx is done. If Submit
// returns an error (ctx's, or ErrExecutorClosed), done is never called.
func (e *Executor) Submit(ctx context.Context, a Action, done func(Outcome, error)) error {
	if done == nil {
		return errors.New("executor: submit: nil done func")
	}
	if a.Kind != "" && a.Kind != ActionLockSeat {
		return fmt.Errorf("executor: submit: unknown action kind %q", a.Kind)
	}
	if err := e.accept(); err != nil {
		return err
	}
	defer e.submitting.Done()
	w := execWaiter{rule: a.Rule, eventID: a.EventID, submitted: time.Now(), done: done}
	c, leader := e.coalesce.join(coalesceKey{params: a.Params, dry: a.DryRun}, w)
	if !leader {
		return nil
	}
	var err error
	select {
	case e.queue <- c:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-e.stopped:
		err = ErrExecutorClosed
	}
	e.unqueued(c, err)
	return err
}

// accept admits one submission, unless the executor is closed.
func (e *Executor) accept() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrExecutorClosed
	}
	e.pending++
	e.submitting.Add(1)
	return nil
}

// unqueued undoes the submission of a leader that could not be queued.
// Actions that joined it meanwhile were accepted, so they get an error.
func (e *Executor) unqueued(c *execCall, err error) {
	ws := e.coalesce.release(c)
	e.settled()
	e.fail(c, ws[1:], fmt.Errorf("executor: the identical action this one joined was not queued: %w", err))
}

// Close refuses further submissions. Accepted actions still run.
func (e *Executor) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
}

// Drain closes the executor and waits until every accepted action has
// reported to its done func, or until ctx is done: then the actions
// waiting to retry are abandoned and Drain returns ctx's error.
func (e *Executor) Drain(ctx context.Context) error {
	e.Close()
	select {
	case <-e.idleChan():
		return nil
	case <-ctx.Done():
	}
	e.abortWaiting(fmt.Errorf("%w: waiting to retry at the drain deadline: %w", ErrExecutorStopped, ctx.Err()))
	return fmt.Errorf("executor: drain: %w", ctx.Err())
}

// idleChan returns a channel closed once no accepted action is pending.
func (e *Executor) idleChan() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pending == 0 {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	if e.idle == nil {
		e.idle = make(chan struct{})
	}
	return e.idle
}

// settled counts one accepted action as reported.
func (e *Executor) settled() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pending--
	if e.pending == 0 && e.idle != nil {
		close(e.idle)
		e.idle = nil
	}
}

// Run runs the workers until ctx is done, then abandons what is left (see
// the lifecycle in the Executor doc) and returns. It may be called once.
func (e *Executor) Run(ctx context.Context) error {
	if !e.running.CompareAndSwap(false, true) {
		return errors.New("executor: run called twice")
	}
	var workers sync.WaitGroup
	for range e.cfg.Workers {
		workers.Go(func() { e.work(ctx) })
	}
	workers.Wait()
	e.shutdown()
	return nil
}

// shutdown abandons everything still queued or waiting to retry, once the
// workers have stopped, and waits for the dead-letter publishes.
func (e *Executor) shutdown() {
	e.mu.Lock()
	e.closed, e.noRetry = true, true
	e.mu.Unlock()
	close(e.stopped)
	e.submitting.Wait()
	e.flushQueue(fmt.Errorf("%w: queued at shutdown", ErrExecutorStopped))
	e.abortWaiting(fmt.Errorf("%w: waiting to retry at shutdown", ErrExecutorStopped))
	e.timers.Wait()
	e.background.Wait()
}

func (e *Executor) flushQueue(err error) {
	for {
		select {
		case c := <-e.queue:
			e.abandon(c, err)
		default:
			return
		}
	}
}

// work runs calls until ctx is done.
func (e *Executor) work(ctx context.Context) {
	for {
		c, ok := e.next(ctx)
		if !ok {
			return
		}
		if c.key.dry {
			e.runDry(ctx, c)
		} else {
			e.attempt(ctx, c)
		}
	}
}

// next returns the next call to run, preferring retries over new actions.
func (e *Executor) next(ctx context.Context) (*execCall, bool) {
	select {
	case c := <-e.retries:
		return c, true
	default:
	}
	select {
	case c := <-e.retries:
		return c, true
	case c := <-e.queue:
		return c, true
	case <-ctx.Done():
		return nil, false
	}
}

// attempt makes one paced call and settles its result.
func (e *Executor) attempt(ctx context.Context, c *execCall) {
	waited, err := e.limiter.wait(ctx)
	e.metrics.limiterWait.Observe(waited.Seconds())
	if err != nil {
		e.abandon(c, fmt.Errorf("%w: waiting for the rate limiter: %w", ErrExecutorStopped, err))
		return
	}
	c.attempts++
	e.metrics.inflight.Inc()
	start := time.Now()
	rcpt, err := e.sink.LockSeat(ctx, c.key.params)
	e.metrics.observeCall(err, time.Since(start))
	e.metrics.inflight.Dec()
	e.settle(ctx, c, rcpt, err)
}

// settle decides what follows a call: an outcome, a retry, or the dead
// letter.
func (e *Executor) settle(ctx context.Context, c *execCall, rcpt Receipt, err error) {
	c.lastErr = err
	switch {
	case err == nil:
		c.receipt = rcpt
		e.finish(c, Succeeded)
		return
	case ctx.Err() != nil:
		e.abandon(c, fmt.Errorf("%w: during the call: %w", ErrExecutorStopped, err))
		return
	}
	switch ClassOf(err) {
	case Permanent:
		e.finish(c, Failed)
		return
	case Throttled:
		e.slowDown()
	}
	if c.attempts >= e.cfg.MaxAttempts {
		e.deadLetter(ctx, c)
		return
	}
	e.retryLater(c)
}

// runDry renders a dry-run action; it is neither paced nor retried.
func (e *Executor) runDry(ctx context.Context, c *execCall) {
	c.attempts++
	rcpt, err := e.dryRun.LockSeat(ctx, c.key.params)
	c.lastErr = err
	switch {
	case err == nil:
		c.receipt = rcpt
		e.finish(c, DryRun)
	case ctx.Err() != nil:
		e.abandon(c, fmt.Errorf("%w: during the dry run: %w", ErrExecutorStopped, err))
	default:
		e.finish(c, Failed)
	}
}

// slowDown lowers the call rate after a frequency-limit answer.
func (e *Executor) slowDown() {
	e.metrics.throttled.Inc()
	if r, lowered := e.limiter.throttleAt(time.Now()); lowered {
		e.log.Warn("room engine is throttling calls; lowering the call rate", "calls_per_second", float64(r))
	}
}

// finish reports a terminal outcome to every waiter of c.
func (e *Executor) finish(c *execCall, kind OutcomeKind) {
	ws := e.coalesce.release(c)
	now := time.Now()
	for _, w := range ws {
		e.report(w, c.outcome(w, kind, now), nil)
	}
}

// abandon reports err, no terminal outcome, to every waiter of c.
func (e *Executor) abandon(c *execCall, err error) {
	e.log.Info("action abandoned", "room_id", c.key.params.RoomID, "index", c.key.params.Index, "err", err)
	e.fail(c, e.coalesce.release(c), err)
}

func (e *Executor) fail(c *execCall, ws []execWaiter, err error) {
	now := time.Now()
	for _, w := range ws {
		e.report(w, c.outcome(w, "", now), err)
	}
}

// report hands one waiter its result.
func (e *Executor) report(w execWaiter, o Outcome, err error) {
	e.metrics.outcome(o.Outcome)
	w.done(o, err)
	e.settled()
}

// outcome builds w's Outcome from c's last attempt.
func (c *execCall) outcome(w execWaiter, kind OutcomeKind, now time.Time) Outcome {
	o := Outcome{
		Time: now, Rule: w.rule, EventID: w.eventID, Action: ActionLockSeat,
		Params: c.key.params, Outcome: kind, Attempts: c.attempts,
		RequestID: c.receipt.RequestID, Request: c.receipt.Request,
		LatencyMS: float64(now.Sub(w.submitted).Microseconds()) / 1000,
	}
	if c.lastErr != nil {
		o.ErrorCode, o.ErrorInfo, o.RequestID = errorFields(c.lastErr)
	}
	return o
}

// errorFields returns the code, info and request id an Outcome shows for
// err: the API's own for API errors, the error text for the rest.
func errorFields(err error) (code int, info, requestID string) {
	var ce *CallError
	if errors.As(err, &ce) && ce.Code != 0 {
		return ce.Code, ce.Info, ce.RequestID
	}
	if ce != nil {
		return 0, err.Error(), ce.RequestID
	}
	return 0, err.Error(), ""
}
