package decode

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/rules"
)

func TestCheckID(t *testing.T) {
	tests := []struct {
		name string
		id   string
		max  int
		want string // "" when valid
	}{
		{"plain", "room-1", 48, ""},
		{"inner space", "room 1", 48, ""},
		{"non-ASCII", "salle-é-😀", 48, ""},
		{"replacement character sent as such", "r\uFFFD", 48, ""},
		{"exactly the limit", strings.Repeat("a", 48), 48, ""},
		{"empty", "", 48, "empty"},
		{"over the limit", strings.Repeat("a", 10241), 48, "10241 bytes, over the 48-byte limit"},
		{"multi-byte over the limit", strings.Repeat("é", 25), 48, "50 bytes, over the 48-byte limit"},
		{"NUL", "r\x00", 48, "control character U+0000 at byte 1"},
		{"newline", "r\n1", 48, "control character U+000A at byte 1"},
		{"tab", "\tr", 48, "control character U+0009 at byte 0"},
		{"DEL", "r\x7f", 48, "control character U+007F at byte 1"},
		{"C1 NEL", "r\u0085", 48, "control character U+0085 at byte 1"},
		{"C1 CSI", "r\u009b", 48, "control character U+009B at byte 1"},
		{"RTL override", "r\u202e1", 48, "bidirectional formatting character U+202E at byte 1 (it can make an id display as another)"},
		{"LTR embedding", "\u202ar", 48, "bidirectional formatting character U+202A at byte 0 (it can make an id display as another)"},
		{"first strong isolate", "r\u2068", 48, "bidirectional formatting character U+2068 at byte 1 (it can make an id display as another)"},
		{"pop directional isolate", "r\u2069x", 48, "bidirectional formatting character U+2069 at byte 1 (it can make an id display as another)"},
		{"invalid UTF-8", "r\xff", 48, "invalid UTF-8 at byte 1"},
		{"surrogate as WTF-8", "r\xed\xa0\x80", 48, "invalid UTF-8 at byte 1"},
		{"whitespace only", "   ", 48, "white space only"},
		{"ideographic space only", "\u3000", 48, "white space only"},
		{"leading space", " r", 48, `leading or trailing white space in " r"`},
		{"trailing no-break space", "r\u00a0", 48, `leading or trailing white space in "r\u00a0"`},
		{"trailing line separator", "r\u2028", 48, `leading or trailing white space in "r\u2028"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckID(tc.id, tc.max)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("CheckID(%q, %d) = %q, want %q", tc.id, tc.max, got, tc.want)
			}
		})
	}
}

// refusedProbes are the values the issue 17 (item 9) probe sent and
// roomwarden acted on, and their neighbours, each with the reason Events
// must give. Each is also a seed of FuzzDecodeEvents
// (testdata/fuzz/FuzzDecodeEvents/probe-*, named after the case).
var refusedProbes = func() []struct{ name, data, want string } {
	long := strings.Repeat("r", 10241)
	return []struct{ name, data, want string }{
		// Canonical events.
		{"room_id of 10,241 characters", `{"type":"seat.taken","room_id":"` + long + `","seat":{"index":1}}`,
			"room_id: 10241 bytes, over the 48-byte limit"},
		{"room_id of white space only", `{"type":"seat.taken","room_id":"   ","seat":{"index":1}}`,
			"room_id: white space only"},
		{"room_id with a trailing space", `{"type":"user.flagged","room_id":"room-1 "}`,
			`room_id: leading or trailing white space in "room-1 "`},
		{"room_id with NUL", `{"type":"seat.taken","room_id":"room\u0000-1","seat":{"index":1}}`,
			"room_id: control character U+0000 at byte 4"},
		{"room_id with newline", `{"type":"seat.taken","room_id":"room\n1","seat":{"index":1}}`,
			"room_id: control character U+000A at byte 4"},
		{"room_id with RTL override", `{"type":"seat.taken","room_id":"room-\u202e1","seat":{"index":1}}`,
			"room_id: bidirectional formatting character U+202E at byte 5 (it can make an id display as another)"},
		{"room_id with a lone high surrogate", `{"type":"seat.taken","room_id":"\ud800","seat":{"index":1}}`,
			`room_id: a \u escape holds a lone UTF-16 surrogate, which cannot stand for any character; send the id as UTF-8 or as a surrogate pair`},
		{"room_id with a lone low surrogate", `{"type":"seat.taken","room_id":"r\udc00","seat":{"index":1}}`,
			`room_id: a \u escape holds a lone UTF-16 surrogate, which cannot stand for any character; send the id as UTF-8 or as a surrogate pair`},
		{"room_id with a high surrogate before a letter", `{"type":"seat.taken","room_id":"\ud83dx","seat":{"index":1}}`,
			`room_id: a \u escape holds a lone UTF-16 surrogate, which cannot stand for any character; send the id as UTF-8 or as a surrogate pair`},
		{"empty room_id", `{"type":"user.flagged","room_id":""}`,
			"room_id: empty string; send the id, or leave the field out (or null) when there is none"},
		{"seat.index 2^40", `{"type":"seat.taken","room_id":"r","seat":{"index":1099511627776}}`,
			"seat.index: 1099511627776 is over 999, the highest seat index accepted"},
		{"seat.index 2^63-1", `{"type":"seat.taken","room_id":"r","seat":{"index":9223372036854775807}}`,
			"seat.index: 9223372036854775807 is over 999, the highest seat index accepted"},
		{"seat.index 2^64", `{"type":"seat.taken","room_id":"r","seat":{"index":18446744073709551616}}`,
			"seat.index: want integer, got number 18446744073709551616"},
		{"seat.index -1", `{"type":"seat.taken","room_id":"r","seat":{"index":-1}}`,
			"seat.index: -1 is negative; seat indexes start at 0"},
		{"seats[i].index 1000", `{"type":"seat.changed","room_id":"r","seats":[{"index":0},{"index":1000}]}`,
			"seats[1].index: 1000 is over 999, the highest seat index accepted"},
		{"seat.taken without a seat", `{"type":"seat.taken","room_id":"r","user":{"id":"u1"}}`,
			`missing "seat" (required for seat.taken events, e.g. "seat": {"index": 2})`},
		{"seat.left with a null seat", `{"type":"seat.left","room_id":"r","seat":null}`,
			`missing "seat" (required for seat.left events, e.g. "seat": {"index": 2})`},
		{"seat.taken with a seat without an index", `{"type":"seat.taken","room_id":"r","seat":{"user_id":"u1"}}`,
			`seat: missing "index"`},
		{"time 0001-01-01T00:00:00Z", `{"type":"user.flagged","time":"0001-01-01T00:00:00Z"}`,
			`time: 0001-01-01T00:00:00Z is before 1970; send the time the event happened, or leave "time" out to use the publish time`},
		{"time before 1970", `{"type":"user.flagged","time":"1969-12-31T23:59:59.999Z"}`,
			`time: 1969-12-31T23:59:59.999Z is before 1970; send the time the event happened, or leave "time" out to use the publish time`},
		{"empty id", `{"id":"","type":"user.flagged"}`,
			"id: empty string; send the id, or leave the field out (or null) when there is none"},
		{"id over 256 bytes", `{"id":"` + strings.Repeat("e", 257) + `","type":"user.flagged"}`,
			"id: 257 bytes, over the 256-byte limit"},
		{"id with a lone surrogate", `{"id":"evt-\udfff","type":"user.flagged"}`,
			`id: a \u escape holds a lone UTF-16 surrogate, which cannot stand for any character; send the id as UTF-8 or as a surrogate pair`},
		{"user.id over 32 bytes", `{"type":"user.flagged","user":{"id":"` + strings.Repeat("u", 33) + `"}}`,
			"user.id: 33 bytes, over the 32-byte limit"},
		{"user.id with a pop-isolate", `{"type":"user.flagged","user":{"id":"u\u20691"}}`,
			"user.id: bidirectional formatting character U+2069 at byte 1 (it can make an id display as another)"},
		{"seat.user_id with C1 control", `{"type":"seat.taken","room_id":"r","seat":{"index":1,"user_id":"u\u00851"}}`,
			"seat.user_id: control character U+0085 at byte 1"},
		{"seats[i].user_id empty", `{"type":"seat.changed","room_id":"r","seats":[{"index":1,"user_id":""}]}`,
			"seats[0].user_id: empty string; send the id, or leave the field out (or null) when there is none"},

		// Tencent callbacks.
		{"callback RoomId of 10,241 characters", `{"CallbackCommand":"Mic.CallbackAfterSeatInfoChanged","RoomId":"` + long + `","SeatList":[]}`,
			"RoomId: 10241 bytes, over the 48-byte limit"},
		{"callback RoomId of white space only", `{"CallbackCommand":"Room.CallbackAfterMemberEnter","RoomId":" ","MemberList_Account":["u1"]}`,
			"RoomId: white space only"},
		{"callback RoomId with RTL override", `{"CallbackCommand":"Room.CallbackAfterDestroyRoom","RoomId":"\u202eroom"}`,
			"RoomId: bidirectional formatting character U+202E at byte 0 (it can make an id display as another)"},
		{"callback RoomId with a lone surrogate", `{"CallbackCommand":"Room.CallbackAfterMemberEnter","RoomId":"\ud800","MemberList_Account":["u1"]}`,
			`RoomId: a \u escape holds a lone UTF-16 surrogate, which cannot stand for any character; send the id as UTF-8 or as a surrogate pair`},
		{"callback member with NUL", `{"CallbackCommand":"Room.CallbackAfterMemberEnter","RoomId":"r","MemberList_Account":["u1","u\u0000"]}`,
			"MemberList_Account[1]: control character U+0000 at byte 1"},
		{"callback member object with a lone surrogate", `{"CallbackCommand":"Room.CallbackAfterMemberLeave","RoomId":"r","MemberList":[{"Member_Account":"\udbff"}]}`,
			`MemberList[0]: a \u escape holds a lone UTF-16 surrogate, which cannot stand for any character; send the id as UTF-8 or as a surrogate pair`},
		{"callback member over 32 bytes", `{"CallbackCommand":"Room.CallbackAfterMemberEnter","RoomId":"r","MemberList_Account":["` + strings.Repeat("m", 33) + `"]}`,
			"MemberList_Account[0]: 33 bytes, over the 32-byte limit"},
		{"callback seat Index 2^40", `{"CallbackCommand":"Mic.CallbackAfterSeatInfoChanged","RoomId":"r","SeatList":[{"Index":1099511627776}]}`,
			"SeatList[0].Index: 1099511627776 is over 999, the highest seat index accepted"},
		{"callback seat Index 2^63-1", `{"CallbackCommand":"Mic.CallbackAfterSeatInfoChanged","RoomId":"r","SeatList":[{"Index":9223372036854775807}]}`,
			"SeatList[0].Index: 9223372036854775807 is over 999, the highest seat index accepted"},
		{"callback seat Index -1", `{"CallbackCommand":"Mic.CallbackAfterSeatInfoChanged","RoomId":"r","SeatList":[{"Index":-1}]}`,
			"SeatList[0].Index: -1 is negative; seat indexes start at 0"},
		{"callback seat without Index", `{"CallbackCommand":"Mic.CallbackAfterSeatInfoChanged","RoomId":"r","SeatList":[{"Index":0},{"Member_Account":"u1"}]}`,
			`SeatList[1]: missing "Index"`},
		{"callback seat member with newline", `{"CallbackCommand":"Mic.CallbackAfterSeatInfoChanged","RoomId":"r","SeatList":[{"Index":1,"Member_Account":"u\n"}]}`,
			"SeatList[0].Member_Account: control character U+000A at byte 1"},
		{"callback EventTime 0", `{"CallbackCommand":"Room.CallbackAfterDestroyRoom","RoomId":"r","EventTime":0}`,
			"EventTime: 0 is not a time in milliseconds between 1970 and 9999; send the time the callback was made, or leave EventTime out"},
		{"callback EventTime -1", `{"CallbackCommand":"Room.CallbackAfterDestroyRoom","RoomId":"r","EventTime":-1}`,
			"EventTime: -1 is not a time in milliseconds between 1970 and 9999; send the time the callback was made, or leave EventTime out"},
		{"callback EventTime after 9999", `{"CallbackCommand":"Room.CallbackAfterDestroyRoom","RoomId":"r","EventTime":253402300800000}`,
			"EventTime: 253402300800000 is not a time in milliseconds between 1970 and 9999; send the time the callback was made, or leave EventTime out"},
		{"callback command with newline", `{"CallbackCommand":"Room.Callback\nX","RoomId":"r"}`,
			"CallbackCommand: control character U+000A at byte 13"},
		{"callback member list over the limit", string(probeCallback(MaxCallbackMembers+1, 0)),
			"Room.CallbackAfterMemberEnter: 1001 members, over the limit of 1000 per callback (MemberList_Account and MemberList together); send them in several callbacks"},
	}
}()

// TestDecodeRefusesProbes: each of refusedProbes is refused with a
// reason that says what to fix.
func TestDecodeRefusesProbes(t *testing.T) {
	for _, tc := range refusedProbes {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := Events([]byte(tc.data), nil)
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("err = %v (%T), want *Error; events %+v", err, err, evs)
			}
			if de.Reason != tc.want {
				t.Errorf("reason\n got %s\nwant %s", de.Reason, tc.want)
			}
		})
	}
}

// TestDecodeAcceptsAtLimits: the values next to each refused one are
// accepted, exactly.
func TestDecodeAcceptsAtLimits(t *testing.T) {
	room48 := strings.Repeat("r", MaxRoomIDBytes)
	user32 := strings.Repeat("u", MaxUserIDBytes)
	id256 := strings.Repeat("e", MaxEventIDBytes)
	tests := []struct {
		name string
		data string
		want rules.Event
	}{
		{"longest ids, highest seat, 1970",
			`{"id":"` + id256 + `","type":"seat.taken","time":"1970-01-01T00:00:00Z","room_id":"` + room48 + `","user":{"id":"` + user32 + `"},"seat":{"index":999,"user_id":"` + user32 + `"}}`,
			rules.Event{ID: id256, Type: "seat.taken", Time: time.Unix(0, 0).UTC(), RoomID: room48,
				User: rules.User{ID: user32}, Seat: rules.Seat{Index: 999, UserID: user32}}},
		{"inner space, non-ASCII, surrogate pair and U+FFFD in ids",
			`{"type":"seat.left","room_id":"salle \u00e9 \ud83d\ude00","user":{"id":"u\ufffd"},"seat":{"index":0}}`,
			rules.Event{Type: "seat.left", RoomID: "salle é 😀", User: rules.User{ID: "u\uFFFD"}}},
		{"control and bidi characters in free-form strings are kept",
			`{"type":"x\u202e","user":{"labels":["a\u0000b","\ud800"]},"attrs":{"note":"\u202e\n"}}`,
			rules.Event{Type: "x\u202e", User: rules.User{Labels: []string{"a\x00b", "\uFFFD"}},
				Attrs: map[string]any{"note": "\u202e\n"}}},
		{"callback: highest seat, empty seat, numeric account",
			`{"CallbackCommand":"Mic.CallbackAfterSeatInfoChanged","RoomId":"` + room48 + `","EventTime":1,"SeatList":[{"Index":999,"Member_Account":""},{"Index":0,"Member_Account":10086},{"Index":1,"Member_Account":null}]}`,
			rules.Event{ID: "Mic.CallbackAfterSeatInfoChanged:" + room48 + ":1", Type: "seat.changed",
				Time: time.UnixMilli(1).UTC(), RoomID: room48,
				Seats: []rules.Seat{{Index: 999}, {Index: 0, UserID: "10086"}, {Index: 1}},
				Attrs: map[string]any{"CallbackCommand": "Mic.CallbackAfterSeatInfoChanged", "RoomId": room48, "EventTime": 1.0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := decodeOK(t, []byte(tc.data))
			if len(got) != 1 {
				t.Fatalf("got %d events, want 1", len(got))
			}
			if !reflect.DeepEqual(got[0], tc.want) {
				t.Errorf("got  %+v\nwant %+v", got[0], tc.want)
			}
		})
	}
	evs := decodeOK(t, probeCallback(MaxCallbackMembers, 0))
	if len(evs) != MaxCallbackMembers {
		t.Errorf("a callback of %d members decoded to %d events", MaxCallbackMembers, len(evs))
	}
}
