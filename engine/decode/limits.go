package decode

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Limits on the identifiers an event carries. Each is documented where
// Tencent documents one; the rest are bounds roomwarden chose.
const (
	// MaxRoomIDBytes is the longest room_id (and callback RoomId)
	// accepted. A Room Engine room id is "up to 48 bytes" (create_room,
	// field RoomId: https://trtc.io/document/60707 for conference rooms,
	// https://trtc.io/document/63401 for live rooms), so a longer one
	// names no room. engine.MaxRoomIDBytes, the limit on lock_seat's
	// RoomId, is the same figure.
	MaxRoomIDBytes = 48

	// MaxUserIDBytes is the longest user.id, seat.user_id and callback
	// Member_Account accepted. Room members are Tencent Chat accounts,
	// and a UserID is at most 32 bytes (Chat "Use Limits", UserID naming
	// rules: https://www.tencentcloud.com/document/product/1047/34381;
	// also account_import: https://trtc.io/document/34953).
	MaxUserIDBytes = 32

	// MaxEventIDBytes is the longest event "id" accepted. Event ids are
	// the producer's, so no Tencent limit applies: 256 bytes holds any
	// UUID, ULID or Nats-Msg-Id in use, and every id Events derives
	// from a callback (at most 226 bytes), while keeping the action log
	// and dead-letter lines that repeat the id short.
	MaxEventIDBytes = 256

	// maxCommandBytes is the longest CallbackCommand accepted (Tencent's
	// are about 35 bytes), so that an id derived from a callback stays
	// within MaxEventIDBytes.
	maxCommandBytes = 128

	// MaxSeatIndex is the highest seat index accepted (indexes start at
	// 0). Tencent documents no fixed maximum: a room's MaxSeatCount is
	// capped by its plan (create_room, https://trtc.io/document/60707).
	// The nearest documented figure is TRTC's cap of 50 users publishing
	// audio/video in one room at once, which is what a seat is for
	// (https://web.sdk.qcloud.com/trtc/webrtc/v5/doc/en/tutorial-04-info-uplink-limits.html).
	// 1,000 seats is 20 times that: no real seat is refused, while an
	// index such as 2^40 is. engine.MaxSeatIndex, the bound on the index
	// lock_seat is called with, is the same figure.
	MaxSeatIndex = 999

	// MaxCallbackMembers is the most accounts one member callback
	// (Room.CallbackAfterMemberEnter or Room.CallbackAfterMemberLeave) may
	// list; each becomes one event. Tencent sends these callbacks as
	// users join or leave (https://trtc.io/document/60735), and the
	// largest batch it documents is 300 members added to a group by one
	// call (https://trtc.io/document/34921), which is also all the users
	// TRTC's real-time (RTC) scene holds in one room
	// (https://trtc.io/document/64695). 1,000 is over three times that.
	// A live room's audience (up to 100,000) arrives over many callbacks,
	// never in one.
	MaxCallbackMembers = 1000
)

var errEmptyID = errors.New("empty")

// CheckID reports why id is not a valid identifier of at most maxBytes
// bytes, or returns nil. An identifier names something exactly (a room,
// an account, an event), so what could make two different ids look
// alike, or make one id stand for another, is refused:
//
//   - the empty string, and more than maxBytes bytes;
//   - invalid UTF-8;
//   - control characters: C0 (U+0000–U+001F), DEL (U+007F) and
//     C1 (U+0080–U+009F), so NUL, tab and newline among them;
//   - the bidirectional embedding, override and isolate characters
//     U+202A–U+202E and U+2066–U+2069 (the "Trojan Source" set, which
//     can make an id display as another);
//   - leading or trailing white space (unicode.IsSpace), and so an id
//     of white space only. Space inside an id is allowed.
//
// The error names the problem without the field, e.g.
// `10241 bytes, over the 48-byte limit`; callers prefix the field.
func CheckID(id string, maxBytes int) error {
	if id == "" {
		return errEmptyID
	}
	if len(id) > maxBytes {
		return fmt.Errorf("%d bytes, over the %d-byte limit", len(id), maxBytes)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c-' ' > '~'-' ' { // not printable ASCII
			return checkRest(id, i)
		}
	}
	if id[0] == ' ' || id[len(id)-1] == ' ' {
		return spaceError(id)
	}
	return nil
}

// checkRest is CheckID for an id whose bytes before from are printable
// ASCII.
func checkRest(id string, from int) error {
	for i := from; i < len(id); {
		r, size := utf8.DecodeRuneInString(id[i:])
		switch {
		case r < 0x20 || (r >= 0x7f && r <= 0x9f):
			return fmt.Errorf("control character %U at byte %d", r, i)
		case r == utf8.RuneError && size == 1:
			return fmt.Errorf("invalid UTF-8 at byte %d", i)
		case isBidiControl(r):
			return fmt.Errorf("bidirectional formatting character %U at byte %d (it can make an id display as another)", r, i)
		}
		i += size
	}
	first, _ := utf8.DecodeRuneInString(id)
	last, _ := utf8.DecodeLastRuneInString(id)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return spaceError(id)
	}
	return nil
}

func spaceError(id string) error {
	for _, r := range id {
		if !unicode.IsSpace(r) {
			return fmt.Errorf("leading or trailing white space in %q", id)
		}
	}
	return errors.New("white space only")
}

// isBidiControl reports whether r is an explicit bidirectional
// embedding, override or isolate character.
func isBidiControl(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

// idValue reads an identifier field: a string that CheckID accepts for
// maxBytes, written without lone surrogates; null leaves it absent ("").
func (s *scanner) idValue(p fieldPath, dst *string, maxBytes int) error {
	switch s.ws() {
	case '"':
		v, plain, err := s.idText()
		*dst = v
		switch {
		case err != nil:
			return err
		case plain && v != "" && len(v) <= maxBytes && v[0] != ' ' && v[len(v)-1] != ' ':
			return nil // CheckID would accept it
		case s.lone:
			return loneError(p)
		}
		return checkField(p, v, maxBytes)
	case 'n':
		*dst = ""
		return s.literal("null")
	}
	return s.wrongType(p, "string")
}

// checkField is CheckID with the field named in the *Error.
func checkField(p fieldPath, id string, maxBytes int) error {
	if err := CheckID(id, maxBytes); err != nil {
		if err == errEmptyID {
			return errorf("%s: empty string; send the id, or leave the field out (or null) when there is none", p)
		}
		return errorf("%s: %v", p, err)
	}
	return nil
}

func loneError(p fieldPath) *Error {
	return errorf(`%s: a \u escape holds a lone UTF-16 surrogate, which cannot stand for any character; send the id as UTF-8 or as a surrogate pair`, p)
}
