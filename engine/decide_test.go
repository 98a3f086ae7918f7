package engine

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/rules"
)

var t0 = time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)

// loadRules loads the rules package's valid test rules.
func loadRules(t testing.TB) *rules.Set {
	t.Helper()
	s, err := rules.Load("../rules/testdata/valid")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return s
}

func TestDecideCooldown(t *testing.T) {
	s := loadRules(t)
	join := func(room, user string) *rules.Event {
		return &rules.Event{Type: "member.enter", RoomID: room, User: rules.User{ID: user, Flagged: true}}
	}
	flag := func(room string) *rules.Event {
		return &rules.Event{Type: "user.flagged", RoomID: room, User: rules.User{Labels: []string{"spam"}},
			Attrs: map[string]any{"reports": 3.0}}
	}
	steps := []struct {
		ev             *rules.Event
		at             time.Duration
		wantSuppressed bool
	}{
		{join("r1", "u1"), 0, false},
		{join("r1", "u1"), 30 * time.Second, true},  // same key
		{join("r1", "u2"), 31 * time.Second, false}, // other key
		{join("r2", "u1"), 32 * time.Second, false}, // other key
		{join("r1", "u1"), 89 * time.Second, true},  // still cooling: suppression does not extend it
		{join("r1", "u1"), 90 * time.Second, false}, // expired
		{flag("r1"), 0, false},
		{flag("r2"), 10 * time.Second, true}, // no key: one cooldown for the rule
		{flag("r3"), 60 * time.Second, false},
	}
	d := NewDecider(DeciderConfig{Store: state.NewMemory(0)})
	for i, st := range steps {
		ds, err := d.Decide(t.Context(), s, st.ev, "origin-"+string(rune('a'+i)), t0.Add(st.at), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 0 {
			t.Fatalf("step %d: no decisions, want the rule's", i)
		}
		for _, dec := range ds {
			if got := dec.Outcome == Suppressed; got != st.wantSuppressed {
				t.Errorf("step %d (%s %s at %v): suppressed = %v, want %v", i, st.ev.Type, st.ev.RoomID, st.at, got, st.wantSuppressed)
			}
			if dec.Action.Params.RoomID == "" {
				t.Errorf("step %d: a suppressed decision still carries its rendered action", i)
			}
		}
	}
}

// TestDecideRedeliveryNotSuppressed: the same delivery origin decided
// twice, as a redelivery would be, acts both times; another origin for
// the same key is suppressed, even when it reuses the event id.
func TestDecideRedeliveryNotSuppressed(t *testing.T) {
	s := loadRules(t)
	d := NewDecider(DeciderConfig{Store: state.NewMemory(0)})
	ev := func(id string) *rules.Event {
		return &rules.Event{ID: id, Type: "member.enter", RoomID: "room", User: rules.User{ID: "u", Flagged: true}}
	}
	tests := []struct {
		name, id, origin string
		wantSuppressed   bool
	}{
		{"first delivery", "ev-1", "7#0", false},
		{"redelivery of the same message", "ev-1", "7#0", false},
		{"another message reusing the event id", "ev-1", "8#0", true},
		{"another event in the same room", "ev-2", "9#0", true},
	}
	for _, tc := range tests {
		ds, err := d.Decide(t.Context(), s, ev(tc.id), tc.origin, t0, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 0 || (ds[0].Outcome == Suppressed) != tc.wantSuppressed {
			t.Errorf("%s: decisions = %+v, want one suppressed=%v", tc.name, ds, tc.wantSuppressed)
		}
	}
}

// TestDecideConcurrent shares a Set and Cooldowns between goroutines,
// each with its own Decider; run with -race. Exactly one of them may act
// for the single cooldown key.
func TestDecideConcurrent(t *testing.T) {
	s := loadRules(t)
	store := state.NewMemory(0)
	const workers = 8
	var wg sync.WaitGroup
	allowed := make(chan int, workers*50)
	for w := range workers {
		wg.Go(func() {
			d := NewDecider(DeciderConfig{Store: store})
			var ds []Decision
			for i := range 50 {
				ev := &rules.Event{Type: "member.enter", RoomID: "r1", User: rules.User{ID: "u1", Flagged: true}}
				ds, _ = d.Decide(context.Background(), s, ev, string(rune(w))+"/"+string(rune(i)), t0, ds[:0])
				if len(ds) > 0 && ds[0].Outcome == "" {
					allowed <- 1
				}
			}
		})
	}
	wg.Wait()
	close(allowed)
	if n := len(allowed); n != 1 {
		t.Errorf("%d actions were allowed, want exactly 1", n)
	}
}

// TestDecideRefusesInvalidParams is the probe of issue [1c/6] item 9: a
// rendered lock_seat the Room Engine would refuse is decided failed,
// with the reason, and never sent.
func TestDecideRefusesInvalidParams(t *testing.T) {
	s, err := rules.Compile(rules.Source{Path: "r.yaml", Data: []byte(`rules:
  - name: from-attrs
    on: [x]
    when: "true"
    actions: [{lock_seat: {room_id: attr_string("room"), index: event.seat.index, forbid_audio: true}}]
`)})
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecider(DeciderConfig{Store: state.NewMemory(0)})
	tests := []struct {
		name  string
		ev    rules.Event
		want  OutcomeKind
		inWhy string
	}{
		{"valid", rules.Event{Type: "x", Attrs: map[string]any{"room": "room-1"}, Seat: rules.Seat{Index: 2}}, "", ""},
		{"a room id over the limit", rules.Event{Type: "x", Attrs: map[string]any{"room": strings.Repeat("r", 10241)}}, Failed, "48-byte limit"},
		{"an empty room id", rules.Event{Type: "x"}, Failed, "room_id"},
		{"a seat index beyond any room", rules.Event{Type: "x", Attrs: map[string]any{"room": "r"}, Seat: rules.Seat{Index: 1 << 40}}, Failed, "index"},
	}
	for _, tc := range tests {
		ds, err := d.Decide(t.Context(), s, &tc.ev, "o", t0, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 1 || ds[0].Outcome != tc.want || !strings.Contains(ds[0].Info, tc.inWhy) {
			t.Errorf("%s: decisions %+v, want outcome %q with %q in the reason", tc.name, ds, tc.want, tc.inWhy)
		}
	}
}
