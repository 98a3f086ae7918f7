// Package rules loads trust-and-safety rules from YAML, compiles their expr
// expressions against the typed event environment, and serves them as an
// immutable, hot-swappable Set. It imports no other roomwarden package.
//
// Load strictly parses a directory of rules files and reports every
// problem as path:line:col. An Evaluator (one per goroutine) runs an
// event against the rules listening for its type, applying Cooldowns that
// the caller owns so they survive reloads. A Watcher keeps the Set current
// as files change. RunCase runs rule tests (*_test.yaml) through the same
// evaluation path with a simulated clock. The expression helpers are
// listed on exprEnv in env.go.
package rules
