package rules

import (
	"cmp"
	"reflect"
	"slices"

	"github.com/expr-lang/expr/ast"
)

// What the rule index (index.go) may rely on in a condition. A rule's
// `when` is a chain of conjuncts, a && b && c, which expr evaluates
// left to right and stops at the first that is false. If every
// conjunct before some conjunct k cannot fail, and k is false on an
// event, the condition is false on that event, without an error, and
// nothing after k runs: the rule can be left out of that event's
// evaluation and nothing that Eval returns changes. Such a k is an
// index key when it holds only if an event field has one of a set of
// values known at load (keyOf).

// indexField is an event field that rules may be indexed on: a string
// or an int that every event has (a field absent from the wire is its
// zero value, which the index looks up like any other).
type indexField uint8

const (
	fieldRoomID indexField = iota
	fieldUserID
	fieldSeatUserID
	fieldID
	fieldSeatIndex
	fieldType // resolved per event type when the index is built
	numIndexFields
)

// indexFieldPaths are the fields' paths under `event`, in order of
// preference between two keys that look as selective.
var indexFieldPaths = [numIndexFields]string{"room_id", "user.id", "seat.user_id", "id", "seat.index", "type"}

// isInt reports whether f holds an int (else a string).
func (f indexField) isInt() bool { return f == fieldSeatIndex }

// str returns ev's value of a string field f.
func (f indexField) str(ev *Event) string {
	switch f {
	case fieldRoomID:
		return ev.RoomID
	case fieldUserID:
		return ev.User.ID
	case fieldSeatUserID:
		return ev.Seat.UserID
	case fieldID:
		return ev.ID
	case fieldType:
		return ev.Type
	}
	return ""
}

// int returns ev's value of an int field f.
func (f indexField) int(ev *Event) int { return ev.Seat.Index }

// indexKey is a conjunct that is true only if the event's field has
// one of values (strings or ints, as the field; no duplicates). It
// cannot fail. A key on a static list longer than maxKeyValues is wide:
// its values are not listed, and it is not used.
type indexKey struct {
	field  indexField
	values []any
	wide   bool
}

// maxKeyValues bounds the values of a key that is used: filing each of
// many rules under every member of a long list would take more memory
// than evaluating them saves.
const maxKeyValues = 4096

// ruleKeys returns the index keys of a rule's condition: the conjuncts
// of its top-level && chain (through parentheses) that are keys, up to
// the first conjunct that may fail at run time, which ends the search.
// A constant condition has none.
func ruleKeys(r *Rule, static map[string][]string) []indexKey {
	if r.when == nil || r.when.isConst || r.when.prog == nil {
		return nil
	}
	var keys []indexKey
	for _, c := range conjuncts(r.when.prog.Node(), nil) {
		if k, ok := keyOf(c, static); ok {
			if !k.wide {
				keys = append(keys, k)
			}
			continue
		}
		if !isBool(c) || !cannotFail(c, static) {
			break
		}
	}
	return keys
}

// conjuncts appends the operands of n's top-level && chain, left to
// right: the order in which they run.
func conjuncts(n ast.Node, out []ast.Node) []ast.Node {
	if b, ok := n.(*ast.BinaryNode); ok && (b.Operator == "&&" || b.Operator == "and") {
		return conjuncts(b.Right, conjuncts(b.Left, out))
	}
	return append(out, n)
}

// keyOf returns the key that conjunct n is, if it is one of:
//
//	event.F == C, C == event.F
//	event.F in [C, ...]          (the optimizer makes it a constant set)
//	event.F in lists.STATIC      (a KV list's members change: never)
//	a || b                       where a and b are keys on the same F
//
// where F is an index field and each C a literal of F's type: a string
// for a string field, an integer for seat.index. Anything else (an
// int field against a float, !=, not in, a KV list) is not a key.
func keyOf(n ast.Node, static map[string][]string) (indexKey, bool) {
	b, ok := n.(*ast.BinaryNode)
	if !ok {
		return indexKey{}, false
	}
	switch b.Operator {
	case "==":
		if f, ok := fieldOf(b.Left); ok {
			return constKey(f, b.Right)
		}
		if f, ok := fieldOf(b.Right); ok {
			return constKey(f, b.Left)
		}
	case "in":
		if f, ok := fieldOf(b.Left); ok {
			return setKey(f, b.Right, static)
		}
	case "||", "or":
		l, ok1 := keyOf(b.Left, static)
		r, ok2 := keyOf(b.Right, static)
		if ok1 && ok2 && l.field == r.field {
			if l.wide || r.wide {
				return indexKey{field: l.field, wide: true}, true
			}
			return newKey(l.field, append(slices.Clip(l.values), r.values...)), true
		}
	}
	return indexKey{}, false
}

