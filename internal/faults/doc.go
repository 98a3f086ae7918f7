// Package faults is roomwarden's fault suite: tests that break what the
// daemon depends on (the NATS server, the Room Engine, its own process)
// with real processes and servers on loopback, and check from outside,
// through the Room Engine simulator's call record, the action log, the
// dead-letter stream and /metrics, that no event is lost and no action
// is silently dropped. The soak run (TestSoak, ROOMWARDEN_SOAK=10m) lives
// here too. docs/RELIABILITY.md reports what these tests observed.
package faults
