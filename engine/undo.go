package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/internal/promreg"
)

// UndoerConfig configures an Undoer. Seats, Executor and Recorder are
// required.
type UndoerConfig struct {
	Seats    state.Seats
	Executor Submitter // the same executor as the rules' actions: same rate, retries, dead letters
	Recorder Recorder
	Now      func() time.Time

	Logger     *slog.Logger          // nil: discard
	Registerer prometheus.Registerer // nil: metrics not registered
}

// Undoer ends timed locks. For each due undo it checks that the lock is
// still the latest on its seat flag (a newer lock, a lock without end or
// a moderator's override supersedes it), sends lock_seat with the flag
// back to false through the executor, records the outcome as action
// unlock_seat with the lock's rule and event id, and then forgets the
// lock. The check is made again right before every call of the unlock
// (Action.Still), its retries included: a lock superseded meanwhile is
// not ended by an unlock retried after it.
type Undoer struct {
	cfg     UndoerConfig
	log     *slog.Logger
	results *prometheus.CounterVec
}

// NewUndoer checks cfg and returns an Undoer.
func NewUndoer(cfg UndoerConfig) (*Undoer, error) {
	if cfg.Seats == nil || cfg.Executor == nil || cfg.Recorder == nil {
		return nil, errors.New("undoer: seats, executor and recorder are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	u := &Undoer{cfg: cfg, log: cfg.Logger.With("component", "undo"),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomwarden_undos_total",
			Help: "Due undos of timed locks, by result: sent (the unlock reached an outcome) or superseded (a newer lock or an override, found before the unlock's first call or a retry).",
		}, []string{"result"})}
	if err := promreg.Register(cfg.Registerer, u.results); err != nil {
		return nil, fmt.Errorf("undoer: %w", err)
	}
	return u, nil
}

// Handle runs one due undo. It returns nil once the undo is done (its
// outcome on file, or superseded), and an error when it must be tried
// again later (the store or the action log could not be reached, or the
// executor stopped before the unlock's outcome).
//
// A superseded undo has no action log line, whether it was found so
// before the unlock was submitted or before one of its retries.
func (u *Undoer) Handle(ctx context.Context, undo state.Undo) error {
	wanted, err := u.wanted(ctx, undo)
	if err != nil {
		return err
	}
	if !wanted {
		u.superseded(undo, 0)
		return nil
	}
	o, err := u.run(ctx, undo)
	if errors.Is(err, ErrNotWanted) {
		u.superseded(undo, o.Attempts)
		return nil
	}
	if err != nil {
		return err
	}
	if err := u.cfg.Recorder.Record(o); err != nil {
		return fmt.Errorf("action log: %w", err)
	}
	u.results.WithLabelValues("sent").Inc()
	return u.cfg.Seats.Unlocked(ctx, undo.SeatFlag, undo.End)
}

// wanted reports whether undo's lock is still the one roomwarden holds
// on its seat flag: not replaced by a newer lock (a later end, or none),
// nor dropped by a moderator's override or by this undo having run.
func (u *Undoer) wanted(ctx context.Context, undo state.Undo) (bool, error) {
	held, ok, err := u.cfg.Seats.Held(ctx, undo.SeatFlag)
	if err != nil {
		return false, err
	}
	return ok && held.End.Equal(undo.End), nil
}

// superseded counts an undo that is not to run; calls is how many calls
// of its unlock were made before that was found (they all failed).
func (u *Undoer) superseded(undo state.Undo, calls int) {
	u.results.WithLabelValues("superseded").Inc()
	u.log.Debug("undo superseded", "room_id", undo.RoomID, "index", undo.Index, "flag", undo.Flag, "calls", calls)
}

// run sends the unlock and waits for its terminal outcome. Before each
// of its calls the executor asks wanted again (Action.Still): when the
// lock was superseded meanwhile, the unlock ends unsent with
// ErrNotWanted.
func (u *Undoer) run(ctx context.Context, undo state.Undo) (Outcome, error) {
	a := UnlockAction(undo.Lock, u.cfg.Now())
	a.Still = func(ctx context.Context) (bool, error) { return u.wanted(ctx, undo) }
	type result struct {
		o   Outcome
		err error
	}
	done := make(chan result, 1)
	if err := u.cfg.Executor.Submit(ctx, a, func(o Outcome, err error) { done <- result{o, err} }); err != nil {
		return Outcome{}, err
	}
	select {
	case r := <-done:
		return r.o, r.err
	case <-ctx.Done():
		return Outcome{}, ctx.Err()
	}
}

// UnlockAction is the action that ends lock l: lock_seat on its seat
// with its flag false, under the lock's rule and event id.
func UnlockAction(l state.Lock, now time.Time) Action {
	p := LockSeat{RoomID: l.RoomID, Index: l.Index}
	*p.flag(l.Flag) = False
	return Action{Rule: l.Rule, EventID: l.EventID, Kind: ActionUnlockSeat, Params: p, Decided: now}
}

// The names of the lock flags, as state.SeatFlag.Flag holds them.
const (
	FlagTaken = "taken"
	FlagVideo = "video"
	FlagAudio = "audio"
)

// flag returns the field of p that flag names.
func (p *LockSeat) flag(name string) *Flag {
	switch name {
	case FlagTaken:
		return &p.ForbidTaken
	case FlagVideo:
		return &p.ForbidVideo
	}
	return &p.ForbidAudio
}

// SetFlags returns the names of the flags p sets to true, in a fixed
// order: the seat flags a successful lock_seat holds.
func (p LockSeat) SetFlags() []string {
	var out []string
	for _, f := range []string{FlagTaken, FlagVideo, FlagAudio} {
		if *p.flag(f) == True {
			out = append(out, f)
		}
	}
	return out
}

// lockEnd is when a lock of d that took effect at t ends; zero for no end.
func lockEnd(t time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return t.Add(d)
}
