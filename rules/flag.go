package rules

// Flag is a rendered lock_seat flag: set to true or false by the rule,
// or left unset. The engine never sends an unset flag, because sending
// ForbidTaken:false when only audio was meant would unlock a seat.
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

// LockSeat is a rendered lock_seat action: concrete values, with the
// flags the rule did not set left Unset.
type LockSeat struct {
	RoomID      string
	Index       int
	ForbidTaken Flag
	ForbidVideo Flag
	ForbidAudio Flag
}
