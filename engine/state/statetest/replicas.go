package statetest

import (
	"testing"

	"github.com/roomwarden/roomwarden/engine/state"
)

// OpenReplicas returns several stores over one fresh, empty state, as
// replicas of the daemon see it (each its own connection, say).
type OpenReplicas func(t *testing.T) []state.Store

// RunReplicas runs the suite's concurrency tests with their callers
// spread over the stores open returns: a cooldown is acquired once,
// every window count is seen once, a budget allows exactly its max, as
// with one store.
func RunReplicas(t *testing.T, open OpenReplicas) {
	t.Run("CooldownsConcurrent", func(t *testing.T) { testCooldownsConcurrent(t, open(t)...) })
	t.Run("WindowsConcurrent", func(t *testing.T) { testWindowsConcurrent(t, open(t)...) })
	t.Run("BudgetsConcurrent", func(t *testing.T) { testBudgetsConcurrent(t, open(t)...) })
}
