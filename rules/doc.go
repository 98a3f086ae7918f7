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