// constKey is the key of event.F == n.
func constKey(f indexField, n ast.Node) (indexKey, bool) {
	v, ok := literalOf(f, n)
	if !ok {
		return indexKey{}, false
	}
	return newKey(f, []any{v}), true
}

// setKey is the key of event.F in n.
func setKey(f indexField, n ast.Node, static map[string][]string) (indexKey, bool) {
	var values []any
	switch v := n.(type) {
	case *ast.ConstantNode:
		switch set := v.Value.(type) {
		case map[string]struct{}:
			if f.isInt() {
				return indexKey{}, false
			}
			for s := range set {
				values = append(values, s)
			}
		case map[int]struct{}:
			if !f.isInt() {
				return indexKey{}, false
			}
			for i := range set {
				values = append(values, i)
			}
		default:
			return indexKey{}, false
		}
	case *ast.ArrayNode:
		for _, x := range v.Nodes {
			lit, ok := literalOf(f, x)
			if !ok {
				return indexKey{}, false
			}
			values = append(values, lit)
		}
	case *ast.MemberNode:
		members, ok := staticList(v, static)
		if !ok || f.isInt() {
			return indexKey{}, false
		}
		if len(members) > maxKeyValues {
			return indexKey{field: f, wide: true}, true
		}
		for _, m := range members {
			values = append(values, m)
		}
	default:
		return indexKey{}, false
	}
	return newKey(f, values), true
}

// newKey returns the key of f with values, sorted, without duplicates.
func newKey(f indexField, values []any) indexKey {
	slices.SortFunc(values, compareValues)
	values = slices.CompactFunc(values, func(a, b any) bool { return a == b })
	if len(values) > maxKeyValues {
		return indexKey{field: f, wide: true}
	}
	return indexKey{field: f, values: values}
}

// compareValues orders the values of one field: all strings or all ints.
func compareValues(a, b any) int {
	if x, ok := a.(int); ok {
		return cmp.Compare(x, b.(int))
	}
	return cmp.Compare(a.(string), b.(string))
}

// literalOf returns n's value if n is a literal of f's exact type.
func literalOf(f indexField, n ast.Node) (any, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, !f.isInt()
	case *ast.IntegerNode:
		return v.Value, f.isInt()
	case *ast.ConstantNode:
		switch c := v.Value.(type) {
		case string:
			return c, !f.isInt()
		case int:
			return c, f.isInt()
		}
	}
	return nil, false
}

// fieldOf returns the index field that n reads, if n is event.F.
func fieldOf(n ast.Node) (indexField, bool) {
	path, ok := eventPath(n)
	if !ok {
		return 0, false
	}
	for f, p := range indexFieldPaths {
		if p == path {
			return indexField(f), true
		}
	}
	return 0, false
}

// staticList returns the members of lists.NAME when NAME is a static
// list. (refPatcher has turned every KV list into a hidden call.)
func staticList(m *ast.MemberNode, static map[string][]string) ([]string, bool) {
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok || id.Value != "lists" || m.Optional {
		return nil, false
	}
	name, ok := m.Property.(*ast.StringNode)
	if !ok {
		return nil, false
	}
	members, ok := static[name.Value]
	return members, ok
}

