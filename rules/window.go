package rules

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Window is a compiled window: a count of events (or of their distinct
// values) per key over a sliding period. Events of the types in On
// whose When holds feed it (Evaluator.Feeds); rules read it with
// window("NAME"), which evaluates Key on the event at hand. Counting is
// the engine's job, as it is state.
type Window struct {
	Name                string
	File                string
	Line                int
	On                  []string
	For                 time.Duration
	HasDistinct         bool
	When, Key, Distinct string // the sources ("" when absent)

	col      int // of the name, for warnings
	when     *expression
	key      *expression
	distinct *expression
}

// windowSpec is the raw form of one window under `windows:`.
type windowSpec struct {
	name     string
	nameNode *yaml.Node
	on       []string
	when     exprSpec
	key      exprSpec
	distinct exprSpec
	dur      time.Duration
}

func (d *decoder) windows(n *yaml.Node) []windowSpec {
	if isNull(n) {
		return nil
	}
	ks, vs := d.entries(n, "windows")
	out := make([]windowSpec, 0, len(ks))
	for i, k := range ks {
		if !listNameRE.MatchString(k.Value) {
			d.errorf(k, "window name %q must be a letter or _ followed by letters, digits or _", k.Value)
			continue
		}
		out = append(out, d.window(k, vs[i]))
	}
	return out
}

func (d *decoder) window(k, n *yaml.Node) windowSpec {
	w := windowSpec{name: k.Value, nameNode: k}
	label := fmt.Sprintf("window %q", k.Value)
	seen := d.fields(n, label, map[string]func(*yaml.Node){
		"on":       func(v *yaml.Node) { w.on = d.eventTypes(v) },
		"when":     func(v *yaml.Node) { w.when = d.expr(v, "when") },
		"key":      func(v *yaml.Node) { w.key = d.expr(v, "key") },
		"for":      func(v *yaml.Node) { w.dur, _ = d.duration(v, "for") },
		"distinct": func(v *yaml.Node) { w.distinct = d.expr(v, "distinct") },
	})
	if n.Kind != yaml.MappingNode {
		return w
	}
	for _, f := range []string{"on", "key", "for"} {
		if !seen[f] {
			d.errorf(n, "%s is missing %q, e.g. {on: [user.flagged], key: event.user.id, for: 1m}", label, f)
		}
	}
	return w
}

// mergeWindows creates the windows of all files, in load order; a name
// defined twice is an error. byFile[i][j] is the window of
// specs[i].windows[j], nil for a duplicate.
func mergeWindows(srcs []Source, specs []fileSpec, errs *ErrorList) (all []*Window, byFile [][]*Window) {
	where := make(map[string]*Window)
	byFile = make([][]*Window, len(specs))
	for i, f := range specs {
		byFile[i] = make([]*Window, len(f.windows))
		for j, ws := range f.windows {
			at := ws.nameNode
			if prev, dup := where[ws.name]; dup {
				errs.add(srcs[i].Path, at.Line, at.Column, "window %q is already defined at %s:%d:%d", ws.name, prev.File, prev.Line, prev.col)
				continue
			}
			w := &Window{Name: ws.name, File: srcs[i].Path, Line: at.Line, col: at.Column, On: ws.on, For: ws.dur,
				HasDistinct: ws.distinct.node != nil, When: ws.when.src, Key: ws.key.src, Distinct: ws.distinct.src}
			where[ws.name], byFile[i][j] = w, w
			all = append(all, w)
		}
	}
	return all, byFile
}

// compileWindow compiles a window's expressions, which may not read
// windows or KV lists: they run before the rules, without state.
func (c *compiler) compileWindow(ws windowSpec, w *Window) {
	c.inWindow = true
	defer func() { c.inWindow = false }()
	w.when = c.compile(ws.when, "when", boolKind)
	w.key = c.compile(ws.key, "key", stringKind)
	w.distinct = c.compile(ws.distinct, "distinct", stringKind)
}

// warnUnread records a warning for each window that no rule reads: it
// is fed, which costs state, and never used.
func (sym *symbols) warnUnread(warns *ErrorList) {
	for _, w := range sym.windows {
		if !sym.read[w] {
			warns.add(w.File, w.Line, w.col, "window %q is not read by any rule (no rule calls window(%q)); it is still fed, which costs state", w.Name, w.Name)
		}
	}
}
