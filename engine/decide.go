package engine

import (
	"context"

	"fmt"
	"time"

	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/rules"
)

// Decision is what one rule match asks for: an action to run, or an
// outcome already decided without running it.
type Decision struct {
	Rule   *rules.Rule
	Action Action
	// Outcome is empty when Action must run; otherwise it is the
	// action's terminal outcome: Suppressed (cooldown), Overridden (a
	// moderator holds the seat flag), Tripped (the rule's budget), Failed
	// (parameters the Room Engine would refuse) or Shadow (a shadow rule).
	Outcome OutcomeKind
	// Info says why, for a decided outcome.
	Info string
}

// DeciderConfig is what a Decider decides with. Store is required.
type DeciderConfig struct {
	// Store is the state decisions read and write: cooldowns, windows,
	// labels, seat locks, overrides and budgets (JetStream in the
	// daemon, memory in rule tests, replay and explain).
	Store state.Store
	// DryRun makes every action a dry run.
	DryRun bool
	// Shadow marks a shadow rule set: every action that would run is
	// decided Shadow instead, and nothing is sent.
	Shadow bool
	// Identifier is roomengine.identifier: seat changes made by it are
	// roomwarden's own, never a moderator's override.
	Identifier string
	// OverrideHold is how long a moderator's override holds a seat flag
	// (overrides.hold; default DefaultOverrideHold).
	OverrideHold time.Duration
}

// DefaultOverrideHold is how long a moderator's override holds a seat
// flag unless configured.
const DefaultOverrideHold = 30 * time.Minute

// Decider turns one event into decisions: it notes moderators'
// overrides, feeds the windows, evaluates the rules reading windows and
// KV lists from the store, and applies cooldowns, overrides and budgets
// to their actions. It is the evaluation path shared by the daemon's
// pipeline, `roomwarden test`, replay and explain, so they all decide
// exactly as the daemon does. A Decider owns an Evaluator and is not
// safe for concurrent use; the Store is shared.
type Decider struct {
	cfg     DeciderConfig
	eval    *rules.Evaluator
	reader  stateReader
	feeds   []rules.Feed
	matches []rules.Match
	noted   []state.SeatFlag
	tripped []*rules.Rule
	errs    []error
}

// NewDecider returns a Decider.
func NewDecider(cfg DeciderConfig) *Decider {
	if cfg.OverrideHold <= 0 {
		cfg.OverrideHold = DefaultOverrideHold
	}
	d := &Decider{cfg: cfg, eval: rules.NewEvaluator()}
	d.reader.store = cfg.Store
	return d
}

