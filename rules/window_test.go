package rules

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestWindows(t *testing.T) {
	s := loadValid(t)
	var names []string
	for _, w := range s.Windows() {
		names = append(names, w.Name)
	}
	if want := []string{"reports", "offences"}; !slices.Equal(names, want) {
		t.Errorf("Windows() = %v, want %v", names, want)
	}
	w := s.Window("reports")
	if w == nil {
		t.Fatal(`Window("reports") = nil`)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"File", w.File, "testdata/valid/state.yaml"},
		{"Line", w.Line, 8},
		{"On", strings.Join(w.On, ","), "user.flagged"},
		{"For", w.For, time.Minute},
		{"HasDistinct", w.HasDistinct, true},
		{"When", w.When, "event.user.score >= 0.5"},
		{"Key", w.Key, `event.room_id + "/" + event.user.id`},
		{"Distinct", w.Distinct, `attr_string("reporter")`},
		{"offences HasDistinct", s.Window("offences").HasDistinct, false},
		{"offences When", s.Window("offences").When, ""},
		{"unknown window", s.Window("nope") == nil, true},
		{"WindowsFor user.flagged", len(s.WindowsFor("user.flagged")), 2},
		{"WindowsFor message.flagged", s.WindowsFor("message.flagged")[0].Name, "offences"},
		{"WindowsFor member.enter", len(s.WindowsFor("member.enter")), 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestFeeds(t *testing.T) {
	s := loadValid(t)
	flagged := func(score float64) *Event {
		return &Event{ID: "e1", Type: "user.flagged", RoomID: "r1", User: User{ID: "u1", Score: score},
			Attrs: map[string]any{"reporter": "rep-7"}}
	}
	tests := []struct {
		name string
		ev   *Event
		want []string // "window key value"
	}{
		{"both windows, with the distinct value", flagged(0.9), []string{"reports r1/u1 rep-7", "offences u1 "}},
		{"when false skips the window", flagged(0.1), []string{"offences u1 "}},
		{"another type feeds the window listening for it", &Event{Type: "message.flagged", User: User{ID: "u2"}}, []string{"offences u2 "}},
		{"no window listens", &Event{Type: "member.enter", User: User{ID: "u1"}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prev := []Feed{{Key: "kept"}}
			feeds, errs := NewEvaluator().Feeds(s, tc.ev, t0, prev)
			if len(errs) != 0 {
				t.Fatalf("errors: %v", errs)
			}
			if feeds[0].Key != "kept" {
				t.Fatalf("Feeds dropped what dst held: %+v", feeds)
			}
			var got []string
			for _, f := range feeds[1:] {
				got = append(got, f.Window.Name+" "+f.Key+" "+f.Value)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("feeds = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestFeedsWithoutWindowsIsFree: an event type that no window listens
// for costs no allocation, so sets without windows pay nothing.
func TestFeedsWithoutWindowsIsFree(t *testing.T) {
	s := loadValid(t)
	e := NewEvaluator()
	ev := &Event{Type: "member.enter", RoomID: "r1"}
	dst := make([]Feed, 0, 4)
	allocs := testing.AllocsPerRun(100, func() {
		dst, _ = e.Feeds(s, ev, t0, dst[:0])
	})
	if allocs != 0 {
		t.Errorf("Feeds allocated %v times for an event type without windows", allocs)
	}
}

// TestFeedsError: a window failing at run time is skipped with a
// positioned error naming it; the other windows are fed.
func TestFeedsError(t *testing.T) {
	s := mustCompile(t, `windows:
  by_room_attr:
    on: [a]
    key: event.attrs.room
    for: 1m
  by_user:
    on: [a]
    key: event.user.id
    for: 1m
rules:
  - name: r
    on: [a]
    when: window("by_room_attr") + window("by_user") > 0
    actions: [{lock_seat: {room_id: event.room_id, index: 1, forbid_audio: true}}]
`)
	feeds, errs := NewEvaluator().Feeds(s, &Event{Type: "a", User: User{ID: "u1"}, Attrs: map[string]any{"room": 5.0}}, t0, nil)
	if len(feeds) != 1 || feeds[0].Window.Name != "by_user" || feeds[0].Key != "u1" {
		t.Errorf("feeds = %+v, want by_user's only", feeds)
	}
	want := `window "by_room_attr": inline.yaml:4:10: event.attrs.room evaluated to 5 (float64), want a string`
	if len(errs) != 1 || errs[0].Error() != want {
		t.Fatalf("errors = %v, want %q", errs, want)
	}
	var pos Error
	if !errors.As(errs[0], &pos) || pos.Line != 4 {
		t.Errorf("error %v does not unwrap to a positioned Error", errs[0])
	}
}

// TestUnreadWindowWarns: a window no rule reads is a warning, not an
// error.
func TestUnreadWindowWarns(t *testing.T) {
	s := mustCompile(t, `windows:
  read: {on: [a], key: event.user.id, for: 1m}
  unread: {on: [a], key: event.user.id, for: 1m}
rules:
  - name: r
    on: [b]
    when: window("read") > 1
    actions: [{lock_seat: {room_id: event.room_id, index: 1, forbid_audio: true}}]
`)
	want := `inline.yaml:3:3: window "unread" is not read by any rule (no rule calls window("unread")); it is still fed, which costs state`
	if ws := s.Warnings(); len(ws) != 1 || ws[0].Error() != want {
		t.Errorf("warnings = %q, want %q", ws, want)
	}
}
