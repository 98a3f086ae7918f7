package engine

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/internal/promtest"
)

// retryingSubmitter runs each action as the executor does, synchronously:
// before every call it asks the action's Still hook (a "no" ends the
// action unsent with ErrNotWanted; an error skips that call without
// spending an attempt); call n (from 1) answers fail(n), a non-nil error
// being retried up to maxAttempts; after each failed call, or failed
// ask, it runs between(n), n being the calls made so far.
type retryingSubmitter struct {
	maxAttempts int
	fail        func(n int) error
	between     func(n int)

	mu       sync.Mutex
	calls    []LockSeat
	asks     int
	askErrs  []error
	notified []error // the errors given to done
}

func (s *retryingSubmitter) Submit(ctx context.Context, a Action, done func(Outcome, error)) error {
	o, err := s.run(ctx, a)
	s.mu.Lock()
	s.notified = append(s.notified, err)
	s.mu.Unlock()
	done(o, err)
	return nil
}

func (s *retryingSubmitter) run(ctx context.Context, a Action) (Outcome, error) {
	o := Outcome{Rule: a.Rule, EventID: a.EventID, Action: a.Kind, Params: a.Params}
	for range 100 {
		if a.Still != nil {
			s.mu.Lock()
			s.asks++
			s.mu.Unlock()
			ok, err := a.Still(ctx)
			if err != nil {
				s.mu.Lock()
				s.askErrs = append(s.askErrs, err)
				s.mu.Unlock()
				s.between(o.Attempts)
				continue
			}
			if !ok {
				return o, ErrNotWanted
			}
		}
		o.Attempts++
		s.mu.Lock()
		s.calls = append(s.calls, a.Params)
		s.mu.Unlock()
		if err := s.fail(o.Attempts); err != nil {
			o.ErrorInfo = err.Error()
			if o.Attempts >= s.maxAttempts {
				o.Outcome = DeadLettered
				return o, nil
			}
			s.between(o.Attempts)
			continue
		}
		o.Outcome, o.ErrorInfo = Succeeded, ""
		return o, nil
	}
	return o, errors.New("retryingSubmitter: too many asks")
}

func (s *retryingSubmitter) sent() []LockSeat {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]LockSeat(nil), s.calls...)
}

// undoFixture is an Undoer on an in-memory store holding one timed lock
// of room-u seat 1's audio, due now.
type undoFixture struct {
	seats *state.Memory
	sub   *retryingSubmitter
	rec   *listRecorder
	reg   *prometheus.Registry
	u     *Undoer
	lock  state.Lock
	now   time.Time
}

