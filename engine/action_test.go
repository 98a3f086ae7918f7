package engine

import (
	"encoding/json"
	"testing"
	"time"
)

// TestOutcomeJSON: an action log line carries its action's parameters as
// params, and reads back the same.
func TestOutcomeJSON(t *testing.T) {
	at := time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		o    Outcome
		want string
	}{
		{"lock_seat", Outcome{Time: at, Rule: "r", EventID: "e", Action: ActionLockSeat,
			Params: LockSeat{RoomID: "room", Index: 0, ForbidAudio: True}, For: "10m0s", Outcome: Succeeded, Attempts: 1},
			`{"time":"2026-11-25T21:00:00Z","rule":"r","event_id":"e","action":"lock_seat","params":{"room_id":"room","index":0,"forbid_audio":true},"for":"10m0s","outcome":"succeeded","attempts":1,"latency_ms":0}`},
		{"label", Outcome{Time: at, Rule: "r", EventID: "e", Action: ActionLabel,
			Label: Label{List: "watched", Bucket: "watched_users", Member: "u1"}, Outcome: Succeeded},
			`{"time":"2026-11-25T21:00:00Z","rule":"r","event_id":"e","action":"label","params":{"list":"watched","bucket":"watched_users","member":"u1"},"outcome":"succeeded","attempts":0,"latency_ms":0}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("got  %s\nwant %s", b, tc.want)
			}
			var back Outcome
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if back != tc.o {
				t.Errorf("read back %+v, want %+v", back, tc.o)
			}
		})
	}
}
