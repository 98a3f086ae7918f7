package faults

import (
	"context"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/cmd/roomwarden/app"
	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/examples/roomengine-sim/sim"
	"github.com/roomwarden/roomwarden/internal/daemontest"
	"github.com/roomwarden/roomwarden/internal/procstat"
)

// timedRules mutes the seat of a flagged user who joins on it, for as
// long as the event's attrs.for says: each test picks its locks'
// durations in the events it publishes.
const timedRules = `rules:
  - name: timed-mute
    on: [member.enter]
    when: event.user.flagged
    actions:
      - lock_seat: {room_id: event.room_id, index: event.seat.index, forbid_audio: true}
        for: attr_string("for")
`

// undoDueSubject is where the undo stream holds undos that fell due
// (jsstate: <UndoSubject>.due.<seat flag>).
const undoDueSubject = "roomwarden.undo.due.>"

// checkUnlocked fails the test unless lock's event has exactly one
// unlock_seat line, succeeded, naming the lock's rule and event and the
// seat with audio false; the simulator's seat has audio back to false;
// and the successful unlock call arrived no earlier than the lock's end.
// It returns the unlock call's lateness: its arrival less the end.
func (r *stateRig) checkUnlocked(lock engine.Outcome, identifier string) time.Duration {
	r.t.Helper()
	t := r.t
	room, index := lock.Params.RoomID, lock.Params.Index
	unlocks := r.linesOf(lock.EventID, engine.ActionUnlockSeat)
	if len(unlocks) != 1 {
		t.Fatalf("event %s: %d unlock_seat lines, want 1: %+v", lock.EventID, len(unlocks), unlocks)
	}
	u := unlocks[0]
	if u.Outcome != engine.Succeeded || u.Rule != lock.Rule || u.Params.RoomID != room || u.Params.Index != index ||
		u.Params.ForbidAudio != engine.False || u.Params.ForbidTaken != engine.Unset || u.Params.ForbidVideo != engine.Unset {
		t.Errorf("unlock line %+v, want succeeded, rule %s, %s seat %d with only forbid_audio false", u, lock.Rule, room, index)
	}
	if st := r.sim.Seat(room, index); st.IsAudioDisabled {
		t.Errorf("simulator: %s seat %d audio still disabled after the unlock", room, index)
	}
	var ok []sim.Call
	for _, c := range unlockCalls(r.sim.FlagCalls(), room, index) {
		if okCall(c) {
			ok = append(ok, c)
		}
	}
	if len(ok) != 1 || ok[0].Identifier != identifier {
		t.Fatalf("simulator: successful unlock calls for %s seat %d: %+v, want one by %s", room, index, ok, identifier)
	}
	end := lockEnd(t, lock)
	if ok[0].Time.Before(end) {
		t.Errorf("the unlock reached the simulator at %s, before the lock's end %s",
			ok[0].Time.Format(time.StampMilli), end.Format(time.StampMilli))
	}
	return ok[0].Time.Sub(end)
}

// lastLock is the latest succeeded lock_seat line of event id: a
// redelivered lock (its ack lost with a killed daemon) replaces the
// earlier one's end.
func (r *stateRig) lastLock(id string) engine.Outcome {
	r.t.Helper()
	var locks []engine.Outcome
	for _, o := range r.linesOf(id, engine.ActionLockSeat) {
		if o.Outcome == engine.Succeeded {
			locks = append(locks, o)
		}
	}
	if len(locks) == 0 {
		r.t.Fatalf("event %s: no succeeded lock_seat line", id)
	}
	return slices.MaxFunc(locks, func(a, b engine.Outcome) int { return a.Time.Compare(b.Time) })
}

// TestUndoAfterRestart (timed actions 1): the daemon is stopped right
// after a lock with for: 3s succeeded, with SIGTERM (a drain, exit code
// 0) or SIGKILL, and restarted at once with another identifier. The
// undo is durable: the restarted daemon unlocks the seat when the lock
// ends, not before, with an unlock_seat line carrying the lock's rule
// and event id, and the simulator's seat is unlocked. After SIGTERM the
// lock's event was acknowledged in the drain, so it is not locked again.
func TestUndoAfterRestart(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		name := map[syscall.Signal]string{syscall.SIGTERM: "SIGTERM", syscall.SIGKILL: "SIGKILL"}[sig]
		t.Run(name, func(t *testing.T) { testUndoAfterRestart(t, name, sig) })
	}
}

