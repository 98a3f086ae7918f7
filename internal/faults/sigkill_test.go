package faults

import (
	"syscall"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/cmd/roomwarden/app"
	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/examples/roomengine-sim/sim"
	"github.com/roomwarden/roomwarden/internal/daemontest"
)

// TestSIGKILLDuringRetries (fault 5) kills the daemon process with
// SIGKILL while every Room Engine call fails retryably. After a restart
// with the Room Engine healthy, the unacknowledged events are redelivered
// and every action completes: exactly one call per event from the
// restarted daemon (which calls with another identifier, so its calls
// cannot be confused with a late one from the killed process) and one
// action log line each.
func TestSIGKILLDuringRetries(t *testing.T) {
	const events = 20
	h := daemontest.New(t)
	ns := externalNATS(t, h)
	h.Config.Executor.MaxAttempts = 50 // nothing reaches a terminal outcome before the kill
	h.Config.Executor.BackoffInitial = app.Duration(50 * time.Millisecond)
	h.Config.Executor.BackoffMax = app.Duration(300 * time.Millisecond)
	h.Sim.FailRate(1, sim.Fault{Code: 100001})
	all := ids("killed-", events)
	addRooms(h, all)
	d := h.StartBinary(daemonBin)
	_, js := daemontest.ConnectURL(t, ns.URL())
	publishAll(t, js, all)
	h.WaitFor(waitLong, "every action to be retrying", func() bool {
		perRoom := callsPerRoom(h.Sim.Calls())
		for _, id := range all {
			if perRoom[roomOf(id)] < 3 {
				return false
			}
		}
		return true
	})

	d.Signal(syscall.SIGKILL)
	exit, err := d.Wait(waitLong)
	if err != nil || exit.Signal != syscall.SIGKILL {
		t.Fatalf("after SIGKILL: %v %v, want killed by SIGKILL", exit, err)
	}
	if log := h.ActionLog(); len(log) != 0 {
		t.Fatalf("action log before the restart holds %d lines, want none (every call was failing)", len(log))
	}
	callsBefore := len(h.Sim.Calls())
	h.Sim.ClearFaults()
	killedAt := time.Now()

	h.Config.RoomEngine.Identifier = daemontest.OtherAdmin
	h.StartBinary(daemonBin)
	log := h.ActionLog()
	h.WaitFor(waitLong, "an action log line for every event", func() bool {
		log = h.ActionLog()
		return haveAll(log, all)
	})
	redelivered := time.Since(killedAt)
	log = waitSettled(t, h, js)
	after := callsBy(h.Sim.Calls(), daemontest.OtherAdmin)
	checkSucceeded(t, log, after, all)
	checkNoDuplicates(t, log)
	checkLockedAsLogged(t, log, after, all)
	if len(after) != events {
		t.Errorf("the restarted daemon made %d calls, want exactly %d (one per event)", len(after), events)
	}
	t.Logf("RELIABILITY fault5: events=%d failing_calls_before_kill=%d lines_before_restart=0 succeeded_after_restart=%d "+
		"calls_after_restart=%d all_done_after=%s (ack_wait %s)",
		events, callsBefore, countOutcome(log, engine.Succeeded), len(after),
		redelivered.Round(time.Millisecond), h.Config.NATS.Consumer.AckWait.Duration())
}
