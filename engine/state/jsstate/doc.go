// Package jsstate is the JetStream state.Store: the memory of rules
// (cooldowns, windows, labels), timed locks and their undos, moderators'
// overrides and rule budgets, kept in JetStream rather than in process
// memory, so that a restarted daemon and every replica share it.
//
// # Layout
//
// One KV bucket (Config.Bucket, default roomwarden_state) holds
// roomwarden's own keys, with History 1 and per-key TTLs
// (LimitMarkerTTL, which turns AllowMsgTTL on). A key is a prefix and
// 32 hex digits of the SHA-256 of the caller's strings (KV keys admit
// few characters), so every value also carries the readable names:
//
//	c.<key>           cooldown: JSON {key, origin, until}
//	w.<window, key>   window: binary (see encodeWindow), 24 bytes an entry
//	lock.<seat flag>  lock roomwarden holds: JSON {room_id, index, flag, rule, event_id, at, end}
//	ovr.<seat flag>   moderator's override: JSON {room_id, index, flag, until}
//	bud.<rule>        budget spending and tripped flag: binary (see encodeBudget)
//	trip.<rule>       a tripped rule, listed by Tripped: JSON {rule, tripped_at}
//
// Label lists live in buckets of their own, named in the rules
// (watched_users); their members are the keys, so producers write them
// with `nats kv put`. A missing label bucket is created with per-key
// TTLs. Members that are not valid keys are encoded (see memberkey.go).
//
// The undo stream (Config.UndoStream, default ROOMWARDEN_UNDO;
// work-queue retention, message schedules on) holds one schedule per
// seat flag on <UndoSubject>.at.<seat flag>, which the server fires at
// the lock's end onto <UndoSubject>.due.<seat flag>, where RunUndos'
// durable consumer takes it. Everything the store creates has
// Config.Replicas replicas.
//
// # Time and TTLs
//
// Every record carries the absolute times it means (a cooldown's end,
// window entries' times, an override's end, a label's expiry) and every
// call compares them with the time its caller passes, never the
// server's clock: replay and tests run on other clocks. TTLs only
// collect garbage: a key's TTL is its meaningful end less the caller's
// now, plus 5 seconds for clocks that disagree between replicas, in
// whole seconds (at least 1, nats-server's minimum). A lock record is
// kept Config.LockMemory (24 h) past its end, or past the lock when it
// has none, so that an undo falling due while no daemon runs still finds
// it and the records stay bounded. Tripped budgets and trip records have
// no TTL: they last until Reset. A delete leaves a purge marker that
// expires after a minute.
//
// # Compare-and-swap
//
// A write that depends on what it read is published to
// $KV.<bucket>.<key> with the key's last revision expected
// (Nats-Expected-Last-Subject-Sequence; kv.Update cannot also set a
// TTL). On a conflict the call reads the key and decides again, up to 20
// times within OpTimeout, then fails with state.ErrUnavailable. Within
// one process, updates of one key take turns, so only other replicas
// cause conflicts. Cooldowns try a create first (one round trip when
// none runs); windows and budgets try the revision this process last
// wrote (one round trip when it alone feeds the key), and a create when
// it knows no revision (one round trip for a key's first feed; three
// when another process fed the key: the create, a read, the swap).
//
// # Reads in batches
//
// Count's reads that arrive while an earlier one is in flight are sent
// together as one direct get of the last message of each key
// (multi_last; reads.go): each is still sent after its caller asked, so
// batching changes the number of requests, not what a read can see.
//
// # Caches and how stale a replica may be
//
//   - Window and budget values: a first guess for the compare-and-swap
//     only. Every answer comes from a successful write or a fresh read,
//     so a replica's cache is never visible in a result.
//   - Label lists: a watcher per bucket keeps the members in memory, a
//     few milliseconds behind the bucket. After a reconnection the list
//     is read afresh; while the connection is down Members fails with
//     state.ErrUnavailable rather than answer from a stale list.
//   - Reads (CoolingUntil, Count, Held, OverriddenUntil) are direct gets,
//     which on a replicated bucket a follower may answer, behind the
//     leader by the replication lag. Writes are decided by the leader.
//   - PendingUndos, Overrides and Tripped read a snapshot of their
//     prefix at each call (an ordered consumer): meant for the console.
//
// # Undos
//
// Locked schedules the undo (WithScheduleAt, the end rounded up to the
// second) before it writes the lock record, and a lock without end
// purges the schedule. A new schedule on a seat flag's subject replaces
// the old one, since the server rolls schedules up per subject. A
// delivered undo is checked against the lock record: one whose lock
// ended, was overridden or has no end any more is dropped, one whose
// lock now ends later is scheduled again at that end (races between
// replicas heal this way), and otherwise the lock as recorded is handed
// to RunUndos' handler.
package jsstate
