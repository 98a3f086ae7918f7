package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/internal/promtest"
)

func TestExecutorOutcomes(t *testing.T) {
	timeout := &engine.CallError{Class: engine.Retryable, Err: os.ErrDeadlineExceeded}
	tests := []struct {
		name      string
		answers   []error // successive answers; success after them
		want      engine.OutcomeKind
		wantCalls int
		wantCode  int
		wantInfo  string
		wantReqID string
	}{
		{name: "success", want: engine.Succeeded, wantCalls: 1, wantReqID: "req-room-2-1"},
		{name: "100001 retried then success", answers: []error{execAPIError(100001, engine.Retryable)},
			want: engine.Succeeded, wantCalls: 2, wantReqID: "req-room-2-2"},
		{name: "http 502 retried then success", answers: []error{&engine.CallError{Status: 502, Info: "bad gateway", Class: engine.Retryable}},
			want: engine.Succeeded, wantCalls: 2, wantReqID: "req-room-2-2"},
		{name: "timeout retried twice then success", answers: []error{timeout, timeout},
			want: engine.Succeeded, wantCalls: 3, wantReqID: "req-room-2-3"},
		{name: "60007 throttled retried then success", answers: []error{execAPIError(60007, engine.Throttled)},
			want: engine.Succeeded, wantCalls: 2, wantReqID: "req-room-2-2"},
		{name: "100002 not retried", answers: []error{execAPIError(100002, engine.Permanent)},
			want: engine.Failed, wantCalls: 1, wantCode: 100002, wantInfo: "info 100002", wantReqID: "req-err-100002"},
		{name: "100004 not retried", answers: []error{execAPIError(100004, engine.Permanent)},
			want: engine.Failed, wantCalls: 1, wantCode: 100004, wantInfo: "info 100004", wantReqID: "req-err-100004"},
		{name: "100211 not retried", answers: []error{execAPIError(100211, engine.Permanent)},
			want: engine.Failed, wantCalls: 1, wantCode: 100211, wantInfo: "info 100211", wantReqID: "req-err-100211"},
		{name: "70003 not retried", answers: []error{execAPIError(70003, engine.Permanent)},
			want: engine.Failed, wantCalls: 1, wantCode: 70003, wantInfo: "info 70003", wantReqID: "req-err-70003"},
		{name: "http 400 not retried", answers: []error{&engine.CallError{Status: 400, Info: "bad request", Class: engine.Permanent}},
			want: engine.Failed, wantCalls: 1, wantInfo: "room engine http 400: bad request"},
		{name: "plain error is permanent", answers: []error{errors.New("boom")},
			want: engine.Failed, wantCalls: 1, wantInfo: "boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := &execFakeSink{answer: func(_ engine.LockSeat, n int) error {
				if n < len(tc.answers) {
					return tc.answers[n]
				}
				return nil
			}}
			e, _ := newExecFixture(t, Config{}, sink)
			runExecFixture(t, e)
			c := newExecCollector()
			p := execSeat("room", 2)
			execSubmit(t, e, c, execAction(p, 1))
			r := c.wait(t, 1)[0]
			if r.err != nil {
				t.Fatalf("done error: %v", r.err)
			}
			o := r.o
			if o.Outcome != tc.want || o.Attempts != tc.wantCalls || o.ErrorCode != tc.wantCode ||
				o.ErrorInfo != tc.wantInfo || o.RequestID != tc.wantReqID {
				t.Errorf("outcome %s, attempts %d, code %d, info %q, request %q; want %s, %d, %d, %q, %q",
					o.Outcome, o.Attempts, o.ErrorCode, o.ErrorInfo, o.RequestID,
					tc.want, tc.wantCalls, tc.wantCode, tc.wantInfo, tc.wantReqID)
			}
			if o.Rule != "rule-1" || o.EventID != "evt-1" || o.Action != engine.ActionLockSeat || o.Params != p {
				t.Errorf("identity %q %q %q %+v, want rule-1 evt-1 lock_seat %+v", o.Rule, o.EventID, o.Action, o.Params, p)
			}
			if got := sink.callsFor(p); got != tc.wantCalls {
				t.Errorf("sink calls = %d, want %d", got, tc.wantCalls)
			}
			if o.Time.IsZero() || o.LatencyMS < 0 {
				t.Errorf("time %v, latency %v: want set", o.Time, o.LatencyMS)
			}
		})
	}
}

