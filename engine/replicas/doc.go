// Package replicas lets the roomwarden processes that share one config
// split one Room Engine budget (executor.rate_per_second) between them:
// each finds the others through a JetStream KV bucket of heartbeats and
// sets its executor's share, so that no rolling second at the Room
// Engine holds more than the budget, however many replicas run, start
// or stop.
//
// # Heartbeats
//
// Every replica owns one key of the bucket (default roomwarden_replicas,
// History 1, per-key TTLs, created with state.replicas replication): its
// id, hostname-pid-random. It creates the key with a TTL of keyTTL (3 s)
// and renews it every beatEvery (1 s) with a raw publish carrying the
// same TTL; a clean stop purges it, a killed replica's key expires 3 s
// after its last beat. Each beat carries a sequence number, the
// replica's rate_per_second and its current share. Every replica
// watches the whole bucket; the replicas it counts are the keys present
// in its watch.
//
// # The share
//
// With N replicas counted (itself included) a replica's share is
// floor(rate/N) calls per rolling window, and the first rate mod N
// replicas in id order take one more: the shares add up to the rate
// exactly (floor alone would waste up to N−1 calls a second, and all of
// them when rate < N). The rate is the smallest rate_per_second any
// counted replica announces, so replicas started with different configs
// still stay under the smaller budget. Counting one more replica never
// raises anyone's share, which is what makes the transitions below
// safe while views disagree.
//
// # Transitions
//
// Every rolling window at the Room Engine must stay within the budget
// while replicas come and go and while their views disagree. Four rules
// see to it; RateWindow below is the executor's window (1.02 s).
//
//   - Fresh or silent. A replica knows its view is current as of its
//     latest beat that came back through its own watch (the echo): the
//     watch delivers in stream order, so every key written before that
//     beat was stored has been seen. If no beat sent in the last
//     staleAfter (keyTTL − 1 s = 2 s) has come back — NATS unreachable,
//     a stalled watch, a slow cluster — its share is 0. This is a
//     refinement of "own heartbeat not renewed": a renewal that was
//     stored but not seen back does not prove the view is current.
//   - Joining holds. A replica that becomes visible (its first echo, or
//     the first after a silence, or after its key vanished) while others
//     are counted calls nothing for staleAfter + RateWindow. A replica A
//     that has not seen the joiner B at time u has not had an echo of a
//     beat stored after B's key, so (fresh-or-silent) u is within
//     staleAfter of B's key being stored, or A is silent. So staleAfter
//     after B becomes visible, every other replica has lowered its share
//     or gone silent, and one RateWindow later their calls made under the
//     old share have left every window B's calls fall in. The propagation
//     margin of the design is therefore staleAfter, not a guess at watch
//     latency. A replica that becomes visible and counts nobody else
//     starts at once (after the executor's own restart hold): every
//     replica that could be calling has a live key that its view would
//     hold, and a replica that joins later holds for it.
//   - Lowering is immediate. A replica lowers its share as soon as its
//     watch shows another key; the executor counts the calls already in
//     the window against the lower share.
//   - Raising waits a window. When a key goes (purged by a clean stop,
//     which happens after that replica's executor stopped, or expired),
//     the others count it for another RateWindow before raising, so that
//     the calls the leaver made before it went have left the window. A
//     killed replica's key expires keyTTL after its last beat, by when
//     it had been silent (or dead) for at least a second anyway.
//
// Throttle answers (60007 and friends) still lower the executor's pace
// below its share, and retries and undos go through the same executor,
// so they count against the share too.
//
// # What it costs
//
// One KV write per replica per second and one watch per replica; the
// bucket holds one small key per replica. The figures are in
// docs/SCALING.md.
//
// # Metrics
//
// roomwarden_replicas is the number of replicas the share is computed
// over (this one included); roomwarden_replica_rate_share is this
// replica's calls per rolling second (0 while joining or cut off).
package replicas
