package jsstate

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// cooldownRecord is the value of c.<hash of key>.
type cooldownRecord struct {
	Key    string    `json:"key"`
	Origin string    `json:"origin,omitempty"`
	Until  time.Time `json:"until"`
}

func cooldownKey(key string) string { return keyHash("c", key) }

// Acquire implements state.Cooldowns. It first tries to create the key
// (one round trip when no cooldown runs); a cooldown that ended by now
// is replaced with compare-and-swap.
func (s *Store) Acquire(ctx context.Context, key, origin string, now time.Time, d time.Duration) (allowed bool, err error) {
	ctx, end := s.begin(ctx, "acquire")
	defer func() { err = end(err) }()
	next, err := json.Marshal(cooldownRecord{Key: key, Origin: origin, Until: now.Add(d)})
	if err != nil {
		return false, err
	}
	err = s.update(ctx, "acquire", cooldownKey(key), assumeAbsent, nil, func(cur record, _ bool) (change, error) {
		running, err := decodeCooldown(cur, now)
		if err != nil {
			return change{}, err
		}
		if running != nil {
			allowed = origin != "" && running.Origin == origin
			return change{}, nil
		}
		allowed = true
		return change{write: true, val: next, ttl: keyTTL(now, now.Add(d))}, nil
	})
	return allowed, err
}

// CoolingUntil implements state.Cooldowns.
func (s *Store) CoolingUntil(ctx context.Context, key string, now time.Time) (until time.Time, err error) {
	ctx, end := s.begin(ctx, "cooling_until")
	defer func() { err = end(err) }()
	cur, err := s.kv.get(ctx, cooldownKey(key))
	if err != nil {
		return time.Time{}, err
	}
	running, err := decodeCooldown(cur, now)
	if err != nil || running == nil {
		return time.Time{}, err
	}
	return running.Until, nil
}

// decodeCooldown returns the cooldown cur records if it still runs at
// now, else nil.
func decodeCooldown(cur record, now time.Time) (*cooldownRecord, error) {
	if cur.val == nil {
		return nil, nil
	}
	var c cooldownRecord
	if err := json.Unmarshal(cur.val, &c); err != nil {
		return nil, fmt.Errorf("cooldown record: %w", err)
	}
	if !now.Before(c.Until) {
		return nil, nil
	}
	return &c, nil
}
