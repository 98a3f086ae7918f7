package rules

import (
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/vm/runtime"
)

// meteredBuiltins are the expr builtins replaced by versions that charge
// the evaluation's meter before they work: those that build a string or
// a collection, and those whose work grows faster than their input
// (walks of nested lists, which may share their elements). Each keeps
// the builtin's signature, behaviour and errors, and receives the env as
// a hidden first argument, which helperPatcher adds. The builtins left
// alone return values no bigger than their input (trimPrefix, take,
// first), build what expr's own memory budget counts (sort, reverse,
// concat), or do constant work.
var meteredBuiltins = map[string]meteredFunc{
	"repeat":     meterRepeat,
	"replace":    meterReplace,
	"join":       meterJoin,
	"split":      meterSplit,
	"splitAfter": meterSplit,
	"upper":      meterCase,
	"lower":      meterCase,
	"trim":       meterTrim,
	"toBase64":   meterBase64,
	"fromBase64": meterBase64,
	"string":     meterFormat,
	"toJSON":     meterFormat,
	"fromJSON":   meterFromJSON,
	"keys":       meterEntries(1),
	"values":     meterEntries(1),
	"toPairs":    meterEntries(2),
	"fromPairs":  meterEntries(3),
	"uniq":       meterUniq,
	"flatten":    meterWalk,
	"max":        meterWalk,
	"min":        meterWalk,
	"mean":       meterWalk,
	"median":     meterWalk,
}

// meteredFunc is a metered builtin: it charges m, then does the work,
// usually by running the builtin it replaces.
type meteredFunc func(m *meter, c meteredCall) (any, error)

// meteredCall is one call of a metered builtin.
type meteredCall struct {
	name string
	args []any // the arguments, without the env
	fn   *builtin.Function
}

// run runs the builtin that c replaces.
func (c meteredCall) run() (any, error) {
	switch {
	case c.fn.Func != nil:
		return c.fn.Func(c.args...)
	case c.fn.Safe != nil:
		v, _, err := c.fn.Safe(c.args...)
		return v, err
	}
	return c.fn.Fast(c.args[0]), nil
}

// meteredOptions declares the metered builtins.
func meteredOptions() []expr.Option {
	var opts []expr.Option
	for name, fn := range meteredBuiltins {
		opts = append(opts, meteredBuiltin(name, fn))
	}
	return opts
}

// meteredBuiltin declares fn in place of the builtin name, with the
// builtin's types after the hidden env argument.
func meteredBuiltin(name string, fn meteredFunc) expr.Option {
	orig := builtin.Builtins[builtin.Index[name]]
	f := &builtin.Function{
		Name: name,
		Func: func(args ...any) (any, error) {
			m, args, err := meterArgs(args)
			if err != nil {
				return nil, err
			}
			return fn(m, meteredCall{name: name, args: args, fn: orig})
		},
		Types: withEnvParam(orig.Types),
	}
	if orig.Validate != nil {
		f.Validate = func(args []reflect.Type) (reflect.Type, error) {
			if len(args) > 0 { // the checks before helperPatcher see no env
				args = args[1:]
			}
			return orig.Validate(args)
		}
	}
	return func(c *conf.Config) { c.Functions[name] = f }
}

// withEnvParam prefixes each function type with the env parameter.
func withEnvParam(types []reflect.Type) []reflect.Type {
	out := make([]reflect.Type, len(types))
	for i, t := range types {
		in := []reflect.Type{reflect.TypeFor[any]()}
		for j := range t.NumIn() {
			in = append(in, t.In(j))
		}
		outs := make([]reflect.Type, t.NumOut())
		for j := range outs {
			outs[j] = t.Out(j)
		}
		out[i] = reflect.FuncOf(in, outs, t.IsVariadic())
	}
	return out
}

// meterArgs splits the hidden env argument from the others.
func meterArgs(args []any) (*meter, []any, error) {
	if len(args) > 0 {
		if env, ok := args[0].(*exprEnv); ok {
			return &env.meter, args[1:], nil
		}
	}
	return nil, nil, errors.New("internal error: a metered function ran without its evaluation env")
}

// build charges a string of n bytes built by what.
func (m *meter) build(what string, n int) error {
	if err := m.allocString(what, n); err != nil {
		return err
	}
	return m.scan(n)
}

func meterRepeat(m *meter, c meteredCall) (any, error) {
	s, _ := c.args[0].(string)
	n := runtime.ToInt(c.args[1])
	if n < 0 {
		return nil, fmt.Errorf("repeat: count %d is negative", n)
	}
	if err := m.build("repeat", satMul(len(s), n)); err != nil {
		return nil, err
	}
	return strings.Repeat(s, n), nil
}

func meterReplace(m *meter, c meteredCall) (any, error) {
	s, ok1 := c.args[0].(string)
	old, ok2 := c.args[1].(string)
	repl, ok3 := c.args[2].(string)
	if !ok1 || !ok2 || !ok3 {
		return c.run()
	}
	count := strings.Count(s, old) // with old == "", one more than the runes: as Replace
	if len(c.args) == 4 {
		if n := runtime.ToInt(c.args[3]); n >= 0 && n < count {
			count = n
		}
	}
	if err := m.scan(len(s)); err != nil {
		return nil, err
	}
	if err := m.build("replace", satAdd(len(s)-count*len(old), satMul(count, len(repl)))); err != nil {
		return nil, err
	}
	return c.run()
}

