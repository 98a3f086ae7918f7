package engine

import (
	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/rules"
)

// EventSeatChanged is the event type whose seat states can show a
// moderator's override.
const EventSeatChanged = "seat.changed"

// clearedFlags lists the seat flags that a seat.changed event shows
// cleared by someone other than roomwarden's own identifier: candidate
// overrides (they are overrides if roomwarden held the flag locked). The
// operator is attrs.operator (the Tencent callback's Operator_Account);
// an event without one is not an override.
func clearedFlags(ev *rules.Event, identifier string) []state.SeatFlag {
	if ev.Type != EventSeatChanged {
		return nil
	}
	op, _ := ev.Attrs["operator"].(string)
	if op == "" || op == identifier {
		return nil
	}
	seats := ev.Seats
	if len(seats) == 0 {
		seats = []rules.Seat{ev.Seat}
	}
	var out []state.SeatFlag
	for _, s := range seats {
		for _, f := range []struct {
			name     string
			disabled bool
		}{{FlagTaken, s.TakenDisabled}, {FlagVideo, s.VideoDisabled}, {FlagAudio, s.AudioDisabled}} {
			if !f.disabled {
				out = append(out, state.SeatFlag{RoomID: ev.RoomID, Index: s.Index, Flag: f.name})
			}
		}
	}
	return out
}
