package executor

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/internal/promtest"
)

// stillProbe is an Action.Still hook that answers from a script and
// notes, at each ask, how many calls the sink had received.
type stillProbe struct {
	sink   *execFakeSink
	p      engine.LockSeat
	answer func(ask int) (bool, error) // ask counts from 0

	mu        sync.Mutex
	callsSeen []int
	at        []time.Time
}

func (s *stillProbe) still(context.Context) (bool, error) {
	s.mu.Lock()
	n := len(s.callsSeen)
	s.callsSeen = append(s.callsSeen, s.sink.callsFor(s.p))
	s.at = append(s.at, time.Now())
	s.mu.Unlock()
	return s.answer(n)
}

func (s *stillProbe) asks() ([]int, []time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.callsSeen...), append([]time.Time(nil), s.at...)
}

// runStill submits a with a Still hook that answers answer, and waits
// for its first result; the collector gets any later ones.
func runStill(t *testing.T, e *Executor, sink *execFakeSink, a engine.Action,
	answer func(ask int) (bool, error)) (execResult, *stillProbe, *execCollector) {
	t.Helper()
	probe := &stillProbe{sink: sink, p: a.Params, answer: answer}
	a.Still = probe.still
	c := newExecCollector()
	execSubmit(t, e, c, a)
	return c.wait(t, 1)[0], probe, c
}

// stopIdle stops e, failing the test unless every accepted action had
// already reported (Stop waits for none).
func stopIdle(t *testing.T, e *Executor) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.Stop(ctx); err != nil {
		t.Errorf("Stop = %v, want nil: an action was left pending", err)
	}
}

// TestExecutorStillAskedBeforeEachAttempt: an action's Still hook is
// asked before its first call and before each retry (never after the
// last call), once the limiter has let the call through.
func TestExecutorStillAskedBeforeEachAttempt(t *testing.T) {
	sink := &execFakeSink{answer: func(_ engine.LockSeat, n int) error {
		if n < 2 {
			return execAPIError(100001, engine.Retryable)
		}
		return nil
	}}
	e, _ := newExecFixture(t, Config{}, sink)
	created := time.Now()
	runExecFixture(t, e)
	p := execSeat("room-still", 1)
	r, probe, _ := runStill(t, e, sink, execAction(p, 1), func(int) (bool, error) { return true, nil })
	if r.err != nil || r.o.Outcome != engine.Succeeded || r.o.Attempts != 3 {
		t.Fatalf("outcome %s after %d attempts (err %v), want succeeded after 3", r.o.Outcome, r.o.Attempts, r.err)
	}
	seen, at := probe.asks()
	if want := []int{0, 1, 2}; !slices.Equal(seen, want) {
		t.Errorf("the hook was asked with %v calls made, want %v: once before each call", seen, want)
	}
	// The limiter holds the first call one window after New: the hook is
	// asked after that wait, right before the call.
	if len(at) > 0 && at[0].Sub(created) < time.Second {
		t.Errorf("first ask %s after New, want it after the limiter's hold of a window", at[0].Sub(created))
	}
	stopIdle(t, e)
}

// TestExecutorStillNotWanted: a "no" from the hook ends the action
// without a call, with ErrNotWanted and no terminal outcome: before the
// first call, or before a retry after a failed call. It is counted as
// not_wanted, not dead-lettered, and leaves nothing pending.
func TestExecutorStillNotWanted(t *testing.T) {
	tests := []struct {
		name      string
		yes       int // asks answered true before the first false
		wantCalls int
		wantCode  int
	}{
		{name: "before the first call", yes: 0, wantCalls: 0},
		{name: "before a retry", yes: 1, wantCalls: 1, wantCode: 100001},
		{name: "before the second retry", yes: 2, wantCalls: 2, wantCode: 100001},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := &execFakeSink{answer: func(engine.LockSeat, int) error { return execAPIError(100001, engine.Retryable) }}
			e, fx := newExecFixture(t, Config{MaxAttempts: 6}, sink)
			runExecFixture(t, e)
			p := execSeat("room-gone", 2)
			a := execAction(p, 3)
			a.Kind = engine.ActionUnlockSeat
			r, probe, c := runStill(t, e, sink, a, func(ask int) (bool, error) { return ask < tc.yes, nil })
			if !errors.Is(r.err, engine.ErrNotWanted) || r.o.Outcome != "" {
				t.Fatalf("got outcome %q, err %v; want no outcome and ErrNotWanted", r.o.Outcome, r.err)
			}
			if r.o.Rule != "rule-3" || r.o.EventID != "evt-3" || r.o.Action != engine.ActionUnlockSeat || r.o.Params != p ||
				r.o.Attempts != tc.wantCalls || r.o.ErrorCode != tc.wantCode {
				t.Errorf("outcome %+v: want rule-3, evt-3, unlock_seat, %+v, %d attempts, error code %d",
					r.o, p, tc.wantCalls, tc.wantCode)
			}
			if got := sink.callsFor(p); got != tc.wantCalls {
				t.Errorf("sink calls = %d, want %d: nothing sent after the hook said no", got, tc.wantCalls)
			}
			if seen, _ := probe.asks(); len(seen) != tc.yes+1 {
				t.Errorf("hook asked %d times, want %d", len(seen), tc.yes+1)
			}
			if letters, _ := fx.dlq.got(); len(letters) != 0 {
				t.Errorf("dead letters %+v, want none", letters)
			}
			if got := promtest.MustValue(t, fx.reg, "roomwarden_executor_outcomes_total", "outcome", notWantedLabel); got != 1 {
				t.Errorf("outcomes{not_wanted} = %v, want 1", got)
			}
			if got := e.coalesce.inFlight(); got != 0 {
				t.Errorf("%d calls still in flight, want 0", got)
			}
			c.none(t)
			stopIdle(t, e)
		})
	}
}

