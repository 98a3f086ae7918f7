package executor

import (
	"github.com/roomwarden/roomwarden/engine"

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
	// ErrClosed is returned by Submit once Stop has begun.
	ErrClosed = errors.New("executor closed")
	// ErrStopped is wrapped by the error given to done when an action was
	// abandoned by Stop before its terminal outcome.
	ErrStopped = errors.New("executor stopped before the action finished")
)

// Config configures an Executor: where calls go, and how they are paced
// and retried. Sink, DryRun and DeadLetters are required; zero values of
// the rest take the defaults.
type Config struct {
	Sink        engine.Sink           // the Room Engine
	DryRun      engine.Sink           // renders dry-run actions; sends nothing
	DeadLetters engine.DeadLetterSink // actions whose retries are exhausted

	// RatePerSecond is the most calls (retries included) that any rolling
	// second may hold at the Room Engine. Default 200, the API's limit;
	// at most 1,000,000. The first call waits one rolling window after
	// New: the limiter's memory dies with the process, so a daemon
	// restarted right after its last calls could otherwise put more than
	// RatePerSecond calls in one second at the Room Engine. Replicas
	// sharing the budget lower it with SetShare.
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
	// JitterMargin is how much later than its start a call may reach the
	// Room Engine, relative to the others, without breaking the rate: the
	// limiter counts RatePerSecond calls per second plus this margin.
	// Default 20ms; at most 1s. Raise it where calls' delays vary more
	// (a congested path, or replicas on busy machines); it costs rate:
	// at 200/s the pace is 199/(1s + margin).
	JitterMargin time.Duration

	Logger     *slog.Logger          // nil: discard
	Registerer prometheus.Registerer // nil: metrics not registered
}

// withDefaults fills zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	c.RatePerSecond = cmp.Or(c.RatePerSecond, 200)
	c.MaxAttempts = cmp.Or(c.MaxAttempts, 6)
	c.BackoffInitial = cmp.Or(c.BackoffInitial, 200*time.Millisecond)
	c.BackoffMax = cmp.Or(c.BackoffMax, 10*time.Second)
	c.Workers = cmp.Or(c.Workers, 64)
	c.QueueSize = cmp.Or(c.QueueSize, 10000)
	c.JitterMargin = cmp.Or(c.JitterMargin, defaultJitterMargin)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.Sink == nil || c.DryRun == nil || c.DeadLetters == nil:
		return c, errors.New("executor: sink, dry-run sink and dead-letter sink are required")
	case c.RatePerSecond < 0 || c.RatePerSecond > maxRatePerSecond:
		return c, fmt.Errorf("executor: rate_per_second %d: want 1 to %d", c.RatePerSecond, maxRatePerSecond)
	case c.MaxAttempts < 0:
		return c, fmt.Errorf("executor: max_attempts %d: want at least 1", c.MaxAttempts)
	case c.BackoffInitial < 0 || c.BackoffMax < c.BackoffInitial:
		return c, fmt.Errorf("executor: backoff %v to %v: want 0 <= initial <= max", c.BackoffInitial, c.BackoffMax)
	case c.JitterMargin < 0 || c.JitterMargin > maxJitterMargin:
		return c, fmt.Errorf("executor: jitter_margin %v: want 0 to %v", c.JitterMargin, maxJitterMargin)
	case c.Workers < 0 || c.QueueSize < 0:
		return c, fmt.Errorf("executor: workers %d, queue %d: want positive sizes", c.Workers, c.QueueSize)
	}
	return c, nil
}

