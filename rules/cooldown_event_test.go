package rules

import (
	"testing"
	"time"
)

// TestCooldownsAllowEvent checks that the event that started a cooldown
// is allowed again (a redelivery whose outcome was not recorded) while
// other events, and events without an id, are suppressed.
func TestCooldownsAllowEvent(t *testing.T) {
	c := NewCooldowns(0)
	steps := []struct {
		name  string
		event string
		at    time.Duration
		want  bool
	}{
		{"first event starts the cooldown", "e1", 0, true},
		{"another event is suppressed", "e2", 10 * time.Second, false},
		{"the same event redelivered acts", "e1", 20 * time.Second, true},
		{"an event without id is suppressed", "", 30 * time.Second, false},
		{"the redelivery did not extend it", "e2", 60 * time.Second, true},
		{"now e2 owns it", "e1", 61 * time.Second, false},
		{"and e2 redelivered acts", "e2", 62 * time.Second, true},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if got := c.AllowEvent("r", "k", st.event, t0.Add(st.at), time.Minute); got != st.want {
				t.Errorf("AllowEvent(r, k, %q, +%v) = %v, want %v", st.event, st.at, got, st.want)
			}
		})
	}
}

// TestEvalRedeliveredEventNotSuppressed evaluates the same event twice,
// as a redelivery would, and a different event for the same key.
func TestEvalRedeliveredEventNotSuppressed(t *testing.T) {
	s := mustCompile(t, `rules:
  - name: r
    on: [a]
    when: "true"
    actions: [{lock_seat: {room_id: event.room_id, index: 1, forbid_audio: true}}]
    cooldown: {key: event.room_id, for: 1m}
`)
	e := NewEvaluator(NewCooldowns(0))
	tests := []struct {
		name, id       string
		wantSuppressed bool
	}{
		{"first delivery", "ev-1", false},
		{"redelivery of the same event", "ev-1", false},
		{"another event in the same room", "ev-2", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms := e.Eval(s, &Event{ID: tc.id, Type: "a", RoomID: "room"}, t0, nil)
			if len(ms) != 1 || ms[0].Err != nil || ms[0].Suppressed != tc.wantSuppressed {
				t.Errorf("matches = %+v, want one with Suppressed %v", ms, tc.wantSuppressed)
			}
		})
	}
}
