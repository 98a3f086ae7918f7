package rules

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
)

// exprEnv is the environment every expression is compiled against and
// run with: `event`, `lists`, and the evaluation time behind now().
//
// Besides expr's built-ins (len, lower, upper, trim, contains, startsWith,
// endsWith, matches, in, any, all, filter, count, duration, date, ...),
// rules may call these helpers:
//
//	now()               the evaluation time: when the daemon evaluates the event,
//	                    or the simulated clock in rule tests
//	has_label(l)        event.user.labels contains l
//	has_any(xs, ys)     some element of xs is in ys,
//	                    e.g. has_any(event.user.labels, lists.bad_labels)
//	has_all(xs, ys)     every element of ys is in xs
//	has_attr(k)         event.attrs has the key k
//	attr_string(k)      event.attrs[k] if it is a string, else ""
//	attr_number(k)      event.attrs[k] as a number (numbers and numeric
//	                    strings), else 0
//	attr_bool(k)        event.attrs[k] if it is a bool, else false
//
//	window("NAME")      the count of the window NAME at the key its key
//	                    expression gives on this event (state.go)
//
// Named lists are `lists.NAME`, []string; naming a list that no rules
// file defines is a load error. A list kept in a KV bucket is read
// through the evaluation's Reader (refs.go, state.go); Lists holds the
// static ones only.
type exprEnv struct {
	Event Event               `expr:"event"`
	Lists map[string][]string `expr:"lists"`
	Now   time.Time           `expr:"@now"` // not a valid identifier: reachable only through now()
	meter meter               // the evaluation's budgets; unexported, so rules cannot see it
	eval  *Evaluator          // the evaluation, for the functions that read state
}

// implicitArg returns the env path that an event-bound helper receives
// as its hidden first argument, or nil for other names.
func implicitArg(name string) []string {
	switch name {
	case "has_label":
		return []string{"event", "user", "labels"}
	case "has_attr", "attr_string", "attr_number", "attr_bool":
		return []string{"event", "attrs"}
	}
	return nil
}

// compileOptions returns the options shared by every expression. want
// adds the result-type option; visitors are per-expression patchers.
func compileOptions() []expr.Option {
	opts := []expr.Option{
		expr.Env(exprEnv{}),
		expr.MaxNodes(maxExprNodes),
		expr.DisableBuiltin("now"),
		expr.Patch(helperPatcher{}),
		expr.Patch(instrumenter{}),
		expr.Function("has_any", hasAny,
			new(func([]string, []string) bool), new(func([]any, []string) bool),
			new(func([]string, []any) bool), new(func([]any, []any) bool)),
		expr.Function("has_all", hasAll,
			new(func([]string, []string) bool), new(func([]any, []string) bool),
			new(func([]string, []any) bool), new(func([]any, []any) bool)),
		expr.Function("has_label", hasAny, new(func([]string, string) bool)),
		expr.Function("has_attr", hasAttr, new(func(map[string]any, string) bool)),
		expr.Function("attr_string", attrString, new(func(map[string]any, string) string)),
		expr.Function("attr_number", attrNumber, new(func(map[string]any, string) float64)),
		expr.Function("attr_bool", attrBool, new(func(map[string]any, string) bool)),
	}
	opts = append(opts, instrumentOptions()...)
	opts = append(opts, stateOptions()...)
	return append(opts, meteredOptions()...)
}

// helperPatcher rewrites now() to read the evaluation time, and gives
// the event-bound helpers and the metered builtins their hidden first
// argument. It runs before the other patchers, which rely on the types
// checked once these calls are complete.
type helperPatcher struct{}

func (helperPatcher) Visit(n *ast.Node) {
	c, ok := (*n).(*ast.CallNode)
	if !ok {
		return
	}
	id, ok := c.Callee.(*ast.IdentifierNode)
	if !ok {
		return
	}
	if id.Value == "now" && len(c.Arguments) == 0 {
		ast.Patch(n, &ast.IdentifierNode{Value: "@now"})
		return
	}
	var hidden ast.Node
	if _, ok := meteredBuiltins[id.Value]; ok {
		hidden = envNode(c.Location())
	} else if path := implicitArg(id.Value); path != nil && len(c.Arguments) == 1 {
		hidden = memberPath(path, c.Location())
	}
	if hidden != nil {
		c.Arguments = append([]ast.Node{hidden}, c.Arguments...)
		// Forget the type checked without the hidden argument (it may
		// have matched an overload with one parameter more), so that the
		// final check picks the overload again.
		c.SetType(nil)
	}
}

// memberPath builds the node for a dotted env path such as event.attrs.
func memberPath(path []string, loc file.Location) ast.Node {
	var n ast.Node = &ast.IdentifierNode{Value: path[0]}
	n.SetLocation(loc)
	for _, p := range path[1:] {
		prop := &ast.StringNode{Value: p}
		prop.SetLocation(loc)
		m := &ast.MemberNode{Node: n, Property: prop}
		m.SetLocation(loc)
		n = m
	}
	return n
}

// asStrings returns x as strings; helpers accept []string and []any.
func asStrings(x any) []string {
	switch v := x.(type) {
	case []string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case string:
		return []string{v}
	}
	return nil
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func hasAny(args ...any) (any, error) {
	xs, ys := asStrings(args[0]), asStrings(args[1])
	for _, x := range xs {
		if contains(ys, x) {
			return true, nil
		}
	}
	return false, nil
}

func hasAll(args ...any) (any, error) {
	xs, ys := asStrings(args[0]), asStrings(args[1])
	for _, y := range ys {
		if !contains(xs, y) {
			return false, nil
		}
	}
	return true, nil
}

func attr(args []any) (any, bool) {
	m, _ := args[0].(map[string]any)
	k, _ := args[1].(string)
	v, ok := m[k]
	return v, ok
}

func hasAttr(args ...any) (any, error) {
	_, ok := attr(args)
	return ok, nil
}

func attrString(args ...any) (any, error) {
	v, _ := attr(args)
	s, _ := v.(string)
	return s, nil
}

func attrBool(args ...any) (any, error) {
	v, _ := attr(args)
	b, _ := v.(bool)
	return b, nil
}

func attrNumber(args ...any) (any, error) {
	v, _ := attr(args)
	switch n := v.(type) {
	case float64:
		return n, nil
	case float32:
		return float64(n), nil
	case int:
		return float64(n), nil
	case int64:
		return float64(n), nil
	case uint64:
		return float64(n), nil
	case json.Number:
		f, err := n.Float64()
		if err != nil {
			return 0.0, nil
		}
		return f, nil
	case string:
		f, err := strconv.ParseFloat(n, 64)
		if err != nil {
			return 0.0, nil
		}
		return f, nil
	}
	return 0.0, nil
}
