package rules

import (
	"fmt"
	"time"
)

// Budgets of expressions. maxExprNodes bounds an expression's size at
// load. When rules run, a rule's evaluation on one event (its condition,
// then its actions and cooldown key if it matches) gets fresh budgets; a
// rule that exceeds one fails for that event only, with a Match.Err
// naming the budget, and every other rule still runs.
//
// maxEvalSteps is the deterministic bound on work: it fails the same
// way in the daemon, in rule tests and in replays. A step is one
// iteration of a loop (all, any, map, filter, reduce, ...) or a unit of
// work done inside a builtin (an element visited, stepBytes bytes
// scanned). A million steps of a simple loop take about 0.2 s.
//
// maxEvalTime is a wall-clock backstop for work the steps cannot see:
// the VM's own operators (matches, contains, in, ==) on large values
// inside a loop. The clock starts at a rule's first loop iteration and
// is read as the loops run; without loops, an expression runs each of
// its (at most maxExprNodes) nodes once. It is generous, several times
// what the whole step budget takes on a loaded machine, so that a rule
// that reaches it is broken, not unlucky.
//
// maxEvalBytes bounds what the builtins that build strings and
// collections allocate in one evaluation (strings count their bytes,
// collections elemBytes per element), and maxStringBytes bounds any
// one string. vmElementBudget is expr's own memory budget, per
// expression run: elements of the ranges, arrays and maps the VM builds.
const (
	maxExprNodes    = 2000
	vmElementBudget = 100_000
	maxStringBytes  = 1 << 20
	maxEvalBytes    = 4 << 20
	maxEvalSteps    = 1_000_000
	maxEvalTime     = time.Second

	stepBytes = 64 // bytes a builtin scans or builds per step
	elemBytes = 16 // bytes charged per element of a built collection

	// The clock is read every iteration of a slow loop and every
	// maxClockEvery iterations of a quick one (see meter.clock).
	maxClockEvery  = 16
	quickIteration = 100 * time.Microsecond
)

// meter counts one rule evaluation's use of its budgets. It lives in
// the evaluation's env; loop ticks and metered builtins reach it through
// the hidden $env argument the patchers give them. The zero value is a
// fresh budget.
type meter struct {
	steps int
	bytes int

	start     time.Time // the first loop iteration; zero until then
	read      time.Time // the last reading of the clock
	nextRead  int       // the step at which to read it again
	readEvery int       // steps between readings
}

// reset gives the next evaluation a fresh budget. A meter that counted
// nothing is fresh: the clock starts with the first step.
func (m *meter) reset() {
	if m.steps != 0 || m.bytes != 0 {
		*m = meter{}
	}
}

// tick counts one loop iteration.
func (m *meter) tick() error {
	m.steps++
	switch {
	case m.steps > maxEvalSteps:
		return errSteps
	case m.steps >= m.nextRead:
		return m.clock()
	}
	return nil
}

// clock starts the evaluation's clock, or checks it. It reads it again
// after the next iteration if the iterations since the last reading
// were slow (quickIteration or more in all), else after twice as many
// iterations as last time, up to maxClockEvery: quick loops pay for few
// readings, and slow ones overrun the budget by one iteration (by up to
// maxClockEvery if quick iterations turn slow).
func (m *meter) clock() error {
	now := time.Now()
	switch {
	case m.start.IsZero():
		m.start, m.readEvery = now, 1
	case now.Sub(m.start) > maxEvalTime:
		return errTime
	case now.Sub(m.read) < quickIteration:
		m.readEvery = min(2*m.readEvery, maxClockEvery)
	default:
		m.readEvery = 1
	}
	m.read, m.nextRead = now, m.steps+m.readEvery
	return nil
}

// step charges n steps of builtin work.
func (m *meter) step(n int) error {
	m.steps = satAdd(m.steps, n)
	if m.steps > maxEvalSteps {
		return errSteps
	}
	return nil
}

// scan charges the steps for scanning or building n bytes.
func (m *meter) scan(n int) error { return m.step(1 + n/stepBytes) }

// alloc charges n bytes of memory built by a builtin.
func (m *meter) alloc(n int) error {
	m.bytes = satAdd(m.bytes, n)
	if m.bytes > maxEvalBytes {
		return fmt.Errorf("memory budget exceeded: builtins would allocate more than %d bytes in one evaluation; build smaller strings and lists", maxEvalBytes)
	}
	return nil
}

// allocString charges a string of n bytes built by the builtin what.
func (m *meter) allocString(what string, n int) error {
	if n > maxStringBytes {
		return fmt.Errorf("memory budget exceeded: %s would build a string of %d bytes, over the limit of %d", what, n, maxStringBytes)
	}
	return m.alloc(n)
}

var (
	errSteps = fmt.Errorf("step budget exceeded: more than %d steps (loop iterations and builtin work) in one evaluation; make the loops shorter or nest fewer of them", maxEvalSteps)
	errTime  = fmt.Errorf("time budget exceeded: the evaluation ran longer than %v; make the loops shorter or nest fewer of them", maxEvalTime)
)

// satAdd adds non-negative counts, saturating instead of overflowing.
func satAdd(a, b int) int {
	if b > maxCount-a {
		return maxCount
	}
	return a + b
}

// satMul multiplies non-negative counts, saturating.
func satMul(a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	if a > maxCount/b {
		return maxCount
	}
	return a * b
}

// maxCount is where counts saturate: far above every budget.
const maxCount = 1 << 60
