package engine

import (
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

// Decider turns one event into decisions: it evaluates the rules and
// applies their cooldowns. It is the evaluation path shared by the
// daemon's pipeline and the rule-test runner, so `roomwarden test`
// decides exactly as the daemon does. A Decider owns an Evaluator and is
// not safe for concurrent use; the Cooldowns it is given are shared.
type Decider struct {
	cooldowns *state.CooldownTable
	dryRun    bool
	eval      *rules.Evaluator
	matches   []rules.Match
}

// NewDecider returns a Decider applying cooldowns through cd. With
// dryRun every action it decides is a dry run.
func NewDecider(cd *state.CooldownTable, dryRun bool) *Decider {
	return &Decider{cooldowns: cd, dryRun: dryRun, eval: rules.NewEvaluator()}
}

// Decide evaluates ev against set at now. origin identifies this
// delivery of the event (its stream sequence): a cooldown started by the
// same origin lets it through again, so a redelivered event whose
// outcome was not recorded acts instead of being suppressed by itself.
// It appends the decisions to dst and returns it; Matched tells which
// rules matched or failed.
func (d *Decider) Decide(set *rules.Set, ev *rules.Event, origin string, now time.Time, dst []Decision) []Decision {
	d.matches = d.eval.Eval(set, ev, now, d.matches[:0])
	for _, m := range d.matches {
		if m.Err != nil {
			continue
		}
		suppressed := m.Rule.CooldownFor > 0 &&
			!d.cooldowns.AllowEvent(m.Rule.Name, m.CooldownKey, origin, now, m.Rule.CooldownFor)
		for _, params := range m.Actions {
			dec := Decision{Rule: m.Rule, Action: Action{Rule: m.Rule.Name, EventID: ev.ID, Kind: ActionLockSeat,
				Params: LockSeatOf(params), DryRun: d.dryRun || m.Rule.DryRun, Decided: now}}
			switch err := dec.Action.Params.Validate(); {
			case err != nil:
				dec.Outcome, dec.Info = Failed, "not sent: "+err.Error()
			case suppressed:
				dec.Outcome = Suppressed
			}
			dst = append(dst, dec)
		}
	}
	return dst
}

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
