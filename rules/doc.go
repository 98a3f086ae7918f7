// Package rules loads trust-and-safety rules from YAML, compiles their expr
// expressions against the typed event environment, and serves them as an
// immutable, hot-swappable Set. It imports no other roomwarden package.
//
// Load strictly parses a directory of rules files and reports every
// problem as path:line:col; what it can see of a budget a rule will
// exceed when it runs (a loop too long, a string too big) is a warning
// (Set.Warnings), and the rule still loads. An Evaluator (one per
// goroutine) runs an event against the rules listening for its type and
// renders their actions and cooldown keys; applying cooldowns is the
// engine's job, as they are state. Each rule's evaluation has budgets of
// steps, time and memory (budget.go): a rule over one fails for that
// event alone (Match.Err) and the other rules still run. A Watcher keeps
// the Set current as files change, and never swaps in files still being
// written (settle.go). ParseTests reads rule tests (*_test.yaml), which
// the engine runs. The expression helpers are listed on exprEnv in
// env.go.
package rules
