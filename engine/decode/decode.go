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
// Two wire formats are accepted.
//
// Canonical JSON (see DESIGN.md, "Events"): an object with "type"
// (required, non-empty), "id", "time" (RFC 3339), "room_id", "user"
// {id, flagged, labels, score}, "seat" {index, user_id, taken_disabled,
// video_disabled, audio_disabled}, "seats" (a list of seats) and "attrs"
// (any object). "room_id" is required for member.enter, member.leave,
// seat.taken, seat.left and seat.changed. Absent fields stay zero: the
// pipeline fills a missing id (from Nats-Msg-Id or the stream sequence)
// and time. Keys are case-sensitive; unknown keys are ignored, so producers
// can add fields; a known key with a value of the wrong JSON type is an
// error naming the field. null counts as absent.
//
// Tencent Room Engine callback bodies, published as received (a top-level
// "CallbackCommand" marks one):
//
//   - Room.CallbackAfterMemberEnter and Room.CallbackAfterMemberLeave
//     become one member.enter or member.leave event per account in
//     MemberList_Account (plain accounts, numbers, or {"Member_Account": x}
//     objects; a "MemberList" of such objects is accepted too), with
//     room_id = RoomId and user.id = the account.
//   - Mic.CallbackAfterSeatInfoChanged becomes one seat.changed event with
//     seats = SeatList (Index → index, Member_Account → user_id, which may
//     arrive as a number, IsTakenDisabled/IsVideoDisabled/IsAudioDisabled →
//     taken_disabled/video_disabled/audio_disabled) and, when exactly one
//     seat is listed, seat = that seat.
//   - Any other command becomes one event whose type is the command itself
//     (e.g. Room.CallbackAfterDestroyRoom), with room_id = RoomId.
//
// For every callback: time = EventTime (milliseconds since the epoch; zero
// when absent); id = "<command>:<RoomId>:<EventTime>" plus ":<account>" for
// member events, so a redelivered callback keeps its ids; attrs = the whole
// body except MemberList_Account, MemberList and SeatList (so rules can
// read attrs.Type, attrs.Reason, attrs.MemberCount, ...), plus
// attrs.operator = Operator_Account when present.
//
// Before decoding, bodies over MaxEventBytes, invalid UTF-8 and JSON nested
// deeper than 64 levels are rejected.
func Events(data []byte, dst []rules.Event) ([]rules.Event, error) {
	if err := precheck(data); err != nil {
		return dst, err
	}
	dst = append(dst, rules.Event{})
	err := decodeCanonical(data, &dst[len(dst)-1])
	if err == nil {
		return dst, nil
	}
	dst[len(dst)-1] = rules.Event{}
	dst = dst[:len(dst)-1]
	if errors.Is(err, errCallback) {
		return decodeCallback(data, dst)
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