func TestExecutorDeadLetter(t *testing.T) {
	sink := &execFakeSink{answer: func(engine.LockSeat, int) error { return execAPIError(100001, engine.Retryable) }}
	e, fx := newExecFixture(t, Config{MaxAttempts: 3}, sink)
	runExecFixture(t, e)
	c := newExecCollector()
	p := execSeat("room-dlq", 4)
	execSubmit(t, e, c, execAction(p, 7))
	r := c.wait(t, 1)[0]

	if r.err != nil || r.o.Outcome != engine.DeadLettered || r.o.Attempts != 3 {
		t.Fatalf("got %s after %d attempts (err %v), want dead_lettered after 3", r.o.Outcome, r.o.Attempts, r.err)
	}
	if got := sink.callsFor(p); got != 3 {
		t.Errorf("sink calls = %d, want 3", got)
	}
	letters, _ := fx.dlq.got()
	if len(letters) != 1 {
		t.Fatalf("dead letters = %d, want 1", len(letters))
	}
	want := engine.Outcome{Rule: "rule-7", EventID: "evt-7", Action: engine.ActionLockSeat, Params: p, Outcome: engine.DeadLettered,
		Attempts: 3, ErrorCode: 100001, ErrorInfo: "info 100001", RequestID: "req-err-100001"}
	got := letters[0]
	got.Time, got.LatencyMS, got.QueuedMS = time.Time{}, 0, 0
	if got != want {
		t.Errorf("dead letter %+v, want %+v", got, want)
	}
	if got := promtest.MustValue(t, fx.reg, "roomwarden_executor_dead_letters_total"); got != 1 {
		t.Errorf("dead letters metric = %v, want 1", got)
	}
}

func TestExecutorDeadLetterPublishFails(t *testing.T) {
	sink := &execFakeSink{answer: func(engine.LockSeat, int) error { return execAPIError(70500, engine.Retryable) }}
	e, fx := newExecFixture(t, Config{MaxAttempts: 2}, sink)
	fx.dlq.fail = true
	runExecFixture(t, e)
	c := newExecCollector()
	execSubmit(t, e, c, execAction(execSeat("room", 1), 1))
	r := c.wait(t, 1)[0]

	if r.err == nil {
		t.Fatalf("done error = nil, want the publish failure (outcome %s)", r.o.Outcome)
	}
	if r.o.Outcome != "" || r.o.Attempts != 2 || r.o.ErrorCode != 70500 {
		t.Errorf("outcome %q attempts %d code %d, want none, 2, 70500", r.o.Outcome, r.o.Attempts, r.o.ErrorCode)
	}
	if _, attempts := fx.dlq.got(); attempts != deadLetterAttempts {
		t.Errorf("publish attempts = %d, want %d", attempts, deadLetterAttempts)
	}
}

func TestExecutorCoalesces(t *testing.T) {
	sink := &execFakeSink{gate: make(chan struct{}), entered: make(chan engine.LockSeat, 10)}
	e, fx := newExecFixture(t, Config{}, sink)
	runExecFixture(t, e)
	c := newExecCollector()
	p := execSeat("room-c", 3)
	execSubmit(t, e, c, execAction(p, 0))
	<-sink.entered // the first call is in flight
	const followers = 4
	for i := 1; i <= followers; i++ {
		execSubmit(t, e, c, execAction(p, i))
	}
	other := p
	other.ForbidVideo = engine.False
	dry := execAction(p, 100)
	dry.DryRun = true
	execSubmit(t, e, c, execAction(other, 99), dry)
	close(sink.gate)
	results := c.wait(t, followers+3)

	if got := sink.callsFor(p); got != 1 {
		t.Errorf("calls for %+v = %d, want 1", p, got)
	}
	if got := sink.callsFor(other); got != 1 {
		t.Errorf("calls for %+v = %d, want 1 (different flags)", other, got)
	}
	if got := fx.dry.callsFor(p); got != 1 {
		t.Errorf("dry-run calls = %d, want 1 (dry-run is not coalesced with real)", got)
	}
	var gotRules []string
	for _, r := range results {
		if r.err != nil || r.o.Params != p || r.o.Outcome != engine.Succeeded {
			continue
		}
		gotRules = append(gotRules, r.o.Rule)
		if r.o.Attempts != 1 || r.o.RequestID != "req-room-c-3-1" || r.o.EventID != "evt"+r.o.Rule[len("rule"):] {
			t.Errorf("outcome %+v: want attempts 1, the shared request id and its own event id", r.o)
		}
	}
	slices.Sort(gotRules)
	if want := []string{"rule-0", "rule-1", "rule-2", "rule-3", "rule-4"}; !slices.Equal(gotRules, want) {
		t.Errorf("coalesced outcomes for rules %v, want %v", gotRules, want)
	}
}

