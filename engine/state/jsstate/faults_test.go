package jsstate_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/engine/state/jsstate"
	"github.com/roomwarden/roomwarden/internal/natstest"
)

// storeOps calls every method of the store once.
func storeOps(s *jsstate.Store) []struct {
	name string
	call func(context.Context) error
} {
	now := time.Now()
	f := state.SeatFlag{RoomID: "room-f", Index: 1, Flag: "audio"}
	return []struct {
		name string
		call func(context.Context) error
	}{
		{"Acquire", func(ctx context.Context) error { _, err := s.Acquire(ctx, "k", "o", now, time.Minute); return err }},
		{"CoolingUntil", func(ctx context.Context) error { _, err := s.CoolingUntil(ctx, "k", now); return err }},
		{"Feed", func(ctx context.Context) error { _, err := s.Feed(ctx, windowFeed("e-f", now), false); return err }},
		{"Count", func(ctx context.Context) error { _, err := s.Count(ctx, "w", "k", time.Minute, false, now); return err }},
		{"Members (watched)", func(ctx context.Context) error { _, err := s.Members(ctx, "watched_users", now); return err }},
		{"Members (new list)", func(ctx context.Context) error { _, err := s.Members(ctx, "new_list", now); return err }},
		{"AddMember", func(ctx context.Context) error { return s.AddMember(ctx, "watched_users", "u9", now, time.Hour) }},
		{"Locked", func(ctx context.Context) error {
			_, err := s.Locked(ctx, state.Lock{SeatFlag: f, At: now, End: now.Add(time.Hour)})
			return err
		}},
		{"Held", func(ctx context.Context) error { _, _, err := s.Held(ctx, f); return err }},
		{"Unlocked", func(ctx context.Context) error { return s.Unlocked(ctx, f, now) }},
		{"Override", func(ctx context.Context) error { _, err := s.Override(ctx, f, now, time.Minute); return err }},
		{"OverriddenUntil", func(ctx context.Context) error { _, err := s.OverriddenUntil(ctx, f, now); return err }},
		{"PendingUndos", func(ctx context.Context) error { _, err := s.PendingUndos(ctx, 10); return err }},
		{"Overrides", func(ctx context.Context) error { _, err := s.Overrides(ctx, now, 10); return err }},
		{"Spend", func(ctx context.Context) error { _, err := s.Spend(ctx, "r@v", 10, time.Minute, now); return err }},
		{"Tripped", func(ctx context.Context) error { _, err := s.Tripped(ctx); return err }},
		{"Reset", func(ctx context.Context) error { return s.Reset(ctx, "r@v") }},
	}
}

// TestServerDown: with the server down every call fails within its
// OpTimeout with an error wrapping state.ErrUnavailable, Ready says so,
// and once the server is back (same port and store) calls work again.
func TestServerDown(t *testing.T) {
	t.Parallel()
	const opTimeout = 500 * time.Millisecond
	srv := natstest.RunServer(t)
	port, dir := srv.Addr().(*net.TCPAddr).Port, filepath.Dir(srv.StoreDir())
	s := open(t, srv, jsstate.Config{OpTimeout: opTimeout})
	for _, op := range storeOps(s) {
		if op.name == "Members (new list)" {
			continue
		}
		if err := op.call(t.Context()); err != nil {
			t.Fatalf("%s with the server up: %v", op.name, err)
		}
	}
	if err := s.Ready(); err != nil {
		t.Fatalf("Ready with the server up: %v", err)
	}

	srv.Shutdown()
	srv.WaitForShutdown()
	for _, op := range storeOps(s) {
		start := time.Now()
		err := op.call(context.Background())
		took := time.Since(start)
		if !errors.Is(err, state.ErrUnavailable) {
			t.Errorf("%s with the server down: %v, want an error wrapping state.ErrUnavailable", op.name, err)
		}
		if took > opTimeout+5*time.Second { // a deadlock guard, not a benchmark
			t.Errorf("%s with the server down took %v (OpTimeout %v)", op.name, took, opTimeout)
		}
	}
	if err := s.Ready(); !errors.Is(err, state.ErrUnavailable) {
		t.Errorf("Ready with the server down: %v, want an error wrapping state.ErrUnavailable", err)
	}

	back := natstest.RunServer(t, natstest.WithPort(port), natstest.WithStoreDir(dir))
	eventually(t, "calls work after the server is back", func() bool {
		_, err := s.Acquire(t.Context(), "back", "o", time.Now(), time.Minute)
		return err == nil
	})
	for _, op := range storeOps(s) {
		if err := op.call(t.Context()); err != nil {
			t.Errorf("%s after the server is back: %v", op.name, err)
		}
	}
	eventually(t, "Ready after the server is back", func() bool { return s.Ready() == nil })
	kv, err := connect(t, back).KeyValue(t.Context(), "watched_users")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(t.Context(), "u-after", nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the label watcher follows the bucket after the restart", func() bool {
		m, err := s.Members(t.Context(), "watched_users", time.Now())
		_, ok := m["u-after"]
		return err == nil && ok
	})
}
