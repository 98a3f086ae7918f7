package jsstate_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomwarden/roomwarden/engine/state/jsstate"
	"github.com/roomwarden/roomwarden/internal/natstest"
	"github.com/roomwarden/roomwarden/internal/promtest"
)

// TestStaleCache: a replica whose cached revision another replica has
// moved on retries its compare-and-swap once and counts right, and the
// retry shows in roomwarden_state_cas_retries_total.
func TestStaleCache(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	reg := prometheus.NewRegistry()
	a := open(t, srv, jsstate.Config{Registerer: reg})
	b := open(t, srv, jsstate.Config{})
	now := time.Now()
	steps := []struct {
		name  string
		s     *jsstate.Store
		event string
		want  int
	}{
		{"a feeds (and caches the revision)", a, "e1", 1},
		{"b feeds", b, "e2", 2},
		{"a feeds on a stale revision", a, "e3", 3},
		{"a feeds again on a fresh one", a, "e4", 4},
	}
	for _, st := range steps {
		if err := wantInt(st.s.Feed(t.Context(), windowFeed(st.event, now), false))(st.want); err != nil {
			t.Errorf("%s: %v", st.name, err)
		}
	}
	retries := promtest.MustValue(t, reg, "roomwarden_state_cas_retries_total", "op", "feed")
	if retries != 1 {
		t.Errorf("cas retries of feed = %v, want 1", retries)
	}
	if ok := promtest.MustValue(t, reg, "roomwarden_state_ops_total", "op", "feed", "result", "ok"); ok != 3 {
		t.Errorf("ok feeds = %v, want 3", ok)
	}

	for i, s := range []*jsstate.Store{a, b, a} {
		if err := wantBool(s.Spend(t.Context(), "r@v", 2, time.Minute, now))(i < 2); err != nil {
			t.Errorf("spend %d: %v", i+1, err)
		}
	}
}

// TestRunningCooldownIsNoRetry: Acquire creates the cooldown key on the
// guess that it is absent; finding it (a running cooldown, the common
// case under a burst) is not a compare-and-swap conflict, and must not
// show in roomwarden_state_cas_retries_total.
func TestRunningCooldownIsNoRetry(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	reg := prometheus.NewRegistry()
	s := open(t, srv, jsstate.Config{Registerer: reg})
	now := time.Now()
	for i, want := range []bool{true, false, false} {
		if err := wantBool(s.Acquire(t.Context(), "rule/room", "origin-"+string(rune('a'+i)), now, time.Minute))(want); err != nil {
			t.Errorf("acquire %d: %v", i+1, err)
		}
	}
	if retries, _ := promtest.Value(t, reg, "roomwarden_state_cas_retries_total", "op", "acquire"); retries != 0 {
		t.Errorf("cas retries of acquire = %v, want 0 (a running cooldown is no conflict)", retries)
	}
}

// TestFeedRoundTrips counts the requests a feed sends: one for a key no
// process has fed (a create, on the guess that it is absent), one for a
// key this process fed last (a compare-and-swap on the cached
// revision), three for a key another process fed since (the create
// fails, the key is read, the swap succeeds).
func TestFeedRoundTrips(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	nc := natstest.Connect(t, srv)
	a := open(t, srv, jsstate.Config{JetStream: natstest.JetStream(t, nc)})
	b := open(t, srv, jsstate.Config{})
	now := time.Now()
	feed := func(s *jsstate.Store, key, event string, want int) {
		t.Helper()
		f := windowFeed(event, now)
		f.Key = key
		if err := wantInt(s.Feed(t.Context(), f, false))(want); err != nil {
			t.Fatalf("feed %s of %s: %v", event, key, err)
		}
	}
	requests := func(what string, want uint64, do func()) {
		t.Helper()
		before := nc.Stats().OutMsgs
		do()
		if got := nc.Stats().OutMsgs - before; got != want {
			t.Errorf("%s: %d requests, want %d", what, got, want)
		}
	}
	requests("first feed of a new key", 1, func() { feed(a, "new", "e1", 1) })
	requests("second feed of it", 1, func() { feed(a, "new", "e2", 2) })
	feed(b, "shared", "e3", 1)
	requests("first feed of a key another store fed", 3, func() { feed(a, "shared", "e4", 2) })
	requests("next feed of it", 1, func() { feed(a, "shared", "e5", 3) })
}
