package engine

import (
	"strings"
	"testing"

	"github.com/roomwarden/roomwarden/engine/decode"
)

func TestLockSeatValidate(t *testing.T) {
	ok := LockSeat{RoomID: "room-1", Index: 2, ForbidAudio: True}
	with := func(change func(*LockSeat)) LockSeat {
		p := ok
		change(&p)
		return p
	}
	tests := []struct {
		name string
		p    LockSeat
		want string // "" when valid
	}{
		{"valid", ok, ""},
		{"seat zero, unlock only", with(func(p *LockSeat) { p.Index, p.ForbidAudio, p.ForbidTaken = 0, Unset, False }), ""},
		{"highest seat, longest room id", with(func(p *LockSeat) { p.Index, p.RoomID = MaxSeatIndex, strings.Repeat("r", 48) }), ""},
		{"inner space and non-ASCII room id", with(func(p *LockSeat) { p.RoomID = "salle é 1" }), ""},
		{"empty room id", with(func(p *LockSeat) { p.RoomID = "" }), "room_id: empty"},
		{"room id of 10,241 characters", with(func(p *LockSeat) { p.RoomID = strings.Repeat("r", 10241) }),
			"room_id: 10241 bytes, over the 48-byte limit"},
		{"room id of 49 bytes", with(func(p *LockSeat) { p.RoomID = strings.Repeat("é", 24) + "r" }),
			"room_id: 49 bytes, over the 48-byte limit"},
		{"room id of white space only", with(func(p *LockSeat) { p.RoomID = " \t " }),
			"room_id: control character U+0009 at byte 1"},
		{"room id of spaces only", with(func(p *LockSeat) { p.RoomID = "   " }), "room_id: white space only"},
		{"room id with a trailing space", with(func(p *LockSeat) { p.RoomID = "room-1 " }),
			`room_id: leading or trailing white space in "room-1 "`},
		{"room id with NUL", with(func(p *LockSeat) { p.RoomID = "room\x001" }), "room_id: control character U+0000 at byte 4"},
		{"room id with newline", with(func(p *LockSeat) { p.RoomID = "room\n1" }), "room_id: control character U+000A at byte 4"},
		{"room id with DEL", with(func(p *LockSeat) { p.RoomID = "room\x7f" }), "room_id: control character U+007F at byte 4"},
		{"room id with C1 control", with(func(p *LockSeat) { p.RoomID = "room\u0085" }), "room_id: control character U+0085 at byte 4"},
		{"room id with RTL override", with(func(p *LockSeat) { p.RoomID = "room-\u202e1" }),
			"room_id: bidirectional formatting character U+202E at byte 5 (it can make an id display as another)"},
		{"room id with isolate", with(func(p *LockSeat) { p.RoomID = "\u2066room" }),
			"room_id: bidirectional formatting character U+2066 at byte 0 (it can make an id display as another)"},
		{"room id with U+FFFD from a lone surrogate", with(func(p *LockSeat) { p.RoomID = "\uFFFD" }), ""},
		{"room id of invalid UTF-8", with(func(p *LockSeat) { p.RoomID = "room\xff" }), "room_id: invalid UTF-8 at byte 4"},
		{"index -1", with(func(p *LockSeat) { p.Index = -1 }), "index: -1 is negative; seat indexes start at 0"},
		{"index 1000", with(func(p *LockSeat) { p.Index = MaxSeatIndex + 1 }), "index: 1000 is over 999, the highest seat index sent"},
		{"index 2^40", with(func(p *LockSeat) { p.Index = 1 << 40 }), "index: 1099511627776 is over 999, the highest seat index sent"},
		{"index 2^63-1", with(func(p *LockSeat) { p.Index = 1<<63 - 1 }), "index: 9223372036854775807 is over 999, the highest seat index sent"},
		{"no flag set", with(func(p *LockSeat) { p.ForbidAudio = Unset }),
			"none of forbid_taken, forbid_video and forbid_audio is set: the call would change nothing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if err := tc.p.Validate(); err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("Validate(%+v)\n got %q\nwant %q", tc.p, got, tc.want)
			}
		})
	}
}

// TestLockSeatLimitsMatchDecode: an event that decodes names a room and a
// seat a lock_seat may be sent for.
func TestLockSeatLimitsMatchDecode(t *testing.T) {
	if MaxRoomIDBytes != decode.MaxRoomIDBytes || MaxSeatIndex != decode.MaxSeatIndex {
		t.Errorf("lock_seat limits (room id %d bytes, seat %d) differ from the decoder's (%d, %d)",
			MaxRoomIDBytes, MaxSeatIndex, decode.MaxRoomIDBytes, decode.MaxSeatIndex)
	}
}
