package executor

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/engine"
)

// TestOneCallPerSeat: a lock in flight on a seat, and the unlock that
// ends an older lock of that seat submitted meanwhile (an undo falling
// due). The unlock is not sent while the lock's call runs; its Still
// hook, asked once the lock's done has returned (the pipeline records
// the lock there), finds it superseded, and it ends unsent. A call on
// another seat of the room runs meanwhile. Without the seat's turns the
// unlock went out while the lock was in flight, and the Room Engine
// could apply it last, undoing the newer lock.
func TestOneCallPerSeat(t *testing.T) {
	lock := engine.LockSeat{RoomID: "r", Index: 2, ForbidAudio: engine.True}
	unlock := engine.LockSeat{RoomID: "r", Index: 2, ForbidAudio: engine.False}
	other := engine.LockSeat{RoomID: "r", Index: 3, ForbidAudio: engine.True}
	e, sink := gatedExecutor(t, lock)
	ctx := context.Background()

	var recorded atomic.Bool
	lockDone := make(chan error, 1)
	if err := e.Submit(ctx, execAction(lock, 1), func(_ engine.Outcome, err error) {
		time.Sleep(50 * time.Millisecond) // writing the lock record takes a moment
		recorded.Store(err == nil)
		lockDone <- err
	}); err != nil {
		t.Fatal(err)
	}
	entered(t, sink, lock)

	undo := execAction(unlock, 2)
	undo.Kind = engine.ActionUnlockSeat
	undo.Still = func(context.Context) (bool, error) { return !recorded.Load(), nil }
	unlockDone := make(chan error, 1)
	if err := e.Submit(ctx, undo, func(_ engine.Outcome, err error) { unlockDone <- err }); err != nil {
		t.Fatal(err)
	}
	execSubmit(t, e, newExecCollector(), execAction(other, 3))
	entered(t, sink, other)
	select {
	case p := <-sink.entered:
		t.Fatalf("%+v sent while a call on its seat was in flight", p)
	case <-time.After(200 * time.Millisecond):
	}

	close(sink.gate)
	if err := <-lockDone; err != nil {
		t.Fatalf("lock: %v", err)
	}
	if err := <-unlockDone; !errors.Is(err, engine.ErrNotWanted) {
		t.Errorf("unlock ended with %v, want engine.ErrNotWanted: its Still hook asked after the newer lock was recorded", err)
	}
	if n := sink.callsFor(unlock); n != 0 {
		t.Errorf("the unlock was sent %d times, want 0", n)
	}
}

// gatedExecutor is an executor whose sink holds the calls with params
// gated until the sink's gate closes, and reports every call on entry.
func gatedExecutor(t *testing.T, gated engine.LockSeat) (*Executor, *execFakeSink) {
	t.Helper()
	sink := &execFakeSink{gate: make(chan struct{}), gated: func(p engine.LockSeat) bool { return p == gated },
		entered: make(chan engine.LockSeat, 8)}
	e, _ := newExecFixture(t, Config{RatePerSecond: 1000}, sink)
	runExecFixture(t, e)
	return e, sink
}

// entered waits for the sink to receive a call with p.
func entered(t *testing.T, sink *execFakeSink, p engine.LockSeat) {
	t.Helper()
	select {
	case got := <-sink.entered:
		if got != p {
			t.Fatalf("the sink received %+v, want %+v", got, p)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the sink received nothing, want %+v", p)
	}
}

// TestParkedCallRuns: a call that waited for its seat's turn is sent
// once the seat is free, after the call before it, and both succeed.
func TestParkedCallRuns(t *testing.T) {
	audio := engine.LockSeat{RoomID: "r", Index: 1, ForbidAudio: engine.True}
	video := engine.LockSeat{RoomID: "r", Index: 1, ForbidVideo: engine.True}
	e, sink := gatedExecutor(t, audio)
	c := newExecCollector()
	execSubmit(t, e, c, execAction(audio, 1))
	entered(t, sink, audio)
	execSubmit(t, e, c, execAction(video, 2))
	select {
	case p := <-sink.entered:
		t.Fatalf("%+v sent while a call on its seat was in flight", p)
	case <-time.After(200 * time.Millisecond):
	}
	close(sink.gate)
	entered(t, sink, video)
	for _, r := range c.wait(t, 2) {
		if r.err != nil || r.o.Outcome != engine.Succeeded {
			t.Errorf("%+v: %s, %v; want succeeded", r.o.Params, r.o.Outcome, r.err)
		}
	}
	stopIdle(t, e)
}
