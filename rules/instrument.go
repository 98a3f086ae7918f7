package rules

import (
	"fmt"
	"reflect"
	"regexp"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm/runtime"
)

// Hidden functions that the patchers call; not identifiers, so rules
// cannot call them directly.
const (
	tickFunc    = "@tick"    // one loop iteration
	concatFunc  = "@concat"  // string + string
	addFunc     = "@add"     // + with an operand of unknown type
	inFunc      = "@in"      // in, where elements compare deeply
	matchesFunc = "@matches" // matches with a pattern computed at run time
)

// instrumenter rewrites a checked expression so that its work is
// metered (see budget.go). Every predicate body, the body of the loops
// of all, any, map, filter, reduce and the others, starts with a tick
// that counts the iteration. A + that may join strings goes through the
// bounded concatenation: string + string keeps its static type, and an
// operand of unknown type (attrs values, #acc) goes through @add, which
// adds numbers as + does. `in` where both the needle and the elements
// may be lists or maps, which compare element by element, and `matches`
// with a pattern computed at run time go through metered versions.
// Every other operator, and the load-time type checks, are unchanged.
type instrumenter struct{}

func (instrumenter) Visit(n *ast.Node) {
	switch v := (*n).(type) {
	case *ast.BuiltinNode:
		for _, arg := range v.Arguments {
			if p, ok := arg.(*ast.PredicateNode); ok {
				seq := &ast.SequenceNode{Nodes: []ast.Node{hiddenCall(tickFunc, v.Location()), p.Node}}
				seq.SetLocation(v.Location())
				p.Node = seq
			}
		}
	case *ast.BinaryNode:
		if name := meteredOperator(v); name != "" {
			ast.Patch(n, hiddenCall(name, v.Location(), v.Left, v.Right))
		}
	}
}

// instrumentOptions declares the hidden functions of the instrumenter.
func instrumentOptions() []expr.Option {
	return []expr.Option{
		expr.Function(tickFunc, tick, new(func(any) any)),
		expr.Function(concatFunc, concatStrings, new(func(any, string, string) string)),
		expr.Function(addFunc, addAny, new(func(any, any, any) any)),
		expr.Function(inFunc, inDeep, new(func(any, any, any) bool)),
		expr.Function(matchesFunc, matchesDynamic, new(func(any, any, any) bool)),
	}
}

// meteredOperator names the hidden function that replaces b, or "".
func meteredOperator(b *ast.BinaryNode) string {
	l, r := kindOf(b.Left), kindOf(b.Right)
	switch b.Operator {
	case "+":
		switch {
		case l == reflect.String && r == reflect.String:
			return concatFunc
		case (l == reflect.Interface && (r == reflect.String || r == reflect.Interface)) ||
			(r == reflect.Interface && l == reflect.String):
			return addFunc
		}
	case "in":
		if comparesDeeply(b.Left.Type()) && (r == reflect.Interface || isList(r) && comparesDeeply(b.Right.Type().Elem())) {
			return inFunc
		}
	case "matches":
		if _, literal := b.Right.(*ast.StringNode); !literal && isText(l) && isText(r) {
			return matchesFunc
		}
	}
	return ""
}

// hiddenCall calls a hidden function with the env and args.
func hiddenCall(name string, loc file.Location, args ...ast.Node) *ast.CallNode {
	callee := &ast.IdentifierNode{Value: name}
	callee.SetLocation(loc)
	c := &ast.CallNode{Callee: callee, Arguments: append([]ast.Node{envNode(loc)}, args...)}
	c.SetLocation(loc)
	return c
}

// envNode is the hidden env argument of metered functions.
func envNode(loc file.Location) ast.Node {
	n := &ast.IdentifierNode{Value: "$env"}
	n.SetLocation(loc)
	return n
}

// kindOf is the kind of n's checked type; unknown types are Interface.
func kindOf(n ast.Node) reflect.Kind { return n.Type().Kind() }

// comparesDeeply reports whether values of type t may be lists or maps.
func comparesDeeply(t reflect.Type) bool {
	k := t.Kind()
	return k == reflect.Interface || isList(k) || k == reflect.Map
}

func isList(k reflect.Kind) bool { return k == reflect.Slice || k == reflect.Array }

func isText(k reflect.Kind) bool { return k == reflect.String || k == reflect.Interface }

func tick(args ...any) (any, error) {
	m, _, err := meterArgs(args)
	if err != nil {
		return nil, err
	}
	return nil, m.tick()
}

func concatStrings(args ...any) (any, error) {
	m, args, err := meterArgs(args)
	if err != nil {
		return nil, err
	}
	a, _ := args[0].(string)
	b, _ := args[1].(string)
	return concat(m, a, b)
}

// addAny is + for operands whose type is known only at run time.
func addAny(args ...any) (any, error) {
	m, args, err := meterArgs(args)
	if err != nil {
		return nil, err
	}
	a, aok := args[0].(string)
	b, bok := args[1].(string)
	if aok && bok {
		return concat(m, a, b)
	}
	return runtime.Add(args[0], args[1]), nil
}

func concat(m *meter, a, b string) (string, error) {
	if err := m.build("string concatenation", len(a)+len(b)); err != nil {
		return "", err
	}
	return a + b, nil
}

// inDeep is `in` for needles and elements that compare element by
// element: each comparison walks the needle.
func inDeep(args ...any) (any, error) {
	m, args, err := meterArgs(args)
	if err != nil {
		return nil, err
	}
	needle, list := args[0], args[1]
	n := 1
	if v := reflect.ValueOf(list); v.Kind() == reflect.Slice || v.Kind() == reflect.Array {
		n = v.Len()
	}
	if err := m.step(satMul(n, compareCost(needle, m))); err != nil {
		return nil, err
	}
	return runtime.In(needle, list), nil
}

// matchesDynamic is `matches` with a pattern computed at run time,
// which is compiled on each call and costs up to the product of the
// pattern's and the text's lengths.
func matchesDynamic(args ...any) (any, error) {
	m, args, err := meterArgs(args)
	if err != nil {
		return nil, err
	}
	if runtime.IsNil(args[0]) || runtime.IsNil(args[1]) {
		return false, nil
	}
	pattern, ok := args[1].(string)
	if !ok {
		return nil, fmt.Errorf("matches: the pattern is %T, want a string", args[1])
	}
	text, isString := args[0].(string)
	data, isBytes := args[0].([]byte)
	if !isString && !isBytes {
		return nil, fmt.Errorf("matches: the text is %T, want a string", args[0])
	}
	if err := m.scan(satMul(len(text)+len(data)+1, len(pattern)+1)); err != nil {
		return nil, err
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	if isBytes {
		return re.Match(data), nil
	}
	return re.MatchString(text), nil
}
