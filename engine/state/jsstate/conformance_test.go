package jsstate_test

import (
	"testing"

	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/engine/state/jsstate"
	"github.com/roomwarden/roomwarden/engine/state/statetest"
	"github.com/roomwarden/roomwarden/internal/natstest"
)

// TestConformance runs the suite every Store passes, each test on a
// fresh server (label buckets are named by the suite).
func TestConformance(t *testing.T) {
	statetest.Run(t, func(t *testing.T) state.Store {
		return open(t, natstest.RunServer(t), jsstate.Config{})
	})
}

// TestReplicas runs the suite's concurrency tests with the callers
// spread over two Stores, each on its own connection, sharing one
// server: what replicas of the daemon do.
func TestReplicas(t *testing.T) {
	statetest.RunReplicas(t, func(t *testing.T) []state.Store {
		srv := natstest.RunServer(t)
		return []state.Store{open(t, srv, jsstate.Config{}), open(t, srv, jsstate.Config{})}
	})
}
