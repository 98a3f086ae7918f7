// Package rules loads trust-and-safety rules from YAML, compiles their expr
// expressions against the typed event environment, and serves them as an
// immutable, hot-swappable Set. It imports no other roomwarden package.
package rules
