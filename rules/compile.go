package rules

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// valueKind is the type a rule field's expression must produce.
type valueKind int

const (
	anyKind valueKind = iota
	boolKind
	stringKind
	intKind
	durationKind // time.Duration, or a string parsed when it runs
)

func (k valueKind) String() string {
	switch k {
	case boolKind:
		return "a bool (true or false)"
	case stringKind:
		return "a string"
	case intKind:
		return "an int"
	case durationKind:
		return "a duration (e.g. 10m, or an expression such as duration(\"1h\"))"
	}
	return "a value"
}

// accepts reports whether an expression of static type t may produce k.
// Interface-typed expressions (event.attrs.x) are checked when they run.
func (k valueKind) accepts(t reflect.Type) bool {
	if k == anyKind || t == nil || t.Kind() == reflect.Interface {
		return true
	}
	switch k {
	case boolKind:
		return t.Kind() == reflect.Bool
	case stringKind:
		return t.Kind() == reflect.String
	case durationKind:
		return t == durationType || t.Kind() == reflect.String
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return true
	}
	return false
}

var durationType = reflect.TypeFor[time.Duration]()

// expression is one compiled expression. Its program is shared
// read-only by every Evaluator; a constant (a YAML literal such as 2 or
// true) is kept as its value and never runs.
type expression struct {
	src     string
	prog    *vm.Program
	konst   any
	isConst bool
	loc     exprLoc
}

// compiler compiles the expressions of one file against the typed env.
type compiler struct {
	path     string
	data     []byte
	sym      *symbols
	errs     *ErrorList
	warns    *ErrorList // budgets that expressions can be seen to exceed
	inWindow bool       // compiling a window's expressions
}

// programCache shares one compiled program between every use of the
// same source text with the same expected kind and context within one
// Compile (the lists and windows, the only other inputs, are the same
// for all of them). Most rules repeat `event.room_id` and friends;
// sharing keeps large sets small.
type programCache map[programKey]*vm.Program

type programKey struct {
	src      string
	want     valueKind
	inWindow bool
}

// compile compiles e, which must produce want. It returns nil for an
// absent expression or after recording an error.
func (c *compiler) compile(e exprSpec, field string, want valueKind) *expression {
	if e.node == nil {
		return nil
	}
	x := &expression{src: e.src, loc: newExprLoc(c.path, c.data, e.node)}
	key := programKey{e.src, want, c.inWindow}
	if prog, ok := c.sym.shared[key]; ok {
		x.prog = prog
		x.konst, x.isConst = constant(prog.Node())
		c.warnBudget(x, field)
		return x
	}
	opts, refs := c.sym.options(want, c.inWindow)
	prog, err := expr.Compile(e.src, opts...)
	for _, p := range refs.problems {
		c.errorAt(x, p.offset, "%s: %s", field, p.msg)
	}
	if err != nil {
		if !refs.badCall {
			c.exprError(x, field, want, err)
		}
		return nil
	}
	if len(refs.problems) > 0 {
		return nil
	}
	if t := prog.Node().Type(); !want.accepts(t) {
		c.errorAt(x, 0, "%s must be %s, got %s", field, want, t)
		return nil
	}
	for _, w := range refs.read {
		c.sym.read[w] = true
	}
	x.prog = prog
	x.konst, x.isConst = constant(prog.Node())
	c.sym.shared[key] = prog
	c.warnBudget(x, field)
	return x
}

// warnBudget records a warning if x can be seen to exceed a budget.
func (c *compiler) warnBudget(x *expression, field string) {
	if c.warns == nil || x.isConst {
		return
	}
	if at, msg := budgetWarning(x.prog.Node(), c.sym.lists.static); at != nil {
		line, col := x.loc.position(x.src, at.Location().From)
		c.warns.add(c.path, line, col, "%s: %s", field, msg)
	}
}

// errorAt records a problem at a rune offset inside x's source.
func (c *compiler) errorAt(x *expression, offset int, format string, args ...any) {
	line, col := x.loc.position(x.src, offset)
	c.errs.add(c.path, line, col, format, args...)
}

func (c *compiler) exprError(x *expression, field string, want valueKind, err error) {
	var fe *file.Error
	msg, offset := err.Error(), 0
	if errors.As(err, &fe) {
		msg, offset = fe.Message, fe.From
	}
	if m := expectedRE.FindStringSubmatch(msg); m != nil {
		c.errorAt(x, 0, "%s must be %s, got %s", field, want, m[1])
		return
	}
	c.errorAt(x, offset, "%s: %s", field, friendly(msg, want))
}

// constant returns the value of a literal node.
func constant(n ast.Node) (any, bool) {
	switch v := n.(type) {
	case *ast.BoolNode:
		return v.Value, true
	case *ast.IntegerNode:
		return v.Value, true
	case *ast.StringNode:
		return v.Value, true
	case *ast.ConstantNode:
		return v.Value, true
	}
	return nil, false
}

var (
	noFieldRE     = regexp.MustCompile(`^type (\S+) has no field (\S+)$`)
	unknownNameRE = regexp.MustCompile(`^unknown name (\S+)$`)
	expectedRE    = regexp.MustCompile(`^expected bool, but got (.+)$`)
)

// friendly rewrites expr's messages into the words rule authors use.
func friendly(msg string, want valueKind) string {
	if m := noFieldRE.FindStringSubmatch(msg); m != nil {
		if label, fields := envType(m[1]); label != "" {
			return fmt.Sprintf("unknown field %q in %s%s", m[2], label, suggest(m[2], fields))
		}
	}
	if m := unknownNameRE.FindStringSubmatch(msg); m != nil {
		hint := suggest(m[1], []string{"event", "lists", "now", "has_label", "has_any", "has_all",
			"has_attr", "attr_string", "attr_number", "attr_bool", "window"})
		if want == stringKind && !strings.HasPrefix(hint, ";") {
			hint = "; values are expressions, so quote a literal string: '\"room-1\"'"
		}
		return fmt.Sprintf("unknown name %q%s", m[1], hint)
	}
	return msg
}

// envType names an env struct type as rule authors see it, with its
// field names.
func envType(goName string) (string, []string) {
	for label, t := range map[string]reflect.Type{
		"event":      reflect.TypeFor[Event](),
		"event.user": reflect.TypeFor[User](),
		"seat":       reflect.TypeFor[Seat](),
	} {
		if t.String() == goName {
			return label, exprFields(t)
		}
	}
	return "", nil
}

func exprFields(t reflect.Type) []string {
	out := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("expr"); tag != "" {
			out = append(out, strings.Split(tag, ",")[0])
		}
	}
	slices.Sort(out)
	return out
}