// Decide evaluates ev against set at now. origin identifies this
// delivery of the event (its stream sequence): a cooldown started by the
// same origin lets it through again, so a redelivered event whose
// outcome was not recorded acts instead of being suppressed by itself.
// It appends the decisions to dst and returns it; Matched tells which
// rules matched or failed, Overrides which seat flags the event handed to
// a moderator, Tripped which rules it tripped, WindowErrors which windows
// failed on it. An error (wrapping state.ErrUnavailable when the store
// could not be reached) means no decision could be made: the event must
// be tried again later.
func (d *Decider) Decide(ctx context.Context, set *rules.Set, ev *rules.Event, origin string, now time.Time, dst []Decision) ([]Decision, error) {
	d.noted, d.tripped = d.noted[:0], d.tripped[:0]
	d.reader.begin(ctx)
	if err := d.noteOverrides(ctx, ev, now); err != nil {
		return dst, err
	}
	if err := d.feed(ctx, set, ev, now); err != nil {
		return dst, err
	}
	var err error
	if d.matches, err = d.eval.Eval(set, ev, now, &d.reader, d.matches[:0]); err != nil {
		return dst, err
	}
	for _, m := range d.matches {
		if m.Err != nil {
			continue
		}
		if dst, err = d.decideMatch(ctx, m, ev, origin, now, dst); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// feed records ev in the windows that listen for its type, so the rules
// see it counted. A window that fails on ev is skipped (WindowErrors).
func (d *Decider) feed(ctx context.Context, set *rules.Set, ev *rules.Event, now time.Time) error {
	d.feeds, d.errs = d.eval.Feeds(set, ev, now, d.feeds[:0])
	for _, f := range d.feeds {
		n, err := d.cfg.Store.Feed(ctx, state.Feed{Window: f.Window.Name, Key: f.Key, EventID: ev.ID, Value: f.Value,
			Span: f.Window.For, At: now}, f.Window.HasDistinct)
		if err != nil {
			return fmt.Errorf("window %s: %w", f.Window.Name, err)
		}
		d.reader.fed(f.Window.Name, f.Key, n)
	}
	return nil
}

// decideMatch appends the decisions of one matching rule.
func (d *Decider) decideMatch(ctx context.Context, m rules.Match, ev *rules.Event, origin string, now time.Time, dst []Decision) ([]Decision, error) {
	suppressed := false
	if m.Rule.CooldownFor > 0 {
		ok, err := d.cfg.Store.Acquire(ctx, cooldownKey(m.Rule, m.CooldownKey), origin, now, m.Rule.CooldownFor)
		if err != nil {
			return dst, fmt.Errorf("cooldown of rule %s: %w", m.Rule.Name, err)
		}
		suppressed = !ok
	}
	for _, ra := range m.Actions {
		dec := Decision{Rule: m.Rule, Action: actionOf(m.Rule, ra, ev.ID, now, d.cfg.DryRun)}
		if suppressed {
			dec.Outcome = Suppressed
		} else if err := d.check(ctx, &dec, now); err != nil {
			return dst, err
		}
		dst = append(dst, dec)
	}
	return dst, nil
}

// check decides what stops an action that no cooldown suppressed: bad
// parameters, a moderator's override, the rule's budget; else a shadow
// rule's action is decided Shadow, and any other runs.
func (d *Decider) check(ctx context.Context, dec *Decision, now time.Time) error {
	a := &dec.Action
	if a.Kind == ActionLockSeat {
		if err := a.Params.Validate(); err != nil {
			dec.Outcome, dec.Info = Failed, "not sent: "+err.Error()
			return nil
		}
		held, err := d.overridden(ctx, a.Params, now)
		if err != nil {
			return err
		}
		if held != "" {
			dec.Outcome, dec.Info = Overridden, held
			return nil
		}
	}
	if b := dec.Rule.Budget; b != nil {
		ok, err := d.cfg.Store.Spend(ctx, BudgetKey(dec.Rule), b.Max, b.Per, now)
		if err != nil {
			return fmt.Errorf("budget of rule %s: %w", dec.Rule.Name, err)
		}
		if !ok {
			dec.Outcome = Tripped
			dec.Info = fmt.Sprintf("the rule's budget of %d actions per %s is spent; reset it with POST /rules/%s/reset",
				b.Max, b.Per, dec.Rule.Name)
			d.tripped = append(d.tripped, dec.Rule)
			return nil
		}
	}
	if d.cfg.Shadow {
		dec.Outcome = Shadow
	}
	return nil
}

// cooldownKey is the store key of a rule's rendered cooldown key.
func cooldownKey(r *rules.Rule, key string) string { return r.Name + "\x00" + key }

// BudgetKey names a rule's budget in the store: the rule and its
// definition, so that a reload that changes the rule starts afresh.
func BudgetKey(r *rules.Rule) string { return r.Name + "@" + r.Hash }

// actionOf converts an action rendered by rule r into one to run.
func actionOf(r *rules.Rule, ra rules.Action, eventID string, now time.Time, dryRun bool) Action {
	a := Action{Rule: r.Name, EventID: eventID, For: ra.For, DryRun: dryRun || r.DryRun, Decided: now}
	switch ra.Kind {
	case rules.KindLabel:
		a.Kind = ActionLabel
		a.Label = Label{List: ra.Label.List, Bucket: ra.Label.Bucket, Member: ra.Label.Member}
	default:
		a.Kind = ActionLockSeat
		a.Params = LockSeatOf(ra.LockSeat)
	}
	return a
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

// Matched returns the matches of the last Decide, failed ones included;
// valid until the next call.
func (d *Decider) Matched() []rules.Match { return d.matches }

// Ran returns the positions, among the candidates of the event's type,
// of the rules the last Decide evaluated (rules.Evaluator.Ran); valid
// until the next call.
func (d *Decider) Ran() []int32 { return d.eval.Ran() }

// Overrides returns the seat flags the last Decide handed to a
// moderator; valid until the next call.
func (d *Decider) Overrides() []state.SeatFlag { return d.noted }

// Tripped returns the rules whose budget the last Decide found spent;
// valid until the next call.
func (d *Decider) Tripped() []*rules.Rule { return d.tripped }

// WindowErrors returns the windows that failed on the last event (their
// expressions, at run time); valid until the next call.
func (d *Decider) WindowErrors() []error { return d.errs }

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

// stateReader gives the rules' evaluation what state it reads: window
// counts (the counts this event's own feeds returned first, then the
// store) and the members of KV-backed lists.
type stateReader struct {
	ctx   context.Context
	store state.Store
	own   map[windowAt]int
}

type windowAt struct{ window, key string }

var _ rules.Reader = (*stateReader)(nil)

func (r *stateReader) begin(ctx context.Context) {
	r.ctx = ctx
	clear(r.own)
}

// fed notes the count a feed of this event returned.
func (r *stateReader) fed(window, key string, n int) {
	if r.own == nil {
		r.own = make(map[windowAt]int)
	}
	r.own[windowAt{window, key}] = n
}

// WindowCount implements rules.Reader.
func (r *stateReader) WindowCount(w *rules.Window, key string, now time.Time) (int, error) {
	if n, ok := r.own[windowAt{w.Name, key}]; ok {
		return n, nil
	}
	return r.store.Count(r.ctx, w.Name, key, w.For, w.HasDistinct, now)
}

// Members implements rules.Reader.
func (r *stateReader) Members(l *rules.List, now time.Time) (map[string]struct{}, error) {
	return r.store.Members(r.ctx, l.Bucket, now)
}
