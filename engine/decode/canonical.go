package decode

import (
	"errors"
	"time"

	"github.com/roomwarden/roomwarden/rules"
)

// errCallback stops canonical decoding at a top-level "CallbackCommand":
// the body is a Tencent callback.
var errCallback = errors.New("body is a tencent callback")

// decodeCanonical decodes a canonical JSON event into ev.
func decodeCanonical(data []byte, ev *rules.Event) error {
	s := scanner{data: data}
	if len(data) <= shareLimit {
		s.src = string(data)
	}
	switch s.ws() {
	case '{':
	case 0:
		return errorf("empty body")
	default:
		return errorf("event: want JSON object, got %s", s.describe())
	}
	if err := s.object(func(key []byte) error { return s.eventField(key, ev) }); err != nil {
		return err
	}
	if s.ws(); s.pos != len(s.data) { // a NUL byte is not the end
		return s.syntaxError("want end of input after the event object")
	}
	return checkRequired(ev)
}

func (s *scanner) eventField(key []byte, ev *rules.Event) error {
	switch string(key) {
	case "id":
		return s.stringValue(field("id"), &ev.ID)
	case "type":
		return s.stringValue(field("type"), &ev.Type)
	case "time":
		return s.timeValue(field("time"), &ev.Time)
	case "room_id":
		return s.stringValue(field("room_id"), &ev.RoomID)
	case "user":
		return s.userValue(field("user"), &ev.User)
	case "seat":
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

func checkRequired(ev *rules.Event) error {
	if ev.Type == "" {
		return errorf(`missing "type"`)
	}
	if ev.RoomID == "" && needsRoom(ev.Type) {
		return errorf(`missing "room_id" (required for %s events)`, ev.Type)
	}
	return nil
}

func (s *scanner) timeValue(p fieldPath, dst *time.Time) error {
	var v string
	if err := s.stringValue(p, &v); err != nil {
		return err
	}
	if v == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return errorf("%s: want an RFC 3339 timestamp like 2026-11-25T21:00:00Z, got %q", p, v)
	}
	*dst = t
	return nil
}

func (s *scanner) userValue(p fieldPath, u *rules.User) error {
	if s.null() {
		return nil
	}
	if s.ws() != '{' {
		return s.wrongType(p, "object")
	}
	return s.object(func(key []byte) error {
		switch string(key) {
		case "id":
			return s.stringValue(field("user").child("id"), &u.ID)
		case "flagged":
			return s.boolValue(field("user").child("flagged"), &u.Flagged)
		case "labels":
			return s.stringsValue("user.labels", &u.Labels)
		case "score":
			return s.floatValue(field("user").child("score"), &u.Score)
		}
		return s.skip()
	})
}

// seatValue reads a seat; p is "seat" or "seats[i]".
func (s *scanner) seatValue(p fieldPath, seat *rules.Seat) error {
	if s.null() {
		return nil
	}
	if s.ws() != '{' {
		return s.wrongType(p, "object")
	}
	return s.object(func(key []byte) error {
		switch string(key) {
		case "index":
			return s.intValue(p.child("index"), &seat.Index)
		case "user_id":
			return s.stringValue(p.child("user_id"), &seat.UserID)
		case "taken_disabled":
			return s.boolValue(p.child("taken_disabled"), &seat.TakenDisabled)
		case "video_disabled":
			return s.boolValue(p.child("video_disabled"), &seat.VideoDisabled)
		case "audio_disabled":
			return s.boolValue(p.child("audio_disabled"), &seat.AudioDisabled)
		}
		return s.skip()
	})
}

func (s *scanner) seatsValue(p fieldPath, dst *[]rules.Seat) error {
	if s.null() {
		return nil
	}
	if s.ws() != '[' {
		return s.wrongType(p, "array of seats")
	}
	*dst = []rules.Seat{}
	return s.array(func(i int) error {
		var seat rules.Seat
		if err := s.seatValue(elem(p.base, i), &seat); err != nil {
			return err
		}
		*dst = append(*dst, seat)
		return nil
	})
}

func (s *scanner) attrsValue(p fieldPath, dst *map[string]any) error {
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