// cannotFail reports whether evaluating n can neither fail nor read
// state, whatever the event: literals, event fields that are plain
// strings, numbers and bools, and comparisons, !, && and || of them,
// and keys. It says no to everything else (calls, attrs, arithmetic,
// loops), which is always safe: a conjunct that may fail only stops
// the search for keys.
func cannotFail(n ast.Node, static map[string][]string) bool {
	switch v := n.(type) {
	case *ast.BoolNode, *ast.IntegerNode, *ast.FloatNode, *ast.StringNode, *ast.NilNode:
		return true
	case *ast.MemberNode:
		_, ok := scalarKind(n)
		return ok
	case *ast.UnaryNode:
		return (v.Operator == "!" || v.Operator == "not") && isBool(v.Node) && cannotFail(v.Node, static)
	case *ast.BinaryNode:
		return binaryCannotFail(v, static)
	}
	return false
}

func binaryCannotFail(b *ast.BinaryNode, static map[string][]string) bool {
	switch b.Operator {
	case "&&", "and", "||", "or":
		return isBool(b.Left) && isBool(b.Right) && cannotFail(b.Left, static) && cannotFail(b.Right, static)
	case "==", "!=":
		return isLeaf(b.Left) && isLeaf(b.Right)
	case "<", ">", "<=", ">=":
		l, lok := leafKind(b.Left)
		r, rok := leafKind(b.Right)
		return lok && rok && (l == r && l == reflect.String || isNumber(l) && isNumber(r))
	case "in":
		_, ok := keyOf(b, static)
		return ok
	}
	return false
}

// isLeaf reports whether n is a literal or a plain event field.
func isLeaf(n ast.Node) bool {
	_, ok := leafKind(n)
	return ok
}

// leafKind returns the kind of a literal or plain event field: String,
// Int, Float64 or Bool (Invalid for nil).
func leafKind(n ast.Node) (reflect.Kind, bool) {
	switch n.(type) {
	case *ast.StringNode:
		return reflect.String, true
	case *ast.IntegerNode:
		return reflect.Int, true
	case *ast.FloatNode:
		return reflect.Float64, true
	case *ast.BoolNode:
		return reflect.Bool, true
	case *ast.NilNode:
		return reflect.Invalid, true
	}
	return scalarKind(n)
}

func isNumber(k reflect.Kind) bool { return k == reflect.Int || k == reflect.Float64 }

// isBool reports whether n's checked type is bool.
func isBool(n ast.Node) bool {
	t := n.Type()
	return t != nil && t.Kind() == reflect.Bool
}

// scalarKind returns the kind of event.PATH when PATH leads through
// structs only (not attrs, not seats[i]) to a string, an int, a
// float64 or a bool: a read that cannot fail.
func scalarKind(n ast.Node) (reflect.Kind, bool) {
	path, ok := eventPathNames(n, nil)
	if !ok {
		return 0, false
	}
	t := reflect.TypeFor[Event]()
	for _, name := range path {
		if t.Kind() != reflect.Struct {
			return 0, false
		}
		f, ok := exprField(t, name)
		if !ok {
			return 0, false
		}
		t = f.Type
	}
	switch k := t.Kind(); k {
	case reflect.String, reflect.Int, reflect.Float64, reflect.Bool:
		return k, true
	}
	return 0, false
}

// exprField returns t's field that expressions call name.
func exprField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if tag := f.Tag.Get("expr"); tag == name && f.IsExported() {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// eventPath returns "user.id" for the node of event.user.id, if n is a
// plain path to a scalar field.
func eventPath(n ast.Node) (string, bool) {
	if _, ok := scalarKind(n); !ok {
		return "", false
	}
	names, _ := eventPathNames(n, nil)
	out := names[0]
	for _, s := range names[1:] {
		out += "." + s
	}
	return out, true
}

// eventPathNames returns the names after `event` in a member path such
// as event.user.id: properties given as names, no ?. and no method.
func eventPathNames(n ast.Node, tail []string) ([]string, bool) {
	switch v := n.(type) {
	case *ast.MemberNode:
		s, ok := v.Property.(*ast.StringNode)
		if !ok || v.Optional || v.Method {
			return nil, false
		}
		return eventPathNames(v.Node, append([]string{s.Value}, tail...))
	case *ast.IdentifierNode:
		return tail, v.Value == "event" && len(tail) > 0
	}
	return nil, false
}
