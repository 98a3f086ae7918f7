package decode

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/rules"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("parse time %q: %v", s, err)
	}
	return tm
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return b
}

func decodeOK(t *testing.T, data []byte) []rules.Event {
	t.Helper()
	evs, err := Events(data, nil)
	if err != nil {
		t.Fatalf("Events(%s): %v", data, err)
	}
	return evs
}

func TestDecodeEventsCanonical(t *testing.T) {
	tests := []struct {
		name string
		data string
		want rules.Event
	}{
		{
			name: "design example",
			data: string(readFile(t, "testdata/events/canonical-full.json")),
			want: rules.Event{
				ID: "evt-0001", Type: "member.enter", Time: mustTime(t, "2026-11-25T21:00:00Z"),
				RoomID: "room-test",
				User:   rules.User{ID: "u1", Flagged: true, Labels: []string{"spam"}, Score: 0.93},
				Seat:   rules.Seat{Index: 2},
				Attrs:  map[string]any{"any": "extra data"},
			},
		},
		{
			name: "minimal, id and time left for the pipeline",
			data: `{"type":"user.flagged"}`,
			want: rules.Event{Type: "user.flagged"},
		},
		{
			name: "seats list and unknown fields ignored",
			data: string(readFile(t, "testdata/events/canonical-seats.json")),
			want: rules.Event{
				Type: "seat.changed", RoomID: "room-test",
				Seats: []rules.Seat{
					{Index: 0, UserID: "host"},
					{Index: 1, AudioDisabled: true, TakenDisabled: true},
				},
			},
		},
		{
			name: "escapes and surrogate pairs",
			data: string(readFile(t, "testdata/events/canonical-escapes.json")),
			want: rules.Event{
				Type: "message.flagged", RoomID: "ré/1",
				// A lone surrogate in a free-form string is U+FFFD, as in
				// encoding/json; in an id it is an error.
				User: rules.User{ID: "😀 \"quoted\"", Labels: []string{"a\tb", "\uFFFD"}},
			},
		},
		{
			name: "nulls are absent",
			data: `{"id":null,"type":"seat.changed","room_id":"r","user":null,"seat":null,"seats":null,"attrs":null,"time":null}`,
			want: rules.Event{Type: "seat.changed", RoomID: "r"},
		},
		{
			name: "duplicate keys: the last wins, null included",
			data: `{"type":"x","user":{"id":"a","flagged":true},"user":{"score":0.5},"room_id":"r","room_id":null,"seat":{"index":1},"seat":null,"time":"2026-11-25T21:00:00Z","time":""}`,
			want: rules.Event{Type: "x", User: rules.User{Score: 0.5}},
		},
		{
			name: "fractional time with offset, seat zero, exponent score",
			data: ` {"type":"seat.taken","room_id":"r","time":"2026-11-25T22:00:00.5+01:00","seat":{"index":0},"user":{"score":1e-2}} `,
			want: rules.Event{
				Type: "seat.taken", RoomID: "r", Time: mustTime(t, "2026-11-25T22:00:00.5+01:00"),
				Seat: rules.Seat{Index: 0}, User: rules.User{Score: 0.01},
			},
		},
		{
			name: "nested attrs under the depth limit",
			data: `{"type":"x","attrs":{"a":{"b":[1,true,null,"s"]}}}`,
			want: rules.Event{Type: "x", Attrs: map[string]any{"a": map[string]any{"b": []any{1.0, true, nil, "s"}}}},
		},
		{
			name: "nested CallbackCommand inside attrs is not a callback",
			data: `{"type":"x","attrs":{"CallbackCommand":"Room.CallbackAfterMemberEnter"}}`,
			want: rules.Event{Type: "x", Attrs: map[string]any{"CallbackCommand": "Room.CallbackAfterMemberEnter"}},
		},
		{
			name: "keys are case-sensitive",
			data: `{"type":"x","Room_ID":"nope","USER":{"id":"nope"}}`,
			want: rules.Event{Type: "x"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := decodeOK(t, []byte(tc.data))
			if len(got) != 1 {
				t.Fatalf("got %d events, want 1", len(got))
			}
			if !reflect.DeepEqual(got[0], tc.want) {
				t.Errorf("got  %+v\nwant %+v", got[0], tc.want)
			}
		})
	}
}

