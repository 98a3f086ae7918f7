package faults

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/cmd/roomwarden/app"
	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/examples/roomengine-sim/sim"
	"github.com/roomwarden/roomwarden/internal/daemontest"
)

// drainTimeoutLog is what the daemon logs when its drain deadline passes
// with events still in flight (engine/intake).
const drainTimeoutLog = "shutdown timeout: cancelling in-flight handlers"

// TestSIGTERMWithBacklog (fault 4) sends SIGTERM to the daemon process
// while 1,000 events wait on a slow Room Engine. The daemon must exit 0
// within shutdown_timeout plus a margin for closing connections; after a
// restart every event is acted on, and none twice: no event has two
// action log lines, and the only rooms locked twice are those whose
// first call was in flight when the drain deadline passed (see
// checkLockedTwice). The two daemons call with different identifiers,
// so every call at the simulator says which daemon made it.
func TestSIGTERMWithBacklog(t *testing.T) {
	const events = 1000
	const shutdownTimeout = 3 * time.Second
	// Closing NATS and the HTTP server after the drain takes a few
	// seconds at most; the margin is generous for shared machines.
	const margin = 15 * time.Second
	h := daemontest.New(t)
	ns := externalNATS(t, h)
	h.Config.ShutdownTimeout = app.Duration(shutdownTimeout)
	// 100 calls a second and a slow Room Engine: the backlog outlasts
	// the publisher and the drain, even on a loaded machine.
	h.Config.Executor.RatePerSecond = 100
	h.Sim.SetLatency(100 * time.Millisecond)
	all := ids("backlog-", events)
	addRooms(h, all)
	d := h.StartBinary(daemonBin)
	_, js := daemontest.ConnectURL(t, ns.URL())
	publishAll(t, js, all)
	h.WaitFor(waitLong, "the backlog to start flowing", func() bool { return len(h.Sim.Calls()) >= 100 })

	sent := time.Now()
	d.Signal(syscall.SIGTERM)
	exit, err := d.Wait(shutdownTimeout + margin)
	took := time.Since(sent)
	if err != nil {
		t.Fatalf("after SIGTERM: %v\n%s", err, d.Output.String())
	}
	if exit.Code != 0 {
		t.Fatalf("after SIGTERM: %s, want exit code 0\n%s", exit, d.Output.String())
	}
	firstLog := h.ActionLog() // every line the first daemon wrote
	if len(firstLog) >= events {
		t.Fatalf("all %d events were done before SIGTERM: no backlog to test", events)
	}

	h.Config.RoomEngine.Identifier = daemontest.OtherAdmin
	d2 := h.StartBinary(daemonBin)
	log := h.ActionLog()
	h.WaitFor(waitLong, "an action log line for every event", func() bool {
		log = h.ActionLog()
		return haveAll(log, all)
	})
	log = waitSettled(t, h, js)
	d2.Signal(syscall.SIGTERM)
	if exit, err := d2.Wait(shutdownTimeout + margin); err != nil || exit.Code != 0 {
		t.Errorf("second daemon after SIGTERM: %v %v, want exit code 0", exit, err)
	}
	calls := h.Sim.Calls()
	checkSucceeded(t, log, calls, all)
	checkNoDuplicates(t, log)
	first, second := callsBy(calls, daemontest.Admin), callsBy(calls, daemontest.OtherAdmin)
	if len(first)+len(second) != len(calls) {
		t.Errorf("%d calls at the simulator, %d from the two daemons", len(calls), len(first)+len(second))
	}
	twice := checkLockedTwice(t, firstLog, first, second, strings.Contains(d.Output.String(), drainTimeoutLog))
	if workers := h.Config.Executor.Workers; twice > workers {
		t.Errorf("%d rooms locked by both daemons, more than the %d calls the first could have in flight", twice, workers)
	}
	t.Logf("RELIABILITY fault4: events=%d done_at_exit=%d calls_at_exit=%d exit=%s exit_after=%s bound=%s "+
		"duplicate_events_in_log=%d rooms_locked_twice=%d total_calls=%d throttled_calls=%d",
		events, len(firstLog), len(first), exit, took.Round(time.Millisecond), shutdownTimeout+margin,
		len(duplicates(log)), twice, len(calls), throttled(calls))
}

// checkLockedTwice checks the only way a room may be locked twice across
// a graceful restart, and returns how many were. Each daemon locks a
// room at most once. A room both locked must be one whose event has no
// line from the first daemon: its call was in flight when the drain
// deadline passed, so its outcome was never recorded and its event was
// given back. That can only happen if the first daemon logged that its
// drain timed out. Every event the first daemon finished was acked: the
// second never locks its room again.
func checkLockedTwice(t *testing.T, firstLog []engine.Outcome, first, second []sim.Call, drainTimedOut bool) int {
	t.Helper()
	for who, calls := range map[string][]sim.Call{"first": first, "second": second} {
		if rooms := roomsCalledTwice(calls); len(rooms) != 0 {
			t.Errorf("the %s daemon locked %d rooms more than once: %v", who, len(rooms), rooms)
		}
	}
	recorded := map[string]bool{}
	for _, o := range firstLog {
		recorded[o.Params.RoomID] = true
	}
	byFirst, bySecond := okCallsPerRoom(first), okCallsPerRoom(second)
	twice := 0
	for room := range byFirst {
		if bySecond[room] == 0 {
			continue
		}
		twice++
		if recorded[room] {
			t.Errorf("room %s locked by both daemons, but the first recorded its outcome: the event was not acked", room)
		}
	}
	if twice > 0 && !drainTimedOut {
		t.Errorf("%d rooms locked by both daemons, but the first daemon's drain did not time out (no %q in its log)",
			twice, drainTimeoutLog)
	}
	return twice
}
