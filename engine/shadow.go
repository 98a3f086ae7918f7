package engine

import (
	"context"
	"time"

	"github.com/roomwarden/roomwarden/engine/state"
)

// shadowStore is the state of shadow rules: their own cooldowns,
// windows and budgets, apart from the live rules', so that a candidate
// never changes what the live rules see; and, read only, the live KV
// lists and the seats as they really are (locks and moderators'
// overrides), since a shadow rule's action is never run.
type shadowStore struct {
	state.Store             // the shadow rules' own
	live        state.Store // read only
}

// Members implements state.Labels from the live lists.
func (s shadowStore) Members(ctx context.Context, bucket string, now time.Time) (map[string]struct{}, error) {
	return s.live.Members(ctx, bucket, now)
}

// Held implements state.Seats from the live seats.
func (s shadowStore) Held(ctx context.Context, f state.SeatFlag) (state.Lock, bool, error) {
	return s.live.Held(ctx, f)
}

// OverriddenUntil implements state.Seats from the live overrides.
func (s shadowStore) OverriddenUntil(ctx context.Context, f state.SeatFlag, now time.Time) (time.Time, error) {
	return s.live.OverriddenUntil(ctx, f, now)
}

// Override does nothing: the live rules note moderators' overrides.
func (s shadowStore) Override(context.Context, state.SeatFlag, time.Time, time.Duration) (bool, error) {
	return false, nil
}