func testUndoAfterRestart(t *testing.T, name string, sig syscall.Signal) {
	r := newStateRig(t, timedRules)
	room, id := "room-undo-"+strings.ToLower(name), "undo-"+strings.ToLower(name)
	r.sim.CreateRooms(room)
	d := r.start(daemontest.Admin)
	r.publish(joinSubject, id, flaggedOnSeat(id, room, 1, map[string]any{"for": "3s"}))
	first := r.waitLine(id, engine.ActionLockSeat, waitLong)
	r.stop(d, sig)
	stoppedAt := time.Now()
	if first.Outcome != engine.Succeeded {
		t.Fatalf("lock line %+v, want succeeded", first)
	}
	if n := len(r.linesOf(id, engine.ActionUnlockSeat)); n != 0 {
		t.Fatalf("%d unlock_seat lines from the stopped daemon, want none before the lock's end", n)
	}
	if end := lockEnd(t, first); stoppedAt.After(end) {
		t.Logf("the %s came %s after the lock's end: the machine is slow, the undo is overdue", name, stoppedAt.Sub(end))
	}

	d2 := r.start(daemontest.OtherAdmin)
	r.waitLine(id, engine.ActionUnlockSeat, waitLong)
	r.settle()
	lock := r.lastLock(id)
	late := r.checkUnlocked(lock, daemontest.OtherAdmin)
	redelivered := len(r.linesOf(id, engine.ActionLockSeat)) - 1
	if sig == syscall.SIGTERM && redelivered != 0 {
		t.Errorf("the lock was on file and acknowledged before SIGTERM's drain ended, yet it has %d lock_seat lines", redelivered+1)
	}
	t.Logf("RELIABILITY undo-%s: for=3s stopped_after_lock=%s restarted_in=%s lock_redelivered=%d "+
		"unlock_late_by=%s (schedules have 1 s precision)", strings.ToLower(name),
		stoppedAt.Sub(first.Time).Round(time.Millisecond), d2.RunningTime().Sub(stoppedAt).Round(time.Millisecond),
		redelivered, late.Round(time.Millisecond))
}

// TestUndoDueWhileDown (timed actions 2): a lock for 2s, then SIGTERM;
// the undo falls due while no daemon runs (the server fires its schedule
// into the undo stream, where it waits). A daemon started afterwards
// unlocks the seat at once.
func TestUndoDueWhileDown(t *testing.T) {
	r := newStateRig(t, timedRules)
	const room, id = "room-undo-down", "undo-down"
	r.sim.CreateRooms(room)
	d := r.start(daemontest.Admin)
	r.publish(joinSubject, id, flaggedOnSeat(id, room, 1, map[string]any{"for": "2s"}))
	lock := r.waitLine(id, engine.ActionLockSeat, waitLong)
	r.settle()
	r.stop(d, syscall.SIGTERM)
	stoppedAt := time.Now()
	if end := lockEnd(t, lock); !stoppedAt.Before(end) {
		t.Fatalf("the daemon stopped %s after the lock's end: too slow to test an undo falling due while down",
			stoppedAt.Sub(end))
	}
	if n := len(r.linesOf(id, engine.ActionUnlockSeat)); n != 0 {
		t.Fatalf("%d unlock_seat lines before the undo's end", n)
	}
	r.h.WaitFor(waitLong, "the undo to fall due in the undo stream", func() bool {
		return daemontest.SubjectMessages(t, r.js, r.h.Config.State.UndoStream, undoDueSubject) == 1
	})
	downPastEnd := time.Since(lockEnd(t, lock))

	d2 := r.start(daemontest.OtherAdmin)
	r.waitLine(id, engine.ActionUnlockSeat, waitLong)
	late := r.checkUnlocked(lock, daemontest.OtherAdmin)
	afterStart := lockEnd(t, lock).Add(late).Sub(d2.RunningTime())
	if afterStart < 0 {
		t.Errorf("the unlock reached the simulator %s before the restarted daemon logged it was running", -afterStart)
	}
	// "At once": the executor holds its first call one limiter window
	// (1.02 s) after start; anything near the consumer's 30 s ack wait
	// would mean the undo waited for a redelivery.
	if afterStart > 10*time.Second {
		t.Errorf("the unlock came %s after the daemon started, want it at once (within 10 s)", afterStart)
	}
	r.h.WaitFor(waitLong, "the undo stream to be empty", func() bool {
		return daemontest.SubjectMessages(t, r.js, r.h.Config.State.UndoStream, undoDueSubject) == 0
	})
	t.Logf("RELIABILITY undo-down: for=2s down_past_end=%s unlock_after_start=%s unlock_late_by=%s",
		downPastEnd.Round(time.Millisecond), afterStart.Round(time.Millisecond), late.Round(time.Millisecond))
}