// Executor runs actions: a bounded queue feeds a pool of workers; each
// call waits for the rate limiter, goes to the sink, and is retried with
// full-jitter backoff on retryable errors. A call waiting to retry sits
// on a timer, not on a worker. Identical actions in flight at the same
// time share one call sequence, and calls on one seat run one at a time
// (seats.go). Actions whose retries are exhausted go to
// the dead-letter sink. Dry-run actions go to the dry-run sink, unpaced.
//
// New starts the workers; Submit from any goroutine; Stop ends it.
type Executor struct {
	cfg      Config
	log      *slog.Logger
	metrics  *metrics
	limiter  *callLimiter
	backoff  retryBackoff
	coalesce *coalescer

	seats   *seatTurns     // one call at a time per seat (seats.go)
	queue   *fairQueue     // leaders waiting for a worker
	retries chan *execCall // calls whose backoff has elapsed
	calls   context.Context
	cancel  context.CancelFunc // cancels calls in progress: workers exit
	stopped chan struct{}      // closed once the workers have exited
	workers sync.WaitGroup

	stopOnce  sync.Once
	stopErr   error
	saturated atomic.Bool // the queue filled and has not yet half emptied

	mu      sync.Mutex
	closed  bool                   // Submit refused
	noRetry bool                   // retries refused: Stop gave up waiting
	pending int                    // accepted actions not yet reported
	idle    chan struct{}          // closed when pending drops to 0
	waiting map[*execCall]struct{} // calls waiting to retry

	submitting sync.WaitGroup // Submit calls in progress
	timers     sync.WaitGroup // retry timers not yet finished
	background sync.WaitGroup // dead-letter publishes
}

// New checks cfg, registers the metrics and starts the workers.
func New(cfg Config) (*Executor, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	calls, cancel := context.WithCancel(context.Background())
	e := &Executor{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "executor"),
		limiter:  newCallLimiter(cfg.RatePerSecond, time.Second+cfg.JitterMargin, time.Now()),
		backoff:  newRetryBackoff(cfg.BackoffInitial, cfg.BackoffMax),
		coalesce: newCoalescer(),
		seats:    newSeatTurns(),
		queue:    newFairQueue(cfg.QueueSize),
		retries:  make(chan *execCall),
		calls:    calls,
		cancel:   cancel,
		stopped:  make(chan struct{}),
		waiting:  make(map[*execCall]struct{}),
	}
	e.metrics, err = newMetrics(cfg.Registerer, gauges{
		queueDepth: func() float64 { return float64(e.queue.len()) },
		oldest:     func() float64 { return e.queue.oldest(time.Now()).Seconds() },
		rate:       func() float64 { return float64(e.limiter.rateAt(time.Now())) },
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("executor: %w", err)
	}
	for range cfg.Workers {
		e.workers.Go(e.work)
	}
	return e, nil
}

// RateWindow is the rolling window this executor counts its calls in: a
// second plus its jitter margin. Replicas wait this long for calls made
// under an old share to leave the window.
func (e *Executor) RateWindow() time.Duration { return e.limiter.window }

// SetShare makes perSecond (clamped to 0..RatePerSecond) the most calls
// this executor starts in any RateWindow, from now on: its share of a
// budget that replicas split (see engine/replicas). Lowering it counts
// the calls already started: the next call waits until fewer than
// perSecond lie in the last RateWindow, so any window holding a call
// started after the change holds at most perSecond. Raising it applies
// at once, to the calls already waiting too. 0 holds every call until a
// later SetShare. Throttled answers still lower the pace below the
// share. Safe to call at any time, from any goroutine.
func (e *Executor) SetShare(perSecond int) {
	e.limiter.setShareAt(perSecond, time.Now())
}

