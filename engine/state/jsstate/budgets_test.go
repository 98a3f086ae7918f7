package jsstate_test

import (
	"slices"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/engine/state/jsstate"
	"github.com/roomwarden/roomwarden/internal/natstest"
)

// TestBudgetTripsAgainAfterAnotherReplicaResets: a replica that tripped
// a rule, saw another replica reset it, and trips it again lists it as
// tripped again.
func TestBudgetTripsAgainAfterAnotherReplicaResets(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	a, b := open(t, srv, jsstate.Config{}), open(t, srv, jsstate.Config{})
	now := time.Now()
	trip := func() {
		t.Helper()
		for i, want := range []bool{true, false, false} {
			if err := wantBool(a.Spend(t.Context(), "r@v", 1, time.Minute, now))(want); err != nil {
				t.Fatalf("spend %d: %v", i+1, err)
			}
		}
		rules, err := b.Tripped(t.Context())
		if err != nil || !slices.Equal(rules, []string{"r@v"}) {
			t.Fatalf("tripped = %v, %v; want [r@v]", rules, err)
		}
	}
	trip()
	if err := b.Reset(t.Context(), "r@v"); err != nil {
		t.Fatal(err)
	}
	if rules, err := a.Tripped(t.Context()); err != nil || len(rules) != 0 {
		t.Fatalf("tripped after the reset = %v, %v; want none", rules, err)
	}
	trip()
}