// TestUndoRoomEngineFailing (timed actions 3): the Room Engine fails the
// undo's calls. An undo failing past max_attempts is dead-lettered like
// any action (an unlock_seat line with outcome dead_lettered and its
// attempts, a dead letter with Roomwarden-Kind: action in the DLQ
// stream), never dropped in silence; an undo failing twice is retried
// into success.
func TestUndoRoomEngineFailing(t *testing.T) {
	const maxAttempts = 4
	r := newStateRig(t, timedRules)
	r.h.Config.Executor.MaxAttempts = maxAttempts
	r.h.Config.Executor.BackoffInitial = app.Duration(50 * time.Millisecond)
	r.h.Config.Executor.BackoffMax = app.Duration(200 * time.Millisecond)
	const deadRoom, flakyRoom = "room-undo-dead", "room-undo-flaky"
	r.sim.CreateRooms(deadRoom, flakyRoom)
	r.start(daemontest.Admin)
	r.publish(joinSubject, "undo-dead", flaggedOnSeat("undo-dead", deadRoom, 1, map[string]any{"for": "3s"}))
	r.publish(joinSubject, "undo-flaky", flaggedOnSeat("undo-flaky", flakyRoom, 1, map[string]any{"for": "3s"}))
	deadLock := r.waitLine("undo-dead", engine.ActionLockSeat, waitLong)
	flakyLock := r.waitLine("undo-flaky", engine.ActionLockSeat, waitLong)
	// From now on only the undos call for these rooms.
	r.sim.FailRoom(deadRoom, 100, sim.CodeInternal)
	r.sim.FailRoom(flakyRoom, 2, sim.CodeInternal)
	if now := time.Now(); !now.Before(lockEnd(t, deadLock)) || !now.Before(lockEnd(t, flakyLock)) {
		t.Fatal("the faults were injected after a lock's end: too slow to test the undo's failures")
	}

	dead := r.waitLine("undo-dead", engine.ActionUnlockSeat, waitLong)
	r.waitLine("undo-flaky", engine.ActionUnlockSeat, waitLong)
	// Both undos are done and acked once the undo stream is empty: none
	// comes back for another line.
	r.h.WaitFor(waitLong, "the undo stream to be empty", func() bool {
		return daemontest.SubjectMessages(t, r.js, r.h.Config.State.UndoStream, undoDueSubject) == 0
	})
	if n := len(r.linesOf("undo-dead", engine.ActionUnlockSeat)); n != 1 {
		t.Errorf("undo-dead: %d unlock_seat lines, want 1", n)
	}
	if dead.Outcome != engine.DeadLettered || dead.Attempts != maxAttempts || dead.ErrorCode != sim.CodeInternal ||
		dead.Rule != "timed-mute" {
		t.Errorf("undo-dead: unlock line %+v, want dead_lettered after %d attempts with error %d, rule timed-mute",
			dead, maxAttempts, sim.CodeInternal)
	}
	letters, _ := daemontest.DeadLetterOutcomes(t, r.js, r.h.Config.NATS.DLQ.Stream)
	var unlockLetters []engine.Outcome
	for _, o := range letters {
		if o.Action == engine.ActionUnlockSeat {
			unlockLetters = append(unlockLetters, o)
		}
	}
	if len(unlockLetters) != 1 || unlockLetters[0].EventID != "undo-dead" || unlockLetters[0].Params.RoomID != deadRoom ||
		unlockLetters[0].Params.ForbidAudio != engine.False {
		t.Errorf("action dead letters for unlock_seat: %+v, want one for undo-dead in %s with forbid_audio false",
			unlockLetters, deadRoom)
	}
	calls := r.sim.FlagCalls()
	if got := unlockCalls(calls, deadRoom, 1); len(got) != maxAttempts || slices.ContainsFunc(got, okCall) {
		t.Errorf("simulator: %d unlock calls for %s, want %d, all failed", len(got), deadRoom, maxAttempts)
	}
	if st := r.sim.Seat(deadRoom, 1); !st.IsAudioDisabled {
		t.Errorf("simulator: %s seat 1 unlocked, but every unlock call failed", deadRoom)
	}

	flaky := r.linesOf("undo-flaky", engine.ActionUnlockSeat)
	if len(flaky) != 1 || flaky[0].Outcome != engine.Succeeded || flaky[0].Attempts != 3 {
		t.Errorf("undo-flaky: unlock lines %+v, want one, succeeded after 3 attempts", flaky)
	}
	if got := unlockCalls(calls, flakyRoom, 1); len(got) != 3 || !okCall(got[2]) {
		t.Errorf("simulator: unlock calls for %s %+v, want 3, the last successful", flakyRoom, got)
	}
	if st := r.sim.Seat(flakyRoom, 1); st.IsAudioDisabled {
		t.Errorf("simulator: %s seat 1 still locked after the retried unlock", flakyRoom)
	}
	t.Logf("RELIABILITY undo-failing: max_attempts=%d dead: outcome=%s attempts=%d dlq_unlock_letters=%d seat_still_locked=%v; "+
		"flaky (2 failures): outcome=%s attempts=%d seat_unlocked=%v",
		maxAttempts, dead.Outcome, dead.Attempts, len(unlockLetters), r.sim.Seat(deadRoom, 1).IsAudioDisabled,
		flaky[0].Outcome, flaky[0].Attempts, !r.sim.Seat(flakyRoom, 1).IsAudioDisabled)
}

