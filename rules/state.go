package rules

import (
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/conf"
)

// Reader is the state an evaluation reads. The engine implements it
// over its state store; the rules package never writes state.
type Reader interface {
	// WindowCount returns w's count at key as of now.
	WindowCount(w *Window, key string, now time.Time) (int, error)
	// Members returns the current members of the KV-backed list l; the
	// map must not be modified. Return the same map for as long as the
	// members do not change (and a new one when they do): the sorted
	// slice that expressions such as len(lists.NAME) see is cached per
	// map.
	Members(l *List, now time.Time) (map[string]struct{}, error)
}

// evalState is what one Eval, Feeds or Explain call reads state with.
type evalState struct {
	set    *Set
	reader Reader
	// stateErr is the Reader's error, if it failed: the evaluation
	// must stop, as nothing it decides can be trusted.
	stateErr error
	counts   []windowCount // the windows read so far, each once
	members  []listMembers // the KV lists read so far, each once
	tracing  bool          // Explain: record window reads in trace
	trace    []WindowRead
}

// windowCount is a window read during one evaluation: the key its key
// expression gave and the count there, or why there is none.
type windowCount struct {
	w     *Window
	key   string
	count int
	err   error
}

// listMembers is a KV list read during one evaluation.
type listMembers struct {
	l *List
	m map[string]struct{}
}

// begin starts an evaluation of ev at now, with nothing read yet.
func (e *Evaluator) begin(s *Set, ev *Event, now time.Time, r Reader) {
	e.env = exprEnv{Event: *ev, Lists: s.sym.lists.static, Now: now, eval: e}
	e.st.set, e.st.reader, e.st.stateErr, e.st.tracing = s, r, nil, false
	e.st.counts, e.st.members = e.st.counts[:0], e.st.members[:0]
}

// end drops the evaluation's references, keeping the buffers.
func (e *Evaluator) end() {
	e.env = exprEnv{}
	clear(e.st.counts)
	clear(e.st.members)
	e.st.set, e.st.reader, e.st.stateErr = nil, nil, nil
}

// stateOptions declares the functions that read state: window() as
// rules write it, checked and rewritten at load (refs.go), and the
// hidden functions it and lists.KV become. They are built once and
// added to each expression's config as they are, which costs a large
// set's load nothing per expression.
func stateOptions() []expr.Option {
	fns := functions(
		expr.Function("window", unpatchedWindow, new(func(string) int)),
		expr.Function(windowFunc, readWindow, new(func(any, int) int)),
		expr.Function(kvInFunc, kvIn, new(func(any, any, int) bool)),
		expr.Function(kvListFunc, kvList, new(func(any, int) []string)),
	)
	return []expr.Option{func(c *conf.Config) { maps.Copy(c.Functions, fns) }}
}

// functions builds the functions that opts declare.
func functions(opts ...expr.Option) conf.FunctionsTable {
	c := conf.CreateNew()
	for _, opt := range opts {
		opt(c)
	}
	return c.Functions
}

func unpatchedWindow(...any) (any, error) {
	return nil, errors.New("internal error: window() was not resolved at load")
}

// evalArgs splits the hidden env argument from the others.
func evalArgs(args []any) (*Evaluator, []any, error) {
	if len(args) > 0 {
		if env, ok := args[0].(*exprEnv); ok && env.eval != nil {
			return env.eval, args[1:], nil
		}
	}
	return nil, nil, errors.New("internal error: a state function ran without its evaluation")
}

func readWindow(args ...any) (any, error) {
	e, args, err := evalArgs(args)
	if err != nil {
		return nil, err
	}
	return e.windowCount(args[0].(int))
}

// kvIn is `x in lists.KV`: one lookup. A needle that is not a string is
// in no list of strings.
func kvIn(args ...any) (any, error) {
	e, args, err := evalArgs(args)
	if err != nil {
		return nil, err
	}
	m, err := e.members(args[1].(int))
	if err != nil {
		return nil, err
	}
	s, ok := args[0].(string)
	if !ok {
		return false, nil
	}
	_, in := m[s]
	return in, nil
}

// kvList is any other use of lists.KV: the members, sorted.
func kvList(args ...any) (any, error) {
	e, args, err := evalArgs(args)
	if err != nil {
		return nil, err
	}
	idx := args[0].(int)
	m, err := e.members(idx)
	if err != nil {
		return nil, err
	}
	return e.st.set.sym.lists.kv[idx].sorted.sortedOf(m), nil
}

// windowCount returns the count of window idx at the key its key
// expression gives on the event. Each window is read once per
// evaluation.
func (e *Evaluator) windowCount(idx int) (int, error) {
	w := e.st.set.sym.windows[idx]
	for _, c := range e.st.counts {
		if c.w == w {
			e.traceRead(c)
			return c.count, c.err
		}
	}
	c := windowCount{w: w}
	c.key, c.err = e.windowKey(w)
	if c.err == nil && e.st.reader == nil {
		c.err = fmt.Errorf("window(%q) reads state, and this evaluation has none", w.Name)
	}
	if c.err == nil {
		n, err := e.st.reader.WindowCount(w, c.key, e.env.Now)
		if err != nil {
			e.st.stateErr = fmt.Errorf("read window %q at key %q: %w", w.Name, c.key, err)
			return 0, e.st.stateErr
		}
		c.count = n
	}
	e.st.counts = append(e.st.counts, c)
	e.traceRead(c)
	return c.count, c.err
}

// windowKey evaluates w's key on the event at hand. It runs on its own
// VM: the rule's VM is busy running the window() call.
func (e *Evaluator) windowKey(w *Window) (string, error) {
	v, err := runOn(&e.keyVM, w.key, &e.env)
	if err == nil {
		var s string
		if s, err = asString(w.key, v); err == nil {
			return s, nil
		}
	}
	return "", fmt.Errorf("window %q: %w", w.Name, err)
}

// traceRead records a window read for Explain.
func (e *Evaluator) traceRead(c windowCount) {
	if !e.st.tracing || c.err != nil {
		return
	}
	for _, r := range e.st.trace {
		if r.Window == c.w.Name && r.Key == c.key {
			return
		}
	}
	e.st.trace = append(e.st.trace, WindowRead{Window: c.w.Name, Key: c.key, Count: c.count})
}

// members returns the members of KV list idx, read once per evaluation.
func (e *Evaluator) members(idx int) (map[string]struct{}, error) {
	l := e.st.set.sym.lists.kv[idx]
	for _, r := range e.st.members {
		if r.l == l {
			return r.m, nil
		}
	}
	if e.st.reader == nil {
		return nil, fmt.Errorf("list %q is kept in KV bucket %q, which reads state, and this evaluation has none", l.Name, l.Bucket)
	}
	m, err := e.st.reader.Members(l, e.env.Now)
	if err != nil {
		e.st.stateErr = fmt.Errorf("read list %q (KV bucket %q): %w", l.Name, l.Bucket, err)
		return nil, e.st.stateErr
	}
	e.st.members = append(e.st.members, listMembers{l, m})
	return m, nil
}
