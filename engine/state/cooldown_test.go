package state

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestCooldownsAllow(t *testing.T) {
	c := NewCooldownTable(0)
	steps := []struct {
		rule, key string
		at        time.Duration
		want      bool
	}{
		{"r", "k", 0, true},
		{"r", "k", 59 * time.Second, false},
		{"r", "other", 59 * time.Second, true},
		{"r2", "k", 59 * time.Second, true}, // keys are per rule
		{"r", "k", 60 * time.Second, true},  // expired: allowed, cools again
		{"r", "k", 119 * time.Second, false},
		{"r", "k", 120 * time.Second, true},
	}
	for i, st := range steps {
		if got := c.Allow(st.rule, st.key, t0.Add(st.at), time.Minute); got != st.want {
			t.Errorf("step %d: Allow(%s, %s, +%v) = %v, want %v", i, st.rule, st.key, st.at, got, st.want)
		}
	}
	if c.Overflows() != 0 {
		t.Errorf("Overflows() = %d, want 0", c.Overflows())
	}
}

// TestCooldownsBounded fills a small store: it never holds more than its
// cap, lets overflowing actions through and counts them, and makes room
// by dropping expired keys.
func TestCooldownsBounded(t *testing.T) {
	const maxKeys, n = cooldownShards, 1000 // one key per shard
	c := NewCooldownTable(maxKeys)
	for i := range n {
		if !c.Allow("r", fmt.Sprint(i), t0, time.Minute) {
			t.Fatalf("key %d suppressed on first use", i)
		}
	}
	if c.Len() > maxKeys {
		t.Errorf("Len() = %d, want at most %d", c.Len(), maxKeys)
	}
	if got := uint64(c.Len()) + c.Overflows(); got != n {
		t.Errorf("Len()+Overflows() = %d, want %d", got, n)
	}
	before := c.Overflows()
	if !c.Allow("r", "late", t0.Add(2*time.Minute), time.Minute) {
		t.Fatal("new key suppressed")
	}
	if c.Overflows() != before {
		t.Errorf("Overflows() = %d after inserting into a shard of expired keys, want %d", c.Overflows(), before)
	}
	if c.Allow("r", "late", t0.Add(2*time.Minute+time.Second), time.Minute) {
		t.Error("the key inserted after the sweep is not cooling")
	}
}

// TestCooldownsSweep checks that inserts drop expired keys without a
// full scan.
func TestCooldownsSweep(t *testing.T) {
	c := NewCooldownTable(0)
	const n = 5000
	for i := range n {
		c.Allow("r", fmt.Sprint("old", i), t0, time.Second)
	}
	for i := range n {
		c.Allow("r", fmt.Sprint("new", i), t0.Add(time.Minute), time.Hour)
	}
	if got := c.Len(); got >= 2*n {
		t.Errorf("Len() = %d, want expired keys swept (< %d)", got, 2*n)
	}
}

func TestCooldownsConcurrent(t *testing.T) {
	c := NewCooldownTable(0)
	const keys, workers = 100, 8
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for k := range keys {
				if c.Allow("r", fmt.Sprint(k), t0, time.Minute) {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if allowed.Load() != keys {
		t.Errorf("%d allowed, want one per key (%d)", allowed.Load(), keys)
	}
}

// TestCooldownsFillToTheBound: the bound is on the whole store, so
// exactly maxKeys live keys fit however the keys spread over shards.
func TestCooldownsFillToTheBound(t *testing.T) {
	const maxKeys = 5000
	c := NewCooldownTable(maxKeys)
	for i := range maxKeys {
		c.Allow("r", fmt.Sprint(i), t0, time.Hour)
	}
	if c.Len() != maxKeys || c.Overflows() != 0 {
		t.Fatalf("after %d keys: Len() = %d, Overflows() = %d; want %d and 0", maxKeys, c.Len(), c.Overflows(), maxKeys)
	}
	if !c.Allow("r", "one-more", t0, time.Hour) || c.Overflows() != 1 || c.Len() != maxKeys {
		t.Errorf("one key past the bound: Len() = %d, Overflows() = %d; want %d and 1", c.Len(), c.Overflows(), maxKeys)
	}
}

// TestCooldownsAllowEvent checks that the event that started a cooldown
// is allowed again (a redelivery whose outcome was not recorded) while
// other events, and events without an id, are suppressed.
func TestCooldownsAllowEvent(t *testing.T) {
	c := NewCooldownTable(0)
	steps := []struct {
		name  string
		event string
		at    time.Duration
		want  bool
	}{
		{"first event starts the cooldown", "e1", 0, true},
		{"another event is suppressed", "e2", 10 * time.Second, false},
		{"the same event redelivered acts", "e1", 20 * time.Second, true},
		{"an event without id is suppressed", "", 30 * time.Second, false},
		{"the redelivery did not extend it", "e2", 60 * time.Second, true},
		{"now e2 owns it", "e1", 61 * time.Second, false},
		{"and e2 redelivered acts", "e2", 62 * time.Second, true},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if got := c.AllowEvent("r", "k", st.event, t0.Add(st.at), time.Minute); got != st.want {
				t.Errorf("AllowEvent(r, k, %q, +%v) = %v, want %v", st.event, st.at, got, st.want)
			}
		})
	}
}

// t0 is the base time of the cooldown tests.
var t0 = time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)
