package replay

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	everyJoin = "rules:\n" + rule("every-join", "member.enter", "true", 1)
	noJoin    = "rules:\n" + rule("every-join", "member.enter", "false", 1)
)

// TestReplayRange: a range selects messages by the time the stream
// stored them, then events by their own time. Messages cannot be
// stored at chosen times, so the test stores two batches around a
// moment and gives events times of their own.
func TestReplayRange(t *testing.T) {
	js := newStream(t)
	join := func(id string, when *time.Time) event {
		return event{ID: id, Type: "member.enter", Time: when, RoomID: "room-1", User: &user{ID: id}}
	}
	later := time.Now().Add(time.Hour)
	publish(t, js, join("a-untimed", nil), join("a-later", &later))
	time.Sleep(20 * time.Millisecond)
	mid := time.Now()
	time.Sleep(20 * time.Millisecond)
	publish(t, js, join("b-untimed", nil), join("b-early", at(0)), join("b-later", &later))

	tests := []struct {
		name        string
		rg          Range
		wantIDs     []string
		wantOutside int
	}{
		{"all", Range{}, []string{"a-untimed", "a-later", "b-untimed", "b-early", "b-later"}, 0},
		// a-later is timed after mid but stored before it: not read.
		// b-early is stored after mid but timed before it: outside.
		{"from", Range{From: mid}, []string{"b-untimed", "b-later"}, 1},
		// Stored after mid: not read. a-later: outside.
		{"until", Range{Until: mid}, []string{"a-untimed"}, 1},
		{"from and until", Range{From: mid, Until: later.Add(time.Minute)}, []string{"b-untimed", "b-later"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := replayAll(t, js, Config{Candidate: compile(t, everyJoin), Baseline: compile(t, noJoin), Range: tc.rg})
			got := ruleReport(t, rep, "every-join")
			if !slices.Equal(got.OnlyCandidate, tc.wantIDs) || rep.Events != len(tc.wantIDs) || rep.Outside != tc.wantOutside {
				t.Errorf("replayed %v (%d events), %d outside; want %v, %d outside", got.OnlyCandidate, rep.Events,
					rep.Outside, tc.wantIDs, tc.wantOutside)
			}
		})
	}
}

// TestReplayEmpty: a range without events says so, and what the stream
// holds.
func TestReplayEmpty(t *testing.T) {
	js := newStream(t)
	rep := replayAll(t, js, Config{Candidate: compile(t, everyJoin)})
	var b strings.Builder
	_ = rep.WriteText(&b)
	if rep.Events != 0 || !strings.Contains(b.String(), "no events to replay in the stream: the stream is empty") {
		t.Errorf("empty stream: %d events, text %q", rep.Events, b.String())
	}

	publish(t, js, event{ID: "e1", Type: "member.enter", RoomID: "r", User: &user{ID: "u"}})
	from := time.Now().Add(time.Hour)
	rep = replayAll(t, js, Config{Candidate: compile(t, everyJoin), Range: Range{From: from}})
	b.Reset()
	_ = rep.WriteText(&b)
	want := "no events to replay from " + stamp(from) + ": the stream holds messages stored from "
	if rep.Events != 0 || !strings.Contains(b.String(), want) || strings.Contains(b.String(), "RULE") {
		t.Errorf("range after the stream: %d events, text %q; want it to say %q and print no table", rep.Events, b.String(), want)
	}
}

// TestReplayNothingOnTheSubjects: a range whose messages are all on
// subjects the daemon does not read ends at once, with no event.
func TestReplayNothingOnTheSubjects(t *testing.T) {
	js := newStream(t)
	publish(t, js, event{Type: "seat.taken", RoomID: "r", Seat: &seat{Index: 1}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rep, err := Run(ctx, Config{Candidate: compile(t, everyJoin),
		Source: Source{JS: js, Stream: testStream, Subjects: []string{"rooms.events.member.enter"}}})
	if err != nil || rep.Events != 0 {
		t.Errorf("Run: %v, %d events; want none, at once", err, rep.Events)
	}
}

// TestReplayCancelled: a replay stopped early reports what it replayed
// until then, marked partial, with the context's error.
func TestReplayCancelled(t *testing.T) {
	js := newStream(t)
	const n = 600
	for range n {
		publish(t, js, event{Type: "member.enter", RoomID: "r", User: &user{ID: "u"}})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := Config{Candidate: compile(t, everyJoin), Source: Source{JS: js, Stream: testStream, Batch: 100},
		ProgressEvery: time.Nanosecond, Progress: func(p Progress) {
			if p.Messages >= 256 {
				cancel() // called from the replaying goroutine after message 256
			}
		}}
	rep, err := Run(ctx, cfg)
	if !errors.Is(err, context.Canceled) || rep == nil || !rep.Partial {
		t.Fatalf("Run: %v, partial %v; want context.Canceled and a partial report", err, rep != nil && rep.Partial)
	}
	if rep.Events < 256 || rep.Events >= n {
		t.Errorf("replayed %d events, want from 256 to fewer than %d", rep.Events, n)
	}
	var b strings.Builder
	_ = rep.WriteText(&b)
	if !strings.HasPrefix(b.String(), "PARTIAL") {
		t.Errorf("text %q, want it marked partial", b.String())
	}
}
