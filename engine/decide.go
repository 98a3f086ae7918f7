package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/rules"
)

// Decision is what one rule match asks for: an action to run, or an
// outcome already decided without running it (a cooldown suppressed it).
type Decision struct {
	Rule   *rules.Rule
	Action Action
	// Outcome is empty when Action must run; otherwise it is the
	// action's terminal outcome (Suppressed, or Failed for parameters the
	// Room Engine would refuse).
	Outcome OutcomeKind
	// Info says why, for a Failed decision.
	Info string
}

// DeciderConfig is what a Decider decides with. Store is required.
type DeciderConfig struct {
	// Store is the state decisions read and write: cooldowns, seat
	// locks and overrides (JetStream in the daemon, memory in rule tests).
	Store state.Store
	// DryRun makes every action a dry run.
	DryRun bool
	// Identifier is roomengine.identifier: seat changes made by it are
	// roomwarden's own, never a moderator's override.
	Identifier string
	// OverrideHold is how long a moderator's override holds a seat flag
	// (overrides.hold; default 30m).
	OverrideHold time.Duration
}

// Decider turns one event into decisions: it notes moderators'
// overrides, evaluates the rules, and applies cooldowns and overrides to
// their actions. It is the evaluation path shared by the daemon's
// pipeline and the rule-test runner, so `roomwarden test` decides
// exactly as the daemon does. A Decider owns an Evaluator and is not
// safe for concurrent use; the Store is shared.
type Decider struct {
	cfg     DeciderConfig
	eval    *rules.Evaluator
	matches []rules.Match
	noted   []state.SeatFlag
}

// NewDecider returns a Decider.
func NewDecider(cfg DeciderConfig) *Decider {
	if cfg.OverrideHold <= 0 {
		cfg.OverrideHold = DefaultOverrideHold
	}
	return &Decider{cfg: cfg, eval: rules.NewEvaluator()}
}

// DefaultOverrideHold is how long a moderator's override holds a seat
// flag unless configured.
const DefaultOverrideHold = 30 * time.Minute

// Decide evaluates ev against set at now. origin identifies this
// delivery of the event (its stream sequence): a cooldown started by the
// same origin lets it through again, so a redelivered event whose
// outcome was not recorded acts instead of being suppressed by itself.
// It appends the decisions to dst and returns it; Matched tells which
// rules matched or failed, Overrides which seat flags the event handed
// to a moderator. An error (wrapping state.ErrUnavailable when the store
// could not be reached) means no decision could be made: the event must
// be tried again later.
func (d *Decider) Decide(ctx context.Context, set *rules.Set, ev *rules.Event, origin string, now time.Time, dst []Decision) ([]Decision, error) {
	if err := d.noteOverrides(ctx, ev, now); err != nil {
		return dst, err
	}
	d.matches = d.eval.Eval(set, ev, now, d.matches[:0])
	for _, m := range d.matches {
		if m.Err != nil {
			continue
		}
		var err error
		if dst, err = d.decideMatch(ctx, m, ev, origin, now, dst); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// decideMatch appends the decisions of one matching rule.
func (d *Decider) decideMatch(ctx context.Context, m rules.Match, ev *rules.Event, origin string, now time.Time, dst []Decision) ([]Decision, error) {
	suppressed := false
	if m.Rule.CooldownFor > 0 {
		ok, err := d.cfg.Store.Acquire(ctx, m.Rule.Name+"\x00"+m.CooldownKey, origin, now, m.Rule.CooldownFor)
		if err != nil {
			return dst, fmt.Errorf("cooldown of rule %s: %w", m.Rule.Name, err)
		}
		suppressed = !ok
	}
	for _, params := range m.Actions {
		dec := Decision{Rule: m.Rule, Action: Action{Rule: m.Rule.Name, EventID: ev.ID, Kind: ActionLockSeat,
			Params: LockSeatOf(params), DryRun: d.cfg.DryRun || m.Rule.DryRun, Decided: now}}
		switch err := dec.Action.Params.Validate(); {
		case err != nil:
			dec.Outcome, dec.Info = Failed, "not sent: "+err.Error()
		case suppressed:
			dec.Outcome = Suppressed
		default:
			held, err := d.overridden(ctx, dec.Action.Params, now)
			if err != nil {
				return dst, err
			}
			if held != "" {
				dec.Outcome, dec.Info = Overridden, held
			}
		}
		dst = append(dst, dec)
	}
	return dst, nil
}

// overridden says which flag p would set that a moderator's override
// holds, or "" if none.
func (d *Decider) overridden(ctx context.Context, p LockSeat, now time.Time) (string, error) {
	for _, f := range p.SetFlags() {
		until, err := d.cfg.Store.OverriddenUntil(ctx, state.SeatFlag{RoomID: p.RoomID, Index: p.Index, Flag: f}, now)
		if err != nil {
			return "", fmt.Errorf("overrides: %w", err)
		}
		if !until.IsZero() {
			return fmt.Sprintf("a moderator cleared %s on this seat; held until %s", f, until.UTC().Format(time.RFC3339)), nil
		}
	}
	return "", nil
}

// noteOverrides hands to the moderator every seat flag that ev shows
// cleared by someone else while roomwarden held it locked.
func (d *Decider) noteOverrides(ctx context.Context, ev *rules.Event, now time.Time) error {
	d.noted = d.noted[:0]
	for _, f := range clearedFlags(ev, d.cfg.Identifier) {
		ok, err := d.cfg.Store.Override(ctx, f, now, d.cfg.OverrideHold)
		if err != nil {
			return fmt.Errorf("overrides: %w", err)
		}
		if ok {
			d.noted = append(d.noted, f)
		}
	}
	return nil
}

// Overrides returns the seat flags the last Decide handed to a
// moderator; valid until the next call.
func (d *Decider) Overrides() []state.SeatFlag { return d.noted }

// Matched returns the matches of the last Decide, failed ones included;
// valid until the next call.
func (d *Decider) Matched() []rules.Match { return d.matches }

// LockSeatOf converts a lock_seat rendered by a rule into the call's
// parameters.
func LockSeatOf(p rules.LockSeat) LockSeat {
	return LockSeat{RoomID: p.RoomID, Index: p.Index,
		ForbidTaken: flagOf(p.ForbidTaken), ForbidVideo: flagOf(p.ForbidVideo), ForbidAudio: flagOf(p.ForbidAudio)}
}

func flagOf(f rules.Flag) Flag {
	if !f.IsSet() {
		return Unset
	}
	return FlagOf(f.Bool())
}