// relockRules are timedRules with a second rule for events without
// attrs.for: a lock without end on the same seat flag.
const relockRules = `rules:
  - name: timed-mute
    on: [member.enter]
    when: event.user.flagged && attr_string("for") != ""
    actions:
      - lock_seat: {room_id: event.room_id, index: event.seat.index, forbid_audio: true}
        for: attr_string("for")
  - name: mute-for-good
    on: [member.enter]
    when: event.user.flagged && attr_string("for") == ""
    actions:
      - lock_seat: {room_id: event.room_id, index: event.seat.index, forbid_audio: true}
`

// undoScheduleSubject is where the undo stream holds pending undos, one
// per seat flag (jsstate: <UndoSubject>.at.<seat flag>).
const undoScheduleSubject = "roomwarden.undo.at.>"

// TestUndoNewerLock (timed actions 6): a seat flag locked again before
// its undo. Seat 1, locked for 4s and then for 8s: one undo is pending,
// and it ends the newer lock at its end, not the older one's (no unlock
// at 4s, one unlock line, for the newer lock's event, one unlock call).
// Seat 2, locked for 8s and then for 3s: the later end wins, the seat
// stays locked until the first lock's end. Seat 3, locked for 5s and
// then by a rule without for: the pending undo is cancelled (no
// schedule left for it) and the seat stays locked. Each second lock is
// published once the first is on file, so the two never share a call.
func TestUndoNewerLock(t *testing.T) {
	r := newStateRig(t, relockRules)
	const room = "room-relock"
	r.sim.CreateRooms(room)
	r.start(daemontest.Admin)
	lock := func(id string, index int, dur string) engine.Outcome {
		t.Helper()
		var attrs map[string]any
		if dur != "" {
			attrs = map[string]any{"for": dur}
		}
		r.publish(joinSubject, id, flaggedOnSeat(id, room, index, attrs))
		o := r.waitLine(id, engine.ActionLockSeat, waitLong)
		if o.Outcome != engine.Succeeded {
			t.Fatalf("lock line %+v, want succeeded", o)
		}
		return o
	}
	cancelled := lock("cancel-timed", 3, "5s")
	forever := lock("cancel-forever", 3, "")
	longer1 := lock("later-first", 1, "4s")
	longer2 := lock("later-second", 1, "8s")
	shorter1 := lock("shorter-first", 2, "8s")
	lock("shorter-second", 2, "3s")
	if forever.Rule != "mute-for-good" || forever.For != "" {
		t.Fatalf("lock without for: line %+v, want rule mute-for-good and no for", forever)
	}
	// Seat 1 and seat 2 hold one pending undo each; seat 3 none. Counted
	// before any of the first locks ends (an undo left behind would have
	// fired and left the schedule subject by then).
	scheduled := daemontest.SubjectMessages(t, r.js, r.h.Config.State.UndoStream, undoScheduleSubject)
	if now := time.Now(); !now.Before(lockEnd(t, longer1)) || !now.Before(lockEnd(t, cancelled)) {
		t.Fatalf("the locks were on file %s after the first one's end: too slow to count the pending undos",
			now.Sub(lockEnd(t, longer1)))
	}
	if scheduled != 2 {
		t.Errorf("%d undos pending in %s, want 2: one for seat 1 (the newer lock's end), one for seat 2, none for seat 3",
			scheduled, r.h.Config.State.UndoStream)
	}

	r.waitLine("later-second", engine.ActionUnlockSeat, waitLong)
	r.waitLine("shorter-first", engine.ActionUnlockSeat, waitLong)
	// Any other undo would have fallen due by now (schedules fire on
	// whole seconds); a second more covers one still on its way.
	time.Sleep(time.Second)
	r.h.WaitFor(waitLong, "the undo stream to be empty", func() bool {
		return daemontest.SubjectMessages(t, r.js, r.h.Config.State.UndoStream, "roomwarden.undo.>") == 0
	})
	r.settle()
	lateNewer := r.checkUnlocked(longer2, daemontest.Admin)
	lateShorter := r.checkUnlocked(shorter1, daemontest.Admin)
	for _, id := range []string{"later-first", "shorter-second", "cancel-timed", "cancel-forever"} {
		if got := r.linesOf(id, engine.ActionUnlockSeat); len(got) != 0 {
			t.Errorf("event %s: unlock_seat lines %+v, want none (its lock was superseded)", id, got)
		}
	}
	if got := unlockCalls(r.sim.FlagCalls(), room, 3); len(got) != 0 {
		t.Errorf("simulator: unlock calls for seat 3 %+v, want none: a lock without for ends no earlier undo", got)
	}
	if st := r.sim.Seat(room, 3); !st.IsAudioDisabled {
		t.Errorf("simulator: %s seat 3 unlocked, want it still locked by the lock without for", room)
	}
	t.Logf("RELIABILITY undo-newer: pending_after_relocks=%d seat1 (4s then 8s): unlocks=%d unlock_late_by_newer_end=%s "+
		"after_older_end_by=%s; seat2 (8s then 3s): unlocks=%d unlock_late_by_longer_end=%s; seat3 (5s then no for): unlocks=%d locked=%v",
		scheduled, len(unlockCalls(r.sim.FlagCalls(), room, 1)), lateNewer.Round(time.Millisecond),
		lockEnd(t, longer2).Add(lateNewer).Sub(lockEnd(t, longer1)).Round(time.Millisecond),
		len(unlockCalls(r.sim.FlagCalls(), room, 2)), lateShorter.Round(time.Millisecond),
		len(unlockCalls(r.sim.FlagCalls(), room, 3)), r.sim.Seat(room, 3).IsAudioDisabled)
}

