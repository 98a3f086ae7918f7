package rules

import "github.com/expr-lang/expr/ast"

// explainedOperators are the binary operators whose values explain
// shows: comparisons, logic, membership, and arithmetic (the operands
// of comparisons, such as now() - event.time).
var explainedOperators = map[string]bool{
	"==": true, "!=": true, "<": true, "<=": true, ">": true, ">=": true,
	"&&": true, "||": true, "and": true, "or": true,
	"+": true, "-": true, "*": true, "/": true, "%": true, "**": true, "??": true,
	"in": true, "contains": true, "startsWith": true, "endsWith": true, "matches": true,
}

// collect appends, outer first, the nodes under n that explain shows
// (see shown), leaving out constants and predicate bodies (their # has
// no value on its own). A member path is shown whole, not its prefixes.
func collect(n ast.Node, out *[]ast.Node) {
	if shown(n) && !isConstant(n) {
		*out = append(*out, n)
	}
	if _, isPath := pathRoot(n); isPath {
		return
	}
	for _, c := range subnodes(n) {
		collect(c, out)
	}
}

// shown reports whether explain shows n's value: comparisons, logical
// operators, membership tests, arithmetic, calls and member paths such
// as event.user.id (lists.NAME aside: its value is the list).
func shown(n ast.Node) bool {
	switch v := n.(type) {
	case *ast.BinaryNode:
		return explainedOperators[v.Operator]
	case *ast.UnaryNode:
		return v.Operator == "!" || v.Operator == "not"
	case *ast.CallNode, *ast.BuiltinNode:
		return true
	case *ast.MemberNode, *ast.ChainNode:
		root, ok := pathRoot(n)
		return ok && root != "lists"
	}
	return false
}

// subnodes returns the nodes directly under n, predicate bodies aside.
func subnodes(n ast.Node) []ast.Node {
	switch v := n.(type) {
	case *ast.BinaryNode:
		return []ast.Node{v.Left, v.Right}
	case *ast.CallNode:
		return v.Arguments
	case *ast.BuiltinNode:
		return v.Arguments
	case *ast.MemberNode:
		return []ast.Node{v.Node, v.Property}
	case *ast.ConditionalNode:
		return []ast.Node{v.Cond, v.Exp1, v.Exp2}
	case *ast.VariableDeclaratorNode:
		return []ast.Node{v.Value, v.Expr}
	case *ast.SequenceNode:
		return v.Nodes
	case *ast.ArrayNode:
		return v.Nodes
	case *ast.PredicateNode:
		return nil
	}
	return children(n)
}

// pathRoot returns the identifier a member path such as event.user.id
// or event.seats[0].index starts from.
func pathRoot(n ast.Node) (string, bool) {
	for {
		switch v := n.(type) {
		case *ast.ChainNode:
			n = v.Node
		case *ast.MemberNode:
			switch v.Property.(type) {
			case *ast.StringNode, *ast.IntegerNode:
			default:
				return "", false
			}
			n = v.Node
		case *ast.IdentifierNode:
			return v.Value, true
		default:
			return "", false
		}
	}
}

// envReaders are the functions whose value depends on the event, the
// time or the state although their arguments may all be literals.
var envReaders = map[string]bool{
	"now": true, "window": true, "has_label": true, "has_attr": true,
	"attr_string": true, "attr_number": true, "attr_bool": true,
}

// isConstant reports whether n's value is known from its text alone:
// it reads no name (each identifier is a callee) and calls nothing that
// reads the event, the time or the state.
func isConstant(n ast.Node) bool {
	c := &constantCheck{}
	ast.Walk(&n, c)
	return !c.reads && c.names == c.callees
}

type constantCheck struct {
	names, callees int
	reads          bool
}

func (c *constantCheck) Visit(n *ast.Node) {
	switch v := (*n).(type) {
	case *ast.IdentifierNode:
		c.names++
	case *ast.CallNode:
		if id, ok := v.Callee.(*ast.IdentifierNode); ok && !envReaders[id.Value] {
			c.callees++
		} else {
			c.reads = true
		}
	case *ast.BuiltinNode:
		c.reads = c.reads || envReaders[v.Name]
	case *ast.PointerNode:
		c.reads = true
	}
}

// start is the offset where n's text starts: the leftmost of its
// nodes (a binary node is placed at its operator).
func start(n ast.Node) int {
	s := &startFinder{from: n.Location().From}
	ast.Walk(&n, s)
	return s.from
}

type startFinder struct{ from int }

func (s *startFinder) Visit(n *ast.Node) { s.from = min(s.from, (*n).Location().From) }