// Submit queues a for execution and arranges for done to be called exactly
// once: with a's terminal Outcome and a nil error, or with a non-nil error
// if a reached no terminal outcome (the executor stopped first, the
// dead-letter publish failed, or a.Still said before a call that a is
// no longer wanted: engine.ErrNotWanted); the Outcome then carries a's
// identity and last error but no outcome kind. done runs on an executor
// goroutine and must not block for long.
//
// Submit blocks while the queue is full, until ctx is done. If Submit
// returns an error (ctx's, or ErrClosed), done is never called. Queued
// actions are served round robin by room, so one room's burst does not
// hold up the others.
func (e *Executor) Submit(ctx context.Context, a engine.Action, done func(engine.Outcome, error)) error {
	if done == nil {
		return errors.New("executor: submit: nil done func")
	}
	kind := a.Kind
	switch kind {
	case "":
		kind = engine.ActionLockSeat
	case engine.ActionLockSeat, engine.ActionUnlockSeat:
	default:
		return fmt.Errorf("executor: submit: %q is not a Room Engine action", a.Kind)
	}
	if err := e.accept(); err != nil {
		return err
	}
	defer e.submitting.Done()
	decided := a.Decided
	if decided.IsZero() {
		decided = time.Now()
	}
	w := execWaiter{rule: a.Rule, eventID: a.EventID, kind: kind, lasts: a.For, decided: decided, done: done, still: a.Still}
	c, leader := e.coalesce.join(coalesceKey{params: a.Params, dry: a.DryRun}, w)
	if !leader || e.queue.tryPut(c) {
		return nil
	}
	err := e.putWhenFull(ctx, c)
	if err != nil {
		e.unqueued(c, err)
	}
	return err
}

// putWhenFull waits for room in the full queue, saying so once per
// stretch of saturation.
func (e *Executor) putWhenFull(ctx context.Context, c *execCall) error {
	if e.saturated.CompareAndSwap(false, true) {
		e.metrics.saturated.Set(1)
		e.log.Warn("executor saturated: the action queue is full; events wait for room",
			"queue_size", e.cfg.QueueSize, "oldest_queued", e.queue.oldest(time.Now()).Round(time.Millisecond))
	}
	start := time.Now()
	err := e.queue.put(ctx, e.stopped, c)
	e.metrics.submitWait.Observe(time.Since(start).Seconds())
	return err
}

// relieved ends a stretch of saturation once the queue is half empty.
func (e *Executor) relieved() {
	if e.queue.len() <= e.cfg.QueueSize/2 && e.saturated.CompareAndSwap(true, false) {
		e.metrics.saturated.Set(0)
		e.log.Info("executor no longer saturated", "queued", e.queue.len())
	}
}

// accept admits one submission, unless the executor is closed.
func (e *Executor) accept() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
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

// Stop stops the executor. It refuses further submissions and waits
// until every accepted action has reported to its done func, or until
// ctx is done: then the actions waiting to retry, queued, or in a call
// are abandoned (their done gets an error wrapping ErrStopped, so their
// events are given back for redelivery). It returns once the workers
// have exited, with ctx's error if it gave up waiting. Later calls wait
// for the first and return its result.
func (e *Executor) Stop(ctx context.Context) error {
	e.stopOnce.Do(func() { e.stopErr = e.stop(ctx) })
	return e.stopErr
}

func (e *Executor) stop(ctx context.Context) error {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	var err error
	select {
	case <-e.idleChan():
	case <-ctx.Done():
		err = fmt.Errorf("executor: stop: %w", ctx.Err())
	}
	e.mu.Lock()
	e.noRetry = true
	e.mu.Unlock()
	e.abortWaiting(fmt.Errorf("%w: waiting to retry at shutdown", ErrStopped))
	e.cancel()
	e.workers.Wait()
	close(e.stopped)
	e.submitting.Wait()
	e.flushQueue(fmt.Errorf("%w: queued at shutdown", ErrStopped))
	e.timers.Wait()
	e.background.Wait()
	return err
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

func (e *Executor) flushQueue(err error) {
	for _, c := range e.queue.drain() {
		e.abandon(c, err)
	}
}

// work runs calls until Stop cancels them.
func (e *Executor) work() {
	ctx := e.calls
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
	case <-e.queue.ready():
		c := e.queue.pop()
		e.relieved()
		return c, true
	case <-ctx.Done():
		return nil, false
	}
}