func newUndoFixture(t *testing.T, seats state.Seats, mem *state.Memory, sub *retryingSubmitter) *undoFixture {
	t.Helper()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	f := &undoFixture{seats: mem, sub: sub, rec: &listRecorder{}, reg: prometheus.NewRegistry(), now: now,
		lock: state.Lock{SeatFlag: state.SeatFlag{RoomID: "room-u", Index: 1, Flag: FlagAudio},
			Rule: "timed-mute", EventID: "older", At: now.Add(-2 * time.Second), End: now}}
	if _, err := mem.Locked(t.Context(), f.lock); err != nil {
		t.Fatal(err)
	}
	var err error
	f.u, err = NewUndoer(UndoerConfig{Seats: seats, Executor: sub, Recorder: f.rec, Registerer: f.reg,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// undos returns roomwarden_undos_total{result}.
func (f *undoFixture) undos(t *testing.T, result string) float64 {
	t.Helper()
	v, _ := promtest.Value(t, f.reg, "roomwarden_undos_total", "result", result)
	return v
}

// TestUndoRetryAfterNewerLock: the unlock's first call fails; before its
// retry the seat flag is locked anew (a later end), overridden by a
// moderator, or left alone. The retry is sent only if the lock it ends
// is still the one held: otherwise the undo is superseded (no action log
// line, the newer lock's record kept), as if found so before the first
// call.
func TestUndoRetryAfterNewerLock(t *testing.T) {
	retryable := &CallError{Code: 100001, Info: "internal error", Class: Retryable}
	tests := []struct {
		name      string
		before    func(t *testing.T, f *undoFixture) // before the undo runs
		between   func(t *testing.T, f *undoFixture) // after the first call failed
		wantCalls int
		wantHeld  string // event id of the lock held afterwards; "" none
	}{
		{name: "newer lock between attempts", wantCalls: 1, wantHeld: "newer",
			between: func(t *testing.T, f *undoFixture) { f.lockAgain(t, 30*time.Second) }},
		{name: "lock without end between attempts", wantCalls: 1, wantHeld: "newer",
			between: func(t *testing.T, f *undoFixture) { f.lockAgain(t, 0) }},
		{name: "override between attempts", wantCalls: 1,
			between: func(t *testing.T, f *undoFixture) {
				if ok, err := f.seats.Override(t.Context(), f.lock.SeatFlag, f.now, 30*time.Minute); err != nil || !ok {
					t.Fatalf("Override = %v, %v; want true", ok, err)
				}
			}},
		{name: "newer lock before the first call", wantCalls: 0, wantHeld: "newer",
			before: func(t *testing.T, f *undoFixture) { f.lockAgain(t, 30*time.Second) }},
		{name: "still the latest lock", wantCalls: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := state.NewMemory(100)
			sub := &retryingSubmitter{maxAttempts: 6, fail: func(n int) error {
				if n == 1 {
					return retryable
				}
				return nil
			}}
			f := newUndoFixture(t, mem, mem, sub)
			sub.between = func(n int) {
				if n == 1 && tc.between != nil {
					tc.between(t, f)
				}
			}
			if tc.before != nil {
				tc.before(t, f)
			}
			if err := f.u.Handle(t.Context(), state.Undo{Lock: f.lock}); err != nil {
				t.Fatalf("Handle = %v, want nil", err)
			}
			if got := len(f.sub.sent()); got != tc.wantCalls {
				t.Errorf("unlock calls = %d, want %d", got, tc.wantCalls)
			}
			held, ok, _ := mem.Held(t.Context(), f.lock.SeatFlag)
			if (tc.wantHeld == "") == ok || (ok && held.EventID != tc.wantHeld) {
				t.Errorf("held afterwards: %+v (%v), want the lock of %q", held, ok, tc.wantHeld)
			}
			superseded, sent := f.undos(t, "superseded"), f.undos(t, "sent")
			if tc.wantCalls == 2 {
				lines := f.rec.got
				if len(lines) != 1 || lines[0].Outcome != Succeeded || lines[0].Action != ActionUnlockSeat ||
					lines[0].EventID != "older" || lines[0].Attempts != 2 || lines[0].Params.ForbidAudio != False {
					t.Errorf("action log %+v, want one unlock_seat line for event older, succeeded after 2 attempts", lines)
				}
				if superseded != 0 || sent != 1 {
					t.Errorf("undos_total superseded %v, sent %v; want 0 and 1", superseded, sent)
				}
				return
			}
			if len(f.rec.got) != 0 {
				t.Errorf("action log %+v, want no line for a superseded undo", f.rec.got)
			}
			if superseded != 1 || sent != 0 {
				t.Errorf("undos_total superseded %v, sent %v; want 1 and 0", superseded, sent)
			}
		})
	}
}

// lockAgain records a newer lock of the fixture's seat flag, ending d
// from now (0: no end).
func (f *undoFixture) lockAgain(t *testing.T, d time.Duration) {
	t.Helper()
	l := f.lock
	l.EventID, l.At, l.End = "newer", f.now, lockEnd(f.now, d)
	if got, err := f.seats.Locked(t.Context(), l); err != nil || got != l {
		t.Fatalf("Locked = %+v, %v; want the newer lock recorded", got, err)
	}
}

// flakySeats fails the Held calls numbered in fail (from 1).
type flakySeats struct {
	state.Seats
	fail map[int]bool

	mu    sync.Mutex
	calls int
}

var errStoreDown = errors.New("state store unavailable: test")

func (s *flakySeats) Held(ctx context.Context, f state.SeatFlag) (state.Lock, bool, error) {
	s.mu.Lock()
	s.calls++
	n := s.calls
	s.mu.Unlock()
	if s.fail[n] {
		return state.Lock{}, false, errStoreDown
	}
	return s.Seats.Held(ctx, f)
}

// TestUndoStillStoreDown: when the lock record cannot be read before a
// call, the hook says so (an error, not a "no"): the unlock is neither
// dropped nor sent on a guess, and goes out once the store answers.
func TestUndoStillStoreDown(t *testing.T) {
	mem := state.NewMemory(100)
	// Held call 1 is Handle's check before submitting; 2 and 3 are the
	// hook's first two asks.
	seats := &flakySeats{Seats: mem, fail: map[int]bool{2: true, 3: true}}
	sub := &retryingSubmitter{maxAttempts: 1, fail: func(int) error { return nil }, between: func(int) {}}
	f := newUndoFixture(t, seats, mem, sub)
	if err := f.u.Handle(t.Context(), state.Undo{Lock: f.lock}); err != nil {
		t.Fatalf("Handle = %v, want nil", err)
	}
	if len(sub.askErrs) != 2 || !errors.Is(sub.askErrs[0], errStoreDown) {
		t.Errorf("hook errors %v, want the store's error twice", sub.askErrs)
	}
	if got := len(sub.sent()); got != 1 {
		t.Errorf("unlock calls = %d, want 1", got)
	}
	if lines := f.rec.got; len(lines) != 1 || lines[0].Outcome != Succeeded || lines[0].Attempts != 1 {
		t.Errorf("action log %+v, want one succeeded unlock_seat line", lines)
	}
	if _, ok, _ := mem.Held(t.Context(), f.lock.SeatFlag); ok {
		t.Error("the lock is still on record after its unlock")
	}
}
