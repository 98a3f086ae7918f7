// Package benchtest generates the workload that roomwarden's benchmarks,
// load generator and end-to-end measurement share: a rules file of n
// rules spread over 20 event types, and canonical ~256-byte events of
// which a set fraction (1% by default) match exactly one rule. Keeping
// one generator means the in-process figures and the NATS figures
// measure the same work.
package benchtest
