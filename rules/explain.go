package rules

import (
	"cmp"
	"errors"
	"slices"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// Explanation says why a rule did or did not match an event.
type Explanation struct {
	Rule *Rule
	// Matched is whether `when` held. Err may still be set: rendering
	// the actions failed.
	Matched     bool
	Err         error    // the rule's runtime error, if any
	Values      []Value  // sub-expressions of `when` with their values, in source order
	Actions     []Action // rendered, when matched
	CooldownKey string   // rendered, when matched and the rule has a cooldown
	Windows     []WindowRead
}

// Value is one sub-expression of a rule's `when` and its value.
type Value struct {
	Expr  string // the sub-expression's source text, e.g. `event.user.score >= 0.5`
	Value any    // its value (JSON-encodable: see jsonValue), nil if it could not be computed
	Err   string // why it could not, if so
}

// WindowRead is one window that a rule read: its name, the key its key
// expression gave on the event, and the count there.
type WindowRead struct {
	Window string
	Key    string
	Count  int
}

// Explain evaluates ev like Eval (same Reader) and says why each
// enabled rule listening for ev.Type did or did not match: whether
// `when` held, and the value of each of its sub-expressions (each
// comparison, logical operator, membership test, call and event field),
// short-circuited ones included, each evaluated on its own. It is the
// slow path behind `roomwarden explain`. An error returned by r aborts
// it, as it aborts Eval.
func (e *Evaluator) Explain(s *Set, ev *Event, now time.Time, r Reader) ([]Explanation, error) {
	cands := s.Candidates(ev.Type)
	out := make([]Explanation, 0, len(cands))
	if len(cands) == 0 {
		return out, nil
	}
	e.begin(s, ev, now, r)
	defer e.end()
	e.st.tracing = true
	x := newExplainer(s.sym)
	for _, rule := range cands {
		ex := e.explain(x, rule)
		if e.st.stateErr != nil {
			return nil, e.aborted(rule)
		}
		out = append(out, ex)
	}
	return out, nil
}

// explain evaluates one rule as Eval does, then each sub-expression of
// its when.
func (e *Evaluator) explain(x *explainer, r *Rule) Explanation {
	e.st.trace = e.st.trace[:0]
	env := any(&e.env)
	ex := Explanation{Rule: r}
	e.env.meter.reset()
	ok, err := e.bool(r.when, env)
	switch {
	case err != nil:
		ex.Err = failed(r, err).Err
	case ok:
		m := e.match(r, env)
		ex.Matched, ex.Err, ex.Actions, ex.CooldownKey = true, m.Err, m.Actions, m.CooldownKey
	}
	if e.st.stateErr == nil {
		ex.Values = e.values(x, r.When, env)
	}
	if len(e.st.trace) > 0 {
		ex.Windows = slices.Clone(e.st.trace)
	}
	return ex
}

// values evaluates each sub-expression of when on its own, with a fresh
// budget. It stops if the Reader fails.
func (e *Evaluator) values(x *explainer, when string, env any) []Value {
	var out []Value
	for _, text := range x.subexpressions(when) {
		prog := x.program(text)
		if prog == nil {
			continue
		}
		e.env.meter.reset()
		v, err := e.vm.Run(prog, env)
		switch {
		case e.st.stateErr != nil:
			return out
		case err != nil:
			out = append(out, Value{Expr: text, Err: errorMessage(err)})
		default:
			out = append(out, Value{Expr: text, Value: jsonValue(v)})
		}
	}
	return out
}

func errorMessage(err error) string {
	var fe *file.Error
	if errors.As(err, &fe) {
		return fe.Message
	}
	return err.Error()
}

// explainer finds and compiles sub-expressions, each once per Explain.
type explainer struct {
	sym   *symbols
	parse *conf.Config
	texts map[string][]string
	progs map[string]*vm.Program
}

func newExplainer(sym *symbols) *explainer {
	cfg := conf.CreateNew()
	for _, opt := range sym.base {
		opt(cfg)
	}
	return &explainer{sym: sym, parse: cfg, texts: make(map[string][]string), progs: make(map[string]*vm.Program)}
}

// program compiles a sub-expression with every option of the rules,
// or returns nil if it does not compile on its own (it uses a
// predicate's # or a let variable).
func (x *explainer) program(text string) *vm.Program {
	if prog, ok := x.progs[text]; ok {
		return prog
	}
	opts, refs := x.sym.options(anyKind, false)
	prog, err := expr.Compile(text, opts...)
	if err != nil || len(refs.problems) > 0 {
		prog = nil
	}
	x.progs[text] = prog
	return prog
}

// subexpressions returns the texts of the sub-expressions of src worth
// a value, in source order, each once.
func (x *explainer) subexpressions(src string) []string {
	if texts, ok := x.texts[src]; ok {
		return texts
	}
	var texts []string
	if tree, err := parser.ParseWithConfig(src, x.parse); err == nil {
		var nodes []ast.Node
		collect(tree.Node, &nodes)
		slices.SortStableFunc(nodes, func(a, b ast.Node) int { return cmp.Compare(start(a), start(b)) })
		for _, n := range nodes {
			if t := n.String(); !slices.Contains(texts, t) {
				texts = append(texts, t)
			}
		}
	}
	x.texts[src] = texts
	return texts
}