// TestExecutorStillErrorSendsNothing: a hook that cannot answer sends
// nothing and drops nothing: the call is retried after its backoff
// without spending an attempt (max_attempts 1 here), then sent once the
// hook answers.
func TestExecutorStillErrorSendsNothing(t *testing.T) {
	sink := &execFakeSink{}
	e, _ := newExecFixture(t, Config{MaxAttempts: 1}, sink)
	runExecFixture(t, e)
	p := execSeat("room-unsure", 1)
	unavailable := errors.New("state store unavailable")
	r, probe, _ := runStill(t, e, sink, execAction(p, 4), func(ask int) (bool, error) {
		if ask < 3 {
			return false, unavailable
		}
		return true, nil
	})
	if r.err != nil || r.o.Outcome != engine.Succeeded || r.o.Attempts != 1 {
		t.Fatalf("outcome %s after %d attempts (err %v), want succeeded after 1", r.o.Outcome, r.o.Attempts, r.err)
	}
	if seen, _ := probe.asks(); !slices.Equal(seen, []int{0, 0, 0, 0}) {
		t.Errorf("the hook was asked with %v calls made, want [0 0 0 0]: nothing sent while it failed", seen)
	}
	stopIdle(t, e)
}

// TestExecutorStillErrorAtStop: an action whose hook keeps failing is
// abandoned at Stop with ErrStopped (its event given back), not dropped
// as not wanted.
func TestExecutorStillErrorAtStop(t *testing.T) {
	sink := &execFakeSink{}
	e, _ := newExecFixture(t, Config{}, sink)
	p := execSeat("room-down", 1)
	asked := make(chan struct{}, 100)
	a := execAction(p, 5)
	a.Still = func(context.Context) (bool, error) {
		asked <- struct{}{}
		return false, errors.New("state store unavailable")
	}
	c := newExecCollector()
	execSubmit(t, e, c, a)
	select {
	case <-asked:
	case <-time.After(30 * time.Second):
		t.Error("the hook was never asked")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = e.Stop(ctx)
	r := c.wait(t, 1)[0]
	if !errors.Is(r.err, ErrStopped) || errors.Is(r.err, engine.ErrNotWanted) || r.o.Attempts != 0 {
		t.Errorf("got %+v, err %v; want ErrStopped after 0 attempts", r.o, r.err)
	}
	if got := sink.callsFor(p); got != 0 {
		t.Errorf("sink calls = %d, want 0", got)
	}
}

// TestExecutorStillCoalesced: identical actions share a call; each one's
// hook is asked, the ones no longer wanted leave it, and the call goes
// out for the rest. When none is left the call is not sent, and an
// identical action submitted afterwards starts a call of its own.
func TestExecutorStillCoalesced(t *testing.T) {
	sink := &execFakeSink{}
	e, fx := newExecFixture(t, Config{}, sink)
	runExecFixture(t, e)
	no := func(context.Context) (bool, error) { return false, nil }
	yes := func(context.Context) (bool, error) { return true, nil }

	// Submitted together within the limiter's first hold (a window after
	// New), so all three join one call before it is sent.
	p := execSeat("room-shared", 1)
	gone, kept, plain := execAction(p, 1), execAction(p, 2), execAction(p, 3)
	gone.Still, kept.Still = no, yes
	c := newExecCollector()
	execSubmit(t, e, c, gone, kept, plain)
	got := map[string]execResult{}
	for _, r := range c.wait(t, 3) {
		got[r.o.Rule] = r
	}
	if r := got["rule-1"]; !errors.Is(r.err, engine.ErrNotWanted) || r.o.Attempts != 0 {
		t.Errorf("unwanted action: %+v, err %v; want ErrNotWanted after 0 attempts", r.o, r.err)
	}
	for _, rule := range []string{"rule-2", "rule-3"} {
		if r := got[rule]; r.err != nil || r.o.Outcome != engine.Succeeded || r.o.Attempts != 1 {
			t.Errorf("%s: %+v, err %v; want succeeded after 1 attempt", rule, r.o, r.err)
		}
	}
	if n := sink.callsFor(p); n != 1 {
		t.Errorf("calls = %d, want 1", n)
	}

	// All unwanted: nothing sent; a later identical action is a new call.
	q := execSeat("room-none", 1)
	a1, a2 := execAction(q, 4), execAction(q, 5)
	a1.Still, a2.Still = no, no
	execSubmit(t, e, c, a1, a2)
	for _, r := range c.wait(t, 2) {
		if !errors.Is(r.err, engine.ErrNotWanted) {
			t.Errorf("%s: %+v, err %v; want ErrNotWanted", r.o.Rule, r.o, r.err)
		}
	}
	if n := sink.callsFor(q); n != 0 {
		t.Errorf("calls = %d, want 0", n)
	}
	execSubmit(t, e, c, execAction(q, 6))
	if r := c.wait(t, 1)[0]; r.err != nil || r.o.Outcome != engine.Succeeded || r.o.Rule != "rule-6" {
		t.Errorf("later action: %+v, err %v; want rule-6 succeeded", r.o, r.err)
	}
	if n := sink.callsFor(q); n != 1 {
		t.Errorf("calls after the later action = %d, want 1", n)
	}
	if got := promtest.MustValue(t, fx.reg, "roomwarden_executor_outcomes_total", "outcome", notWantedLabel); got != 3 {
		t.Errorf("outcomes{not_wanted} = %v, want 3", got)
	}
	stopIdle(t, e)
}
