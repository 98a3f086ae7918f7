package decode

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/roomwarden/roomwarden/rules"
)

// MaxEventBytes is the largest event body Events accepts.
const MaxEventBytes = 1 << 20

// maxDepth is the deepest JSON nesting Events accepts; the event
// object itself is depth 1.
const maxDepth = 64

// Error says why an event body could not be decoded. Reason is
// specific enough to fix the producer, for example
// `seat.index: want integer, got string "two"`. An Error means the
// body will never decode: dead-letter it and move on.
type Error struct {
	Reason string
}

func (e *Error) Error() string { return "malformed event: " + e.Reason }

func errorf(format string, args ...any) *Error {
	return &Error{Reason: fmt.Sprintf(format, args...)}
}

// Events decodes one message body and appends the events it holds to
// dst. Every error it returns is a *Error; on error dst is returned
// unchanged.
//
// Two wire formats are accepted; a top-level "CallbackCommand" key marks
// a Tencent callback, anything else is canonical.
//
// Canonical JSON (see DESIGN.md, "Events"): an object with "type"
// (required, non-empty), "id", "time" (RFC 3339), "room_id", "user"
// {id, flagged, labels, score}, "seat" {index, user_id, taken_disabled,
// video_disabled, audio_disabled}, "seats" (a list of seats) and "attrs"
// (any object). "room_id" is required for member.enter, member.leave,
// seat.taken, seat.left and seat.changed; "seat" is required for
// seat.taken and seat.left, which rules act on by seat. Absent fields
// stay zero: the pipeline fills a missing id (from Nats-Msg-Id or the
// stream sequence) and time. Keys are case-sensitive; unknown keys are
// ignored, so producers can add fields; a known key with a value of the
// wrong JSON type is an error naming the field. null counts as absent;
// of duplicate keys the last wins.
//
// What a rule could act on wrongly is refused rather than guessed:
//
//   - "id", "room_id", "user.id" and "seat.user_id" are identifiers:
//     when present, each must pass CheckID (not empty, no control or
//     bidirectional formatting characters, no surrounding white space)
//     within MaxEventIDBytes, MaxRoomIDBytes or MaxUserIDBytes, and must
//     not hold a lone UTF-16 surrogate escape ("\ud800"): decoding one
//     as U+FFFD would name a different room or account than the
//     producer did. Free-form strings ("type", labels, attrs) keep
//     encoding/json's behaviour and decode a lone surrogate as U+FFFD.
//   - a seat (in "seat" or "seats") must have an "index", from 0 to
//     MaxSeatIndex.
//   - "time" must not be before 1970 (0001-01-01T00:00:00Z is the zero
//     time of some encoders, not the event's); "" counts as absent.
//
// Tencent Room Engine callback bodies, published as received:
//
//   - Room.CallbackAfterMemberEnter and Room.CallbackAfterMemberLeave
//     become one member.enter or member.leave event per account in
//     MemberList_Account, then in MemberList (plain accounts, numbers,
//     or {"Member_Account": x} objects), with room_id = RoomId and
//     user.id = the account. RoomId and at least one account are
//     required, and at most MaxCallbackMembers accounts.
//   - Mic.CallbackAfterSeatInfoChanged becomes one seat.changed event with
//     seats = SeatList (Index → index, Member_Account → user_id, which may
//     arrive as a number, "" or null for an empty seat,
//     IsTakenDisabled/IsVideoDisabled/IsAudioDisabled →
//     taken_disabled/video_disabled/audio_disabled) and, when exactly one
//     seat is listed, seat = that seat. RoomId is required, and an Index
//     in every seat.
//   - Any other command becomes one event whose type is the command itself
//     (e.g. Room.CallbackAfterDestroyRoom), with room_id = RoomId.
//
// For every callback: time = EventTime (milliseconds since 1970; absent
// or null leaves the time to the pipeline); id =
// "<command>:<RoomId>:<EventTime>", plus ":<account>" for member events,
// so a redelivered callback keeps its ids; without an EventTime the id is
// left empty, and the pipeline names each event after the stored message
// (its Nats-Msg-Id or stream sequence, plus "#i" for the i-th event), so
// two callbacks never share an id. attrs = the whole body except
// MemberList_Account, MemberList and SeatList (so rules can read
// attrs.Type, attrs.Reason, attrs.MemberCount, ...), plus attrs.operator
// = Operator_Account when present. The events of one callback share one
// attrs map: like every event's attrs, it must be treated as read-only.
// Callback keys are case-sensitive, as Tencent sends them. RoomId,
// Member_Account and the accounts in the member lists follow the
// identifier rules above (a string or a number; "" and null are
// absent); CallbackCommand is at most 128 bytes and follows them too;
// EventTime, when present, is between 1970 and year 9999.
//
// Before decoding, bodies over MaxEventBytes, invalid UTF-8 and JSON nested
// deeper than 64 levels are rejected.
func Events(data []byte, dst []rules.Event) ([]rules.Event, error) {
	if err := precheck(data); err != nil {
		return dst, err
	}
	var src string
	if len(data) <= shareLimit {
		src = string(data)
	}
	dst = append(dst, rules.Event{})
	err := decodeCanonical(data, src, &dst[len(dst)-1])
	if err == nil {
		return dst, nil
	}
	dst[len(dst)-1] = rules.Event{}
	dst = dst[:len(dst)-1]
	if errors.Is(err, errCallback) || isCallback(data) {
		return decodeCallback(data, src, dst)
	}
	return dst, err
}

// precheck rejects bodies that must not reach a JSON decoder at all.
func precheck(data []byte) error {
	if len(data) > MaxEventBytes {
		return errorf("event is %d bytes, over the 1 MiB limit", len(data))
	}
	if !utf8.Valid(data) {
		return errorf("invalid UTF-8 at byte %d", firstInvalidUTF8(data))
	}
	return nil
}

func firstInvalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(data)
}