// TestUndoRetryEndsNewerLock (timed actions 7): an unlock retried after
// a newer lock of its seat flag succeeded does not end that lock. A lock
// for 2s; the simulator holds its unlock's first call for 3 s and then
// fails it (100001); while it is held, a lock for 10s of the same seat
// succeeds and is on file. The unlock's retry (backoff 50–200 ms) finds
// its lock superseded and is not sent (the executor asks the undoer's
// Action.Still before every call): no unlock_seat line for the first
// lock, one unlock call (the failed one) until the newer lock's end, the
// seat still locked, roomwarden_undos_total{result="superseded"} 1. The
// newer lock is undone at its own end. Before the fix the undoer checked
// the lock only before submitting the unlock: the retry went out and
// freed the seat ~8 s (26 s with a 30 s lock) before the newer lock's
// end, while the lock record said it was held. Holding the first call
// at the simulator makes the order certain, whatever the backoff's
// jitter: the newer lock is on file before the first call is answered.
func TestUndoRetryEndsNewerLock(t *testing.T) {
	const hold = 3 * time.Second
	r := newStateRig(t, timedRules)
	r.h.Config.Executor.BackoffInitial = app.Duration(50 * time.Millisecond)
	r.h.Config.Executor.BackoffMax = app.Duration(200 * time.Millisecond)
	const room = "room-undo-retry"
	r.sim.CreateRooms(room)
	d := r.start(daemontest.Admin)
	r.publish(joinSubject, "retry-older", flaggedOnSeat("retry-older", room, 1, map[string]any{"for": "2s"}))
	older := r.waitLine("retry-older", engine.ActionLockSeat, waitLong)
	if older.Outcome != engine.Succeeded {
		t.Fatalf("older lock %+v, want succeeded", older)
	}
	r.sim.FailRoomDelayed(room, 1, sim.CodeInternal, hold) // the unlock's first call
	if !time.Now().Before(lockEnd(t, older)) {
		t.Fatal("the fault was injected after the lock's end: too slow to test the unlock's retry")
	}
	var first sim.Call
	r.h.WaitFor(waitLong, "the unlock's first call to reach the simulator", func() bool {
		calls := unlockCalls(r.sim.FlagCalls(), room, 1)
		if len(calls) > 0 {
			first = calls[0]
		}
		return len(calls) > 0
	})
	if okCall(first) {
		t.Fatalf("the unlock's first call %+v succeeded, want it failed by the injected fault", first)
	}
	r.publish(joinSubject, "retry-newer", flaggedOnSeat("retry-newer", room, 1, map[string]any{"for": "10s"}))
	newer := r.waitLine("retry-newer", engine.ActionLockSeat, waitLong)
	if newer.Outcome != engine.Succeeded {
		t.Fatalf("newer lock %+v, want succeeded", newer)
	}
	answered := first.Time.Add(hold)
	if !newer.Time.Before(answered) {
		t.Skipf("the newer lock was on file %s after the held unlock call was answered: too slow to reach the case",
			newer.Time.Sub(answered).Round(time.Millisecond))
	}
	// The older lock's undo ends: superseded (fixed), or with a line of
	// its own (the retry was sent).
	r.h.WaitFor(waitLong, "the older lock's undo to end", func() bool {
		return metricOrZero(t, d, supersededSeries) >= 1 || len(r.linesOf("retry-older", engine.ActionUnlockSeat)) > 0
	})
	endedAfter := time.Since(answered)
	if got := r.linesOf("retry-older", engine.ActionUnlockSeat); len(got) != 0 {
		t.Errorf("unlock_seat lines for the older lock %+v, want none: its undo was superseded by the newer lock", got)
	}
	calls := unlockCalls(r.sim.FlagCalls(), room, 1)
	if len(calls) != 1 {
		t.Errorf("simulator: unlock calls for seat 1 %+v, want only the failed first one (the retry not sent)", calls)
	}
	seatLocked := r.sim.Seat(room, 1).IsAudioDisabled
	if !seatLocked {
		var at time.Time
		for _, c := range calls {
			if okCall(c) {
				at = c.Time
			}
		}
		t.Errorf("simulator: seat 1 unlocked by the older lock's retried undo %s before the newer lock's end",
			lockEnd(t, newer).Sub(at).Round(time.Millisecond))
	}
	superseded, notWanted := metricOrZero(t, d, supersededSeries), metricOrZero(t, d, notWantedSeries)
	if superseded != 1 || notWanted != 1 {
		t.Errorf("%s %v and %s %v, want 1 and 1", supersededSeries, superseded, notWantedSeries, notWanted)
	}

	// The newer lock ends at its own end, not before.
	r.waitLine("retry-newer", engine.ActionUnlockSeat, waitLong)
	r.settle()
	late := r.checkUnlocked(newer, daemontest.Admin)
	t.Logf("RELIABILITY undo-retry: first_call_held=%s newer_on_file_before_answer_by=%s older_undo_ended_after_answer=%s "+
		"unlock_calls_before_newer_end=%d seat_locked=%v superseded=%v not_wanted=%v newer_unlock_late_by=%s",
		hold, answered.Sub(newer.Time).Round(time.Millisecond), endedAfter.Round(time.Millisecond), len(calls),
		seatLocked, superseded, notWanted, late.Round(time.Millisecond))
}

