package decode

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/rules"
)

func TestDecodeEventsCallbacks(t *testing.T) {
	t0 := time.UnixMilli(1795640400000).UTC()
	tests := []struct {
		name string
		file string
		want []rules.Event
	}{
		{
			name: "member enter: one event per member",
			file: "../../examples/events/callback-member-enter.json",
			want: []rules.Event{
				memberEvent("member.enter", "Room.CallbackAfterMemberEnter:room-demo:1795640415000:u-guest-1", "u-guest-1", t0.Add(15*time.Second), map[string]any{
					"CallbackCommand": "Room.CallbackAfterMemberEnter", "Operator_Account": "u-host", "operator": "u-host",
					"RoomId": "room-demo", "MemberCount": 3.0, "Type": "Enter", "EventTime": 1795640415000.0,
				}),
				memberEvent("member.enter", "Room.CallbackAfterMemberEnter:room-demo:1795640415000:u-guest-2", "u-guest-2", t0.Add(15*time.Second), map[string]any{
					"CallbackCommand": "Room.CallbackAfterMemberEnter", "Operator_Account": "u-host", "operator": "u-host",
					"RoomId": "room-demo", "MemberCount": 3.0, "Type": "Enter", "EventTime": 1795640415000.0,
				}),
			},
		},
		{
			name: "member leave: object and numeric accounts",
			file: "testdata/events/callback-member-leave.json",
			want: []rules.Event{
				leaveEvent("u9", t0.Add(123*time.Millisecond)),
				leaveEvent("12345", t0.Add(123*time.Millisecond)),
			},
		},
		{
			name: "seat changed: one seat fills seat and seats, numeric account",
			file: "../../examples/events/callback-seat-changed.json",
			want: []rules.Event{{
				ID:     "Mic.CallbackAfterSeatInfoChanged:room-demo:1795640420000",
				Type:   "seat.changed",
				Time:   t0.Add(20 * time.Second),
				RoomID: "room-demo",
				Seat:   rules.Seat{Index: 3, UserID: "10086", AudioDisabled: true},
				Seats:  []rules.Seat{{Index: 3, UserID: "10086", AudioDisabled: true}},
				Attrs: map[string]any{
					"CallbackCommand": "Mic.CallbackAfterSeatInfoChanged", "Operator_Account": "u-host", "operator": "u-host",
					"RoomId": "room-demo", "EventTime": 1795640420000.0,
				},
			}},
		},
		{
			name: "seat changed: several seats leave seat zero",
			file: "testdata/events/callback-seats-many.json",
			want: []rules.Event{{
				ID:     "Mic.CallbackAfterSeatInfoChanged:room-test:1795640400000",
				Type:   "seat.changed",
				Time:   t0,
				RoomID: "room-test",
				Seats: []rules.Seat{
					{Index: 0, UserID: "host"},
					{Index: 1, TakenDisabled: true, VideoDisabled: true, AudioDisabled: true},
				},
				Attrs: map[string]any{
					"CallbackCommand": "Mic.CallbackAfterSeatInfoChanged", "RoomId": "room-test", "EventTime": 1795640400000.0,
				},
			}},
		},
		{
			name: "other command keeps its name as the type",
			file: "testdata/events/callback-destroy-room.json",
			want: []rules.Event{{
				ID:     "Room.CallbackAfterDestroyRoom:room-test:1795640400000",
				Type:   "Room.CallbackAfterDestroyRoom",
				Time:   t0,
				RoomID: "room-test",
				Attrs: map[string]any{
					"CallbackCommand": "Room.CallbackAfterDestroyRoom", "Operator_Account": "u-host", "operator": "u-host",
					"RoomId": "room-test", "EventTime": 1795640400000.0, "Reason": "owner left",
				},
			}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := decodeOK(t, readFile(t, tc.file))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func memberEvent(typ, id, user string, tm time.Time, attrs map[string]any) rules.Event {
	return rules.Event{ID: id, Type: typ, Time: tm, RoomID: "room-demo", User: rules.User{ID: user}, Attrs: attrs}
}

func leaveEvent(user string, tm time.Time) rules.Event {
	return rules.Event{
		ID:     "Room.CallbackAfterMemberLeave:room-test:1795640400123:" + user,
		Type:   "member.leave",
		Time:   tm,
		RoomID: "room-test",
		User:   rules.User{ID: user},
		Attrs: map[string]any{
			"CallbackCommand": "Room.CallbackAfterMemberLeave", "Operator_Account": "admin", "operator": "admin",
			"RoomId": "room-test", "MemberCount": 1.0, "Type": "Kicked", "Reason": "spam", "EventTime": 1795640400123.0,
		},
	}
}

func TestDecodeCallbackIDsStableAcrossRedelivery(t *testing.T) {
	data := readFile(t, "testdata/events/callback-member-leave.json")
	first, second := decodeOK(t, data), decodeOK(t, data)
	for i := range first {
		if first[i].ID != second[i].ID {
			t.Errorf("event %d: id %q then %q", i, first[i].ID, second[i].ID)
		}
	}
	if first[0].ID == first[1].ID {
		t.Errorf("two members share id %q", first[0].ID)
	}
}

func TestDecodeCallbackMemberAttrsAreSeparate(t *testing.T) {
	evs := decodeOK(t, readFile(t, "testdata/events/callback-member-leave.json"))
	evs[0].Attrs["Type"] = "changed"
	if got := evs[1].Attrs["Type"]; got != "Kicked" {
		t.Errorf("second event's attrs.Type = %v after changing the first's, want Kicked", got)
	}
}

// TestDecodeExamples checks that every sample event shipped for the
// README demo decodes.
func TestDecodeExamples(t *testing.T) {
	want := map[string]string{
		"flagged-join.json":          "member.enter",
		"clean-join.json":            "member.enter",
		"spam-seat.json":             "seat.taken",
		"callback-member-enter.json": "member.enter",
		"callback-seat-changed.json": "seat.changed",
	}
	files, err := filepath.Glob("../../examples/events/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < len(want) {
		t.Fatalf("found %d example events, want at least %d", len(files), len(want))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			evs := decodeOK(t, readFile(t, f))
			if typ, ok := want[filepath.Base(f)]; ok && evs[0].Type != typ {
				t.Errorf("type = %q, want %q", evs[0].Type, typ)
			}
			for _, ev := range evs {
				if ev.RoomID != "room-demo" {
					t.Errorf("room_id = %q, want room-demo", ev.RoomID)
				}
			}
		})
	}
	spam := decodeOK(t, readFile(t, "../../examples/events/spam-seat.json"))[0]
	if spam.Seat.Index != 3 || spam.User.Score != 0.95 || len(spam.User.Labels) != 1 || spam.User.Labels[0] != "spam" {
		t.Errorf("spam-seat.json decoded to %+v, want seat 3, label spam, score 0.95", spam)
	}
}
