package replay

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

var cooldownRules = "rules:\n" + rule("mute-flagged-join", "member.enter", "event.user.flagged", 2) +
	"    cooldown: {key: event.room_id, for: 1m}\n" + rule("quiet", "user.flagged", "event.user.score > 2.0", 1)

// TestReplayCounts publishes a known mix of flagged joins, in rooms
// whose cooldown lets one action through per minute, and checks the
// figures against those computed here from the mix alone.
func TestReplayCounts(t *testing.T) {
	js := newStream(t)
	type join struct {
		room    string
		at      time.Duration
		flagged bool
	}
	var joins []join
	for r := range 4 {
		every := time.Duration(15+10*r) * time.Second // 15s, 25s, 35s, 45s
		for i := range 10 {
			joins = append(joins, join{fmt.Sprintf("room-%d", r), time.Duration(i) * every, i%4 != 3})
		}
	}
	slices.SortStableFunc(joins, func(a, b join) int { return int(a.at - b.at) })

	// What the rule must do, computed from the mix: a flagged join acts
	// when its room's last action is a minute old or more.
	var matched, actions, suppressed int
	last := map[string]time.Duration{}
	for i, j := range joins {
		publish(t, js, event{ID: fmt.Sprintf("evt-%02d", i), Type: "member.enter", Time: at(j.at), RoomID: j.room,
			User: &user{ID: fmt.Sprintf("u%d", i), Flagged: j.flagged}})
		if !j.flagged {
			continue
		}
		matched++
		if l, ok := last[j.room]; ok && j.at-l < time.Minute {
			suppressed++
			continue
		}
		actions++
		last[j.room] = j.at
	}
	publish(t, js, event{ID: "other", Type: "user.flagged", Time: at(time.Hour), RoomID: "room-0", User: &user{ID: "u"}})
	publishRaw(t, js, "rooms.events.member.enter", []byte(`{"type": 7}`))

	rep := replayAll(t, js, Config{Candidate: compile(t, cooldownRules)})
	if rep.Events != len(joins)+1 || rep.Malformed != 1 || rep.Partial {
		t.Errorf("events %d, malformed %d, partial %v; want %d, 1, false", rep.Events, rep.Malformed, rep.Partial, len(joins)+1)
	}
	got := ruleReport(t, rep, "mute-flagged-join")
	if got.Matched != matched || got.Actions != actions || got.Suppressed != suppressed {
		t.Errorf("mute-flagged-join: matched %d, actions %d, suppressed %d; want %d, %d, %d",
			got.Matched, got.Actions, got.Suppressed, matched, actions, suppressed)
	}
	if q := ruleReport(t, rep, "quiet"); q.Matched != 0 || q.Actions != 0 || !q.InCandidate {
		t.Errorf("quiet: %+v, want listed with nothing matched", q)
	}
	if !rep.From.Equal(t0) || !rep.Until.Equal(t0.Add(time.Hour)) {
		t.Errorf("range %s to %s, want the first and last event times %s to %s", rep.From, rep.Until, t0, t0.Add(time.Hour))
	}
}

var windowRules = `
windows:
  reports:
    on: [user.flagged]
    key: event.room_id + "/" + event.user.id
    for: 1m
rules:
` + rule("three-reports", "user.flagged", `window("reports") >= 3`, 1) + "        for: 10m\n"

// TestReplayEventTime: windows and timed locks run on the events' own
// times, though every event is published within a second.
func TestReplayEventTime(t *testing.T) {
	js := newStream(t)
	report := func(id, u string, d time.Duration) event {
		return event{ID: id, Type: "user.flagged", Time: at(d), RoomID: "room-1", User: &user{ID: u}}
	}
	moderatorClears := func(id string, d time.Duration) event {
		return event{ID: id, Type: "seat.changed", Time: at(d), RoomID: "room-1",
			Seats: []seat{{Index: 1, AudioDisabled: false}}, Attrs: map[string]any{"operator": "mod-1"}}
	}
	publish(t, js,
		// u1: three reports within a minute: the rule locks for 10m.
		report("a1", "u1", 0), report("a2", "u1", 30*time.Second), report("a3", "u1", 59*time.Second),
		// u2: three reports, never three within a minute.
		report("b1", "u2", 0), report("b2", "u2", 61*time.Second), report("b3", "u2", 122*time.Second),
		// The lock from a3 holds until 10m59s: a moderator clearing the
		// seat at 5m overrides it, and the next lock is held back.
		moderatorClears("m1", 5*time.Minute),
		report("a4", "u1", 5*time.Minute+10*time.Second), report("a5", "u1", 5*time.Minute+20*time.Second),
		report("a6", "u1", 5*time.Minute+30*time.Second),
		// u3 an hour later: the override's hold (30m) is over, the lock
		// acts; its undo runs at 1h10m, so the moderator clearing the
		// seat at 1h11m overrides nothing, and u4's lock acts.
		report("c1", "u3", time.Hour), report("c2", "u3", time.Hour+time.Second), report("c3", "u3", time.Hour+2*time.Second),
		moderatorClears("m2", time.Hour+11*time.Minute),
		report("d1", "u4", time.Hour+12*time.Minute), report("d2", "u4", time.Hour+12*time.Minute+time.Second),
		report("d3", "u4", time.Hour+12*time.Minute+2*time.Second),
	)
	rep := replayAll(t, js, Config{Candidate: compile(t, windowRules)})
	got := ruleReport(t, rep, "three-reports")
	// Matches: a3, a6 (a4..a6 see a4, a5, a6), c3, d3.
	if got.Matched != 4 || got.Actions != 3 || got.Overridden != 1 {
		t.Errorf("three-reports: matched %d, actions %d, overridden %d; want 4, 3, 1", got.Matched, got.Actions, got.Overridden)
	}
}
