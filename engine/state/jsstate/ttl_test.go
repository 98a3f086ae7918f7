package jsstate_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/engine/state/jsstate"
	"github.com/roomwarden/roomwarden/internal/natstest"
)

// TestKeyTTLCollectsGarbage: a 2s cooldown's key is in the bucket at
// once and gone some seconds later (its TTL is the cooldown plus a
// grace), on the server's own clock.
func TestKeyTTLCollectsGarbage(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	s := open(t, srv, jsstate.Config{})
	if ok, err := s.Acquire(t.Context(), "rule/k", "o", time.Now(), 2*time.Second); err != nil || !ok {
		t.Fatalf("Acquire = %v, %v; want true", ok, err)
	}
	kv, err := connect(t, srv).KeyValue(t.Context(), jsstate.DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	if n := countKeys(t, kv); n != 1 {
		t.Fatalf("%d keys after Acquire, want 1", n)
	}
	start := time.Now()
	eventually(t, "the cooldown's key expires", func() bool { return countKeys(t, kv) == 0 })
	t.Logf("the key of a 2s cooldown was gone %v later", time.Since(start).Round(100*time.Millisecond))
}

// countKeys counts the live keys of kv.
func countKeys(t *testing.T, kv jetstream.KeyValue) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	keys, err := kv.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return 0
	}
	if err != nil {
		t.Fatalf("keys: %v", err)
	}
	return len(keys)
}
