package faults

import (
	"syscall"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/cmd/roomwarden/app"
	"github.com/roomwarden/roomwarden/internal/daemontest"
)

// TestSIGTERMWithBacklog (fault 4) sends SIGTERM to the daemon process
// while 1,000 events wait on a slow Room Engine. The daemon must exit 0
// within shutdown_timeout plus a margin for closing connections; after a
// restart every event is acted on. Events whose action reached the Room
// Engine but whose ack was lost in flight may be acted on twice: the
// test counts them.
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
	d := h.StartBinary(daemonBin)
	_, js := daemontest.ConnectURL(t, ns.URL())
	all := ids("backlog-", events)
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
	atStop := len(h.ActionLog())
	if atStop >= events {
		t.Fatalf("all %d events were done before SIGTERM: no backlog to test", events)
	}
	callsAtStop := len(h.Sim.Calls())

	d2 := h.StartBinary(daemonBin)
	log := h.ActionLog()
	h.WaitFor(waitLong, "an action log line for every event", func() bool {
		log = h.ActionLog()
		return haveAll(log, all)
	})
	calls := h.Sim.Calls()
	checkSucceeded(t, log, calls, all)
	// A second lock of a room is only allowed for an action the first
	// daemon started but never recorded: the restarted daemon locks each
	// room at most once.
	if again := roomsCalledTwice(calls[callsAtStop:]); again != 0 {
		t.Errorf("the restarted daemon locked %d rooms more than once", again)
	}
	d2.Signal(syscall.SIGTERM)
	if exit, err := d2.Wait(shutdownTimeout + margin); err != nil || exit.Code != 0 {
		t.Errorf("second daemon after SIGTERM: %v %v, want exit code 0", exit, err)
	}
	t.Logf("RELIABILITY fault4: events=%d done_at_exit=%d calls_at_exit=%d exit=%s exit_after=%s bound=%s "+
		"duplicate_events_in_log=%d rooms_locked_twice=%d total_calls=%d throttled_calls=%d",
		events, atStop, callsAtStop, exit, took.Round(time.Millisecond), shutdownTimeout+margin,
		len(duplicates(log)), roomsCalledTwice(calls), len(calls), throttled(calls))
}
