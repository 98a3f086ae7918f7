package offline

import (
	"context"
	"time"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/rules"
)

// Config is how a World decides. The zero value is a world of rule
// tests: the default override hold and cooldown bound.
type Config struct {
	// Identifier is roomengine.identifier: seat changes made by anyone
	// else can be a moderator's override.
	Identifier string
	// OverrideHold is overrides.hold (0: engine.DefaultOverrideHold).
	OverrideHold time.Duration
	// MaxCooldowns bounds the cooldown keys held (0:
	// state.DefaultCooldownKeys).
	MaxCooldowns int
}

// sweepEvery is the fewest events decided between two sweeps of the
// store: a sweep walks every key, so the next one waits for at least as
// many events as keys remain, which keeps its cost per event constant.
const sweepEvery = 1 << 16

// World is the simulated world. It is not safe for concurrent use.
type World struct {
	store     *state.Memory
	decider   *engine.Decider
	feeder    *rules.Evaluator // feeds roomwarden's own actions into windows
	step      Step
	latest    time.Time // the latest time decided at: the sweeps' clock
	decided   int
	nextSweep int
}

// Step is what one Decide did. Its slices are valid until the next
// call.
type Step struct {
	// Undos are the timed locks whose end the clock passed before the
	// event, soonest first: each was undone (unlock_seat succeeded).
	Undos []state.Undo
	// Decisions are the engine's decisions on the event. Those with no
	// Outcome would run, and succeeded.
	Decisions []engine.Decision
	// Matched are the rules that matched the event or failed on it
	// (engine.Decider.Matched).
	Matched []rules.Match
	// WindowErrors are the windows that failed on the event, then those
	// that failed on the actions it caused (each skipped, as the daemon
	// skips it).
	WindowErrors []error
}

// New returns an empty world.
func New(cfg Config) *World {
	store := state.NewMemory(cfg.MaxCooldowns)
	return &World{
		store: store,
		decider: engine.NewDecider(engine.DeciderConfig{Store: store, Identifier: cfg.Identifier,
			OverrideHold: cfg.OverrideHold}),
		feeder:    rules.NewEvaluator(),
		nextSweep: sweepEvery,
	}
}

// Store returns the world's state, for seeding KV-backed lists.
func (w *World) Store() *state.Memory { return w.store }

// Advance runs the undos due by now, soonest first, and returns them
// (valid until the next call): a clock step with no event.
func (w *World) Advance(now time.Time) []state.Undo {
	w.step.Undos = w.step.Undos[:0]
	for _, u := range w.store.Due(now) {
		_ = w.store.Unlocked(context.Background(), u.SeatFlag, u.End)
		w.step.Undos = append(w.step.Undos, u)
	}
	return w.step.Undos
}

// Decide advances the clock to now, then decides ev against set at now
// through the daemon's Decider, origin naming this delivery of the event
// (engine.Decider.Decide). Every action that would run succeeds at once.
// An error means the store refused a decision; the memory store never
// does.
func (w *World) Decide(ctx context.Context, set *rules.Set, ev *rules.Event, origin string, now time.Time) (Step, error) {
	w.Advance(now)
	w.step.WindowErrors = w.step.WindowErrors[:0]
	var err error
	w.step.Decisions, err = w.decider.Decide(ctx, set, ev, origin, now, w.step.Decisions[:0])
	w.step.Matched = w.decider.Matched()
	w.step.WindowErrors = append(w.step.WindowErrors, w.decider.WindowErrors()...)
	if err != nil {
		return w.step, err
	}
	for _, dec := range w.step.Decisions {
		if dec.Outcome == "" {
			if err := w.succeeded(ctx, set, ev, dec.Action, now); err != nil {
				return w.step, err
			}
		}
	}
	w.sweep(now)
	return w.step, nil
}

// succeeded does what a successful action leaves behind: the lock (and
// its undo) or the label, and the action in the windows of roomwarden's
// own actions.
func (w *World) succeeded(ctx context.Context, set *rules.Set, ev *rules.Event, a engine.Action, now time.Time) error {
	switch a.Kind {
	case engine.ActionLabel:
		_ = w.store.AddMember(ctx, a.Label.Bucket, a.Label.Member, now, a.For)
	case engine.ActionLockSeat:
		for _, f := range a.Params.SetFlags() {
			l := state.Lock{SeatFlag: state.SeatFlag{RoomID: a.Params.RoomID, Index: a.Params.Index, Flag: f},
				Rule: a.Rule, EventID: a.EventID, At: now}
			if a.For > 0 {
				l.End = now.Add(a.For)
			}
			_, _ = w.store.Locked(ctx, l)
		}
	}
	if len(set.WindowsFor(engine.EventOwnAction)) == 0 {
		return nil
	}
	errs, err := engine.FeedOwnAction(ctx, w.store, w.feeder, set, *ev, a, now)
	w.step.WindowErrors = append(w.step.WindowErrors, errs...)
	return err
}

// sweep drops expired state now and then, on the latest time decided
// at, so memory holds what is live rather than every key ever seen.
func (w *World) sweep(now time.Time) {
	if now.After(w.latest) {
		w.latest = now
	}
	if w.decided++; w.decided < w.nextSweep {
		return
	}
	w.nextSweep = w.decided + max(sweepEvery, w.store.Sweep(w.latest))
}
