package rules

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// durationSpec is the raw form of an action's `for`: a duration literal
// such as 10m, or an expression.
type durationSpec struct {
	node  *yaml.Node // nil: not given
	konst time.Duration
	expr  exprSpec // when not a literal
}

// durationExpr is a compiled `for`: a constant, or an expression of
// type time.Duration or string.
type durationExpr struct {
	konst time.Duration
	x     *expression
}

// lifetime reads an action's `for`: a literal duration if
// time.ParseDuration accepts it, else an expression.
func (d *decoder) lifetime(n *yaml.Node) durationSpec {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.errorf(n, "for must be a duration such as 10m or an expression such as duration(\"1h\"), got %s", describe(n))
		return durationSpec{}
	}
	if n.Tag == "!!int" || n.Tag == "!!float" {
		d.errorf(n, "for must be a duration with a unit such as 30s or 10m, got %q", n.Value)
		return durationSpec{}
	}
	v, err := time.ParseDuration(n.Value)
	switch {
	case err != nil:
		return durationSpec{node: n, expr: d.expr(n, "for")}
	case v <= 0:
		d.errorf(n, "for must be a positive duration such as 30s or 10m, got %q", n.Value)
		return durationSpec{}
	}
	return durationSpec{node: n, konst: v}
}

// compileDuration compiles a `for`; it returns nil when absent or after
// recording an error.
func (c *compiler) compileDuration(s durationSpec) *durationExpr {
	switch {
	case s.node == nil:
		return nil
	case s.expr.node == nil:
		return &durationExpr{konst: s.konst}
	}
	x := c.compile(s.expr, "for", durationKind)
	if x == nil {
		return nil
	}
	if x.isConst { // such as duration("-5m"): known to fail, so say it now
		d, err := durationOf(x, x.konst)
		if err != nil {
			c.errorAt(x, 0, "%s", err.(Error).Msg)
			return nil
		}
		return &durationExpr{konst: d}
	}
	return &durationExpr{x: x}
}

// duration renders a `for`. A value that is not a positive duration is
// the rule's runtime error.
func (e *Evaluator) duration(d *durationExpr, env any) (time.Duration, error) {
	if d.x == nil {
		return d.konst, nil
	}
	v, err := e.run(d.x, env)
	if err != nil {
		return 0, err
	}
	return durationOf(d.x, v)
}

// durationOf converts the value v of x to a positive duration. The
// error is an Error placed at x.
func durationOf(x *expression, v any) (time.Duration, error) {
	var dur time.Duration
	switch t := v.(type) {
	case time.Duration:
		dur = t
	case string:
		var err error
		if dur, err = time.ParseDuration(t); err != nil {
			return 0, x.errorf("for evaluated to %q, which is not a duration such as 10m", t)
		}
	default:
		return 0, x.typeError(v, durationKind)
	}
	if dur <= 0 {
		return 0, x.errorf("for evaluated to %v; it must be positive", dur)
	}
	return dur, nil
}

// errorf is a runtime problem with x's value, placed at x.
func (x *expression) errorf(format string, args ...any) error {
	return Error{Path: x.loc.path, Line: x.loc.line, Col: x.loc.col, Msg: fmt.Sprintf(format, args...)}
}