// The series TestUndoRetryEndsNewerLock reads.
const (
	supersededSeries = `roomwarden_undos_total{result="superseded"}`
	notWantedSeries  = `roomwarden_executor_outcomes_total{outcome="not_wanted"}`
)

// metricOrZero is d's value of series, 0 while it has none.
func metricOrZero(t *testing.T, d *daemontest.Daemon, series string) float64 {
	t.Helper()
	code, body, err := d.Get("/metrics")
	if err != nil || code != http.StatusOK {
		t.Fatalf("scrape /metrics: status %d, %v", code, err)
	}
	return max(0, daemontest.MetricValue(body, series))
}

// untilRules mutes a flagged user's seat until attrs.until (RFC 3339):
// locks taken over a minute can all fall due at the same moment.
const untilRules = `rules:
  - name: mute-until
    on: [member.enter]
    when: event.user.flagged
    actions:
      - lock_seat: {room_id: event.room_id, index: event.seat.index, forbid_audio: true}
        for: date(attr_string("until")) - now()
`

// undosEnv sets how many undos TestPendingUndos schedules (default
// 500; make undos runs 10,000).
const undosEnv = "ROOMWARDEN_UNDOS"

// undoRate is the Room Engine's limit and the executor's rate in
// TestPendingUndos; the locks are published a little slower, so that
// each lock is decided just before it runs and ends when asked.
const (
	undoRate    = sim.DefaultLimit
	undoPublish = 180 // events a second
)

