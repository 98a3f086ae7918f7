package jsstate_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomwarden/roomwarden/engine/state/jsstate"
	"github.com/roomwarden/roomwarden/internal/natstest"
)

// connect is a connection to srv that reconnects forever, quickly, as
// the daemon's does.
func connect(t testing.TB, srv *server.Server) jetstream.JetStream {
	t.Helper()
	nc := natstest.Connect(t, srv, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	return natstest.JetStream(t, nc)
}

// open opens a Store on its own connection to srv, closed when the test
// ends; cfg's JetStream, Logger and Registerer are filled in.
func open(t testing.TB, srv *server.Server, cfg jsstate.Config) *jsstate.Store {
	t.Helper()
	if cfg.JetStream == nil {
		cfg.JetStream = connect(t, srv)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := jsstate.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// eventually polls cond every 20ms until it holds or the deadlock
// guard runs out.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after 45s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// want turns a check into an error: err, or one showing got when ok is
// false.
func want(ok bool, got any, err error) error {
	switch {
	case err != nil:
		return err
	case !ok:
		return fmt.Errorf("got %+v", got)
	}
	return nil
}

// wantBool checks a store call's boolean result: wantBool(s.Acquire(...))(true).
func wantBool(got bool, err error) func(bool) error {
	return func(w bool) error { return want(got == w, got, err) }
}

// wantInt checks a store call's int result.
func wantInt(got int, err error) func(int) error {
	return func(w int) error { return want(got == w, got, err) }
}