func meterJoin(m *meter, c meteredCall) (any, error) {
	var size, n int
	switch xs := c.args[0].(type) {
	case []string:
		for _, s := range xs {
			size = satAdd(size, len(s))
		}
		n = len(xs)
	case []any:
		for _, x := range xs {
			s, _ := x.(string)
			size = satAdd(size, len(s))
		}
		n = len(xs)
	}
	if len(c.args) == 2 && n > 0 {
		glue, _ := c.args[1].(string)
		size = satAdd(size, satMul(n-1, len(glue)))
	}
	if err := m.step(n); err != nil {
		return nil, err
	}
	if err := m.build("join", size); err != nil {
		return nil, err
	}
	return c.run()
}

// meterSplit meters split and splitAfter: one element per separator.
func meterSplit(m *meter, c meteredCall) (any, error) {
	s, _ := c.args[0].(string)
	sep, _ := c.args[1].(string)
	count := strings.Count(s, sep) + 1
	if len(c.args) == 3 {
		if n := runtime.ToInt(c.args[2]); n >= 0 && n < count {
			count = n
		}
	}
	if err := m.scan(len(s)); err != nil {
		return nil, err
	}
	if err := m.alloc(satMul(count, elemBytes)); err != nil {
		return nil, err
	}
	return c.run()
}

// meterCase meters upper and lower, whose result may be longer than
// their input.
func meterCase(m *meter, c meteredCall) (any, error) {
	s, _ := c.args[0].(string)
	if err := m.scan(len(s)); err != nil {
		return nil, err
	}
	v, err := c.run()
	if out, ok := v.(string); ok && err == nil {
		if err := m.allocString(c.name, len(out)); err != nil {
			return nil, err
		}
	}
	return v, err
}

// meterTrim meters trim with a cutset: each rune trimmed is looked up
// in the cutset, which is slow when the cutset is not ASCII.
func meterTrim(m *meter, c meteredCall) (any, error) {
	if len(c.args) == 2 {
		s, _ := c.args[0].(string)
		cut, _ := c.args[1].(string)
		work := len(s)
		if !isASCII(cut) {
			work = satMul(len(s), len(cut))
		}
		if err := m.scan(work); err != nil {
			return nil, err
		}
	}
	return c.run()
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func meterBase64(m *meter, c meteredCall) (any, error) {
	s, _ := c.args[0].(string)
	n := base64.StdEncoding.DecodedLen(len(s))
	if c.name == "toBase64" {
		n = base64.StdEncoding.EncodedLen(len(s))
	}
	if err := m.build(c.name, n); err != nil {
		return nil, err
	}
	return c.run()
}

// meterFormat meters string() and toJSON(), whose output is as big as
// everything their argument reaches.
func meterFormat(m *meter, c meteredCall) (any, error) {
	size, values := formattedSize(c.args[0], c.name == "toJSON", maxStringBytes, maxEvalSteps-m.steps)
	if err := m.step(values); err != nil {
		return nil, err
	}
	if size > maxStringBytes {
		return nil, fmt.Errorf("memory budget exceeded: %s would build a string of more than %d bytes", c.name, maxStringBytes)
	}
	v, err := c.run()
	if out, ok := v.(string); ok && err == nil {
		if err := m.allocString(c.name, len(out)); err != nil {
			return nil, err
		}
	}
	return v, err
}

func meterFromJSON(m *meter, c meteredCall) (any, error) {
	s, _ := c.args[0].(string)
	if err := m.scan(len(s)); err != nil {
		return nil, err
	}
	v, err := c.run()
	if err != nil {
		return nil, err
	}
	n := countValues(v, maxEvalBytes/elemBytes)
	if err := m.alloc(satAdd(len(s), satMul(n, elemBytes))); err != nil {
		return nil, err
	}
	return v, nil
}

// meterEntries meters builtins that build per elements per entry of
// their map or list argument.
func meterEntries(per int) meteredFunc {
	return func(m *meter, c meteredCall) (any, error) {
		n := 0
		if v := reflect.ValueOf(c.args[0]); v.Kind() == reflect.Map || v.Kind() == reflect.Slice || v.Kind() == reflect.Array {
			n = v.Len()
		}
		if err := m.step(n); err != nil {
			return nil, err
		}
		if err := m.alloc(satMul(n, per*elemBytes)); err != nil {
			return nil, err
		}
		return c.run()
	}
}

// meterWalk meters builtins that walk nested lists: flatten, max, min,
// mean, median. Flatten and median copy what they walk.
func meterWalk(m *meter, c meteredCall) (any, error) {
	n := 0
	for _, a := range c.args {
		n = satAdd(n, countValues(a, maxEvalSteps-m.steps))
	}
	if err := m.step(n); err != nil {
		return nil, err
	}
	if c.name == "flatten" || c.name == "median" {
		if err := m.alloc(satMul(n, elemBytes)); err != nil {
			return nil, err
		}
	}
	return c.run()
}

// meterUniq is uniq, charging each comparison: uniq compares every
// element with each one kept so far.
func meterUniq(m *meter, c meteredCall) (any, error) {
	v := reflect.ValueOf(c.args[0])
	if v.Kind() != reflect.Slice && v.Kind() != reflect.Array {
		return c.run()
	}
	out := []any{}
	for i := range v.Len() {
		x := v.Index(i).Interface()
		if err := m.step(1 + satMul(len(out), compareCost(x, m))); err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(out, func(y any) bool { return runtime.Equal(x, y) }) {
			out = append(out, x)
		}
	}
	if err := m.alloc(satMul(len(out), elemBytes)); err != nil {
		return nil, err
	}
	return out, nil
}

// compareCost is the steps of comparing x with another value: lists and
// maps compare element by element.
func compareCost(x any, m *meter) int {
	switch reflect.ValueOf(x).Kind() {
	case reflect.Slice, reflect.Array, reflect.Map, reflect.Struct:
		return countValues(x, maxEvalSteps-m.steps)
	}
	return 1
}
