package rules

import (
	"fmt"
	"reflect"

	"github.com/expr-lang/expr/ast"
)

// budgetWarning looks at a compiled expression for the budgets it can
// be seen to exceed at load: ranges, strings and lists bigger than
// their limits, and loops longer than the step budget. Lengths come
// from literals, lists and let-bound values; a length known only when
// the rule runs (an event field) counts as 1, so only what the rule's
// own text makes big is reported. It returns the innermost node over a
// budget and the problem, or nil: one warning per expression.
func budgetWarning(root ast.Node, lists map[string][]string) (ast.Node, string) {
	e := &estimator{lists: lists, vars: make(map[string]estimate)}
	e.visit(root)
	return e.at, e.msg
}

// estimate is what evaluating a node can cost, at most, given the
// lengths known at load.
type estimate struct {
	steps int // loop iterations
	elems int // elements of ranges, arrays and maps that the VM builds
	bytes int // bytes built by metered builtins
	size  int // elements of the list or bytes of the string it yields; -1 if unknown
}

var unknown = estimate{size: -1}

// plus adds the costs of b to a's, keeping a's size.
func (a estimate) plus(b estimate) estimate {
	a.steps = satAdd(a.steps, b.steps)
	a.elems = satAdd(a.elems, b.elems)
	a.bytes = satAdd(a.bytes, b.bytes)
	return a
}

// times is the cost of running a body n times.
func (a estimate) times(n int) estimate {
	return estimate{steps: satMul(a.steps, n), elems: satMul(a.elems, n), bytes: satMul(a.bytes, n), size: -1}
}

type estimator struct {
	lists map[string][]string
	vars  map[string]estimate // let-bound values in scope
	at    ast.Node            // where the first warning is
	msg   string
}

func (e *estimator) warn(n ast.Node, format string, args ...any) {
	if e.at == nil {
		e.at, e.msg = n, fmt.Sprintf(format, args...)
	}
}

// visit estimates n and warns if n is the first node over a budget.
func (e *estimator) visit(n ast.Node) estimate {
	if n == nil {
		return unknown
	}
	est := e.node(n)
	switch {
	case est.steps > maxEvalSteps:
		e.warn(n, "loops here can run up to %d steps on one event, over the budget of %d: the rule will fail with %q",
			est.steps, maxEvalSteps, "step budget exceeded")
	case est.elems >= vmElementBudget:
		e.warn(n, "this can build up to %d list and map elements, over the limit of %d: the rule will fail with %q",
			est.elems, vmElementBudget, "memory budget exceeded")
	case est.bytes > maxEvalBytes:
		e.warn(n, "this can build up to %d bytes of strings and lists on one event, over the budget of %d: the rule will fail with %q",
			est.bytes, maxEvalBytes, "memory budget exceeded")
	}
	return est
}

// sum estimates nodes evaluated one after the other.
func (e *estimator) sum(nodes ...ast.Node) estimate {
	est := unknown
	for _, n := range nodes {
		est = est.plus(e.visit(n))
	}
	return est
}

func (e *estimator) node(n ast.Node) estimate {
	switch v := n.(type) {
	case *ast.StringNode:
		return estimate{size: len(v.Value)}
	case *ast.ConstantNode:
		return constantEstimate(v.Value)
	case *ast.IdentifierNode:
		if x, ok := e.vars[v.Value]; ok {
			return estimate{size: x.size}
		}
		return unknown
	case *ast.MemberNode:
		return e.member(v)
	case *ast.ArrayNode:
		est := e.sum(v.Nodes...)
		est.elems = satAdd(est.elems, len(v.Nodes))
		est.size = len(v.Nodes)
		return est
	case *ast.BinaryNode:
		if v.Operator == ".." {
			return e.rangeOf(v)
		}
		return e.sum(v.Left, v.Right)
	case *ast.VariableDeclaratorNode:
		return e.let(v)
	case *ast.SequenceNode:
		est := unknown
		for _, x := range v.Nodes {
			last := e.visit(x)
			est = est.plus(last)
			est.size = last.size
		}
		return est
	case *ast.MapNode:
		est := e.sum(children(v)...)
		est.elems = satAdd(est.elems, len(v.Pairs))
		return est
	case *ast.ConditionalNode:
		return e.conditional(v)
	case *ast.BuiltinNode:
		return e.builtin(v)
	case *ast.CallNode:
		return e.call(v)
	}
	return e.sum(children(n)...)
}

func constantEstimate(v any) estimate {
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.String, reflect.Slice, reflect.Array, reflect.Map:
		return estimate{size: rv.Len()}
	}
	return unknown
}

// member knows the lengths of lists.NAME.
func (e *estimator) member(m *ast.MemberNode) estimate {
	est := e.sum(m.Node, m.Property)
	id, ok1 := m.Node.(*ast.IdentifierNode)
	name, ok2 := m.Property.(*ast.StringNode)
	if ok1 && ok2 && id.Value == "lists" {
		if list, ok := e.lists[name.Value]; ok {
			est.size = len(list)
		}
	}
	return est
}

func (e *estimator) rangeOf(b *ast.BinaryNode) estimate {
	est := e.sum(b.Left, b.Right)
	from, ok1 := b.Left.(*ast.IntegerNode)
	to, ok2 := b.Right.(*ast.IntegerNode)
	if !ok1 || !ok2 {
		return est
	}
	est.size = max(0, to.Value-from.Value+1)
	est.elems = satAdd(est.elems, est.size)
	return est
}

