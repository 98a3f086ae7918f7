package engine

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/rules"
)

// Verdicts of an explanation: what the daemon would do with the event.
const (
	VerdictAct        = "act"        // the rule matches and its actions would run
	VerdictNoMatch    = "no_match"   // its condition does not hold
	VerdictSuppressed = "suppressed" // it matches, but its cooldown key is cooling
	VerdictOverridden = "overridden" // it matches, but a moderator holds a flag it would set
	VerdictTripped    = "tripped"    // it matches, but its budget is spent
	VerdictError      = "error"      // it failed at run time on this event
)

// Explanation says, for one event, what every rule listening for its
// type would decide and why: the answer of `roomwarden explain` and
// POST /explain.
type Explanation struct {
	Event rules.Event       `json:"event"`
	Rules []RuleExplanation `json:"rules"`
}

// RuleExplanation is one rule's part of an Explanation.
type RuleExplanation struct {
	Rule     string         `json:"rule"`
	Matched  bool           `json:"matched"`
	Verdict  string         `json:"verdict"`
	Why      string         `json:"why,omitempty"`     // for suppressed, overridden, tripped, error
	Values   map[string]any `json:"values"`            // each sub-expression of `when` and its value
	Order    []string       `json:"-"`                 // Values' keys in source order
	Windows  []WindowRead   `json:"windows,omitempty"` // the windows the rule read, and their counts
	Cooldown *CooldownRead  `json:"cooldown,omitempty"`
	Actions  []ActionView   `json:"actions,omitempty"` // rendered, when it matched
}

// ActionView is an action as the action log would show it.
type ActionView struct {
	Action string `json:"action"`
	Params any    `json:"params"`
	For    string `json:"for,omitempty"`
}

func viewOf(a Action) ActionView {
	v := ActionView{Action: a.Kind, Params: a.Params}
	if a.Kind == ActionLabel {
		v.Params = a.Label
	}
	if a.For > 0 {
		v.For = a.For.String()
	}
	return v
}

// WindowRead is one window a rule read: its key on the event and the
// count there, as if this event had been counted.
type WindowRead struct {
	Window string `json:"window"`
	Key    string `json:"key"`
	Count  int    `json:"count"`
}

// CooldownRead is a matching rule's cooldown: its key on the event, and
// until when it cools (zero: it does not).
type CooldownRead struct {
	Key   string    `json:"key"`
	Until time.Time `json:"until,omitzero"`
}

// Explain says what every enabled rule of set listening for ev's type
// would decide at now, reading store but never changing it: windows are
// read as if ev were counted in those it feeds, cooldowns, overrides and
// budgets as they stand. An error (the store unavailable) means no
// explanation could be made.
func Explain(ctx context.Context, store state.Store, set *rules.Set, ev *rules.Event, now time.Time) (Explanation, error) {
	eval := rules.NewEvaluator()
	r := &explainReader{stateReader: stateReader{ctx: ctx, store: store}, feeds: map[windowAt]bool{}}
	feeds, _ := eval.Feeds(set, ev, now, nil)
	for _, f := range feeds {
		r.feeds[windowAt{f.Window.Name, f.Key}] = true
	}
	exs, err := eval.Explain(set, ev, now, r)
	if err != nil {
		return Explanation{}, err
	}
	out := Explanation{Event: *ev, Rules: make([]RuleExplanation, 0, len(exs))}
	for _, ex := range exs {
		re, err := explainRule(ctx, store, ex, ev, now)
		if err != nil {
			return Explanation{}, err
		}
		out.Rules = append(out.Rules, re)
	}
	return out, nil
}

// explainRule turns the rules' explanation of one rule into a verdict.
func explainRule(ctx context.Context, store state.Store, ex rules.Explanation, ev *rules.Event, now time.Time) (RuleExplanation, error) {
	re := RuleExplanation{Rule: ex.Rule.Name, Matched: ex.Matched, Verdict: VerdictNoMatch, Values: map[string]any{}}
	for _, v := range ex.Values {
		re.Order = append(re.Order, v.Expr)
		if v.Err != "" {
			re.Values[v.Expr] = "error: " + v.Err
			continue
		}
		re.Values[v.Expr] = v.Value
	}
	for _, w := range ex.Windows {
		re.Windows = append(re.Windows, WindowRead{Window: w.Window, Key: w.Key, Count: w.Count})
	}
	switch {
	case ex.Err != nil:
		re.Verdict, re.Why = VerdictError, ex.Err.Error()
		return re, nil
	case !ex.Matched:
		return re, nil
	}
	var actions []Action
	for _, ra := range ex.Actions {
		a := actionOf(ex.Rule, ra, ev.ID, now, false)
		actions = append(actions, a)
		re.Actions = append(re.Actions, viewOf(a))
	}
	re.Verdict = VerdictAct
	return re, explainObstacles(ctx, store, &re, ex, actions, now)
}

// explainObstacles finds what would stop a matching rule: its cooldown,
// a moderator's override, its spent budget.
func explainObstacles(ctx context.Context, store state.Store, re *RuleExplanation, ex rules.Explanation, actions []Action, now time.Time) error {
	if ex.Rule.CooldownFor > 0 {
		until, err := store.CoolingUntil(ctx, cooldownKey(ex.Rule, ex.CooldownKey), now)
		if err != nil {
			return err
		}
		re.Cooldown = &CooldownRead{Key: ex.CooldownKey, Until: until}
		if !until.IsZero() {
			re.Verdict, re.Why = VerdictSuppressed, "cooling until "+until.UTC().Format(time.RFC3339)
			return nil
		}
	}
	for _, a := range actions {
		if a.Kind != ActionLockSeat {
			continue
		}
		for _, f := range a.Params.SetFlags() {
			until, err := store.OverriddenUntil(ctx, state.SeatFlag{RoomID: a.Params.RoomID, Index: a.Params.Index, Flag: f}, now)
			if err != nil {
				return err
			}
			if !until.IsZero() {
				re.Verdict = VerdictOverridden
				re.Why = fmt.Sprintf("a moderator cleared %s on seat %d of %s; held until %s", f, a.Params.Index,
					a.Params.RoomID, until.UTC().Format(time.RFC3339))
				return nil
			}
		}
	}
	if ex.Rule.Budget == nil {
		return nil
	}
	tripped, err := store.Tripped(ctx)
	if err != nil {
		return err
	}
	if slices.Contains(tripped, BudgetKey(ex.Rule)) {
		re.Verdict, re.Why = VerdictTripped, "its budget is spent; reset it with POST /rules/"+ex.Rule.Name+"/reset"
	}
	return nil
}

// explainReader reads windows as if the explained event were counted in
// the windows it feeds (one more), without feeding them.
type explainReader struct {
	stateReader
	feeds map[windowAt]bool
}

// WindowCount implements rules.Reader.
func (r *explainReader) WindowCount(w *rules.Window, key string, now time.Time) (int, error) {
	n, err := r.stateReader.WindowCount(w, key, now)
	if err == nil && r.feeds[windowAt{w.Name, key}] {
		n++
	}
	return n, err
}
