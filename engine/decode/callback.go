package decode

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"time"

	"github.com/roomwarden/roomwarden/rules"
)

// Tencent Room Engine callback commands with a dedicated mapping.
const (
	cmdMemberEnter  = "Room.CallbackAfterMemberEnter"
	cmdMemberLeave  = "Room.CallbackAfterMemberLeave"
	cmdSeatsChanged = "Mic.CallbackAfterSeatInfoChanged"
)

// callbackBody is the part of a callback body the mapping reads.
type callbackBody struct {
	Command    string           `json:"CallbackCommand"`
	RoomID     looseString      `json:"RoomId"`
	Operator   looseString      `json:"Operator_Account"`
	EventTime  int64            `json:"EventTime"`
	Accounts   []callbackMember `json:"MemberList_Account"`
	MemberList []callbackMember `json:"MemberList"`
	Seats      []callbackSeat   `json:"SeatList"`
}

type callbackSeat struct {
	Index         int         `json:"Index"`
	Member        looseString `json:"Member_Account"`
	TakenDisabled bool        `json:"IsTakenDisabled"`
	VideoDisabled bool        `json:"IsVideoDisabled"`
	AudioDisabled bool        `json:"IsAudioDisabled"`
}

// decodeCallback maps a Tencent callback body to canonical events; see
// Events for the mapping.
func decodeCallback(data []byte, dst []rules.Event) ([]rules.Event, error) {
	if err := validate(data); err != nil {
		return dst, err
	}
	var body callbackBody
	if err := json.Unmarshal(data, &body); err != nil {
		return dst, callbackError(err)
	}
	cmd := body.Command
	if cmd == "" {
		return dst, errorf("CallbackCommand is empty")
	}
	var attrs map[string]any
	if err := json.Unmarshal(data, &attrs); err != nil {
		return dst, callbackError(err)
	}
	delete(attrs, "MemberList_Account")
	delete(attrs, "MemberList")
	delete(attrs, "SeatList")
	if body.Operator != "" {
		attrs["operator"] = string(body.Operator)
	}
	base := rules.Event{
		ID:     fmt.Sprintf("%s:%s:%d", cmd, body.RoomID, body.EventTime),
		Type:   cmd,
		Time:   callbackTime(body.EventTime),
		RoomID: string(body.RoomID),
		Attrs:  attrs,
	}
	switch cmd {
	case cmdMemberEnter:
		return memberEvents(body, base, "member.enter", dst)
	case cmdMemberLeave:
		return memberEvents(body, base, "member.leave", dst)
	case cmdSeatsChanged:
		return seatEvent(body, base, dst)
	}
	return append(dst, base), nil
}

// validate checks the whole body's syntax and depth before encoding/json
// sees it.
func validate(data []byte) error {
	s := scanner{data: data}
	if err := s.skip(); err != nil {
		return err
	}
	if s.ws(); s.pos != len(s.data) { // a NUL byte is not the end
		return s.syntaxError("want end of input after the event object")
	}
	return nil
}

func callbackTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// memberEvents appends one event per member; each gets its own copy of
// attrs so a consumer changing one cannot affect the others.
func memberEvents(body callbackBody, base rules.Event, typ string, dst []rules.Event) ([]rules.Event, error) {
	if base.RoomID == "" {
		return dst, errorf(`%s: missing "RoomId"`, base.Type)
	}
	members := append(body.Accounts, body.MemberList...)
	if len(members) == 0 {
		return dst, errorf(`%s: MemberList_Account is missing or empty`, base.Type)
	}
	for i, m := range members {
		if m == "" {
			return dst, errorf("%s: MemberList_Account[%d] is empty", base.Type, i)
		}
	}
	for _, m := range members {
		ev := base
		ev.ID = base.ID + ":" + string(m)
		ev.Type = typ
		ev.User.ID = string(m)
		ev.Attrs = maps.Clone(base.Attrs)
		dst = append(dst, ev)
	}
	return dst, nil
}

func seatEvent(body callbackBody, ev rules.Event, dst []rules.Event) ([]rules.Event, error) {
	if ev.RoomID == "" {
		return dst, errorf(`%s: missing "RoomId"`, ev.Type)
	}
	ev.Type = "seat.changed"
	ev.Seats = make([]rules.Seat, len(body.Seats))
	for i, s := range body.Seats {
		ev.Seats[i] = rules.Seat{
			Index:         s.Index,
			UserID:        string(s.Member),
			TakenDisabled: s.TakenDisabled,
			VideoDisabled: s.VideoDisabled,
			AudioDisabled: s.AudioDisabled,
		}
	}
	if len(ev.Seats) == 1 {
		ev.Seat = ev.Seats[0]
	}
	return append(dst, ev), nil
}

// callbackError turns an encoding/json error into a *Error naming
// the field, e.g. `SeatList.Index: want int, got string`.
func callbackError(err error) error {
	var de *Error
	if errors.As(err, &de) {
		return de
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "callback"
		}
		return errorf("%s: want %s, got %s", field, te.Type, te.Value)
	}
	return errorf("callback: %v", err)
}

// looseString is a JSON string that may also arrive as a number (Tencent
// sends some account ids as bare numbers); null is "".
type looseString string

func (l *looseString) UnmarshalJSON(b []byte) error {
	switch kind := jsonKind(b); kind {
	case "string":
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*l = looseString(s)
	case "number":
		*l = looseString(b)
	case "null":
	default:
		return &json.UnmarshalTypeError{Value: kind, Type: reflect.TypeFor[string]()}
	}
	return nil
}

// callbackMember is one account in a member list: a string, a number, or
// an object {"Member_Account": ...}.
type callbackMember looseString

func (m *callbackMember) UnmarshalJSON(b []byte) error {
	if jsonKind(b) != "object" {
		return (*looseString)(m).UnmarshalJSON(b)
	}
	var obj struct {
		Account looseString `json:"Member_Account"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return err
	}
	*m = callbackMember(obj.Account)
	return nil
}

// jsonKind names the JSON type of a raw, valid value.
func jsonKind(raw []byte) string {
	s := scanner{data: raw}
	switch c := s.ws(); {
	case c == '"':
		return "string"
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == 't', c == 'f':
		return "boolean"
	case c == 'n':
		return "null"
	}
	return "number"
}