func (e *estimator) let(v *ast.VariableDeclaratorNode) estimate {
	value := e.visit(v.Value)
	prev, shadowed := e.vars[v.Name]
	e.vars[v.Name] = value
	body := e.visit(v.Expr)
	delete(e.vars, v.Name)
	if shadowed {
		e.vars[v.Name] = prev
	}
	est := value.plus(body)
	est.size = body.size
	return est
}

func (e *estimator) conditional(c *ast.ConditionalNode) estimate {
	a, b := e.visit(c.Exp1), e.visit(c.Exp2)
	est := e.visit(c.Cond)
	est.steps = satAdd(est.steps, max(a.steps, b.steps))
	est.elems = satAdd(est.elems, max(a.elems, b.elems))
	est.bytes = satAdd(est.bytes, max(a.bytes, b.bytes))
	est.size = -1
	if a.size >= 0 && b.size >= 0 {
		est.size = max(a.size, b.size)
	}
	return est
}

// builtin estimates a builtin; those with a predicate are loops over
// their first argument, one step per iteration.
func (e *estimator) builtin(b *ast.BuiltinNode) estimate {
	if len(b.Arguments) == 0 {
		return unknown
	}
	list := e.visit(b.Arguments[0])
	est, body := list, estimate{}
	isLoop := b.Map != nil
	for _, arg := range b.Arguments[1:] {
		if _, ok := arg.(*ast.PredicateNode); ok {
			isLoop = true
			body = body.plus(e.visit(arg))
		} else {
			est = est.plus(e.visit(arg))
		}
	}
	if b.Map != nil {
		body = body.plus(e.visit(b.Map))
	}
	est.size = -1
	if !isLoop {
		return est
	}
	iterations := max(list.size, 1)
	body.steps = satAdd(body.steps, 1)
	est = est.plus(body.times(iterations))
	switch b.Name {
	case "map", "filter", "sortBy":
		est.size = list.size
		est.elems = satAdd(est.elems, iterations)
	}
	return est
}

// call estimates calls, and the strings that the metered builtins build
// from arguments of known size.
func (e *estimator) call(c *ast.CallNode) estimate {
	name := ""
	if id, ok := c.Callee.(*ast.IdentifierNode); ok {
		name = id.Value
	}
	args := c.Arguments
	if len(args) > 0 && isEnvNode(args[0]) {
		args = args[1:]
	}
	sizes := make([]int, len(args))
	est := unknown
	for i, a := range args {
		x := e.visit(a)
		sizes[i] = x.size
		est = est.plus(x)
	}
	if built := builtSize(name, args, sizes); built >= 0 {
		est.size = built
		est.bytes = satAdd(est.bytes, built)
		if built > maxStringBytes {
			e.warn(c, "%s builds a string of up to %d bytes, over the limit of %d: the rule will fail with %q",
				calleeName(name), built, maxStringBytes, "memory budget exceeded")
		}
	}
	return est
}

// builtSize is the size of the string that builtin name builds from
// args of the given sizes, at most, or -1 if it is not known.
func builtSize(name string, args []ast.Node, sizes []int) int {
	known := func(idx ...int) bool {
		for _, i := range idx {
			if i >= len(sizes) || sizes[i] < 0 {
				return false
			}
		}
		return true
	}
	switch name {
	case "repeat":
		if len(args) < 2 {
			return -1
		}
		if n, ok := args[1].(*ast.IntegerNode); ok && known(0) && n.Value >= 0 {
			return satMul(sizes[0], n.Value)
		}
	case "replace":
		if len(args) < 3 {
			return -1
		}
		// The count of matches is bounded only if old is known exactly.
		if old, ok := args[1].(*ast.StringNode); ok && known(0, 2) {
			count := sizes[0] + 1
			if old.Value != "" {
				count = sizes[0] / len(old.Value)
			}
			return satAdd(sizes[0], satMul(count, max(0, sizes[2]-len(old.Value))))
		}
	case concatFunc, addFunc:
		if known(0, 1) {
			return satAdd(sizes[0], sizes[1])
		}
	case "upper", "lower":
		if known(0) {
			return sizes[0]
		}
	}
	return -1
}

// calleeName names a function as rule authors write it.
func calleeName(name string) string {
	if name == concatFunc || name == addFunc {
		return "+"
	}
	return name
}

func isEnvNode(n ast.Node) bool {
	id, ok := n.(*ast.IdentifierNode)
	return ok && id.Value == "$env"
}

// children returns the nodes directly under n.
func children(n ast.Node) []ast.Node {
	switch v := n.(type) {
	case *ast.UnaryNode:
		return []ast.Node{v.Node}
	case *ast.ChainNode:
		return []ast.Node{v.Node}
	case *ast.SliceNode:
		return []ast.Node{v.Node, v.From, v.To}
	case *ast.PredicateNode:
		return []ast.Node{v.Node}
	case *ast.MapNode:
		out := make([]ast.Node, len(v.Pairs))
		copy(out, v.Pairs)
		return out
	case *ast.PairNode:
		return []ast.Node{v.Key, v.Value}
	}
	return nil
}
