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
	Actions []Action
	// CooldownKey is the rendered cooldown key when the rule has a
	// cooldown (Rule.CooldownFor > 0); "" is the rule's single key.
	// Applying the cooldown is the caller's job: cooldowns are state.
	CooldownKey string
	// Err is a runtime error of this rule only (a nil attribute, say,
	// an exceeded evaluation budget, see budget.go, or a `for` that is
	// not a positive duration); Actions is then empty. Other rules still
	// ran.
	Err error
}

// Evaluator evaluates events against a Set. It owns reused VMs and is
// not safe for concurrent use: give each goroutine its own. Sets are
// shared.
type Evaluator struct {
	vm    vm.VM
	keyVM vm.VM // runs a window's key inside window(), while vm runs the rule
	env   exprEnv
	st    evalState
	cands candidateBuf
	ran   []int32 // the positions of the rules the last Eval ran
}

// NewEvaluator returns an Evaluator.
func NewEvaluator() *Evaluator {
	return &Evaluator{vm: vm.VM{MemoryBudget: vmElementBudget}, keyVM: vm.VM{MemoryBudget: vmElementBudget}}
}

// Eval evaluates ev against the rules of s listening for ev.Type at now
// (what now() returns), reading windows and KV lists through r (r may
// be nil if the set uses neither; then such a use is a rule runtime
// error). It appends one Match per matching or failing rule to dst, in
// load order, and returns it. Only the rules that can match ev run: the
// rule index leaves out those whose condition it can show is false on
// ev without an error (index.go), which changes nothing in the result.
//
// Rule runtime errors stay in Match.Err (other rules still run). An
// error returned by r (the state is unavailable) aborts the evaluation:
// Eval returns dst as it was given and the error, which wraps r's
// (errors.Is works), and the caller must not act on the event.
func (e *Evaluator) Eval(s *Set, ev *Event, now time.Time, r Reader, dst []Match) ([]Match, error) {
	e.ran = nil
	idx := s.byType[ev.Type]
	if idx == nil {
		return dst, nil
	}
	cands := e.cands.of(idx, ev)
	e.ran = cands
	if len(cands) == 0 {
		return dst, nil
	}
	e.begin(s, ev, now, r)
	given := len(dst)
	env := any(&e.env)
	for _, i := range cands {
		rule, when := idx.rules[i], idx.whens[i]
		e.env.meter.reset()
		ok, err := e.cond(when, rule, env)
		switch {
		case err != nil:
			if e.st.stateErr != nil {
				return dst[:given], e.aborted(rule)
			}
			dst = append(dst, failed(rule, err))
		case ok:
			m := e.match(rule, env)
			if m.Err != nil && e.st.stateErr != nil {
				return dst[:given], e.aborted(rule)
			}
			dst = append(dst, m)
		}
	}
	e.end()
	return dst, nil
}

// Ran returns the positions, in s.Candidates(ev.Type), of the rules the
// last Eval ran (every other listening rule was left out by the index,
// its condition false); valid until the next Eval. An Eval aborted by
// the Reader ran some of them.
func (e *Evaluator) Ran() []int32 { return e.ran }

// cond evaluates a candidate rule's condition, whose program is when
// (nil for a constant): the evaluation's hot path.
func (e *Evaluator) cond(when *vm.Program, r *Rule, env any) (bool, error) {
	if when == nil {
		return e.bool(r.when, env)
	}
	v, err := e.vm.Run(when, env)
	if err != nil {
		return false, r.when.runtimeError(err)
	}
	b, ok := v.(bool)
	if !ok {
		return false, r.when.typeError(v, boolKind)
	}
	return b, nil
}

// aborted ends an evaluation stopped by the Reader, and returns its
// error.
func (e *Evaluator) aborted(r *Rule) error {
	err := fmt.Errorf("rule %q: state unavailable: %w", r.Name, e.st.stateErr)
	e.end()
	return err
}

// failed is the Match of a rule that failed at run time.
func failed(r *Rule, err error) Match {
	return Match{Rule: r, Err: fmt.Errorf("rule %q: %w", r.Name, err)}
}

// match renders a matching rule's actions and its cooldown key.
func (e *Evaluator) match(r *Rule, env any) Match {
	m := Match{Rule: r, Actions: make([]Action, len(r.actions))}
	for i := range r.actions {
		a, err := e.render(&r.actions[i], env)
		if err != nil {
			return failed(r, err)
		}
		m.Actions[i] = a
	}
	if r.CooldownFor <= 0 {
		return m
	}
	key, err := e.cooldownKey(r, env)
	if err != nil {
		return failed(r, err)
	}
	m.CooldownKey = key
	return m
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
	return runOn(&e.vm, x, env)
}

// runOn runs x on m.
func runOn(m *vm.VM, x *expression, env any) (any, error) {
	if x.isConst {
		return x.konst, nil
	}
	v, err := m.Run(x.prog, env)
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
	return asString(x, v)
}

// asString checks that x's value v is a string.
func asString(x *expression, v any) (string, error) {
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
