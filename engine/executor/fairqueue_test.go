package executor

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/internal/promtest"
)

func queuedCall(room string, i int) *execCall {
	return &execCall{key: coalesceKey{params: engine.LockSeat{RoomID: room, Index: i}}}
}

// TestFairQueueRoundRobin: rooms take turns, each room's calls in order.
func TestFairQueueRoundRobin(t *testing.T) {
	q := newFairQueue(16)
	for _, c := range []struct {
		room string
		n    int
	}{{"a", 5}, {"b", 2}, {"c", 1}} {
		for i := range c.n {
			if !q.tryPut(queuedCall(c.room, i)) {
				t.Fatalf("tryPut %s%d: queue full", c.room, i)
			}
		}
	}
	var got []string
	for q.len() > 0 {
		<-q.ready()
		c := q.pop()
		got = append(got, c.key.params.RoomID+string(rune('0'+c.key.params.Index)))
	}
	want := []string{"a0", "b0", "c0", "a1", "b1", "a2", "a3", "a4"}
	if !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

// TestFairQueueBounded: a full queue refuses tryPut and makes put wait
// until a call is taken, or until the context ends.
func TestFairQueueBounded(t *testing.T) {
	q := newFairQueue(2)
	q.tryPut(queuedCall("a", 0))
	q.tryPut(queuedCall("a", 1))
	if q.tryPut(queuedCall("a", 2)) {
		t.Fatal("tryPut into a full queue succeeded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := q.put(ctx, nil, queuedCall("b", 0)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("put into a full queue = %v, want the context's error", err)
	}
	<-q.ready()
	q.pop()
	if err := q.put(context.Background(), nil, queuedCall("b", 0)); err != nil {
		t.Fatalf("put after a pop = %v", err)
	}
	if got := len(q.drain()); got != 2 {
		t.Errorf("drained %d calls, want 2", got)
	}
}

// TestExecutorServesRoomsFairly is the probe of issue [1c/6] item 6: a
// burst of 300 actions for one room must not hold up another room's
// action queued after it. With one worker, the other room's call is at
// most the third to reach the Room Engine.
func TestExecutorServesRoomsFairly(t *testing.T) {
	gate := make(chan struct{})
	sink := &execFakeSink{gate: gate}
	e, fx := newExecFixture(t, Config{Workers: 1, RatePerSecond: maxRatePerSecond}, sink)
	runExecFixture(t, e)
	c := newExecCollector()
	for i := range 300 {
		execSubmit(t, e, c, execAction(execSeat("busy-room", i), i))
	}
	execSubmit(t, e, c, execAction(execSeat("quiet-room", 1), 1000))
	close(gate)
	c.wait(t, 301)
	sink.mu.Lock()
	calls := slices.Clone(sink.calls)
	sink.mu.Unlock()
	pos := slices.IndexFunc(calls, func(s execSinkCall) bool { return s.params.RoomID == "quiet-room" })
	if pos < 0 || pos > 2 {
		t.Errorf("the quiet room's call was number %d of %d, want among the first 3", pos+1, len(calls))
	}
	if strings.Contains(fx.logs.String(), "saturated") {
		t.Errorf("executor reported saturation with a queue of 10000 and 301 actions:\n%s", fx.logs)
	}
}

// TestExecutorSaturation: when the queue is full the executor says so,
// once per stretch, in the log and the gauge, and says when it has
// drained.
func TestExecutorSaturation(t *testing.T) {
	gate := make(chan struct{})
	sink := &execFakeSink{gate: gate}
	e, fx := newExecFixture(t, Config{Workers: 1, QueueSize: 4, RatePerSecond: maxRatePerSecond}, sink)
	runExecFixture(t, e)
	c := newExecCollector()
	submitted := make(chan struct{})
	go func() {
		defer close(submitted)
		for i := range 12 {
			if err := e.Submit(context.Background(), execAction(execSeat("room", i), i), c.done); err != nil {
				t.Errorf("Submit %d: %v", i, err)
			}
		}
	}()
	waitLog := func(what string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(fx.logs.String(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the log:\n%s", what, fx.logs)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitLog("executor saturated")
	if got := promtest.MustValue(t, fx.reg, "roomwarden_executor_saturated"); got != 1 {
		t.Errorf("saturated gauge = %v while the queue is full, want 1", got)
	}
	close(gate)
	<-submitted
	c.wait(t, 12)
	waitLog("executor no longer saturated")
	if got := promtest.MustValue(t, fx.reg, "roomwarden_executor_saturated"); got != 0 {
		t.Errorf("saturated gauge = %v once drained, want 0", got)
	}
	logs := fx.logs.String()
	if on, off := strings.Count(logs, "executor saturated"), strings.Count(logs, "executor no longer saturated"); on != off {
		t.Errorf("saturation began %d times and ended %d times, want each stretch logged once at each end", on, off)
	}
}

// TestExecutorLocalShortageSpendsNoAttempt: a call that could not be
// sent for want of a file descriptor is retried without spending an
// attempt, so a long shortage does not dead-letter the action.
func TestExecutorLocalShortageSpendsNoAttempt(t *testing.T) {
	emfile := &engine.CallError{Class: engine.Local, Info: "socket: too many open files"}
	sink := &execFakeSink{answer: func(_ engine.LockSeat, n int) error {
		if n < 8 {
			return emfile
		}
		return nil
	}}
	e, fx := newExecFixture(t, Config{MaxAttempts: 2}, sink)
	runExecFixture(t, e)
	c := newExecCollector()
	execSubmit(t, e, c, execAction(execSeat("room", 1), 1))
	r := c.wait(t, 1)[0]
	if r.err != nil || r.o.Outcome != engine.Succeeded || r.o.Attempts != 1 {
		t.Errorf("outcome %s after %d attempts (err %v), want succeeded after 1", r.o.Outcome, r.o.Attempts, r.err)
	}
	if got := promtest.MustValue(t, fx.reg, "roomwarden_executor_local_errors_total"); got != 8 {
		t.Errorf("local errors = %v, want 8", got)
	}
}
