package decode

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/roomwarden/roomwarden/rules"
)

// Tencent Room Engine callback commands with a dedicated mapping.
const (
	cmdMemberEnter  = "Room.CallbackAfterMemberEnter"
	cmdMemberLeave  = "Room.CallbackAfterMemberLeave"
	cmdSeatsChanged = "Mic.CallbackAfterSeatInfoChanged"
)

// maxEventTimeMillis is the last millisecond of year 9999, the latest
// EventTime accepted (RFC 3339 and the action log cannot write later).
const maxEventTimeMillis = 253402300799999

// callback is what the mapping reads from a callback body.
type callback struct {
	command    account
	roomID     account
	operator   account
	eventTime  int64
	hasTime    bool
	accounts   members // MemberList_Account
	memberList members // MemberList
	seats      []callbackSeat
	attrs      map[string]any
}

// members is a member list as read: n accounts, of which the first
// MaxCallbackMembers are kept (a longer list is refused by its count,
// without holding it).
type members struct {
	list []account
	n    int
}

// account is an account id as a callback sends it: a string, a number
// (Tencent sends some account ids as bare numbers) or null (""). lone
// records a lone surrogate escape in the string, decoded as U+FFFD.
type account struct {
	id   string
	lone bool
}

type callbackSeat struct {
	seat     rules.Seat
	hasIndex bool
	member   account
}

// decodeCallback maps a Tencent callback body to canonical events; see
// Events for the mapping. src is string(data) or "" (see shareLimit).
func decodeCallback(data []byte, src string, dst []rules.Event) ([]rules.Event, error) {
	s := scanner{data: data, src: src}
	if s.ws() != '{' {
		return dst, errorf("callback: want JSON object, got %s", s.describe())
	}
	cb := callback{attrs: map[string]any{}}
	if err := s.object(func(key []byte) error { return s.callbackField(key, &cb) }); err != nil {
		return dst, err
	}
	if s.ws(); s.pos != len(s.data) {
		return dst, s.syntaxError("want end of input after the event object")
	}
	return cb.events(dst)
}

// callbackField reads one top-level field. Every field but the three
// lists is also kept in attrs, as encoding/json would decode it into an
// `any`.
func (s *scanner) callbackField(key []byte, cb *callback) error {
	switch string(key) {
	case "MemberList_Account":
		return s.accountsValue("MemberList_Account", &cb.accounts)
	case "MemberList":
		return s.accountsValue("MemberList", &cb.memberList)
	case "SeatList":
		return s.seatListValue(&cb.seats)
	}
	name := s.keyText(key)
	start := s.pos
	var err error
	switch name {
	case "CallbackCommand":
		s.lone = false
		err = s.stringValue(field(name), &cb.command.id)
		cb.command.lone = s.lone
	case "RoomId":
		err = s.accountValue(field(name), &cb.roomID)
	case "Operator_Account":
		err = s.accountValue(field(name), &cb.operator)
	case "EventTime":
		cb.hasTime, err = s.int64Value(field(name), &cb.eventTime)
	}
	if err != nil {
		return err
	}
	s.pos = start
	v, err := s.anyValue(field(name))
	cb.attrs[name] = v
	return err
}

// accountValue reads a string, a number (its text) or null ("").
func (s *scanner) accountValue(p fieldPath, dst *account) error {
	*dst = account{}
	switch c := s.ws(); {
	case c == '"':
		s.lone = false
		v, err := s.text()
		*dst = account{id: v, lone: s.lone}
		return err
	case c == '-' || (c >= '0' && c <= '9'):
		start := s.pos
		num, err := s.number()
		if err != nil {
			return err
		}
		if s.src != "" {
			dst.id = s.src[start:s.pos]
		} else {
			dst.id = string(num)
		}
		return nil
	case c == 'n':
		return s.literal("null")
	}
	return s.wrongType(p, "string or number")
}

// accountsValue reads a member list: accounts, or {"Member_Account": x}
// objects; null is an empty list.
func (s *scanner) accountsValue(name string, dst *members) error {
	*dst = members{}
	if s.null() {
		return nil
	}
	if s.ws() != '[' {
		return s.wrongType(field(name), "array of accounts")
	}
	err := s.array(func(i int) error {
		var a account
		var err error
		if s.ws() != '{' {
			err = s.accountValue(elem(name, i), &a)
		} else {
			err = s.object(func(key []byte) error {
				if string(key) == "Member_Account" {
					return s.accountValue(elem(name, i).child("Member_Account"), &a)
				}
				return s.skip()
			})
		}
		if dst.n++; dst.n <= MaxCallbackMembers {
			dst.list = append(dst.list, a)
		}
		return err
	})
	return err
}

// seatListValue reads SeatList; null is an empty list.
func (s *scanner) seatListValue(dst *[]callbackSeat) error {
	*dst = nil
	if s.null() {
		return nil
	}
	if s.ws() != '[' {
		return s.wrongType(field("SeatList"), "array of seats")
	}
	list := []callbackSeat{}
	err := s.array(func(i int) error {
		p := elem("SeatList", i)
		if s.ws() != '{' {
			return s.wrongType(p, "object")
		}
		var cs callbackSeat
		err := s.object(func(key []byte) (err error) {
			switch string(key) {
			case "Index":
				var v int64
				if cs.hasIndex, err = s.int64Value(p.child("Index"), &v); err == nil {
					if err = checkSeatIndex(p.child("Index"), v); err == nil {
						cs.seat.Index = int(v)
					}
				}
				return err
			case "Member_Account":
				return s.accountValue(p.child("Member_Account"), &cs.member)
			case "IsTakenDisabled":
				return s.boolValue(p.child("IsTakenDisabled"), &cs.seat.TakenDisabled)
			case "IsVideoDisabled":
				return s.boolValue(p.child("IsVideoDisabled"), &cs.seat.VideoDisabled)
			case "IsAudioDisabled":
				return s.boolValue(p.child("IsAudioDisabled"), &cs.seat.AudioDisabled)
			}
			return s.skip()
		})
		list = append(list, cs)
		return err
	})
	*dst = list
	return err
}

