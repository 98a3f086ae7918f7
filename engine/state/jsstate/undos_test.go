package jsstate_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/engine/state/jsstate"
	"github.com/roomwarden/roomwarden/internal/natstest"
)

// undoRecorder runs s.RunUndos and records what it delivers.
type undoRecorder struct {
	got    chan state.Undo
	cancel context.CancelFunc
	done   chan error
}

func runUndos(t *testing.T, s *jsstate.Store) *undoRecorder {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &undoRecorder{got: make(chan state.Undo, 16), cancel: cancel, done: make(chan error, 1)}
	go func() {
		r.done <- s.RunUndos(ctx, func(_ context.Context, u state.Undo) error {
			r.got <- u
			return nil
		})
	}()
	t.Cleanup(r.stop)
	return r
}

// stop stops RunUndos and waits for it to return.
func (r *undoRecorder) stop() {
	r.cancel()
	if err := <-r.done; err != nil {
		panic("RunUndos: " + err.Error())
	}
	r.done <- nil // a second stop returns at once
}

// next returns the next delivered undo, failing after the deadlock
// guard.
func (r *undoRecorder) next(t *testing.T) state.Undo {
	t.Helper()
	select {
	case u := <-r.got:
		return u
	case <-time.After(45 * time.Second):
		t.Fatal("no undo delivered within 45s")
		return state.Undo{}
	}
}

// none fails if an undo is delivered within d.
func (r *undoRecorder) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case u := <-r.got:
		t.Errorf("undo delivered: %+v, want none", u.Lock)
	case <-time.After(d):
	}
}

func timedLock(room, rule string, at, end time.Time) state.Lock {
	return state.Lock{SeatFlag: state.SeatFlag{RoomID: room, Index: 1, Flag: "audio"}, Rule: rule, EventID: "ev-" + rule,
		At: at, End: end}
}

func mustLock(t *testing.T, s *jsstate.Store, l state.Lock) {
	t.Helper()
	if _, err := s.Locked(t.Context(), l); err != nil {
		t.Fatalf("Locked: %v", err)
	}
}

// TestUndoDelivered: a timed lock's undo comes at its end (the seconds
// are logged), with the lock it ends, and clears the lock.
func TestUndoDelivered(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	s := open(t, srv, jsstate.Config{})
	r := runUndos(t, s)
	now := time.Now()
	l := timedLock("room-1", "mute", now, now.Add(2*time.Second))
	mustLock(t, s, l)
	u := r.next(t)
	t.Logf("undo due at +2s delivered at +%v", time.Since(now).Round(time.Millisecond))
	if u.SeatFlag != l.SeatFlag || u.Rule != "mute" || u.EventID != "ev-mute" || !u.End.Equal(l.End) {
		t.Errorf("delivered %+v, want %+v", u.Lock, l)
	}
	if time.Now().Before(l.End) {
		t.Errorf("undo delivered %v before its end", time.Until(l.End))
	}
	eventually(t, "the lock is cleared after the undo", func() bool {
		_, held, err := s.Held(t.Context(), l.SeatFlag)
		return err == nil && !held
	})
	st, err := connect(t, srv).Stream(t.Context(), jsstate.DefaultUndoStream)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the undo stream is empty once the undo is acked", func() bool {
		info, err := st.Info(t.Context())
		return err == nil && info.State.Msgs == 0
	})
}

