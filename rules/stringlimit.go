package rules

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm/runtime"
)

// maxConcatBytes bounds a string built with + or repeat() in an
// expression. expr's memory budget does not count string concatenation
// and counts repeat() only after building its result, so without this
// `reduce(1..40, #acc + #acc, "x")` or repeat() of a long literal would
// try to build a string of gigabytes and kill the daemon (running out of
// memory is not recoverable).
const maxConcatBytes = 1 << 20

// Names of the bounded + functions; not identifiers, so rules cannot
// call them directly.
const (
	concatFunc = "@concat" // string + string
	addFunc    = "@add"    // + with an operand of unknown type
)

// concatOptions declare the bounded + functions and replace the
// built-in repeat() with a bounded one.
func concatOptions() []expr.Option {
	return []expr.Option{
		expr.Function(concatFunc, concatStrings, new(func(string, string) string)),
		expr.Function(addFunc, addAny, new(func(any, any) any)),
		expr.DisableBuiltin("repeat"),
		expr.Function("repeat", repeatString, new(func(string, int) string)),
	}
}

// concatPatcher routes every + that may join strings through a bounded
// function: string + string keeps its static type; an operand of
// unknown type (attrs values, #acc) goes through addAny, which adds
// numbers as + does. Numeric + and type errors are left alone, so
// load-time type checking is unchanged.
type concatPatcher struct{}

func (concatPatcher) Visit(n *ast.Node) {
	b, ok := (*n).(*ast.BinaryNode)
	if !ok || b.Operator != "+" {
		return
	}
	l, r := kindOf(b.Left), kindOf(b.Right)
	var name string
	switch {
	case l == reflect.String && r == reflect.String:
		name = concatFunc
	case (l == reflect.Interface && (r == reflect.String || r == reflect.Interface)) ||
		(r == reflect.Interface && l == reflect.String):
		name = addFunc
	default:
		return
	}
	callee := &ast.IdentifierNode{Value: name}
	callee.SetLocation(b.Location())
	ast.Patch(n, &ast.CallNode{Callee: callee, Arguments: []ast.Node{b.Left, b.Right}})
}

// kindOf is the kind of n's checked type; unknown types are Interface.
func kindOf(n ast.Node) reflect.Kind {
	t := n.Type()
	if t == nil {
		return reflect.Interface
	}
	return t.Kind()
}

func concatStrings(args ...any) (any, error) {
	a, _ := args[0].(string)
	b, _ := args[1].(string)
	return concat(a, b)
}

// addAny is + for operands whose type is known only at run time.
func addAny(args ...any) (any, error) {
	a, aok := args[0].(string)
	b, bok := args[1].(string)
	if aok && bok {
		return concat(a, b)
	}
	return runtime.Add(args[0], args[1]), nil
}

func repeatString(args ...any) (any, error) {
	s, _ := args[0].(string)
	n, _ := args[1].(int)
	switch {
	case n < 0:
		return "", fmt.Errorf("repeat: count %d is negative", n)
	case len(s) > 0 && n > maxConcatBytes/len(s):
		return "", fmt.Errorf("memory budget exceeded: repeat over %d bytes", maxConcatBytes)
	}
	return strings.Repeat(s, n), nil
}

func concat(a, b string) (string, error) {
	if len(a)+len(b) > maxConcatBytes {
		return "", fmt.Errorf("memory budget exceeded: string concatenation over %d bytes", maxConcatBytes)
	}
	return a + b, nil
}
