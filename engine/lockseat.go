package engine

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/roomwarden/roomwarden/engine/decode"
)

// Flag is a tri-state boolean: a rule either sets a lock_seat flag to
// true or false, or leaves it unset. Unset flags are never sent, because
// sending ForbidTaken:false when only audio was meant would unlock a seat.
// Flag is comparable, so LockSeat can key maps (coalescing, dedupe).
type Flag uint8

// Flag values. The zero value is Unset.
const (
	Unset Flag = iota
	False
	True
)

// FlagOf returns the set Flag for b.
func FlagOf(b bool) Flag {
	if b {
		return True
	}
	return False
}

// IsSet reports whether the rule set the flag.
func (f Flag) IsSet() bool { return f != Unset }

// Bool reports whether the flag is set to true.
func (f Flag) Bool() bool { return f == True }

// String returns "unset", "true" or "false".
func (f Flag) String() string {
	switch f {
	case True:
		return "true"
	case False:
		return "false"
	}
	return "unset"
}

// MarshalJSON encodes a set flag as a JSON bool and Unset as null.
// Use `omitzero` on struct fields so Unset flags are left out.
func (f Flag) MarshalJSON() ([]byte, error) {
	switch f {
	case True:
		return []byte("true"), nil
	case False:
		return []byte("false"), nil
	}
	return []byte("null"), nil
}

// UnmarshalJSON decodes a JSON bool or null.
func (f *Flag) UnmarshalJSON(b []byte) error {
	var v *bool
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("flag: %w", err)
	}
	*f = Unset
	if v != nil {
		*f = FlagOf(*v)
	}
	return nil
}

// LockSeat is the parameters of one lock_seat call: concrete values,
// with the flags the rule did not set left Unset (never sent).
type LockSeat struct {
	RoomID      string `json:"room_id"`
	Index       int    `json:"index"`
	ForbidTaken Flag   `json:"forbid_taken,omitzero"`
	ForbidVideo Flag   `json:"forbid_video,omitzero"`
	ForbidAudio Flag   `json:"forbid_audio,omitzero"`
}

// Limits on lock_seat's parameters (https://trtc.io/document/60716),
// which Validate checks before any call.
const (
	// MaxRoomIDBytes is the longest RoomId: a Room Engine room id is "up
	// to 48 bytes" (create_room, field RoomId:
	// https://trtc.io/document/60707 for conference rooms,
	// https://trtc.io/document/63401 for live rooms). Events are held to
	// the same limit when decoded (decode.MaxRoomIDBytes).
	MaxRoomIDBytes = 48

	// MaxSeatIndex is the highest seat Index sent; indexes start at 0.
	// Tencent documents no fixed maximum: lock_seat's Index is "the seat
	// position number", and a room's MaxSeatCount (create_room,
	// https://trtc.io/document/60707) is capped by the app's plan. This is
	// a bound roomwarden chose: the nearest documented figure is TRTC's
	// cap of 50 users publishing audio/video in one room at once, which
	// is what a seat is for
	// (https://web.sdk.qcloud.com/trtc/webrtc/v5/doc/en/tutorial-04-info-uplink-limits.html),
	// and 1,000 seats is 20 times that. Refusing a real seat would skip
	// a moderation action, while an index past a room's seats costs one
	// answer 100002 (bad parameter), so the bound is generous: what it
	// refuses is garbage such as 2^40. Events are held to the same bound
	// when decoded (decode.MaxSeatIndex).
	MaxSeatIndex = 999
)

// Validate reports why p must not be sent to the Room Engine, or nil.
// RoomId must be a valid identifier of at most MaxRoomIDBytes bytes (see
// decode.CheckID: not empty, no control or bidirectional formatting
// characters, no surrounding white space); Index must be 0 to
// MaxSeatIndex; and at least one of the Forbid flags must be set, or the
// call would change nothing. The error names the parameter, e.g.
// `room_id: 10241 bytes, over the 48-byte limit`.
func (p LockSeat) Validate() error {
	if err := decode.CheckID(p.RoomID, MaxRoomIDBytes); err != nil {
		return fmt.Errorf("room_id: %w", err)
	}
	if p.Index < 0 {
		return fmt.Errorf("index: %d is negative; seat indexes start at 0", p.Index)
	}
	if p.Index > MaxSeatIndex {
		return fmt.Errorf("index: %d is over %d, the highest seat index sent", p.Index, MaxSeatIndex)
	}
	if !p.ForbidTaken.IsSet() && !p.ForbidVideo.IsSet() && !p.ForbidAudio.IsSet() {
		return errNoFlag
	}
	return nil
}

var errNoFlag = errors.New("none of forbid_taken, forbid_video and forbid_audio is set: the call would change nothing")
