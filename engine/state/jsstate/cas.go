package jsstate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// maxCASAttempts bounds the compare-and-swap attempts of one call. Each
// failed attempt means another replica changed the key meanwhile, so a
// call runs out only under heavy contention; OpTimeout bounds it too.
const maxCASAttempts = 20

// change is what an update's decide function wants done to the key.
type change struct {
	write  bool // write val, expiring after ttl (0: never)
	val    []byte
	ttl    time.Duration
	remove bool // delete the key
}

// start says where an update takes the key's current record from before
// its first attempt.
type start int

const (
	readFirst    start = iota // read it from the server
	assumeAbsent              // guess that the key does not exist (create-if-absent)
	fromCache                 // the process's last known record, else guess absent
)

// update applies decide's change to key with compare-and-swap: it calls
// decide with the key's record (fresh: just read from the server, not a
// cached value or a guess) and writes, or deletes, on the condition that
// the key is still at that revision. On a conflict it reads the key and
// decides again. A decision to change nothing is only accepted on a
// fresh record, so no answer ever comes from a stale cache. decide may
// run several times; the caller keeps what its last run found.
//
// This process's updates of one key run one at a time (stripes), so its
// goroutines never conflict with each other, only with other replicas.
func (s *Store) update(ctx context.Context, op, key string, from start, cache *valueCache,
	decide func(cur record, fresh bool) (change, error)) error {
	unlock, err := s.stripes.lock(ctx, key)
	if err != nil {
		return err
	}
	defer unlock()
	var cur record
	fresh, absentGuess := false, false
	switch c, ok := cache.get(key); {
	case from == fromCache && ok:
		cur = c
	case from != readFirst:
		absentGuess = true
	default:
		if cur, err = s.kv.get(ctx, key); err != nil {
			return err
		}
		fresh = true
	}
	for attempt := 1; ; attempt++ {
		ch, err := decide(cur, fresh)
		if err != nil {
			return err
		}
		if ch.write || (ch.remove && cur.rev != 0) {
			err = s.apply(ctx, key, cur.rev, ch, cache)
			if !errors.Is(err, errConflict) {
				return err
			}
			if attempt >= maxCASAttempts {
				return fmt.Errorf("%s: %w", key, errContention)
			}
			if !absentGuess || attempt > 1 {
				// A create that finds the key (a running cooldown, a
				// window another process fed) was a guess, not a write
				// that lost a race.
				s.metrics.retries.WithLabelValues(op).Inc()
			}
		} else if fresh {
			return nil
		}
		if cur, err = s.kv.get(ctx, key); err != nil {
			cache.drop(key)
			return err
		}
		fresh = true
	}
}

// apply writes or deletes key at revision rev, keeping cache in step.
func (s *Store) apply(ctx context.Context, key string, rev uint64, ch change, cache *valueCache) error {
	if ch.remove {
		err := s.kv.remove(ctx, key, rev)
		cache.drop(key)
		return err
	}
	newRev, err := s.kv.put(ctx, key, ch.val, rev, ch.ttl)
	if err != nil {
		cache.drop(key)
		return err
	}
	cache.set(key, record{rev: newRev, val: ch.val})
	return nil
}

// stripes serialise this process's read-modify-writes of one key: a
// lock per stripe of keys, taken with the call's context so a wait is
// bounded like the call.
type stripes struct {
	ch [256]chan struct{}
}

func newStripes() *stripes {
	s := &stripes{}
	for i := range s.ch {
		s.ch[i] = make(chan struct{}, 1)
	}
	return s
}

func (s *stripes) lock(ctx context.Context, key string) (unlock func(), err error) {
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(key); i++ {
		h = (h ^ uint32(key[i])) * 16777619
	}
	c := s.ch[h%uint32(len(s.ch))]
	select {
	case c <- struct{}{}:
		return func() { <-c }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for %s: %w", key, ctx.Err())
	}
}

// cacheBytes bounds the values a Store keeps of its window keys.
const cacheBytes = 32 << 20

// valueCache is the last record this process wrote or read of some keys:
// the revision to try the next compare-and-swap with, so that a key one
// replica alone updates costs one round trip. It is only ever a first
// guess (see update). When it holds more than max bytes it forgets keys
// at random. A nil cache holds nothing.
type valueCache struct {
	mu    sync.Mutex
	m     map[string]record
	bytes int
	max   int
}

func newValueCache(max int) *valueCache {
	return &valueCache{m: make(map[string]record), max: max}
}

func (c *valueCache) get(key string) (record, bool) {
	if c == nil {
		return record{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[key]
	return r, ok
}

func (c *valueCache) set(key string, r record) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[key]; ok {
		c.bytes -= len(key) + len(old.val)
	}
	c.m[key] = r
	c.bytes += len(key) + len(r.val)
	for k, v := range c.m {
		if c.bytes <= c.max {
			break
		}
		delete(c.m, k)
		c.bytes -= len(k) + len(v.val)
	}
}

func (c *valueCache) drop(key string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[key]; ok {
		c.bytes -= len(key) + len(old.val)
		delete(c.m, key)
	}
}
