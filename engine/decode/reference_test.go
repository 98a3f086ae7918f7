package decode

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/roomwarden/roomwarden/rules"
)

// The reference decoder: what Events must return, written again on
// encoding/json and the unicode package, sharing no code with the
// scanner, the identifier checks or the callback mapping. FuzzDecodeEvents
// holds the two to the same answer on every input.
//
// Objects are read as their key/value pairs in order (json.Decoder
// tokens), so each key is matched exactly (encoding/json would match
// struct fields without regard to case); every occurrence of a duplicate
// key must be valid, and the last one wins; null is the same as absent.

// refEvents returns the events a body holds, or ok false when it must be
// refused.
func refEvents(data []byte) (evs []rules.Event, ok bool) {
	if len(data) > MaxEventBytes || !utf8.Valid(data) || !json.Valid(data) || refDepth(data) > 64 {
		return nil, false
	}
	pairs, ok := refPairs(bytes.TrimLeft(data, " \t\r\n"))
	if !ok {
		return nil, false
	}
	for _, p := range pairs {
		if p.key == "CallbackCommand" {
			return refCallback(pairs)
		}
	}
	ev, ok := refCanonical(pairs)
	if !ok {
		return nil, false
	}
	return []rules.Event{ev}, true
}

type refPair struct {
	key string
	raw json.RawMessage
}

// refPairs returns the members of a JSON object in order.
func refPairs(raw json.RawMessage) ([]refPair, bool) {
	if len(raw) == 0 || raw[0] != '{' {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil, false
	}
	var pairs []refPair
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		pairs = append(pairs, refPair{key.(string), v})
	}
	return pairs, true
}

