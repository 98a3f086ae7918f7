package rules

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// Match is one rule that matched an event.
type Match struct {
	Rule *Rule
	// Actions are the rendered actions, in the rule's order.
	Actions []LockSeat
	// CooldownKey is the rendered cooldown key when the rule has a
	// cooldown (Rule.CooldownFor > 0); "" is the rule's single key.
	// Applying the cooldown is the caller's job: cooldowns are state.
	CooldownKey string
	// Err is a runtime error of this rule only (a nil attribute, say,
	// or an exceeded evaluation budget: see budget.go); Actions is then
	// empty. Other rules still ran.
	Err error
}

// Evaluator evaluates events against a Set. It owns a reused VM and is
// not safe for concurrent use: give each goroutine its own. Sets are
// shared.
type Evaluator struct {
	vm  vm.VM
	env exprEnv
}

// NewEvaluator returns an Evaluator.
func NewEvaluator() *Evaluator {
	return &Evaluator{vm: vm.VM{MemoryBudget: vmElementBudget}}
}

// Eval evaluates ev against the rules of s listening for ev.Type, at
// time now (what now() returns). It appends one Match per matching or
// failing rule to dst, in load order, and returns it.
func (e *Evaluator) Eval(s *Set, ev *Event, now time.Time, dst []Match) []Match {
	cands := s.Candidates(ev.Type)
	if len(cands) == 0 {
		return dst
	}
	e.env = exprEnv{Event: *ev, Lists: s.lists, Now: now}
	env := any(&e.env)
	for _, r := range cands {
		e.env.meter.reset()
		ok, err := e.bool(r.when, env)
		switch {
		case err != nil:
			dst = append(dst, Match{Rule: r, Err: fmt.Errorf("rule %q: %w", r.Name, err)})
		case ok:
			dst = append(dst, e.match(r, env))
		}
	}
	e.env = exprEnv{}
	return dst
}

// match renders a matching rule's actions and its cooldown key.
func (e *Evaluator) match(r *Rule, env any) Match {
	m := Match{Rule: r, Actions: make([]LockSeat, len(r.actions))}
	for i := range r.actions {
		a, err := e.render(&r.actions[i], env)
		if err != nil {
			return Match{Rule: r, Err: fmt.Errorf("rule %q: %w", r.Name, err)}
		}
		m.Actions[i] = a
	}
	if r.CooldownFor <= 0 {
		return m
	}
	key, err := e.cooldownKey(r, env)
	if err != nil {
		return Match{Rule: r, Err: fmt.Errorf("rule %q: %w", r.Name, err)}
	}
	m.CooldownKey = key
	return m
}

func (e *Evaluator) render(a *lockSeatExpr, env any) (LockSeat, error) {
	var ls LockSeat
	var err error
	if ls.RoomID, err = e.string(a.roomID, env); err != nil {
		return ls, err
	}
	if ls.Index, err = e.int(a.index, env); err != nil {
		return ls, err
	}
	if ls.ForbidTaken, err = e.flag(a.forbidTaken, env); err != nil {
		return ls, err
	}
	if ls.ForbidVideo, err = e.flag(a.forbidVideo, env); err != nil {
		return ls, err
	}
	ls.ForbidAudio, err = e.flag(a.forbidAudio, env)
	return ls, err
}

func (e *Evaluator) cooldownKey(r *Rule, env any) (string, error) {
	if r.key == nil {
		return "", nil
	}
	v, err := e.run(r.key, env)
	if err != nil {
		return "", err
	}
	if s, ok := v.(string); ok {
		return s, nil
	}
	return fmt.Sprint(v), nil
}

// run runs x, mapping a runtime error to x's position in its file.
func (e *Evaluator) run(x *expression, env any) (any, error) {
	if x.isConst {
		return x.konst, nil
	}
	v, err := e.vm.Run(x.prog, env)
	if err != nil {
		return nil, x.runtimeError(err)
	}
	return v, nil
}

func (e *Evaluator) bool(x *expression, env any) (bool, error) {
	v, err := e.run(x, env)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, x.typeError(v, boolKind)
	}
	return b, nil
}

func (e *Evaluator) flag(x *expression, env any) (Flag, error) {
	if x == nil {
		return Unset, nil
	}
	b, err := e.bool(x, env)
	if err != nil {
		return Unset, err
	}
	return FlagOf(b), nil
}

func (e *Evaluator) string(x *expression, env any) (string, error) {
	v, err := e.run(x, env)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", x.typeError(v, stringKind)
	}
	return s, nil
}

func (e *Evaluator) int(x *expression, env any) (int, error) {
	v, err := e.run(x, env)
	if err != nil {
		return 0, err
	}
	switch n := v.(type) {
	case int:
		return n, nil
	case int64:
		return int(n), nil
	case int32:
		return int(n), nil
	case float64: // numbers decoded from JSON attrs
		if n == math.Trunc(n) && math.Abs(n) < 1<<31 {
			return int(n), nil
		}
	}
	return 0, x.typeError(v, intKind)
}

// runtimeError places a VM error at its position in the rules file.
func (x *expression) runtimeError(err error) error {
	var fe *file.Error
	if !errors.As(err, &fe) {
		return Error{Path: x.loc.path, Line: x.loc.line, Col: x.loc.col, Msg: err.Error()}
	}
	line, col := x.loc.position(x.src, fe.From)
	return Error{Path: x.loc.path, Line: line, Col: col, Msg: fe.Message}
}

func (x *expression) typeError(v any, want valueKind) error {
	return Error{Path: x.loc.path, Line: x.loc.line, Col: x.loc.col,
		Msg: fmt.Sprintf("%s evaluated to %v (%T), want %s", x.src, v, v, want)}
}
