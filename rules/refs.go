package rules

import (
	"fmt"
	"slices"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
)

// Hidden functions that read state; see state.go.
const (
	windowFunc = "@window"  // window("NAME"): the window's count at the event's key
	kvInFunc   = "@kv_in"   // x in lists.KV: one lookup in the members
	kvListFunc = "@kv_list" // any other lists.KV: the members, sorted
)

// symbols are the names expressions of one Set may refer to: lists and
// windows. They outlive the load: Explain compiles sub-expressions
// against them.
type symbols struct {
	base        []expr.Option
	lists       listTable
	windows     []*Window
	windowIndex map[string]int

	// Load only.
	read   map[*Window]bool // the windows that some rule reads
	shared programCache
}

func newSymbols(lists listTable, windows []*Window) *symbols {
	sym := &symbols{base: compileOptions(), lists: lists, windows: windows,
		windowIndex: make(map[string]int, len(windows)), read: make(map[*Window]bool), shared: make(programCache)}
	for i, w := range windows {
		sym.windowIndex[w.Name] = i
	}
	return sym
}

// loaded drops what only the load needed.
func (sym *symbols) loaded() { sym.read, sym.shared = nil, nil }

// options returns the options to compile one expression, and the
// patcher that checks and rewrites its references. inWindow marks a
// window's own expressions.
func (sym *symbols) options(want valueKind, inWindow bool) ([]expr.Option, *refPatcher) {
	p := &refPatcher{sym: sym, inWindow: inWindow}
	opts := append(slices.Clip(sym.base), expr.Patch(p))
	if want == boolKind {
		opts = append(opts, expr.AsBool())
	}
	return opts, p
}

// refPatcher checks an expression's references to lists and windows and
// rewrites those that read state: window("NAME") into a hidden call
// with the window's index, `x in lists.KV` into a membership test, and
// any other lists.KV into the members as a sorted list.
type refPatcher struct {
	sym      *symbols
	inWindow bool
	problems []refProblem
	badCall  bool // a window() call expr will also complain about
	read     []*Window
}

// refProblem is a load error at a rune offset of the expression.
type refProblem struct {
	offset int
	msg    string
}

func (p *refPatcher) problem(at ast.Node, format string, args ...any) {
	p.problems = append(p.problems, refProblem{start(at), fmt.Sprintf(format, args...)})
}

func (p *refPatcher) Visit(n *ast.Node) {
	switch v := (*n).(type) {
	case *ast.MemberNode:
		p.list(n, v)
	case *ast.BinaryNode:
		if idx, ok := kvListIndex(v.Right); ok && v.Operator == "in" {
			ast.Patch(n, hiddenCall(kvInFunc, v.Location(), v.Left, intNode(idx, v.Location())))
		}
	case *ast.CallNode:
		if id, ok := v.Callee.(*ast.IdentifierNode); ok && id.Value == "window" {
			p.window(n, v)
		}
	}
}

// list checks lists.NAME and patches a KV list.
func (p *refPatcher) list(n *ast.Node, m *ast.MemberNode) {
	if id, ok := m.Node.(*ast.IdentifierNode); !ok || id.Value != "lists" {
		return
	}
	s, ok := m.Property.(*ast.StringNode)
	if !ok {
		return
	}
	l := p.sym.lists.byName[s.Value]
	switch {
	case l == nil:
		hint := "; no lists are defined (add them under a top-level lists: key)"
		if len(p.sym.lists.byName) > 0 {
			hint = suggest(s.Value, keys(p.sym.lists.byName))
		}
		p.problem(s, "unknown list %q%s", s.Value, hint)
	case l.Bucket == "":
	case p.inWindow:
		p.problem(s, "list %q is kept in a KV bucket, which a window's when, key and distinct cannot read (windows are fed without state); use a static list", s.Value)
	default:
		ast.Patch(n, hiddenCall(kvListFunc, m.Location(), intNode(l.index, m.Location())))
	}
}

// kvListIndex reports whether n is a patched lists.KV, and which.
func kvListIndex(n ast.Node) (int, bool) {
	c, ok := n.(*ast.CallNode)
	if !ok || len(c.Arguments) != 2 {
		return 0, false
	}
	if id, ok := c.Callee.(*ast.IdentifierNode); !ok || id.Value != kvListFunc {
		return 0, false
	}
	i, ok := c.Arguments[1].(*ast.IntegerNode)
	if !ok {
		return 0, false
	}
	return i.Value, true
}

// window checks a window("NAME") call and patches it.
func (p *refPatcher) window(n *ast.Node, c *ast.CallNode) {
	const usage = "window() takes the window's name as a quoted string, e.g. window(\"reports\")"
	if p.inWindow {
		p.problem(c, "window() cannot be used in a window's when, key or distinct: windows are fed before rules read them")
		p.badCall = true
		return
	}
	if len(c.Arguments) != 1 {
		p.problem(c, "%s", usage)
		p.badCall = true
		return
	}
	s, ok := c.Arguments[0].(*ast.StringNode)
	if !ok {
		p.problem(c.Arguments[0], "%s", usage)
		p.badCall = true
		return
	}
	i, ok := p.sym.windowIndex[s.Value]
	if !ok {
		hint := "; no windows are defined (add them under a top-level windows: key)"
		if len(p.sym.windows) > 0 {
			hint = suggest(s.Value, keys(p.sym.windowIndex))
		}
		p.problem(s, "unknown window %q%s", s.Value, hint)
		return
	}
	p.read = append(p.read, p.sym.windows[i])
	ast.Patch(n, hiddenCall(windowFunc, c.Location(), intNode(i, c.Location())))
}

func intNode(v int, loc file.Location) ast.Node {
	n := &ast.IntegerNode{Value: v}
	n.SetLocation(loc)
	return n
}