// TestPendingUndos (timed actions 5): N timed locks, one per room, all
// ending at the same moment (N=500 here; ROOMWARDEN_UNDOS=10000, or
// make undos, for the full run). While they are pending the daemon's
// and nats-server's resident memory is measured; when they fall due,
// every one is undone (one succeeded unlock_seat line and one
// successful unlock call per room, every seat's audio back to false),
// none before its lock's end, and no rolling second at the simulator
// holds more than 200 calls (none answered 60007): the undos drain at
// the rate limit, N/200 seconds. Lateness (unlock call less lock end)
// of the first and the last unlock is reported.
func TestPendingUndos(t *testing.T) {
	n := 500
	if v := os.Getenv(undosEnv); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive count", undosEnv, v)
		}
	}
	r := newStateRig(t, untilRules)
	r.h.Config.Executor.RatePerSecond = undoRate
	r.h.Config.Executor.QueueSize = max(10000, 2*n)
	ids := ids("undos-", n)
	rooms := make([]string, n)
	for i, id := range ids {
		rooms[i] = roomOf(id)
	}
	r.sim.CreateRooms(rooms...)
	d := r.start(daemontest.Admin)
	baseDaemon, baseNATS := rss(t, d.Pid()), rss(t, r.ns.Pid())

	publishFor := time.Duration(n) * time.Second / undoPublish
	until := time.Now().Add(publishFor + publishFor/5 + 10*time.Second)
	r.publishPaced(ids, undoPublish, func(id string) []byte {
		return flaggedOnSeat(id, roomOf(id), 1, map[string]any{"until": until.Format(time.RFC3339Nano)})
	})
	locks := r.waitOutcomes(engine.ActionLockSeat, n, time.Until(until)+waitLong)
	for _, o := range locks {
		if o.Outcome != engine.Succeeded {
			t.Fatalf("lock %+v, want every lock succeeded", o)
		}
	}
	if now := time.Now(); !now.Before(until) {
		t.Fatalf("the last lock was on file %s after the locks' end: too slow to measure pending undos", now.Sub(until))
	}
	undoStream := r.h.Config.State.UndoStream
	scheduled := daemontest.SubjectMessages(t, r.js, undoStream, "roomwarden.undo.at.>")
	if scheduled != uint64(n) {
		t.Errorf("%d undos scheduled in %s, want %d", scheduled, undoStream, n)
	}
	pendingDaemon, pendingNATS := rss(t, d.Pid()), rss(t, r.ns.Pid())

	unlocks := r.waitOutcomes(engine.ActionUnlockSeat, n, time.Until(until)+time.Duration(2*n/undoRate)*time.Second+waitLong)
	r.h.WaitFor(waitLong, "the undo stream to be empty", func() bool {
		return daemontest.SubjectMessages(t, r.js, undoStream, "roomwarden.undo.>") == 0
	})
	drainedDaemon, drainedNATS := rss(t, d.Pid()), rss(t, r.ns.Pid())

	calls := r.sim.FlagCalls()
	first, last, lost := r.checkUndos(locks, unlocks, calls)
	if got := daemontest.MaxReceivedInWindow(calls, time.Second); got > undoRate {
		t.Errorf("the simulator received %d calls within a second, want at most %d", got, undoRate)
	}
	if got := throttled(calls); got != 0 {
		t.Errorf("the simulator answered %d calls with 60007, want none", got)
	}
	t.Logf("RELIABILITY undos: n=%d rate=%d lost=%d rss_daemon_mib base=%.1f pending=%.1f drained=%.1f "+
		"rss_nats_mib base=%.1f pending=%.1f drained=%.1f first_unlock_late_by=%s last_unlock_late_by=%s drained_in=%s "+
		"max_calls_in_1s=%d throttled=%d",
		n, undoRate, lost, mib(baseDaemon), mib(pendingDaemon), mib(drainedDaemon), mib(baseNATS), mib(pendingNATS),
		mib(drainedNATS), first.late.Round(time.Millisecond), last.late.Round(time.Millisecond),
		last.at.Sub(first.at).Round(time.Millisecond), daemontest.MaxReceivedInWindow(calls, time.Second), throttled(calls))
}