func TestExecutorDryRun(t *testing.T) {
	tests := []struct {
		name    string
		dryErr  error
		want    engine.OutcomeKind
		wantReq string
	}{
		{name: "rendered", want: engine.DryRun, wantReq: "POST /v4/room_engine_http_mic/lock_seat?usersig=REDACTED"},
		{name: "render error", dryErr: errors.New("render: bad index"), want: engine.Failed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, fx := newExecFixture(t, Config{}, nil)
			fx.dry.answer = func(engine.LockSeat, int) error { return tc.dryErr }
			runExecFixture(t, e)
			c := newExecCollector()
			a := execAction(execSeat("room-d", 1), 1)
			a.DryRun = true
			execSubmit(t, e, c, a)
			r := c.wait(t, 1)[0]
			if r.err != nil || r.o.Outcome != tc.want || r.o.Request != tc.wantReq {
				t.Errorf("got %s request %q err %v, want %s request %q", r.o.Outcome, r.o.Request, r.err, tc.want, tc.wantReq)
			}
			if got := fx.real.callsFor(a.Params); got != 0 {
				t.Errorf("real sink calls = %d, want 0", got)
			}
			if got := fx.dry.callsFor(a.Params); got != 1 {
				t.Errorf("dry-run sink calls = %d, want 1", got)
			}
		})
	}
}

// TestExecutorBackPressure: with the one worker busy and the queue full,
// Submit waits (or returns its context's error) until a place frees.
// The workers run from New, so the test fills them first: the worker's
// call blocks in the sink, and the next action fills the queue.
func TestExecutorBackPressure(t *testing.T) {
	sink := &execFakeSink{gate: make(chan struct{}), entered: make(chan engine.LockSeat, 10)}
	e, _ := newExecFixture(t, Config{QueueSize: 1, Workers: 1}, sink)
	runExecFixture(t, e)
	c := newExecCollector()
	execSubmit(t, e, c, execAction(execSeat("room", 1), 1))
	<-sink.entered                                          // the worker is busy with seat 1
	execSubmit(t, e, c, execAction(execSeat("room", 2), 2)) // fills the queue

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.Submit(ctx, execAction(execSeat("room", 3), 3), c.done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Submit on a full queue with a cancelled context = %v, want context.Canceled", err)
	}
	blocked := make(chan error, 1)
	go func() { blocked <- e.Submit(context.Background(), execAction(execSeat("room", 4), 4), c.done) }()
	select {
	case err := <-blocked:
		t.Fatalf("Submit on a full queue returned %v before the queue drained", err)
	default:
	}
	close(sink.gate)
	if err := <-blocked; err != nil {
		t.Fatalf("blocked Submit: %v", err)
	}
	var seats []int
	for _, r := range c.wait(t, 3) {
		seats = append(seats, r.o.Params.Index)
	}
	slices.Sort(seats)
	if !slices.Equal(seats, []int{1, 2, 4}) {
		t.Errorf("outcomes for seats %v, want [1 2 4] (the refused submission reports nothing)", seats)
	}
	c.none(t)
}