// events maps the callback; every event shares cb.attrs.
func (cb *callback) events(dst []rules.Event) ([]rules.Event, error) {
	cmd := cb.command.id
	if cmd == "" {
		return dst, errorf("CallbackCommand is empty")
	}
	if err := checkAccount(field("CallbackCommand"), cb.command, maxCommandBytes); err != nil {
		return dst, err
	}
	if cb.roomID.id != "" {
		if err := checkAccount(field("RoomId"), cb.roomID, MaxRoomIDBytes); err != nil {
			return dst, err
		}
	}
	if cb.operator.id != "" {
		cb.attrs["operator"] = cb.operator.id
	}
	base := rules.Event{Type: cmd, RoomID: cb.roomID.id, Attrs: cb.attrs}
	if cb.hasTime {
		if cb.eventTime <= 0 || cb.eventTime > maxEventTimeMillis {
			return dst, errorf("EventTime: %d is not a time in milliseconds between 1970 and 9999; send the time the callback was made, or leave EventTime out", cb.eventTime)
		}
		base.Time = time.UnixMilli(cb.eventTime).UTC()
		base.ID = cmd + ":" + base.RoomID + ":" + strconv.FormatInt(cb.eventTime, 10)
	}
	switch cmd {
	case cmdMemberEnter:
		return cb.memberEvents(base, "member.enter", dst)
	case cmdMemberLeave:
		return cb.memberEvents(base, "member.leave", dst)
	case cmdSeatsChanged:
		return cb.seatEvent(base, dst)
	}
	return append(dst, base), nil
}

// checkAccount checks an id a callback sent.
func checkAccount(p fieldPath, a account, maxBytes int) error {
	if a.lone {
		return loneError(p)
	}
	return checkField(p, a.id, maxBytes)
}

// memberEvents appends one event per member. The events share base's
// attrs: decoding costs memory in proportion to the body, not to
// members × attrs.
func (cb *callback) memberEvents(base rules.Event, typ string, dst []rules.Event) ([]rules.Event, error) {
	if base.RoomID == "" {
		return dst, errorf(`%s: missing "RoomId"`, base.Type)
	}
	n := cb.accounts.n + cb.memberList.n
	if n == 0 {
		return dst, errorf(`%s: MemberList_Account is missing or empty`, base.Type)
	}
	if n > MaxCallbackMembers {
		return dst, errorf("%s: %d members, over the limit of %d per callback (MemberList_Account and MemberList together); send them in several callbacks",
			base.Type, n, MaxCallbackMembers)
	}
	if err := checkMembers(base.Type, "MemberList_Account", cb.accounts.list); err != nil {
		return dst, err
	}
	if err := checkMembers(base.Type, "MemberList", cb.memberList.list); err != nil {
		return dst, err
	}
	ids := memberIDs(base.ID, cb.accounts.list, cb.memberList.list)
	dst = slices.Grow(dst, n)
	for _, list := range [...][]account{cb.accounts.list, cb.memberList.list} {
		for _, m := range list {
			ev := base
			if base.ID != "" {
				ev.ID, ids = ids[:len(base.ID)+1+len(m.id)], ids[len(base.ID)+1+len(m.id):]
			}
			ev.Type = typ
			ev.User.ID = m.id
			dst = append(dst, ev)
		}
	}
	return dst, nil
}

// memberIDs returns "<prefix>:<account>" for every member, concatenated
// in one allocation; "" when prefix is.
func memberIDs(prefix string, lists ...[]account) string {
	if prefix == "" {
		return ""
	}
	size := 0
	for _, list := range lists {
		for _, m := range list {
			size += len(prefix) + 1 + len(m.id)
		}
	}
	var b strings.Builder
	b.Grow(size)
	for _, list := range lists {
		for _, m := range list {
			b.WriteString(prefix)
			b.WriteByte(':')
			b.WriteString(m.id)
		}
	}
	return b.String()
}

func checkMembers(cmd, name string, list []account) error {
	for i, m := range list {
		if m.id == "" {
			return errorf("%s: %s[%d] is empty", cmd, name, i)
		}
		if err := checkAccount(elem(name, i), m, MaxUserIDBytes); err != nil {
			return err
		}
	}
	return nil
}

func (cb *callback) seatEvent(ev rules.Event, dst []rules.Event) ([]rules.Event, error) {
	if ev.RoomID == "" {
		return dst, errorf(`%s: missing "RoomId"`, ev.Type)
	}
	ev.Type = "seat.changed"
	ev.Seats = make([]rules.Seat, len(cb.seats))
	for i, cs := range cb.seats {
		p := elem("SeatList", i)
		if !cs.hasIndex {
			return dst, errorf(`%s: missing "Index"`, p)
		}
		if cs.member.id != "" { // "" or null: nobody on the seat
			if err := checkAccount(p.child("Member_Account"), cs.member, MaxUserIDBytes); err != nil {
				return dst, err
			}
		}
		ev.Seats[i] = cs.seat
		ev.Seats[i].UserID = cs.member.id
	}
	if len(ev.Seats) == 1 {
		ev.Seat = ev.Seats[0]
	}
	return append(dst, ev), nil
}
