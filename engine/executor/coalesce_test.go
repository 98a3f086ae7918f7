package executor

import (
	"testing"

	"github.com/roomwarden/roomwarden/engine"
)

func TestCoalescer(t *testing.T) {
	co := newCoalescer()
	audio := coalesceKey{params: engine.LockSeat{RoomID: "r", Index: 1, ForbidAudio: engine.True}}
	unlock := coalesceKey{params: engine.LockSeat{RoomID: "r", Index: 1, ForbidAudio: engine.False}}
	dry := audio
	dry.dry = true
	w := func(rule string) execWaiter { return execWaiter{rule: rule} }

	first, leader := co.join(audio, w("a"))
	if !leader {
		t.Fatal("first join is not the leader")
	}
	steps := []struct {
		name       string
		key        coalesceKey
		wantLeader bool
	}{
		{name: "identical joins", key: audio, wantLeader: false},
		{name: "another identical joins", key: audio, wantLeader: false},
		{name: "different flag value leads", key: unlock, wantLeader: true},
		{name: "dry-run leads", key: dry, wantLeader: true},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			c, leader := co.join(s.key, w(s.name))
			if leader != s.wantLeader || (!leader && c != first) {
				t.Errorf("leader = %v (same call %v), want %v", leader, c == first, s.wantLeader)
			}
		})
	}
	ws := co.release(first)
	var got []string
	for _, w := range ws {
		got = append(got, w.rule)
	}
	if len(got) != 3 || got[0] != "a" {
		t.Errorf("released waiters %v, want a then the two identical ones", got)
	}
	if co.inFlight() != 2 {
		t.Errorf("in flight after release = %d, want 2", co.inFlight())
	}
	if _, leader := co.join(audio, w("late")); !leader {
		t.Error("join after release did not start a new call")
	}
}
