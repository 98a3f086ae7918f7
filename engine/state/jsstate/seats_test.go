package jsstate

import (
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/engine/state"
)

// TestLockRecordsExpire: a lock record is kept LockMemory past its end
// (or past the lock, without end), not forever.
func TestLockRecordsExpire(t *testing.T) {
	s := &Store{cfg: Config{LockMemory: time.Hour}}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	timed := state.Lock{At: at, End: at.Add(10 * time.Minute)}
	if got := s.lockTTL(timed); got < 70*time.Minute || got > 71*time.Minute {
		t.Errorf("timed lock kept %v, want 10m + 1h (+ grace)", got)
	}
	if got := s.lockTTL(state.Lock{At: at}); got < time.Hour || got > 61*time.Minute {
		t.Errorf("lock without end kept %v, want 1h (+ grace)", got)
	}
}
