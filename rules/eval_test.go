package rules

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLoadValidFields(t *testing.T) {
	s := loadValid(t)
	if got, want := s.Files(), []string{"testdata/valid/all_fields.yaml", "testdata/valid/helpers.yaml", "testdata/valid/state.yaml"}; !slices.Equal(got, want) {
		t.Errorf("Files() = %v, want %v", got, want)
	}
	if got, want := s.Types(), []string{"member.enter", "message.flagged", "seat.changed", "seat.taken", "user.flagged", "user.muted"}; !slices.Equal(got, want) {
		t.Errorf("Types() = %v, want %v", got, want)
	}
	if s.Len() != 10 || len(s.Rules()) != 10 {
		t.Errorf("Len() = %d, Rules() = %d, want 10", s.Len(), len(s.Rules()))
	}
	if len(s.Hash()) != 64 {
		t.Errorf("Hash() = %q, want a hex SHA-256", s.Hash())
	}
	r := s.Rule("every-field")
	if r == nil {
		t.Fatal(`Rule("every-field") = nil`)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Description", r.Description, "Uses every rule field."},
		{"File", r.File, "testdata/valid/all_fields.yaml"},
		{"Line", r.Line, 8},
		{"On", fmt.Sprint(r.On), "[member.enter seat.taken]"},
		{"When", r.When, "event.user.flagged && !(event.user.id in lists.moderators)"},
		{"Enabled", r.Enabled, true},
		{"DryRun", r.DryRun, true},
		{"CooldownFor", r.CooldownFor, 90 * time.Second},
		{"CooldownKey", r.CooldownKey, `event.room_id + "/" + event.user.id`},
		{"ActionCount", r.ActionCount(), 2},
		{"disabled Enabled", s.Rule("disabled-rule").Enabled, false},
		{"per-rule CooldownKey", s.Rule("per-rule-cooldown").CooldownKey, ""},
		{"lists", listsString(s.Lists()), "bad_labels:[spam scam] moderators:[mod-1 mod-2] nobody:[] vip:[vip-1] watched:kv=watched_users"},
		{"kv lists", fmt.Sprintf("%d %s %d", len(s.KVLists()), s.KVLists()[0].Name, s.KVLists()[0].Line), "1 watched 4"},
		{"no budget", r.Budget == nil, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// listsString formats lists sorted by name: static members, or kv=BUCKET.
func listsString(lists map[string]*List) string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(lists)) {
		l := lists[name]
		if l.Bucket != "" {
			out = append(out, fmt.Sprintf("%s:kv=%s", name, l.Bucket))
			continue
		}
		out = append(out, fmt.Sprintf("%s:%v", name, l.Members))
	}
	return strings.Join(out, " ")
}

func TestCandidates(t *testing.T) {
	s := loadValid(t)
	tests := []struct {
		eventType string
		want      []string
	}{
		{"member.enter", []string{"every-field", "watched-user-enters"}}, // disabled-rule is not a candidate
		{"seat.taken", []string{"every-field", "crowded-watch-list"}},
		{"seat.changed", []string{"attr-runtime-error", "after-the-failing-rule"}},
		{"room.created", nil},
	}
	for _, tc := range tests {
		t.Run(tc.eventType, func(t *testing.T) {
			var got []string
			for _, r := range s.Candidates(tc.eventType) {
				got = append(got, r.Name)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Candidates(%q) = %v, want %v", tc.eventType, got, tc.want)
			}
		})
	}
}

func TestEval(t *testing.T) {
	s := loadValid(t)
	tests := []struct {
		name    string
		ev      Event
		now     time.Time
		want    []firedLock
		wantErr []string // substrings of errors, in order
	}{
		{
			name: "every field renders both actions, unset flags stay unset",
			ev:   Event{Type: "member.enter", RoomID: "r1", User: User{ID: "u1", Flagged: true, Score: 0.7}, Seat: Seat{Index: 5}},
			want: []firedLock{
				{"every-field", LockSeat{RoomID: "r1", Index: 2, ForbidTaken: False, ForbidVideo: True, ForbidAudio: True}},
				{"every-field", LockSeat{RoomID: "lobby-r1", Index: 5, ForbidTaken: True}},
			},
		},
		{
			name: "a low score renders forbid_video false, not unset",
			ev:   Event{Type: "seat.taken", RoomID: "r1", User: User{ID: "u1", Flagged: true, Score: 0.1}},
			want: []firedLock{
				{"every-field", LockSeat{RoomID: "r1", Index: 2, ForbidTaken: False, ForbidVideo: False, ForbidAudio: True}},
				{"every-field", LockSeat{RoomID: "lobby-r1", Index: 0, ForbidTaken: True}},
			},
		},
		{
			name: "a moderator is allowed",
			ev:   Event{Type: "member.enter", RoomID: "r1", User: User{ID: "mod-2", Flagged: true}},
			want: []firedLock{},
		},
		{
			name: "helpers all true",
			ev: Event{Type: "message.flagged", RoomID: "r2", Time: t0.Add(-30 * time.Second),
				User:  User{Labels: []string{"scam", "verified"}},
				Attrs: map[string]any{"message_id": "m1", "severity": "high", "repeat": true, "seat": 7.0}},
			now:  t0,
			want: []firedLock{{"helpers", LockSeat{RoomID: "r2", Index: 7, ForbidVideo: True}}},
		},
		{
			name: "now() is the evaluation time",
			ev: Event{Type: "message.flagged", RoomID: "r2", Time: t0.Add(-2 * time.Minute),
				User:  User{Labels: []string{"scam", "verified"}},
				Attrs: map[string]any{"message_id": "m1", "severity": "high", "repeat": true, "seat": 7.0}},
			now:  t0,
			want: []firedLock{},
		},
		{
			name: "missing attributes read as zero values",
			ev:   Event{Type: "message.flagged", User: User{Labels: []string{"scam", "verified"}}},
			now:  t0,
			want: []firedLock{},
		},
		{
			name:    "a runtime error in one rule does not stop the next",
			ev:      Event{Type: "seat.changed", RoomID: "r3", Seats: []Seat{{Index: 4, UserID: "u1"}}},
			want:    []firedLock{{"after-the-failing-rule", LockSeat{RoomID: "r3", Index: 4, ForbidAudio: True}}},
			wantErr: []string{`rule "attr-runtime-error": testdata/valid/helpers.yaml:22:29: invalid operation: <nil> > int`},
		},
		{
			name: "no candidates",
			ev:   Event{Type: "room.created"},
			want: []firedLock{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := NewEvaluator().Eval(s, &tc.ev, tc.now, &fakeReader{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := fired(ms); !slices.Equal(got, tc.want) {
				t.Errorf("fired:\n got %v\nwant %v", got, tc.want)
			}
			var errs []string
			for _, m := range ms {
				if m.Err != nil {
					errs = append(errs, m.Err.Error())
				}
			}
			if len(errs) != len(tc.wantErr) {
				t.Fatalf("errors = %q, want %q", errs, tc.wantErr)
			}
			for i := range errs {
				if !strings.Contains(errs[i], tc.wantErr[i]) {
					t.Errorf("error %d = %q, want it to contain %q", i, errs[i], tc.wantErr[i])
				}
			}
		})
	}
}

// TestEvalCooldownKey: a match carries its rendered cooldown key,
// empty for a rule whose cooldown has no key.
func TestEvalCooldownKey(t *testing.T) {
	s := loadValid(t)
	tests := []struct {
		ev   *Event
		want string
	}{
		{&Event{Type: "member.enter", RoomID: "r1", User: User{ID: "u1", Flagged: true}}, "r1/u1"},
		{&Event{Type: "user.flagged", RoomID: "r1", User: User{Labels: []string{"spam"}}, Attrs: map[string]any{"reports": 3.0}}, ""},
	}
	for _, tc := range tests {
		ms, err := NewEvaluator().Eval(s, tc.ev, t0, &fakeReader{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != 1 || ms[0].Err != nil || ms[0].Rule.CooldownFor <= 0 {
			t.Fatalf("%s: matches = %+v, want one match with a cooldown", tc.ev.Type, ms)
		}
		if ms[0].CooldownKey != tc.want {
			t.Errorf("%s: cooldown key %q, want %q", tc.ev.Type, ms[0].CooldownKey, tc.want)
		}
	}
}
