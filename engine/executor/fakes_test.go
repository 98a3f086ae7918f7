package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomwarden/roomwarden/engine"
)

// execSinkCall is one call an execFakeSink received.
type execSinkCall struct {
	params engine.LockSeat
	at     time.Time
}

// execFakeSink is a Sink that records each call's time and answers with
// answer(params, n) for the n-th call (from 0) with those params: nil
// means success. With gate set, calls (those gated reports, or all if it
// is nil) wait for it to close; with entered set, each call's params are
// sent there on entry.
type execFakeSink struct {
	answer  func(p engine.LockSeat, n int) error
	gate    chan struct{}
	gated   func(p engine.LockSeat) bool
	entered chan engine.LockSeat
	request string // returned in the engine.Receipt, as a dry-run sink would

	mu    sync.Mutex
	calls []execSinkCall
	count map[engine.LockSeat]int
}

var _ engine.Sink = (*execFakeSink)(nil)

func (s *execFakeSink) LockSeat(ctx context.Context, p engine.LockSeat) (engine.Receipt, error) {
	now := time.Now()
	s.mu.Lock()
	if s.count == nil {
		s.count = make(map[engine.LockSeat]int)
	}
	n := s.count[p]
	s.count[p]++
	s.calls = append(s.calls, execSinkCall{params: p, at: now})
	s.mu.Unlock()
	if s.entered != nil {
		s.entered <- p
	}
	if s.gate != nil && (s.gated == nil || s.gated(p)) {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return engine.Receipt{}, &engine.CallError{Class: engine.Retryable, Err: ctx.Err()}
		}
	}
	if s.answer != nil {
		if err := s.answer(p, n); err != nil {
			return engine.Receipt{}, err
		}
	}
	return engine.Receipt{RequestID: fmt.Sprintf("req-%s-%d-%d", p.RoomID, p.Index, n+1), Request: s.request}, nil
}

// callsFor returns how many calls had params p.
func (s *execFakeSink) callsFor(p engine.LockSeat) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count[p]
}

// times returns every call's time, in call order.
func (s *execFakeSink) times() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts := make([]time.Time, len(s.calls))
	for i, c := range s.calls {
		ts[i] = c.at
	}
	return ts
}

// execFakeDLQ records dead letters; with fail set, every publish fails.
type execFakeDLQ struct {
	fail bool

	mu       sync.Mutex
	letters  []engine.Outcome
	attempts int
}

var _ engine.DeadLetterSink = (*execFakeDLQ)(nil)

func (d *execFakeDLQ) DeadLetter(_ context.Context, o engine.Outcome) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.attempts++
	if d.fail {
		return errors.New("nats: no responders")
	}
	d.letters = append(d.letters, o)
	return nil
}

func (d *execFakeDLQ) got() ([]engine.Outcome, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]engine.Outcome(nil), d.letters...), d.attempts
}

// execResult is what one done call received.
type execResult struct {
	o   engine.Outcome
	err error
}

// execCollector collects done results.
type execCollector struct {
	ch chan execResult
}

func newExecCollector() *execCollector {
	return &execCollector{ch: make(chan execResult, 10000)}
}

func (c *execCollector) done(o engine.Outcome, err error) { c.ch <- execResult{o, err} }

// wait returns the next n results. It fails the test if they do not
// arrive within a generous bound, so a bug hangs nothing.
func (c *execCollector) wait(t *testing.T, n int) []execResult {
	t.Helper()
	got := make([]execResult, 0, n)
	timeout := time.After(60 * time.Second)
	for len(got) < n {
		select {
		case r := <-c.ch:
			got = append(got, r)
		case <-timeout:
			t.Fatalf("got %d results, want %d", len(got), n)
		}
	}
	return got
}

// none fails the test if a result is waiting.
func (c *execCollector) none(t *testing.T) {
	t.Helper()
	select {
	case r := <-c.ch:
		t.Fatalf("unexpected result %+v", r)
	default:
	}
}

// execSinks bundles the fakes an Executor is built with.
type execSinks struct {
	real *execFakeSink
	dry  *execFakeSink
	dlq  *execFakeDLQ
	reg  *prometheus.Registry
	logs *execLogBuffer
}

// execLogBuffer is a log destination safe for concurrent writes.
type execLogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *execLogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *execLogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newExecFixture builds an Executor on fresh fakes (real may be given),
// with fast backoff unless cfg sets it.
func newExecFixture(t *testing.T, cfg Config, real *execFakeSink) (*Executor, execSinks) {
	t.Helper()
	if real == nil {
		real = &execFakeSink{}
	}
	fx := execSinks{real: real, dry: &execFakeSink{request: "POST /v4/room_engine_http_mic/lock_seat?usersig=REDACTED"},
		dlq: &execFakeDLQ{}, reg: prometheus.NewRegistry(), logs: &execLogBuffer{}}
	logger := slog.New(slog.NewTextHandler(fx.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if cfg.BackoffInitial == 0 {
		cfg.BackoffInitial, cfg.BackoffMax = time.Millisecond, 5*time.Millisecond
	}
	cfg.Sink, cfg.DryRun, cfg.DeadLetters, cfg.Logger, cfg.Registerer = fx.real, fx.dry, fx.dlq, logger, fx.reg
	e, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e, fx
}

// runExecFixture stops e at the end of the test, or when the returned
// stop is called: at once, abandoning what is left.
func runExecFixture(t *testing.T, e *Executor) (stop func()) {
	t.Helper()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_ = e.Stop(ctx)
		})
	}
	t.Cleanup(stop)
	return stop
}

// execSeat returns lock_seat params locking room's seat index for audio.
func execSeat(room string, index int) engine.LockSeat {
	return engine.LockSeat{RoomID: room, Index: index, ForbidAudio: engine.True}
}

// execAction returns an Action for p with a rule and event id derived from n.
func execAction(p engine.LockSeat, n int) engine.Action {
	return engine.Action{Rule: "rule-" + strconv.Itoa(n), EventID: "evt-" + strconv.Itoa(n), Kind: engine.ActionLockSeat, Params: p}
}

// execSubmit submits actions, failing the test on an error.
func execSubmit(t *testing.T, e *Executor, c *execCollector, actions ...engine.Action) {
	t.Helper()
	for _, a := range actions {
		if err := e.Submit(context.Background(), a, c.done); err != nil {
			t.Fatalf("Submit(%+v): %v", a, err)
		}
	}
}

// execAPIError is a Room Engine error answer.
func execAPIError(code int, class engine.ErrorClass) *engine.CallError {
	return &engine.CallError{Code: code, Info: "info " + strconv.Itoa(code), RequestID: "req-err-" + strconv.Itoa(code), Class: class}
}
