package rules

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultCooldownKeys is the default bound on keys held by Cooldowns.
const DefaultCooldownKeys = 2_000_000

const (
	cooldownShards = 64
	sweepPerInsert = 2  // expired entries looked at on each insert
	sweepWhenFull  = 64 // looked at before declaring a shard full
)

// Cooldowns remembers, per rule name and rendered key, until when a rule
// is cooling down. It is owned by the caller, not by a Set, so cooldowns
// survive rule reloads. Safe for concurrent use; locks are sharded.
//
// Memory is bounded: every insert sweeps a few entries and drops expired
// ones, and at most maxKeys keys are held. When a shard is full of live
// keys, Allow lets the action through rather than suppress it, and
// counts an overflow.
type Cooldowns struct {
	seed      maphash.Seed
	perShard  int
	overflows atomic.Uint64
	shards    [cooldownShards]cooldownShard
}

type cooldownShard struct {
	mu    sync.Mutex
	until map[string]cooldownEntry
}

// cooldownEntry is one cooling key: until when, and a hash of the id of
// the event that started it (0: no id), so that event, redelivered
// because its outcome was not recorded, is not suppressed by itself.
type cooldownEntry struct {
	until time.Time
	by    uint64
}

// NewCooldowns returns an empty store holding at most maxKeys keys
// (DefaultCooldownKeys when maxKeys <= 0).
func NewCooldowns(maxKeys int) *Cooldowns {
	if maxKeys <= 0 {
		maxKeys = DefaultCooldownKeys
	}
	return &Cooldowns{seed: maphash.MakeSeed(), perShard: max(1, maxKeys/cooldownShards)}
}

// Allow reports whether rule may act for key at now. If it may, the key
// cools down for d from now; if the key is still cooling, it returns
// false and leaves the cooldown as it was.
func (c *Cooldowns) Allow(rule, key string, now time.Time, d time.Duration) bool {
	return c.AllowEvent(rule, key, "", now, d)
}

// AllowEvent is Allow for the event with id eventID: the event that
// started a cooldown is allowed again while it lasts (a redelivery of an
// event whose outcome was not recorded must act, not be suppressed by
// itself), without extending it. An empty eventID never matches.
func (c *Cooldowns) AllowEvent(rule, key, eventID string, now time.Time, d time.Duration) bool {
	k := rule + "\x00" + key
	sh := &c.shards[maphash.String(c.seed, k)%cooldownShards]
	by := c.eventHash(eventID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.until == nil {
		sh.until = make(map[string]cooldownEntry)
	}
	if e, ok := sh.until[k]; ok && now.Before(e.until) {
		return by != 0 && e.by == by
	} else if ok {
		sh.until[k] = cooldownEntry{until: now.Add(d), by: by}
		return true
	}
	sh.sweep(now, sweepPerInsert)
	if len(sh.until) >= c.perShard && sh.sweep(now, sweepWhenFull) == 0 {
		c.overflows.Add(1)
		return true
	}
	sh.until[k] = cooldownEntry{until: now.Add(d), by: by}
	return true
}

// eventHash identifies an event id; 0 stands for no id.
func (c *Cooldowns) eventHash(id string) uint64 {
	if id == "" {
		return 0
	}
	return maphash.String(c.seed, id) | 1
}

// sweep looks at up to n entries, from a random starting point, and
// deletes the expired ones. It returns how many it deleted.
func (sh *cooldownShard) sweep(now time.Time, n int) int {
	deleted := 0
	for k, e := range sh.until {
		if !now.Before(e.until) {
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
func (c *Cooldowns) Len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		n += len(sh.until)
		sh.mu.Unlock()
	}
	return n
}

// Overflows returns how many actions were allowed because the store was
// full of live keys.
func (c *Cooldowns) Overflows() uint64 { return c.overflows.Load() }