func TestExecutorThrottleSlowsLimiter(t *testing.T) {
	sink := &execFakeSink{answer: func(_ engine.LockSeat, n int) error {
		if n == 0 {
			return execAPIError(60007, engine.Throttled)
		}
		return nil
	}}
	e, fx := newExecFixture(t, Config{RatePerSecond: 200}, sink)
	runExecFixture(t, e)
	c := newExecCollector()
	execSubmit(t, e, c, execAction(execSeat("room", 1), 1))
	if r := c.wait(t, 1)[0]; r.o.Outcome != engine.Succeeded || r.o.Attempts != 2 {
		t.Fatalf("got %s after %d attempts, want succeeded after 2", r.o.Outcome, r.o.Attempts)
	}
	l := e.limiter
	want := fmt.Sprintf("calls_per_second=%v", float64(l.ceiling/2))
	if logs := fx.logs.String(); !strings.Contains(logs, "lowering the call rate") || !strings.Contains(logs, want) {
		t.Errorf("logs %q: want the rate lowered to %s", logs, want)
	}
	l.mu.Lock()
	decreased := l.lastDecrease
	l.mu.Unlock()
	if got := l.rateAt(decreased.Add(time.Minute)); got != l.ceiling {
		t.Errorf("rate a minute after throttling = %v, want recovered to %v", got, l.ceiling)
	}
	if got := promtest.MustValue(t, fx.reg, "roomwarden_executor_throttled_total"); got != 1 {
		t.Errorf("throttled metric = %v, want 1", got)
	}
}

// TestExecutorRetryDoesNotHoldWorker: with one worker, an action waiting
// an hour to retry lets the others run.
func TestExecutorRetryDoesNotHoldWorker(t *testing.T) {
	slow := execSeat("slow", 1)
	sink := &execFakeSink{answer: func(p engine.LockSeat, _ int) error {
		if p == slow {
			return execAPIError(100001, engine.Retryable)
		}
		return nil
	}}
	e, _ := newExecFixture(t, Config{Workers: 1, BackoffInitial: time.Hour, BackoffMax: time.Hour}, sink)
	e.backoff.jitter = func(n int64) int64 { return n - 1 }
	runExecFixture(t, e)
	c := newExecCollector()
	execSubmit(t, e, c, execAction(slow, 0))
	for i := 1; i <= 3; i++ {
		execSubmit(t, e, c, execAction(execSeat("fast", i), i))
	}
	for _, r := range c.wait(t, 3) {
		if r.err != nil || r.o.Params.RoomID != "fast" || r.o.Outcome != engine.Succeeded {
			t.Errorf("got %+v (err %v), want a fast action succeeded", r.o, r.err)
		}
	}
	c.none(t)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.Stop(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Stop past its deadline = %v, want context.Canceled", err)
	}
	r := c.wait(t, 1)[0]
	if !errors.Is(r.err, ErrStopped) || r.o.Params != slow || r.o.Attempts != 1 {
		t.Errorf("waiting action got %+v, err %v; want ErrStopped after 1 attempt", r.o, r.err)
	}
	if got := sink.callsFor(slow); got != 1 {
		t.Errorf("calls for the waiting action = %d, want 1", got)
	}
}

// TestExecutorCancelStopsEverything: Stop with an expired context
// abandons the calls in progress, queued and waiting to retry, and
// returns.
func TestExecutorCancelStopsEverything(t *testing.T) {
	slow, held := execSeat("slow", 1), execSeat("held", 1)
	entered := make(chan engine.LockSeat, 10)
	answer := func(p engine.LockSeat, _ int) error {
		if p == slow {
			return execAPIError(100001, engine.Retryable)
		}
		return nil
	}
	sink := &execFakeSink{answer: answer, entered: entered,
		gate: make(chan struct{}), gated: func(p engine.LockSeat) bool { return p == held }} // the gate never opens
	e, _ := newExecFixture(t, Config{Workers: 1, BackoffInitial: time.Hour, BackoffMax: time.Hour}, sink)
	e.backoff.jitter = func(n int64) int64 { return n - 1 }
	stop := runExecFixture(t, e)
	c := newExecCollector()
	execSubmit(t, e, c, execAction(slow, 0))
	<-entered // slow's first call
	execSubmit(t, e, c, execAction(held, 1), execAction(execSeat("queued", 1), 2), execAction(execSeat("queued", 2), 3))
	<-entered // held's call is in progress; the single worker is busy
	c.none(t)
	stop()

	results := c.wait(t, 4)
	for _, r := range results {
		if !errors.Is(r.err, ErrStopped) || r.o.Outcome != "" {
			t.Errorf("%s: outcome %q err %v, want no outcome and ErrStopped", r.o.Rule, r.o.Outcome, r.err)
		}
	}
	if err := e.Submit(context.Background(), execAction(slow, 9), c.done); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Stop = %v, want ErrClosed", err)
	}
}

