package state

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultCooldownKeys is the default bound on keys held by a CooldownTable.
const DefaultCooldownKeys = 2_000_000

const (
	cooldownShards = 64
	sweepPerInsert = 2  // expired entries looked at on each insert
	sweepWhenFull  = 64 // looked at before declaring a shard full
)

// CooldownTable remembers, in memory, per rule name and rendered key, until when a rule
// is cooling down. It is owned by the caller, not by a Set, so cooldowns
// survive rule reloads. Safe for concurrent use; locks are sharded.
//
// Memory is bounded: every insert sweeps a few entries and drops expired
// ones, and at most maxKeys keys are held (concurrent inserts may pass
// the bound by one each). When the store is full and a sweep of every
// shard frees nothing, Allow lets the action through rather than
// suppress it, and counts an overflow.
type CooldownTable struct {
	seed      maphash.Seed
	maxKeys   int64
	keys      atomic.Int64 // held in all shards
	overflows atomic.Uint64
	shards    [cooldownShards]cooldownShard
}

// cooldownShard maps the 64-bit hash of "rule\x00key" to its entry.
// Keeping hashes, not strings, holds a million keys in about 40 MB; two
// keys would have to collide in 64 bits (odds near 1 in 10^7 at a
// million keys) for one to share the other's cooldown.
type cooldownShard struct {
	mu    sync.Mutex
	until map[uint64]cooldownEntry
}

// cooldownEntry is one cooling key: until when (Unix nanoseconds), and a
// hash of the id of the event that started it (0: no id), so that event,
// redelivered because its outcome was not recorded, is not suppressed by
// itself.
type cooldownEntry struct {
	until int64
	by    uint64
}

// NewCooldownTable returns an empty store holding at most maxKeys keys
// (DefaultCooldownKeys when maxKeys <= 0).
func NewCooldownTable(maxKeys int) *CooldownTable {
	if maxKeys <= 0 {
		maxKeys = DefaultCooldownKeys
	}
	return &CooldownTable{seed: maphash.MakeSeed(), maxKeys: int64(maxKeys)}
}

// Allow reports whether rule may act for key at now. If it may, the key
// cools down for d from now; if the key is still cooling, it returns
// false and leaves the cooldown as it was.
func (c *CooldownTable) Allow(rule, key string, now time.Time, d time.Duration) bool {
	return c.AllowEvent(rule, key, "", now, d)
}

// AllowEvent is Allow for the event with id eventID: the event that
// started a cooldown is allowed again while it lasts (a redelivery of an
// event whose outcome was not recorded must act, not be suppressed by
// itself), without extending it. An empty eventID never matches.
func (c *CooldownTable) AllowEvent(rule, key, eventID string, now time.Time, d time.Duration) bool {
	k := c.keyHash(rule, key)
	sh := &c.shards[k%cooldownShards]
	t := now.UnixNano()
	e := cooldownEntry{until: now.Add(d).UnixNano(), by: c.eventHash(eventID)}
	allowed, full := sh.allow(c, k, t, e)
	if full && c.makeRoom(t) {
		allowed, full = sh.allow(c, k, t, e)
	}
	if full {
		c.overflows.Add(1)
		return true
	}
	return allowed
}

// allow decides for key k under the shard's lock. full reports that k is
// new and the store holds maxKeys keys: nothing was decided.
func (sh *cooldownShard) allow(c *CooldownTable, k uint64, t int64, e cooldownEntry) (allowed, full bool) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.until == nil {
		sh.until = make(map[uint64]cooldownEntry)
	}
	if old, ok := sh.until[k]; ok && t < old.until {
		return e.by != 0 && old.by == e.by, false
	} else if ok {
		sh.until[k] = e
		return true, false
	}
	c.keys.Add(-int64(sh.sweep(t, sweepPerInsert)))
	if c.keys.Load() >= c.maxKeys {
		return false, true
	}
	sh.until[k] = e
	c.keys.Add(1)
	return true, false
}

// makeRoom sweeps the shards one at a time, each under its own lock,
// until one of them frees a key. It reports whether any did.
func (c *CooldownTable) makeRoom(t int64) bool {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		n := sh.sweep(t, sweepWhenFull)
		sh.mu.Unlock()
		if n > 0 {
			c.keys.Add(-int64(n))
			return true
		}
	}
	return false
}

// Until returns when rule's cooldown of key ends, or the zero time if it
// does not cool at now. It changes nothing.
func (c *CooldownTable) Until(rule, key string, now time.Time) time.Time {
	k := c.keyHash(rule, key)
	sh := &c.shards[k%cooldownShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e, ok := sh.until[k]; ok && now.UnixNano() < e.until {
		return time.Unix(0, e.until)
	}
	return time.Time{}
}

// keyHash identifies a rule's rendered cooldown key.
func (c *CooldownTable) keyHash(rule, key string) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(rule)
	h.WriteByte(0)
	h.WriteString(key)
	return h.Sum64()
}

// eventHash identifies an event id; 0 stands for no id.
func (c *CooldownTable) eventHash(id string) uint64 {
	if id == "" {
		return 0
	}
	return maphash.String(c.seed, id) | 1
}

// sweep looks at up to n entries, from a random starting point, and
// deletes the expired ones. It returns how many it deleted.
func (sh *cooldownShard) sweep(now int64, n int) int {
	deleted := 0
	for k, e := range sh.until {
		if now >= e.until {
			delete(sh.until, k)
			deleted++
		}
		if n--; n == 0 {
			break
		}
	}
	return deleted
}

// Len returns the number of keys held, expired ones not yet swept
// included.
func (c *CooldownTable) Len() int { return int(c.keys.Load()) }

// Overflows returns how many actions were allowed because the store was
// full of live keys.
func (c *CooldownTable) Overflows() uint64 { return c.overflows.Load() }
