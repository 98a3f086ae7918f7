package state_test

import (
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/engine/state"
)

// TestMemorySweep: a sweep forgets what expired and nothing else.
func TestMemorySweep(t *testing.T) {
	ctx := t.Context()
	m := state.NewMemory(0)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	feed := func(key, id string, at time.Time) {
		if _, err := m.Feed(ctx, state.Feed{Window: "w", Key: key, EventID: id, Span: time.Minute, At: at}, false); err != nil {
			t.Fatal(err)
		}
	}
	feed("old", "e1", t0)
	feed("live", "e2", t0.Add(30*time.Second))
	feed("live", "e3", t0.Add(90*time.Second))
	_ = m.AddMember(ctx, "b", "expired", t0, time.Minute)
	_ = m.AddMember(ctx, "b", "forever", t0, 0)
	f := state.SeatFlag{RoomID: "r", Index: 1, Flag: "audio"}
	if _, err := m.Locked(ctx, state.Lock{SeatFlag: f, At: t0}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Override(ctx, f, t0, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := m.Keys(); got != 5 {
		t.Fatalf("held before the sweep: %d, want 5 (2 window keys, 2 members, 1 override)", got)
	}
	now := t0.Add(100 * time.Second)
	if got := m.Sweep(now); got != 2 {
		t.Errorf("held after the sweep: %d, want 2 (the live window key, the member without expiry)", got)
	}
	if n, _ := m.Count(ctx, "w", "live", time.Minute, false, now); n != 1 {
		t.Errorf("live window after the sweep: %d, want 1 (e3)", n)
	}
	if members, _ := m.Members(ctx, "b", now); len(members) != 1 {
		t.Errorf("members after the sweep: %v, want forever", members)
	}
}

// TestMemoryDueUntilUnlocked: a due undo is due again until it is
// unlocked.
func TestMemoryDueUntilUnlocked(t *testing.T) {
	m := state.NewMemory(0)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := state.Lock{SeatFlag: state.SeatFlag{RoomID: "r", Index: 1, Flag: "audio"}, At: t0, End: t0.Add(time.Minute)}
	if _, err := m.Locked(t.Context(), l); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if due := m.Due(t0.Add(2 * time.Minute)); len(due) != 1 {
			t.Fatalf("call %d: due %+v, want the lock", i, due)
		}
	}
	_ = m.Unlocked(t.Context(), l.SeatFlag, l.End)
	if due := m.Due(t0.Add(3 * time.Minute)); len(due) != 0 {
		t.Errorf("due after the unlock: %+v, want none", due)
	}
}