// TestUndoWhileNoDaemonRuns: an undo that falls due while no consumer
// runs waits in the stream, and a restarted daemon (a new Store on a new
// connection) gets it at once.
func TestUndoWhileNoDaemonRuns(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	s := open(t, srv, jsstate.Config{})
	runUndos(t, s).stop() // the durable consumer exists; nobody consumes
	now := time.Now()
	l := timedLock("room-2", "mute", now, now.Add(time.Second))
	mustLock(t, s, l)

	js := connect(t, srv)
	eventually(t, "the server fires the undo into the stream", func() bool {
		st, err := js.Stream(t.Context(), jsstate.DefaultUndoStream)
		if err != nil {
			return false
		}
		info, err := st.Info(t.Context(), jetstream.WithSubjectFilter(jsstate.DefaultUndoSubject+".due.>"))
		return err == nil && len(info.State.Subjects) == 1
	})
	restarted := open(t, srv, jsstate.Config{})
	start := time.Now()
	u := runUndos(t, restarted).next(t)
	t.Logf("a due undo reached the restarted daemon %v after it started", time.Since(start).Round(time.Millisecond))
	if u.SeatFlag != l.SeatFlag || !u.End.Equal(l.End) {
		t.Errorf("delivered %+v, want %+v", u.Lock, l)
	}
}

// TestUndoLaterEndWins: a lock replaced by a later end delivers only the
// later undo.
func TestUndoLaterEndWins(t *testing.T) {
	t.Parallel()
	s := open(t, natstest.RunServer(t), jsstate.Config{})
	r := runUndos(t, s)
	now := time.Now()
	mustLock(t, s, timedLock("room-3", "first", now, now.Add(2*time.Second)))
	later := timedLock("room-3", "second", now, now.Add(4*time.Second))
	mustLock(t, s, later)
	u := r.next(t)
	if u.Rule != "second" || !u.End.Equal(later.End) {
		t.Errorf("delivered %+v, want only the later lock %+v", u.Lock, later)
	}
	r.none(t, 2*time.Second)
}

// TestUndoCancelled: a lock without end cancels the pending undo, and
// an override drops it: nothing is delivered, no schedule is left.
func TestUndoCancelled(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	s := open(t, srv, jsstate.Config{})
	r := runUndos(t, s)
	now := time.Now()
	mustLock(t, s, timedLock("room-4", "timed", now, now.Add(2*time.Second)))
	mustLock(t, s, timedLock("room-4", "forever", now, time.Time{}))
	overridden := timedLock("room-5", "timed", now, now.Add(2*time.Second))
	mustLock(t, s, overridden)
	if ok, err := s.Override(t.Context(), overridden.SeatFlag, now, time.Minute); err != nil || !ok {
		t.Fatalf("Override = %v, %v; want true", ok, err)
	}
	st, err := connect(t, srv).Stream(t.Context(), jsstate.DefaultUndoStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context(), jetstream.WithSubjectFilter(jsstate.DefaultUndoSubject+".at.>"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(info.State.Subjects); n != 0 {
		t.Errorf("%d schedules left, want none: %v", n, info.State.Subjects)
	}
	r.none(t, 4*time.Second)
	if l, held, err := s.Held(t.Context(), state.SeatFlag{RoomID: "room-4", Index: 1, Flag: "audio"}); err != nil || !held || l.Rule != "forever" {
		t.Errorf("Held = %+v, %v, %v; want the lock without end", l, held, err)
	}
}

// TestUndoHandlerFails: a failing handler gets the undo again, and the
// lock stays held until it succeeds.
func TestUndoHandlerFails(t *testing.T) {
	t.Parallel()
	s := open(t, natstest.RunServer(t), jsstate.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	calls := 0
	done := make(chan struct{})
	returned := make(chan error, 1)
	go func() {
		returned <- s.RunUndos(ctx, func(context.Context, state.Undo) error {
			mu.Lock()
			defer mu.Unlock()
			if calls++; calls == 1 {
				return errors.New("room engine down")
			}
			close(done)
			return nil
		})
	}()
	defer func() {
		cancel()
		<-returned
	}()
	now := time.Now()
	l := timedLock("room-6", "mute", now, now)
	mustLock(t, s, l)
	select {
	case <-done:
	case <-time.After(45 * time.Second):
		t.Fatal("the undo was not delivered again after its handler failed")
	}
	eventually(t, "the lock is cleared after the second attempt", func() bool {
		_, held, err := s.Held(t.Context(), l.SeatFlag)
		return err == nil && !held
	})
}