// TestExecutorStopWaits: Stop with time to spare waits for every
// accepted action, retries included, to reach its outcome.
func TestExecutorStopWaits(t *testing.T) {
	e, _ := newExecFixture(t, Config{}, &execFakeSink{answer: func(_ engine.LockSeat, n int) error {
		if n == 0 {
			return execAPIError(100001, engine.Retryable)
		}
		return nil
	}})
	runExecFixture(t, e)
	c := newExecCollector()
	const n = 5
	for i := range n {
		execSubmit(t, e, c, execAction(execSeat("room", i), i))
	}
	if err := e.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if got := len(c.ch); got != n {
		t.Errorf("results when Stop returned = %d, want %d", got, n)
	}
	for _, r := range c.wait(t, n) {
		if r.err != nil || r.o.Outcome != engine.Succeeded || r.o.Attempts != 2 {
			t.Errorf("got %s after %d attempts, err %v; want succeeded after 2", r.o.Outcome, r.o.Attempts, r.err)
		}
	}
	if err := e.Submit(context.Background(), execAction(execSeat("room", 1), 1), c.done); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Stop = %v, want ErrClosed", err)
	}
}

// TestExecutorRollingWindow counts the calls, retries included, in every
// window of checkedWindow starting at a call: none may exceed the limit.
func TestExecutorRollingWindow(t *testing.T) {
	const limit, actions = 20, 60
	sink := &execFakeSink{answer: func(p engine.LockSeat, n int) error {
		if p.Index%4 == 0 && n == 0 {
			return execAPIError(100001, engine.Retryable)
		}
		return nil
	}}
	e, _ := newExecFixture(t, Config{RatePerSecond: limit, Workers: 8}, sink)
	runExecFixture(t, e)
	c := newExecCollector()
	for i := range actions {
		execSubmit(t, e, c, execAction(execSeat("room-w", i), i))
	}
	c.wait(t, actions)

	times := sink.times()
	if want := actions + actions/4; len(times) != want {
		t.Fatalf("calls = %d, want %d", len(times), want)
	}
	if got := maxInWindow(times, checkedWindow); got > limit {
		t.Errorf("max calls within %s = %d, want <= %d", checkedWindow, got, limit)
	}
}

// TestExecutorJitterMargin: a wider margin counts the limit in a longer
// window, so no window of a second plus the margin holds more than the
// limit; the pace drops accordingly; and the margin is bounded.
func TestExecutorJitterMargin(t *testing.T) {
	const limit, actions, margin = 20, 45, 400 * time.Millisecond
	sink := &execFakeSink{answer: func(engine.LockSeat, int) error { return nil }}
	e, _ := newExecFixture(t, Config{RatePerSecond: limit, Workers: 8, JitterMargin: margin}, sink)
	runExecFixture(t, e)
	if got := e.RateWindow(); got != time.Second+margin {
		t.Errorf("RateWindow() = %v, want %v", got, time.Second+margin)
	}
	c := newExecCollector()
	for i := range actions {
		execSubmit(t, e, c, execAction(execSeat("room-j", i), i))
	}
	c.wait(t, actions)
	// The same 100 ms allowance for late stamps as checkedWindow.
	if got := maxInWindow(sink.times(), time.Second+margin-100*time.Millisecond); got > limit {
		t.Errorf("max calls within %v = %d, want <= %d", time.Second+margin-100*time.Millisecond, got, limit)
	}
	for _, m := range []time.Duration{-time.Millisecond, 1001 * time.Millisecond} {
		cfg := Config{Sink: sink, DryRun: sink, DeadLetters: &execFakeDLQ{}, JitterMargin: m}
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "jitter_margin") {
			t.Errorf("New with JitterMargin %v = %v, want a jitter_margin error", m, err)
		}
	}
}

// checkedWindow is the rolling window the rate tests and benchmarks
// count calls in. The limiter is meant to keep every 1.02 s window of
// call starts at or under the limit (a second plus its 20 ms jitter
// margin); the sink stamps a call when the worker reaches it, which on a
// loaded machine (under -race, or beside other test binaries) can trail
// the start by tens of milliseconds and bunch calls together. Counting
// windows 100 ms shorter tolerates that much delay and still fails on a
// burst or a limiter running fast. It is spelled out rather than derived
// from limiterWindow, so that a wrong limiterWindow cannot move it.
const checkedWindow = 1020*time.Millisecond - 100*time.Millisecond