// refDepth is the deepest nesting of objects and arrays in valid JSON.
func refDepth(data []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

func isNull(raw json.RawMessage) bool { return string(raw) == "null" }

// refString decodes a JSON string; null is "".
func refString(raw json.RawMessage) (string, bool) {
	if raw == nil || isNull(raw) {
		return "", true
	}
	if raw[0] != '"' {
		return "", false
	}
	var s string
	return s, json.Unmarshal(raw, &s) == nil
}

func refBool(raw json.RawMessage) (bool, bool) {
	if raw == nil || isNull(raw) {
		return false, true
	}
	var b bool
	return b, json.Unmarshal(raw, &b) == nil
}

// refInt decodes an integer; present is false for null or absent.
func refInt(raw json.RawMessage) (v int64, present, ok bool) {
	if raw == nil || isNull(raw) {
		return 0, false, true
	}
	if c := raw[0]; c != '-' && (c < '0' || c > '9') {
		return 0, false, false
	}
	return v, true, json.Unmarshal(raw, &v) == nil
}

func refArray(raw json.RawMessage) ([]json.RawMessage, bool) {
	if raw[0] != '[' {
		return nil, false
	}
	var a []json.RawMessage
	return a, json.Unmarshal(raw, &a) == nil
}

// refIDOK is the identifier rule: not empty, at most maxBytes, no
// control (C0, DEL, C1) or bidirectional formatting characters, no
// surrounding white space, and (raw being its JSON text) no lone
// surrogate escape.
func refIDOK(raw json.RawMessage, id string, maxBytes int) bool {
	return id != "" && len(id) <= maxBytes && utf8.ValidString(id) &&
		!strings.ContainsFunc(id, unicode.IsControl) &&
		!strings.ContainsAny(id, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069") &&
		strings.TrimFunc(id, unicode.IsSpace) == id &&
		!refLoneSurrogate(raw)
}

// refLoneSurrogate reports whether a JSON string's text escapes a
// surrogate that is not half of a pair.
func refLoneSurrogate(raw json.RawMessage) bool {
	hex := func(i int) (rune, bool) {
		if i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 16)
		return rune(v), err == nil
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		r, isU := hex(i)
		switch {
		case !isU:
			i++ // a one-letter escape
		case r >= 0xd800 && r <= 0xdbff:
			if lo, ok := hex(i + 6); ok && lo >= 0xdc00 && lo <= 0xdfff {
				i += 11
			} else {
				return true
			}
		case r >= 0xdc00 && r <= 0xdfff:
			return true
		default:
			i += 5
		}
	}
	return false
}

// refIDField decodes an optional identifier: absent, null or a valid id.
func refIDField(raw json.RawMessage, maxBytes int) (string, bool) {
	if raw == nil || isNull(raw) {
		return "", true
	}
	s, ok := refString(raw)
	return s, ok && refIDOK(raw, s, maxBytes)
}

func refCanonical(pairs []refPair) (rules.Event, bool) {
	var ev rules.Event
	hasSeat, ok := false, true
	for _, p := range pairs {
		switch p.key {
		case "id":
			ev.ID, ok = refIDField(p.raw, MaxEventIDBytes)
		case "type":
			ev.Type, ok = refString(p.raw)
		case "time":
			ev.Time, ok = refTime(p.raw)
		case "room_id":
			ev.RoomID, ok = refIDField(p.raw, MaxRoomIDBytes)
		case "user":
			ev.User, ok = refUser(p.raw)
		case "seat":
			ev.Seat, hasSeat, ok = rules.Seat{}, !isNull(p.raw), true
			if hasSeat {
				ev.Seat, ok = refSeat(p.raw)
			}
		case "seats":
			ev.Seats, ok = refSeats(p.raw)
		case "attrs":
			ev.Attrs = nil
			if !isNull(p.raw) {
				ok = p.raw[0] == '{' && json.Unmarshal(p.raw, &ev.Attrs) == nil
			}
		}
		if !ok {
			return ev, false
		}
	}
	if ev.Type == "" {
		return ev, false
	}
	switch ev.Type {
	case "member.enter", "member.leave", "seat.taken", "seat.left", "seat.changed":
		if ev.RoomID == "" {
			return ev, false
		}
	}
	if !hasSeat && (ev.Type == "seat.taken" || ev.Type == "seat.left") {
		return ev, false
	}
	return ev, true
}

func refSeats(raw json.RawMessage) ([]rules.Seat, bool) {
	if isNull(raw) {
		return nil, true
	}
	list, ok := refArray(raw)
	if !ok {
		return nil, false
	}
	seats := []rules.Seat{}
	for _, el := range list {
		seat, ok := refSeat(el)
		if !ok {
			return nil, false
		}
		seats = append(seats, seat)
	}
	return seats, true
}

func refTime(raw json.RawMessage) (time.Time, bool) {
	s, ok := refString(raw)
	if !ok || s == "" {
		return time.Time{}, ok
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil && t.Unix() >= 0
}

func refUser(raw json.RawMessage) (rules.User, bool) {
	var u rules.User
	if isNull(raw) {
		return u, true
	}
	pairs, ok := refPairs(raw)
	if !ok {
		return u, false
	}
	for _, p := range pairs {
		switch p.key {
		case "id":
			u.ID, ok = refIDField(p.raw, MaxUserIDBytes)
		case "flagged":
			u.Flagged, ok = refBool(p.raw)
		case "labels":
			u.Labels = nil
			if !isNull(p.raw) {
				ok = p.raw[0] == '[' && json.Unmarshal(p.raw, &u.Labels) == nil
			}
		case "score":
			u.Score = 0
			if c := p.raw[0]; !isNull(p.raw) {
				ok = (c == '-' || (c >= '0' && c <= '9')) && json.Unmarshal(p.raw, &u.Score) == nil
			}
		}
		if !ok {
			return u, false
		}
	}
	return u, true
}

// refSeat decodes a canonical seat object, which must have an index.
func refSeat(raw json.RawMessage) (rules.Seat, bool) {
	var seat rules.Seat
	pairs, ok := refPairs(raw)
	if !ok {
		return seat, false
	}
	hasIndex := false
	for _, p := range pairs {
		switch p.key {
		case "index":
			var index int64
			index, hasIndex, ok = refInt(p.raw)
			ok = ok && index >= 0 && index <= 999
			seat.Index = int(index)
		case "user_id":
			seat.UserID, ok = refIDField(p.raw, MaxUserIDBytes)
		case "taken_disabled":
			seat.TakenDisabled, ok = refBool(p.raw)
		case "video_disabled":
			seat.VideoDisabled, ok = refBool(p.raw)
		case "audio_disabled":
			seat.AudioDisabled, ok = refBool(p.raw)
		}
		if !ok {
			return seat, false
		}
	}
	return seat, hasIndex
}

// refAccount decodes a callback account: a string, a number (its text)
// or null (""); lone reports a lone surrogate escape.
type refAcct struct {
	id  string
	raw json.RawMessage
}

func refAccount(raw json.RawMessage) (refAcct, bool) {
	if raw == nil || isNull(raw) {
		return refAcct{}, true
	}
	if c := raw[0]; c == '-' || (c >= '0' && c <= '9') {
		return refAcct{id: string(raw), raw: raw}, true
	}
	s, ok := refString(raw)
	return refAcct{id: s, raw: raw}, ok
}

func refMembers(raw json.RawMessage) ([]refAcct, bool) {
	if isNull(raw) {
		return nil, true
	}
	list, ok := refArray(raw)
	if !ok {
		return nil, false
	}
	out := []refAcct{}
	for _, el := range list {
		var a refAcct
		if el[0] != '{' {
			a, ok = refAccount(el)
		} else {
			var pairs []refPair
			pairs, ok = refPairs(el)
			for _, p := range pairs {
				if ok && p.key == "Member_Account" {
					a, ok = refAccount(p.raw)
				}
			}
		}
		if !ok {
			return nil, false
		}
		out = append(out, a)
	}
	return out, true
}

type refCallbackSeat struct {
	seat     rules.Seat
	hasIndex bool
	member   refAcct
}

func refSeatList(raw json.RawMessage) ([]refCallbackSeat, bool) {
	if isNull(raw) {
		return nil, true
	}
	list, ok := refArray(raw)
	if !ok {
		return nil, false
	}
	out := []refCallbackSeat{}
	for _, el := range list {
		pairs, ok := refPairs(el)
		if !ok {
			return nil, false
		}
		var cs refCallbackSeat
		for _, p := range pairs {
			switch p.key {
			case "Index":
				var index int64
				index, cs.hasIndex, ok = refInt(p.raw)
				ok = ok && index >= 0 && index <= 999
				cs.seat.Index = int(index)
			case "Member_Account":
				cs.member, ok = refAccount(p.raw)
			case "IsTakenDisabled":
				cs.seat.TakenDisabled, ok = refBool(p.raw)
			case "IsVideoDisabled":
				cs.seat.VideoDisabled, ok = refBool(p.raw)
			case "IsAudioDisabled":
				cs.seat.AudioDisabled, ok = refBool(p.raw)
			}
			if !ok {
				return nil, false
			}
		}
		out = append(out, cs)
	}
	return out, true
}

// refCallback is the mapping of a Tencent callback.
func refCallback(pairs []refPair) ([]rules.Event, bool) {
	var cmd string
	var cmdRaw json.RawMessage
	var room, operator refAcct
	var eventTime int64
	var hasTime bool
	var accounts, memberList []refAcct
	var seats []refCallbackSeat
	attrs := map[string]any{}
	for _, p := range pairs {
		ok := true
		switch p.key {
		case "MemberList_Account":
			accounts, ok = refMembers(p.raw)
		case "MemberList":
			memberList, ok = refMembers(p.raw)
		case "SeatList":
			seats, ok = refSeatList(p.raw)
		case "CallbackCommand":
			cmd, ok = refString(p.raw)
			cmdRaw = p.raw
		case "RoomId":
			room, ok = refAccount(p.raw)
		case "Operator_Account":
			operator, ok = refAccount(p.raw)
		case "EventTime":
			eventTime, hasTime, ok = refInt(p.raw)
		}
		if !ok {
			return nil, false
		}
		switch p.key {
		case "MemberList_Account", "MemberList", "SeatList":
			continue
		}
		var v any
		if json.Unmarshal(p.raw, &v) != nil {
			return nil, false
		}
		attrs[p.key] = v
	}
	if cmd == "" || !refIDOK(cmdRaw, cmd, 128) {
		return nil, false
	}
	if operator.id != "" {
		attrs["operator"] = operator.id
	}
	if room.id != "" && !refIDOK(room.raw, room.id, MaxRoomIDBytes) {
		return nil, false
	}
	base := rules.Event{Type: cmd, RoomID: room.id, Attrs: attrs}
	if hasTime {
		if eventTime < 1 || eventTime > 253402300799999 {
			return nil, false
		}
		base.Time = time.UnixMilli(eventTime).UTC()
		base.ID = cmd + ":" + room.id + ":" + strconv.FormatInt(eventTime, 10)
	}
	switch cmd {
	case "Room.CallbackAfterMemberEnter", "Room.CallbackAfterMemberLeave":
		all := append(append([]refAcct{}, accounts...), memberList...)
		if room.id == "" || len(all) == 0 || len(all) > 1000 {
			return nil, false
		}
		var evs []rules.Event
		for _, a := range all {
			if !refIDOK(a.raw, a.id, MaxUserIDBytes) {
				return nil, false
			}
			ev := base
			ev.Type = "member.enter"
			if cmd == "Room.CallbackAfterMemberLeave" {
				ev.Type = "member.leave"
			}
			if hasTime {
				ev.ID += ":" + a.id
			}
			ev.User.ID = a.id
			evs = append(evs, ev)
		}
		return evs, true
	case "Mic.CallbackAfterSeatInfoChanged":
		if room.id == "" {
			return nil, false
		}
		ev := base
		ev.Type = "seat.changed"
		ev.Seats = []rules.Seat{}
		for _, cs := range seats {
			if !cs.hasIndex || (cs.member.id != "" && !refIDOK(cs.member.raw, cs.member.id, MaxUserIDBytes)) {
				return nil, false
			}
			seat := cs.seat
			seat.UserID = cs.member.id
			ev.Seats = append(ev.Seats, seat)
		}
		if len(ev.Seats) == 1 {
			ev.Seat = ev.Seats[0]
		}
		return []rules.Event{ev}, true
	}
	return []rules.Event{base}, true
}
