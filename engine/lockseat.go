package engine

import (
	"encoding/json"
	"fmt"
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
