package decode

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
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

// TestDecodeCallbackWithoutEventTime: a callback without EventTime gets
// no id, so the pipeline names its events after the stored message
// (Nats-Msg-Id or stream sequence, "#i" per event). A constant id such as
// "Mic.CallbackAfterSeatInfoChanged:cbroom:0" made five different
// callbacks look like one event (issue 17, item 5).
func TestDecodeCallbackWithoutEventTime(t *testing.T) {
	tests := []struct {
		name string
		data string
		n    int
	}{
		{"seat changed", `{"CallbackCommand":"Mic.CallbackAfterSeatInfoChanged","RoomId":"cbroom","SeatList":[{"Index":1,"Member_Account":"u1"}]}`, 1},
		{"seat changed, null EventTime", `{"CallbackCommand":"Mic.CallbackAfterSeatInfoChanged","RoomId":"cbroom","EventTime":null,"SeatList":[]}`, 1},
		{"member enter", `{"CallbackCommand":"Room.CallbackAfterMemberEnter","RoomId":"cbroom","MemberList_Account":["u1","u2"]}`, 2},
		{"other command", `{"CallbackCommand":"Room.CallbackAfterDestroyRoom","RoomId":"cbroom"}`, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evs := decodeOK(t, []byte(tc.data))
			if len(evs) != tc.n {
				t.Fatalf("got %d events, want %d", len(evs), tc.n)
			}
			for i, ev := range evs {
				if ev.ID != "" || !ev.Time.IsZero() {
					t.Errorf("event %d: id %q, time %v; want both empty, for the pipeline to fill", i, ev.ID, ev.Time)
				}
			}
		})
	}
}

func TestDecodeCallbackMembersShareAttrs(t *testing.T) {
	evs := decodeOK(t, readFile(t, "testdata/events/callback-member-leave.json"))
	if len(evs) != 2 {
		t.Fatalf("got %d events, want 2", len(evs))
	}
	if reflect.ValueOf(evs[0].Attrs).UnsafePointer() != reflect.ValueOf(evs[1].Attrs).UnsafePointer() {
		t.Error("the events of one callback have separate attrs maps; want one shared, read-only map")
	}
}

// probeCallback is a Room.CallbackAfterMemberEnter listing members
// accounts, with keys extra top-level fields: the bodies of the issue 17
// (item 2) probe, where each member's copy of the fields made memory
// members × keys.
func probeCallback(members, keys int) []byte {
	var b strings.Builder
	b.WriteString(`{"CallbackCommand":"Room.CallbackAfterMemberEnter","RoomId":"probe-room","Type":"Enter","EventTime":1795640415000`)
	for i := range keys {
		fmt.Fprintf(&b, `,"k%d":%d`, i, i)
	}
	b.WriteString(`,"MemberList_Account":[`)
	for i := range members {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"m%d"`, i)
	}
	b.WriteString("]}")
	return []byte(b.String())
}

// allocatedBytes is the average number of bytes one Events(data, nil)
// allocates, and its result.
func allocatedBytes(data []byte) (uint64, []rules.Event, error) {
	const runs = 3
	var before, after runtime.MemStats
	var evs []rules.Event
	var err error
	runtime.ReadMemStats(&before)
	for range runs {
		evs, err = Events(data, nil)
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / runs, evs, err
}

// TestDecodeCallbackMemoryProportional decodes the probe bodies of issue
// 17 (item 2) and bodies at the fan-out limit. Decoding may allocate 20
// bytes per body byte (the attrs map of many small keys costs about 15),
// plus 512 bytes per event it returns: the rules.Event itself (192 bytes)
// and its id. Events share one attrs map, so the cost does not grow with
// members × keys (the old decoder: 397 MiB for the 48 KB probe).
func TestDecodeCallbackMemoryProportional(t *testing.T) {
	overLimit := `Room.CallbackAfterMemberEnter: %d members, over the limit of 1000 per callback (MemberList_Account and MemberList together); send them in several callbacks`
	tests := []struct {
		name          string
		members, keys int
		wantErr       string // "" for success
	}{
		// Smallest first: on a regression the first failure stops the
		// test before the larger bodies exhaust memory.
		{"at the limit, no extra fields", MaxCallbackMembers, 0, ""},
		{"at the limit, 1,000 fields", MaxCallbackMembers, 1000, ""},
		{"at the limit, 4,000 fields", MaxCallbackMembers, 4000, ""},
		{"probe: 48 KB, 5,000 members x 1,000 fields", 5000, 1000, fmt.Sprintf(overLimit, 5000)},
		{"probe: 208 KB, 20,000 members x 4,000 fields", 20000, 4000, fmt.Sprintf(overLimit, 20000)},
	}
	for _, tc := range tests {
		body := probeCallback(tc.members, tc.keys)
		got, evs, err := allocatedBytes(body)
		limit := 20*uint64(len(body)) + 512*uint64(len(evs))
		t.Logf("%s: body %d bytes, %d events, %d bytes allocated (%.1f per body byte), limit %d",
			tc.name, len(body), len(evs), got, float64(got)/float64(len(body)), limit)
		if got > limit {
			t.Fatalf("%s: allocated %d bytes for a %d-byte body and %d events, over the limit of %d",
				tc.name, got, len(body), len(evs), limit)
		}
		switch {
		case tc.wantErr == "" && err != nil:
			t.Fatalf("%s: %v", tc.name, err)
		case tc.wantErr == "" && len(evs) != tc.members:
			t.Fatalf("%s: %d events, want %d", tc.name, len(evs), tc.members)
		case tc.wantErr != "":
			var de *Error
			if !errors.As(err, &de) || de.Reason != tc.wantErr {
				t.Fatalf("%s: err = %v\nwant reason %s", tc.name, err, tc.wantErr)
			}
		}
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
