package engine

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// succeedingSubmitter answers every action succeeded at once and
// counts the calls by room and seat.
type succeedingSubmitter struct {
	mu    sync.Mutex
	calls map[string]int
}

func (s *succeedingSubmitter) Submit(_ context.Context, a Action, done func(Outcome, error)) error {
	s.mu.Lock()
	if s.calls == nil {
		s.calls = map[string]int{}
	}
	s.calls[fmt.Sprintf("%s/%d", a.Params.RoomID, a.Params.Index)]++
	s.mu.Unlock()
	done(Outcome{Rule: a.Rule, EventID: a.EventID, Action: a.Kind, Params: a.Params, Outcome: Succeeded, Attempts: 1}, nil)
	return nil
}

func (s *succeedingSubmitter) count(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[key]
}

// TestDuplicateIDsProbe is the probe of issue [1c/6] item 5, through the
// pipeline: three stored messages reusing the event id "dup" in one room
// inside the cooldown, and five callbacks without EventTime, must each
// act once and be suppressed after that (before the fix: 3 and 5
// calls, because a cooldown let through any event with the id that
// started it). A redelivery of the first message (same stream sequence)
// still acts, as its outcome may never have been recorded.
func TestDuplicateIDsProbe(t *testing.T) {
	set := compileSet(t, `rules:
  - name: flagged
    on: [user.flagged]
    when: "true"
    actions: [{lock_seat: {room_id: event.room_id, index: 1, forbid_audio: true}}]
    cooldown: {key: event.room_id, for: 10m}
  - name: seat-changed
    on: [seat.changed]
    when: "true"
    actions: [{lock_seat: {room_id: event.room_id, index: 2, forbid_audio: true}}]
    cooldown: {key: event.room_id, for: 10m}
`)
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	sub, rec := &succeedingSubmitter{}, &listRecorder{}
	p := newTestPipeline(t, PipelineConfig{Rules: benchRules{set}, Executor: sub, Recorder: rec,
		Now: func() time.Time { return now }})
	handle := func(d Delivery) {
		t.Helper()
		d.Published = now
		if r := settled(t.Context(), p.HandleMessage(t.Context(), d)); r.Verdict != Ack {
			t.Fatalf("stream seq %d: verdict %s (%s), want ack", d.StreamSeq, r.Verdict, r.Reason)
		}
		now = now.Add(time.Second)
	}

	dup := []byte(`{"id":"dup","type":"user.flagged","room_id":"dup-room","user":{"id":"u1"}}`)
	for seq := uint64(1); seq <= 3; seq++ {
		handle(Delivery{Subject: "rooms.events.user.flagged", Data: dup, StreamSeq: seq, NumDelivered: 1})
	}
	if n := sub.count("dup-room/1"); n != 1 {
		t.Errorf("three messages with the id \"dup\": %d calls, want 1 (the other two suppressed)", n)
	}
	handle(Delivery{Subject: "rooms.events.user.flagged", Data: dup, StreamSeq: 1, NumDelivered: 2})
	if n := sub.count("dup-room/1"); n != 2 {
		t.Errorf("after a redelivery of the first message: %d calls, want 2 (a redelivery is not suppressed)", n)
	}

	cb := []byte(`{"CallbackCommand":"Mic.CallbackAfterSeatInfoChanged","RoomId":"cbroom","SeatList":[{"Index":1,"Member_Account":"u1"}]}`)
	for seq := uint64(10); seq < 15; seq++ {
		handle(Delivery{Subject: "rooms.events.callback", Data: cb, StreamSeq: seq, NumDelivered: 1})
	}
	if n := sub.count("cbroom/2"); n != 1 {
		t.Errorf("five callbacks without EventTime: %d calls, want 1 (the other four suppressed)", n)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	count := map[OutcomeKind]int{}
	ids := map[string]bool{}
	for _, o := range rec.got {
		count[o.Outcome]++
		ids[o.EventID] = true
	}
	if count[Succeeded] != 3 || count[Suppressed] != 6 || len(rec.got) != 9 {
		t.Errorf("outcomes %v (%d in all), want 3 succeeded and 6 suppressed", count, len(rec.got))
	}
	for seq := 10; seq < 15; seq++ {
		if id := fmt.Sprintf("seq-%d", seq); !ids[id] {
			t.Errorf("no outcome for event %s: the callbacks without EventTime must be named after their messages; ids %v", id, ids)
		}
	}
}
