package faults

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/cmd/roomwarden/app"
	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/internal/daemontest"
)

// seatChangedCallback is the body of Tencent's
// Mic.CallbackAfterSeatInfoChanged as room-engine-facts.md describes
// it: operator changed seat index of room, now with audio allowed,
// Member_Account a bare number, EventTime in milliseconds.
func seatChangedCallback(operator, room string, index int, at time.Time) []byte {
	return fmt.Appendf(nil, `{"CallbackCommand":"Mic.CallbackAfterSeatInfoChanged","Operator_Account":%q,"RoomId":%q,`+
		`"SeatList":[{"Index":%d,"Member_Account":10086,"IsTakenDisabled":false,"IsVideoDisabled":false,"IsAudioDisabled":false}],`+
		`"EventTime":%d}`, operator, room, index, at.UnixMilli())
}

// overrideLog is what the daemon logs on a moderator's override
// (engine.Pipeline).
const overrideLog = "moderator override: roomwarden lets go of the seat flag"

// TestOverrideTencentCallback (timed actions 4): a moderator unmutes a
// seat that roomwarden muted for 4s, and the Room Engine's
// Mic.CallbackAfterSeatInfoChanged body reaches the daemon as published
// by the producer. The moderator has the last word: the pending undo is
// dropped (no unlock_seat, no unlock call, while a control lock on
// another seat, ending later, is undone), the daemon logs the override
// and counts it in roomwarden_overrides_total, and the next matching
// event's lock_seat on that seat and flag is logged overridden and not
// sent. A seat.changed made by roomwarden's own identifier is no
// override: that seat's undo still runs, and it can be locked again.
func TestOverrideTencentCallback(t *testing.T) {
	r := newStateRig(t, timedRules)
	r.h.Config.Overrides.Hold = app.Duration(30 * time.Minute)
	const room = "room-override"
	r.sim.CreateRooms(room)
	d := r.start(daemontest.Admin)
	lock4s := map[string]any{"for": "4s"}

	// Seat 3: locked, then handed to a moderator.
	r.publish(joinSubject, "ovr-lock", flaggedOnSeat("ovr-lock", room, 3, lock4s))
	lock := r.waitLine("ovr-lock", engine.ActionLockSeat, waitLong)
	if lock.Outcome != engine.Succeeded {
		t.Fatalf("lock line %+v, want succeeded", lock)
	}
	r.publish(callbackSubject, "cb-moderator", seatChangedCallback("mod-7", room, 3, time.Now()))
	// Seat 4: the control, locked after seat 3, so it ends later.
	r.publish(joinSubject, "ovr-control", flaggedOnSeat("ovr-control", room, 4, lock4s))
	control := r.waitLine("ovr-control", engine.ActionLockSeat, waitLong)
	r.h.WaitFor(waitLong, "the override counted", func() bool {
		return d.Metric("roomwarden_overrides_total") >= 1
	})
	if now := time.Now(); !now.Before(lockEnd(t, lock)) {
		t.Fatalf("the override was counted %s after the lock's end: too slow to test a dropped undo", now.Sub(lockEnd(t, lock)))
	}
	r.waitLine("ovr-control", engine.ActionUnlockSeat, waitLong)
	r.checkUnlocked(control, daemontest.Admin)
	// Seat 3's undo would have fallen due no later than the control's
	// (schedules fire on whole seconds) and run beside it on the undo
	// workers; a second more covers one that lost the race.
	time.Sleep(time.Second)
	if got := r.linesOf("ovr-lock", engine.ActionUnlockSeat); len(got) != 0 {
		t.Errorf("unlock_seat lines after the moderator's override: %+v, want none", got)
	}
	if got := seatCalls(r.sim.FlagCalls(), room, 3); len(got) != 1 || got[0].ForbidAudio != engine.True {
		t.Errorf("simulator: calls for seat 3 %+v, want only the lock", got)
	}
	logged := overrideLines(d, room, 3, "mod-7")
	if logged != 1 {
		t.Errorf("%d %q log lines for %s seat 3 by mod-7, want 1", logged, overrideLog, room)
	}

	// The next matching event on seat 3: overridden, not sent.
	r.publish(joinSubject, "ovr-again", flaggedOnSeat("ovr-again", room, 3, lock4s))
	again := r.waitLine("ovr-again", engine.ActionLockSeat, waitLong)
	if again.Outcome != engine.Overridden || !strings.Contains(again.ErrorInfo, "moderator") {
		t.Errorf("lock line during the hold %+v, want outcome overridden saying why", again)
	}
	r.settle()
	if got := seatCalls(r.sim.FlagCalls(), room, 3); len(got) != 1 {
		t.Errorf("simulator: %d calls for seat 3, want 1 (the overridden lock was sent)", len(got))
	}

	// Seat 5: roomwarden's own change is no override.
	r.publish(joinSubject, "own-lock", flaggedOnSeat("own-lock", room, 5, lock4s))
	own := r.waitLine("own-lock", engine.ActionLockSeat, waitLong)
	r.publish(callbackSubject, "cb-own", seatChangedCallback(daemontest.Admin, room, 5, time.Now().Add(time.Millisecond)))
	r.settle()
	if got := d.Metric("roomwarden_overrides_total"); got != 1 {
		t.Errorf("roomwarden_overrides_total %v after roomwarden's own seat change, want still 1", got)
	}
	r.waitLine("own-lock", engine.ActionUnlockSeat, waitLong)
	r.checkUnlocked(own, daemontest.Admin)
	r.publish(joinSubject, "own-again", flaggedOnSeat("own-again", room, 5, lock4s))
	if o := r.waitLine("own-again", engine.ActionLockSeat, waitLong); o.Outcome != engine.Succeeded {
		t.Errorf("lock of seat 5 after roomwarden's own change %+v, want succeeded", o)
	}
	if n := overrideLines(d, room, 5, daemontest.Admin); n != 0 {
		t.Errorf("%d override log lines for seat 5, want none", n)
	}
	t.Logf("RELIABILITY override: hold=30m overrides_total=%v override_log_lines=%d unlocks_after_override=%d "+
		"seat3_calls=%d next_lock=%s own_change_overrides=0 own_seat_unlocked=true",
		d.Metric("roomwarden_overrides_total"), logged, len(r.linesOf("ovr-lock", engine.ActionUnlockSeat)),
		len(seatCalls(r.sim.FlagCalls(), room, 3)), again.Outcome)
}

// overrideLines counts the daemon's override log lines for room's seat
// index by operator.
func overrideLines(d *daemontest.Daemon, room string, index int, operator string) int {
	n := 0
	for line := range strings.Lines(d.Output.String()) {
		if strings.Contains(line, overrideLog) && strings.Contains(line, fmt.Sprintf(`"room_id":%q`, room)) &&
			strings.Contains(line, fmt.Sprintf(`"index":%d,`, index)) && strings.Contains(line, `"flag":"audio"`) &&
			strings.Contains(line, fmt.Sprintf(`"operator":%q`, operator)) {
			n++
		}
	}
	return n
}