// unlockAt is one unlock's arrival at the simulator and its lateness.
type unlockAt struct {
	at   time.Time
	late time.Duration
}

// checkUndos checks that every lock has exactly one succeeded unlock
// line and one successful unlock call, no earlier than its end, and its
// seat unlocked at the simulator. It returns the first and last unlock
// to arrive and how many locks were never undone.
func (r *stateRig) checkUndos(locks, unlocks []engine.Outcome, calls []sim.Call) (first, last unlockAt, lost int) {
	r.t.Helper()
	t := r.t
	unlockLines := byEvent(unlocks)
	okUnlocks := map[string][]sim.Call{}
	for _, c := range calls {
		if c.ForbidAudio == engine.False && okCall(c) {
			okUnlocks[c.RoomID] = append(okUnlocks[c.RoomID], c)
		}
	}
	early := 0
	for i, lock := range locks {
		room := lock.Params.RoomID
		lines, got := unlockLines[lock.EventID], okUnlocks[room]
		if len(lines) != 1 || lines[0].Outcome != engine.Succeeded || len(got) != 1 {
			lost++
			if lost <= 10 {
				t.Errorf("%s: unlock lines %+v and %d successful unlock calls, want one succeeded line and one call",
					lock.EventID, lines, len(got))
			}
			continue
		}
		u := unlockAt{at: got[0].Time, late: got[0].Time.Sub(lockEnd(t, lock))}
		if u.late < 0 {
			early++
			if early <= 10 {
				t.Errorf("%s: unlocked %s before the lock's end", lock.EventID, -u.late)
			}
		}
		if i == 0 || u.at.Before(first.at) {
			first = u
		}
		if i == 0 || u.at.After(last.at) {
			last = u
		}
		if r.sim.Seat(room, lock.Params.Index).IsAudioDisabled {
			t.Errorf("simulator: %s seat %d still muted after its unlock", room, lock.Params.Index)
		}
	}
	if lost > 0 || early > 0 {
		t.Errorf("%d of %d locks not undone exactly once, %d undone early", lost, len(locks), early)
	}
	return first, last, lost
}

// waitOutcomes waits until the action log holds n lines of action kind
// for distinct events and returns them.
func (r *stateRig) waitOutcomes(kind string, n int, timeout time.Duration) []engine.Outcome {
	r.t.Helper()
	var got []engine.Outcome
	deadline := time.Now().Add(timeout)
	for {
		got = got[:0]
		seen := map[string]bool{}
		for _, o := range r.h.ActionLog() {
			if o.Action == kind && !seen[o.EventID] {
				seen[o.EventID] = true
				got = append(got, o)
			}
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out after %s waiting for %d %s lines (have %d)", timeout, n, kind, len(got))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// publishPaced publishes body(id) for each id, perSecond of them a
// second, each acknowledged by the stream.
func (r *stateRig) publishPaced(ids []string, perSecond int, body func(string) []byte) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(len(ids)/perSecond)*time.Second+waitLong)
	defer cancel()
	start := time.Now()
	for i, id := range ids {
		if wait := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(perSecond))); wait > 0 {
			time.Sleep(wait)
		}
		if err := daemontest.PublishAcked(ctx, r.js, joinSubject, id, body(id)); err != nil {
			r.t.Fatal(err)
		}
	}
}

// rss is process pid's resident memory, failing the test if it cannot
// be read.
func rss(t *testing.T, pid int) int64 {
	t.Helper()
	m, err := procstat.ReadMemory(pid)
	if err != nil {
		t.Fatal(err)
	}
	return m.RSS
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
