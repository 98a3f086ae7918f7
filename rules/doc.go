// Package rules loads trust-and-safety rules from YAML, compiles their expr
// expressions against the typed event environment, and serves them as an
// immutable, hot-swappable Set. It imports no other roomwarden package.
//
// Load strictly parses a directory of rules files and reports every
// problem as path:line:col; what it can see of a budget a rule will
// exceed when it runs (a loop too long, a string too big), and a window
// that no rule reads, is a warning (Set.Warnings), and the set still
// loads. An Evaluator (one per goroutine) runs an event against the
// rules listening for its type and renders their actions (lock_seat and
// label, each with an optional `for`) and cooldown keys. Each rule's
// evaluation has budgets of steps, time and memory (budget.go): a rule
// over one fails for that event alone (Match.Err) and the other rules
// still run.
//
// Eval runs only the rules that can match the event: a rule index per
// event type (index.go) leaves out each rule whose condition it can
// show is false on the event without an error, so that 10,000 rules
// cost about what the few that can match cost. A rule is indexed on
// one conjunct of the top-level && chain of its `when` (indexkey.go):
// event.F == "literal", event.F in ["a", "b"], event.F in lists.STATIC,
// or an || of those on the same F, where F is room_id, user.id,
// seat.user_id, id, seat.index (with integer literals) or type; and
// only if every conjunct before it cannot fail (event fields that are
// plain strings, numbers and bools, literals, comparisons, !). expr
// stops an && chain at its first false operand, so such a rule, on an
// event whose F has none of the values, is false and nothing after the
// conjunct runs: skipping it changes nothing Eval returns, errors and
// state reads included. Among several such conjuncts the one naming
// the fewest values for its field's distinct values across the rules
// is used. Not indexed: !=, not in, KV lists (their members change),
// floats, attrs, conditions that are not an && chain (a top-level ||,
// a let), and any conjunct after one that may fail (a call, attrs,
// arithmetic, a loop, window()). Explain and Feeds do not use the index.
//
// The package reads state and never writes it. Windows (window.go)
// count events per key over a sliding period: Evaluator.Feeds renders
// what an event contributes to them, the engine records it, and then
// Eval reads the counts through a Reader (state.go) wherever a rule
// calls window("NAME"). Lists may be kept in KV buckets (lists.go);
// `x in lists.NAME` is then one lookup in the Reader's members. A
// Reader that fails aborts the evaluation, so that nothing is decided
// on missing state. Cooldowns and action budgets (actionbudget.go) are
// rendered or declared here and applied by the engine. Explain
// (explain.go) evaluates an event like Eval and shows the value of
// every sub-expression of each rule's condition.
//
// A Watcher keeps the Set current as files change, and never swaps in
// files still being written (settle.go). ParseTests reads rule tests
// (*_test.yaml: events and clock steps in, expected actions and their
// outcomes out), which the engine runs. The expression helpers are
// listed on exprEnv in env.go.
package rules
