package state_test

import (
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/engine/state/statetest"
)

func TestMemoryConformance(t *testing.T) {
	statetest.Run(t, func(*testing.T) state.Store { return state.NewMemory(0) })
}

// TestMemoryDue: the undos a simulated clock reaches, soonest first.
func TestMemoryDue(t *testing.T) {
	m := state.NewMemory(0)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, end := range []time.Duration{10 * time.Minute, 5 * time.Minute, 0} {
		l := state.Lock{SeatFlag: state.SeatFlag{RoomID: "r", Index: i, Flag: "audio"}, At: t0}
		if end > 0 {
			l.End = t0.Add(end)
		}
		if _, err := m.Locked(t.Context(), l); err != nil {
			t.Fatal(err)
		}
	}
	if due := m.Due(t0.Add(4 * time.Minute)); len(due) != 0 {
		t.Errorf("due at +4m: %+v, want none", due)
	}
	due := m.Due(t0.Add(10 * time.Minute))
	if len(due) != 2 || due[0].Index != 1 || due[1].Index != 0 {
		t.Errorf("due at +10m: %+v, want seat 1 then seat 0", due)
	}
}
