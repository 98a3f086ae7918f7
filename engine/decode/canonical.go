package decode

import (
	"errors"
	"time"

	"github.com/roomwarden/roomwarden/rules"
)

// errCallback stops canonical decoding at a top-level "CallbackCommand":
// the body is a Tencent callback.
var errCallback = errors.New("body is a tencent callback")

// isCallback reports whether data is an object with a top-level
// "CallbackCommand" key. Canonical decoding stops at the first error,
// maybe before reaching that key; then this tells a callback (whose other
// keys are free-form attrs) from a malformed canonical event.
func isCallback(data []byte) bool {
	s := scanner{data: data}
	if s.ws() != '{' {
		return false
	}
	err := s.object(func(key []byte) error {
		if string(key) == "CallbackCommand" {
			return errCallback
		}
		return s.skip()
	})
	return err == errCallback
}

// decodeCanonical decodes a canonical JSON event into ev. src is
// string(data) or "" (see shareLimit).
func decodeCanonical(data []byte, src string, ev *rules.Event) error {
	s := scanner{data: data, src: src}
	switch s.ws() {
	case '{':
	case 0:
		return errorf("empty body")
	default:
		return errorf("event: want JSON object, got %s", s.describe())
	}
	hasSeat := false
	if err := s.object(func(key []byte) error { return s.eventField(key, ev, &hasSeat) }); err != nil {
		return err
	}
	if s.ws(); s.pos != len(s.data) { // a NUL byte is not the end
		return s.syntaxError("want end of input after the event object")
	}
	return checkRequired(ev, hasSeat)
}

func (s *scanner) eventField(key []byte, ev *rules.Event, hasSeat *bool) error {
	switch string(key) {
	case "id":
		return s.idValue(field("id"), &ev.ID, MaxEventIDBytes)
	case "type":
		return s.stringValue(field("type"), &ev.Type)
	case "time":
		return s.timeValue(field("time"), &ev.Time)
	case "room_id":
		return s.idValue(field("room_id"), &ev.RoomID, MaxRoomIDBytes)
	case "user":
		return s.userValue(field("user"), &ev.User)
	case "seat":
		*hasSeat = s.ws() != 'n'
		return s.seatValue(field("seat"), &ev.Seat)
	case "seats":
		return s.seatsValue(field("seats"), &ev.Seats)
	case "attrs":
		return s.attrsValue(field("attrs"), &ev.Attrs)
	case "CallbackCommand":
		return errCallback
	}
	return s.skip()
}

// needsRoom reports whether events of type typ must name a room.
func needsRoom(typ string) bool {
	switch typ {
	case "member.enter", "member.leave", "seat.taken", "seat.left", "seat.changed":
		return true
	}
	return false
}

// needsSeat reports whether events of type typ must name a seat: rules
// act on the seat a user took or left.
func needsSeat(typ string) bool {
	return typ == "seat.taken" || typ == "seat.left"
}

func checkRequired(ev *rules.Event, hasSeat bool) error {
	if ev.Type == "" {
		return errorf(`missing "type"`)
	}
	if ev.RoomID == "" && needsRoom(ev.Type) {
		return errorf(`missing "room_id" (required for %s events)`, ev.Type)
	}
	if !hasSeat && needsSeat(ev.Type) {
		return errorf(`missing "seat" (required for %s events, e.g. "seat": {"index": 2})`, ev.Type)
	}
	return nil
}

// unixEpoch is the earliest event time accepted.
var unixEpoch = time.Unix(0, 0)

func (s *scanner) timeValue(p fieldPath, dst *time.Time) error {
	var v string
	if err := s.stringValue(p, &v); err != nil {
		return err
	}
	if v == "" {
		*dst = time.Time{}
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return errorf("%s: want an RFC 3339 timestamp like 2026-11-25T21:00:00Z, got %q", p, v)
	}
	if v < "1970-01-02" && t.Before(unixEpoch) { // the string test is cheaper
		return errorf(`%s: %s is before 1970; send the time the event happened, or leave "time" out to use the publish time`, p, v)
	}
	*dst = t
	return nil
}

func (s *scanner) userValue(p fieldPath, u *rules.User) error {
	*u = rules.User{}
	if s.null() {
		return nil
	}
	if s.ws() != '{' {
		return s.wrongType(p, "object")
	}
	return s.object(func(key []byte) error {
		switch string(key) {
		case "id":
			return s.idValue(p.child("id"), &u.ID, MaxUserIDBytes)
		case "flagged":
			return s.boolValue(p.child("flagged"), &u.Flagged)
		case "labels":
			return s.stringsValue("user.labels", &u.Labels)
		case "score":
			return s.floatValue(p.child("score"), &u.Score)
		}
		return s.skip()
	})
}

// seatValue reads a seat; p is "seat" or "seats[i]". A seat must have
// an index: without one it names no seat.
func (s *scanner) seatValue(p fieldPath, seat *rules.Seat) error {
	*seat = rules.Seat{}
	if s.null() {
		return nil
	}
	if s.ws() != '{' {
		return s.wrongType(p, "object")
	}
	hasIndex := false
	err := s.object(func(key []byte) (err error) {
		switch string(key) {
		case "index":
			hasIndex, err = s.seatIndexValue(p.child("index"), &seat.Index)
			return err
		case "user_id":
			return s.idValue(p.child("user_id"), &seat.UserID, MaxUserIDBytes)
		case "taken_disabled":
			return s.boolValue(p.child("taken_disabled"), &seat.TakenDisabled)
		case "video_disabled":
			return s.boolValue(p.child("video_disabled"), &seat.VideoDisabled)
		case "audio_disabled":
			return s.boolValue(p.child("audio_disabled"), &seat.AudioDisabled)
		}
		return s.skip()
	})
	if err == nil && !hasIndex {
		return errorf(`%s: missing "index"`, p)
	}
	return err
}

func (s *scanner) seatsValue(p fieldPath, dst *[]rules.Seat) error {
	*dst = nil
	if s.null() {
		return nil
	}
	if s.ws() != '[' {
		return s.wrongType(p, "array of seats")
	}
	*dst = []rules.Seat{}
	return s.array(func(i int) error {
		var seat rules.Seat
		if s.ws() == 'n' {
			return s.wrongType(elem(p.base, i), "object")
		}
		if err := s.seatValue(elem(p.base, i), &seat); err != nil {
			return err
		}
		*dst = append(*dst, seat)
		return nil
	})
}

func (s *scanner) attrsValue(p fieldPath, dst *map[string]any) error {
	*dst = nil
	if s.null() {
		return nil
	}
	if s.ws() != '{' {
		return s.wrongType(p, "object")
	}
	v, err := s.anyValue(p)
	if err != nil {
		return err
	}
	*dst = v.(map[string]any)
	return nil
}
