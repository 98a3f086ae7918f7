package engine_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/engine/executor"
	"github.com/roomwarden/roomwarden/engine/state"
)

// unlockSink answers the Room Engine calls of TestUndoRetryWithExecutor:
// the first fails retryably, after running first; the others succeed.
type unlockSink struct {
	first func()

	mu    sync.Mutex
	calls []engine.LockSeat
}

func (s *unlockSink) LockSeat(_ context.Context, p engine.LockSeat) (engine.Receipt, error) {
	s.mu.Lock()
	s.calls = append(s.calls, p)
	n := len(s.calls)
	s.mu.Unlock()
	if n == 1 {
		s.first()
		return engine.Receipt{}, &engine.CallError{Code: 100001, Info: "internal error", Class: engine.Retryable}
	}
	return engine.Receipt{RequestID: "req-ok"}, nil
}

func (s *unlockSink) sent() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

type noDeadLetters struct{ t *testing.T }

func (d noDeadLetters) DeadLetter(_ context.Context, o engine.Outcome) error {
	d.t.Errorf("dead letter %+v, want none", o)
	return nil
}

type lines struct {
	mu  sync.Mutex
	got []engine.Outcome
}

func (l *lines) Record(o engine.Outcome) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, o)
	return nil
}

// TestUndoRetryWithExecutor: the undoer on the real executor. The
// unlock's first call fails retryably, and a newer lock of the same seat
// flag (30 s) is recorded while it does: the retry is not sent, the
// undo is superseded (no action log line) and the newer lock stays on
// record. Without the newer lock the retry is sent and succeeds.
func TestUndoRetryWithExecutor(t *testing.T) {
	for _, newer := range []bool{true, false} {
		name := map[bool]string{true: "newer lock during the first call", false: "no newer lock"}[newer]
		t.Run(name, func(t *testing.T) {
			now := time.Now()
			mem := state.NewMemory(100)
			older := state.Lock{SeatFlag: state.SeatFlag{RoomID: "room-x", Index: 1, Flag: engine.FlagAudio},
				Rule: "timed-mute", EventID: "older", At: now.Add(-2 * time.Second), End: now}
			if _, err := mem.Locked(t.Context(), older); err != nil {
				t.Fatal(err)
			}
			newerLock := older
			newerLock.EventID, newerLock.At, newerLock.End = "newer", now, now.Add(30*time.Second)
			sink := &unlockSink{first: func() {
				if newer {
					if _, err := mem.Locked(context.Background(), newerLock); err != nil {
						t.Error(err)
					}
				}
			}}
			e, err := executor.New(executor.Config{Sink: sink, DryRun: sink, DeadLetters: noDeadLetters{t},
				BackoffInitial: time.Millisecond, BackoffMax: 5 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := e.Stop(ctx); err != nil {
					t.Errorf("executor Stop = %v, want nil (nothing pending)", err)
				}
			})
			rec := &lines{}
			u, err := engine.NewUndoer(engine.UndoerConfig{Seats: mem, Executor: e, Recorder: rec})
			if err != nil {
				t.Fatal(err)
			}
			if err := u.Handle(t.Context(), state.Undo{Lock: older}); err != nil {
				t.Fatalf("Handle = %v, want nil", err)
			}
			held, ok, _ := mem.Held(t.Context(), older.SeatFlag)
			if newer {
				if n := sink.sent(); n != 1 {
					t.Errorf("unlock calls = %d, want 1: the retry after the newer lock not sent", n)
				}
				if len(rec.got) != 0 {
					t.Errorf("action log %+v, want no line for the superseded undo", rec.got)
				}
				if !ok || held != newerLock {
					t.Errorf("held %+v (%v), want the newer lock %+v", held, ok, newerLock)
				}
				return
			}
			if n := sink.sent(); n != 2 {
				t.Errorf("unlock calls = %d, want 2", n)
			}
			if len(rec.got) != 1 || rec.got[0].Outcome != engine.Succeeded || rec.got[0].Attempts != 2 ||
				rec.got[0].Action != engine.ActionUnlockSeat || rec.got[0].EventID != "older" {
				t.Errorf("action log %+v, want one unlock_seat line for older, succeeded after 2 attempts", rec.got)
			}
			if ok {
				t.Errorf("held %+v after the unlock, want no lock", held)
			}
		})
	}
}