// maxInWindow returns the most times that fall in any window [t, t+w)
// starting at one of them.
func maxInWindow(times []time.Time, w time.Duration) int {
	ts := slices.Clone(times)
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	best, j := 0, 0
	for i := range ts {
		for j < len(ts) && ts[j].Sub(ts[i]) < w {
			j++
		}
		best = max(best, j-i)
	}
	return best
}

func TestMaxInWindow(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	at := func(ms ...int) []time.Time {
		var ts []time.Time
		for _, m := range ms {
			ts = append(ts, t0.Add(time.Duration(m)*time.Millisecond))
		}
		return ts
	}
	tests := []struct {
		name  string
		times []time.Time
		want  int
	}{
		{name: "none", want: 0},
		{name: "spread", times: at(0, 1000, 2000), want: 1},
		{name: "window is half-open", times: at(0, 999, 1000, 1001), want: 3},
		{name: "unsorted", times: at(1500, 0, 900, 100), want: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := maxInWindow(tc.times, time.Second); got != tc.want {
				t.Errorf("maxInWindow = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestNewConfig(t *testing.T) {
	sink, dlq := &execFakeSink{}, &execFakeDLQ{}
	tests := []struct {
		name    string
		cfg     Config
		sink    engine.Sink
		wantErr bool
	}{
		{name: "defaults", sink: sink},
		{name: "negative rate", cfg: Config{RatePerSecond: -1}, sink: sink, wantErr: true},
		{name: "rate too high", cfg: Config{RatePerSecond: maxRatePerSecond + 1}, sink: sink, wantErr: true},
		{name: "backoff max below initial", cfg: Config{BackoffInitial: time.Second, BackoffMax: time.Millisecond}, sink: sink, wantErr: true},
		{name: "negative workers", cfg: Config{Workers: -1}, sink: sink, wantErr: true},
		{name: "negative attempts", cfg: Config{MaxAttempts: -1}, sink: sink, wantErr: true},
		{name: "no sink", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Sink, cfg.DryRun, cfg.DeadLetters = tc.sink, sink, dlq
			e, err := New(cfg)
			if (err != nil) != tc.wantErr {
				t.Fatalf("New error = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			runExecFixture(t, e)
			got := e.cfg
			got.Sink, got.DryRun, got.DeadLetters, got.Logger = nil, nil, nil, nil
			want := Config{RatePerSecond: 200, MaxAttempts: 6, BackoffInitial: 200 * time.Millisecond,
				BackoffMax: 10 * time.Second, Workers: 64, QueueSize: 10000, JitterMargin: 20 * time.Millisecond}
			if got != want {
				t.Errorf("config %+v, want %+v", got, want)
			}
		})
	}
}

func TestExecutorMetricsRegistered(t *testing.T) {
	sink := &execFakeSink{answer: func(p engine.LockSeat, _ int) error {
		if p.Index == 2 {
			return execAPIError(100002, engine.Permanent)
		}
		return nil
	}}
	e, fx := newExecFixture(t, Config{}, sink)
	runExecFixture(t, e)
	c := newExecCollector()
	execSubmit(t, e, c, execAction(execSeat("room", 1), 1), execAction(execSeat("room", 2), 2))
	c.wait(t, 2)

	counts := map[string]uint64{}
	families, err := fx.reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
		if f.GetName() != "roomwarden_roomengine_call_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			counts[m.GetLabel()[0].GetValue()] = m.GetHistogram().GetSampleCount()
		}
	}
	for _, want := range []string{"roomwarden_executor_queue_depth", "roomwarden_executor_rate_limit",
		"roomwarden_executor_limiter_wait_seconds", "roomwarden_executor_outcomes_total"} {
		if !slices.Contains(names, want) {
			t.Errorf("metric %s not registered; have %v", want, names)
		}
	}
	if counts["0"] != 1 || counts["100002"] != 1 {
		t.Errorf("call duration counts by code = %v, want 0:1 100002:1", counts)
	}
	if _, err := New(Config{Sink: sink, DryRun: sink, DeadLetters: fx.dlq, Registerer: fx.reg}); err == nil {
		t.Error("registering the metrics twice on one registry succeeded, want an error")
	}
	if got := promtest.MustValue(t, fx.reg, "roomwarden_executor_outcomes_total", "outcome", string(engine.Failed)); got != 1 {
		t.Errorf("failed outcomes = %v, want 1", got)
	}
}