// attempt makes one paced call and settles its result, unless its
// waiters' Still hooks say it is no longer wanted (see stillWanted).
// It waits its seat's turn first (seats.go): parked, off the worker.
func (e *Executor) attempt(ctx context.Context, c *execCall) {
	if !e.takeTurn(c) {
		return
	}
	defer e.endTurn(c)
	waited, err := e.limiter.wait(ctx)
	e.metrics.limiterWait.Observe(waited.Seconds())
	if err != nil {
		e.abandon(c, fmt.Errorf("%w: waiting for the rate limiter: %w", ErrStopped, err))
		return
	}
	if !e.stillWanted(ctx, c) {
		return
	}
	c.attempts++
	e.metrics.inflight.Inc()
	start := time.Now()
	if c.attempts == 1 {
		c.started = start
	}
	rcpt, err := e.cfg.Sink.LockSeat(ctx, c.key.params)
	e.metrics.observeCall(err, time.Since(start))
	e.metrics.inflight.Dec()
	e.settle(ctx, c, rcpt, err)
}

// settle decides what follows a call: an outcome, a retry, or the dead
// letter.
func (e *Executor) settle(ctx context.Context, c *execCall, rcpt engine.Receipt, err error) {
	c.lastErr = err
	switch {
	case err == nil:
		c.receipt = rcpt
		e.finish(c, engine.Succeeded)
		return
	case ctx.Err() != nil:
		e.abandon(c, fmt.Errorf("%w: during the call: %w", ErrStopped, err))
		return
	}
	switch engine.ClassOf(err) {
	case engine.Permanent:
		e.finish(c, engine.Failed)
		return
	case engine.Throttled:
		e.slowDown()
	case engine.Local:
		c.attempts-- // nothing was sent: the attempt is not spent
		c.shortages++
		e.metrics.localErrors.Inc()
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
	rcpt, err := e.cfg.DryRun.LockSeat(ctx, c.key.params)
	c.lastErr = err
	switch {
	case err == nil:
		c.receipt = rcpt
		e.finish(c, engine.DryRun)
	case ctx.Err() != nil:
		e.abandon(c, fmt.Errorf("%w: during the dry run: %w", ErrStopped, err))
	default:
		e.finish(c, engine.Failed)
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
func (e *Executor) finish(c *execCall, kind engine.OutcomeKind) {
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
func (e *Executor) report(w execWaiter, o engine.Outcome, err error) {
	e.metrics.outcome(o.Outcome)
	w.done(o, err)
	e.settled()
}

// outcome builds w's Outcome from c's last attempt.
func (c *execCall) outcome(w execWaiter, kind engine.OutcomeKind, now time.Time) engine.Outcome {
	o := engine.Outcome{
		Time: now, Rule: w.rule, EventID: w.eventID, Action: w.kind,
		Params: c.key.params, Outcome: kind, Attempts: c.attempts,
		RequestID: c.receipt.RequestID, Request: c.receipt.Request,
		LatencyMS: millis(now.Sub(w.decided)),
	}
	if !c.started.IsZero() {
		o.QueuedMS = millis(max(0, c.started.Sub(w.decided)))
	}
	if w.lasts > 0 {
		o.For = w.lasts.String()
	}
	if c.lastErr != nil {
		o.ErrorCode, o.ErrorInfo, o.RequestID = errorFields(c.lastErr)
	}
	return o
}

// millis is d in milliseconds, to the microsecond.
func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// errorFields returns the code, info and request id an Outcome shows for
// err: the API's own for API errors, the error text for the rest.
func errorFields(err error) (code int, info, requestID string) {
	var ce *engine.CallError
	if errors.As(err, &ce) && ce.Code != 0 {
		return ce.Code, ce.Info, ce.RequestID
	}
	if ce != nil {
		return 0, err.Error(), ce.RequestID
	}
	return 0, err.Error(), ""
}
