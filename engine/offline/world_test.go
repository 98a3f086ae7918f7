package offline

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/rules"
)

// TestWorldSweeps: a long run keeps the window keys that are live, not
// every key it saw.
func TestWorldSweeps(t *testing.T) {
	set, err := rules.Compile(rules.Source{Path: "w.yaml", Data: []byte(`
windows:
  joins:
    on: [member.enter]
    key: event.user.id
    for: 1m
rules:
  - name: busy
    on: [member.enter]
    when: window("joins") > 5
    actions:
      - lock_seat: {room_id: event.room_id, index: 1, forbid_audio: true}
`)})
	if err != nil {
		t.Fatal(err)
	}
	w := New(Config{})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = sweepEvery + 1000
	for i := range n {
		id := strconv.Itoa(i)
		ev := rules.Event{ID: id, Type: "member.enter", RoomID: "r", User: rules.User{ID: "u" + id},
			Time: t0.Add(time.Duration(i) * time.Second)}
		if _, err := w.Decide(context.Background(), set, &ev, id, ev.Time); err != nil {
			t.Fatal(err)
		}
	}
	if keys := w.Store().Keys(); keys > 1100 {
		t.Errorf("%d window keys held after %d events a second apart in 1m windows, want at most the 1000 since the sweep and the live ones", keys, n)
	}
}