func TestDecodeEventsErrors(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 64) + "1" + strings.Repeat("}", 64)
	tests := []struct {
		name string
		data string
		want string // the exact Error reason
	}{
		{"empty", ``, "empty body"},
		{"whitespace only", "  \n", "empty body"},
		{"not an object", `[1]`, "event: want JSON object, got array"},
		{"bad json", `{"type":"x",}`, `invalid JSON at byte 12: want object key, got '}'`},
		{"truncated", `{"type":"x"`, "invalid JSON: unexpected end of input, want ',' or '}' in object"},
		{"trailing data", `{"type":"x"} {}`, `invalid JSON at byte 13: want end of input after the event object, got '{'`},
		{"missing type", `{"room_id":"r"}`, `missing "type"`},
		{"empty type", `{"type":""}`, `missing "type"`},
		{"missing room", `{"type":"member.enter"}`, `missing "room_id" (required for member.enter events)`},
		{"index as string", `{"type":"seat.taken","room_id":"r","seat":{"index":"two"}}`, `seat.index: want integer, got string "two"`},
		{"index fractional", `{"type":"x","seat":{"index":2.5}}`, `seat.index: want integer, got number 2.5`},
		{"index overflow", `{"type":"x","seat":{"index":99999999999999999999}}`, `seat.index: want integer, got number 99999999999999999999`},
		{"type as number", `{"type":7}`, `type: want string, got number 7`},
		{"flagged as string", `{"type":"x","user":{"flagged":"yes"}}`, `user.flagged: want boolean, got string "yes"`},
		{"labels not strings", `{"type":"x","user":{"labels":["a",2]}}`, `user.labels[1]: want string, got number 2`},
		{"labels not array", `{"type":"x","user":{"labels":"spam"}}`, `user.labels: want array of strings, got string "spam"`},
		{"score as bool", `{"type":"x","user":{"score":true}}`, `user.score: want number, got boolean`},
		{"user as array", `{"type":"x","user":[]}`, `user: want object, got array`},
		{"seats element", `{"type":"x","seats":[{"index":0},{"index":{}}]}`, `seats[1].index: want integer, got object`},
		{"seats element without index", `{"type":"x","seats":[{"index":0},{"user_id":"u"}]}`, `seats[1]: missing "index"`},
		{"seats element null", `{"type":"x","seats":[null]}`, `seats[0]: want object, got null`},
		{"attrs as string", `{"type":"x","attrs":"a"}`, `attrs: want object, got string "a"`},
		{"bad time", `{"type":"x","time":"yesterday"}`, `time: want an RFC 3339 timestamp like 2026-11-25T21:00:00Z, got "yesterday"`},
		{"long string excerpt", `{"type":"x","seat":{"index":"` + strings.Repeat("a", 50) + `"}}`, `seat.index: want integer, got string "` + strings.Repeat("a", 40) + `"...`},
		{"invalid utf-8", `{"type":"x","room_id":"` + "\xff" + `"}`, "invalid UTF-8 at byte 23"},
		{"control char", "{\"type\":\"a\nb\"}", `invalid JSON at byte 10: control character in string, got '\n'`},
		{"bad escape", `{"type":"\q"}`, `invalid JSON at byte 10: invalid escape in string, got 'q'`},
		{"too deep", `{"type":"x","attrs":` + deep + `}`, "json nesting deeper than 64"},
		{"too deep in unknown field", `{"type":"x","extra":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, "json nesting deeper than 64"},
		{"too big", `{"type":"x","pad":"` + strings.Repeat("a", MaxEventBytes) + `"}`, "event is 1048597 bytes, over the 1 MiB limit"},
		{"bad literal", `{"type":"x","a":tru}`, `invalid JSON at byte 16: want true, got 't'`},
		{"bad number", `{"type":"x","a":-}`, `invalid JSON at byte 17: want digit, got '}'`},
		{"leading zero", `{"type":"x","a":01}`, `invalid JSON at byte 17: want ',' or '}' in object, got '1'`},
		{"callback command not string", `{"CallbackCommand":1,"RoomId":"r"}`, `CallbackCommand: want string, got number 1`},
		{"callback command empty", `{"CallbackCommand":"","RoomId":"r"}`, `CallbackCommand is empty`},
		{"score out of range", `{"type":"x","user":{"score":1e999}}`, `user.score: number 1e999 is out of range`},
		{"attrs number out of range", `{"type":"x","attrs":{"a":[1e999]}}`, `attrs: number 1e999 is out of range`},
		{"attrs bad json", `{"type":"x","attrs":{"a":[1,]}}`, `invalid JSON at byte 28: want a value, got ']'`},
		{"callback bad json", `{"CallbackCommand":"Room.CallbackAfterMemberEnter",}`, `invalid JSON at byte 51: want object key, got '}'`},
		{"callback too deep", `{"CallbackCommand":"X","a":` + deep + `}`, "json nesting deeper than 64"},
		{"callback no members", `{"CallbackCommand":"Room.CallbackAfterMemberEnter","RoomId":"r","MemberList_Account":[]}`, "Room.CallbackAfterMemberEnter: MemberList_Account is missing or empty"},
		{"callback empty member", `{"CallbackCommand":"Room.CallbackAfterMemberLeave","RoomId":"r","MemberList_Account":["a",""]}`, "Room.CallbackAfterMemberLeave: MemberList_Account[1] is empty"},
		{"callback no room", `{"CallbackCommand":"Mic.CallbackAfterSeatInfoChanged","SeatList":[]}`, `Mic.CallbackAfterSeatInfoChanged: missing "RoomId"`},
		{"callback seat index string", `{"CallbackCommand":"Mic.CallbackAfterSeatInfoChanged","RoomId":"r","SeatList":[{"Index":"two"}]}`, `SeatList[0].Index: want integer, got string "two"`},
		{"callback event time string", `{"CallbackCommand":"X","EventTime":"soon"}`, `EventTime: want integer, got string "soon"`},
		{"callback member object", `{"CallbackCommand":"Room.CallbackAfterMemberEnter","RoomId":"r","MemberList_Account":[true]}`, `MemberList_Account[0]: want string or number, got boolean`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := []rules.Event{{Type: "keep"}}
			got, err := Events([]byte(tc.data), dst)
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("err = %v (%T), want *Error", err, err)
			}
			if de.Reason != tc.want {
				t.Errorf("reason\n got %s\nwant %s", de.Reason, tc.want)
			}
			if len(got) != 1 || got[0].Type != "keep" {
				t.Errorf("dst changed on error: %+v", got)
			}
		})
	}
}

func TestDecodeEventsAppends(t *testing.T) {
	dst := make([]rules.Event, 1, 4)
	dst[0].Type = "first"
	got, err := Events([]byte(`{"type":"second"}`), dst)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Type != "first" || got[1].Type != "second" {
		t.Errorf("got %+v, want [first second]", got)
	}
	// A failed decode must not leave a half-decoded event in the spare capacity.
	if _, err := Events([]byte(`{"type":"third","seat":{"index":"x"}}`), got); err == nil {
		t.Fatal("want error")
	}
	if spare := got[:3][2]; !reflect.DeepEqual(spare, rules.Event{}) {
		t.Errorf("spare capacity holds %+v, want zero event", spare)
	}
}

func TestDecodeErrorMessage(t *testing.T) {
	_, err := Events([]byte(`{}`), nil)
	if got, want := err.Error(), `malformed event: missing "type"`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
