package faults

import (
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/cmd/roomwarden/app"
	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/internal/daemontest"
)

// TestRoomEngineUnreachable (fault 2) points the daemon at a port where
// nothing listens, then starts the simulator there. The phases follow
// what the daemon has done, not the clock: the early actions run out of
// attempts during the outage and are dead-lettered to roomwarden.dlq;
// the late ones have each failed at least once (counted by
// roomwarden_executor_retries_total) when the simulator starts, and then
// succeed after retrying (or, on a machine stalled for seconds, are
// dead-lettered); those published after the recovery succeed. Every
// event ends with exactly one terminal line; none vanish.
func TestRoomEngineUnreachable(t *testing.T) {
	h := daemontest.New(t)
	port := daemontest.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	h.Config.RoomEngine.Endpoint = "http://" + addr
	h.Config.Executor.MaxAttempts = 6
	// At most 0.2+0.4+0.8+1+1 = 3.4 s of backoff per action.
	h.Config.Executor.BackoffInitial = app.Duration(200 * time.Millisecond)
	h.Config.Executor.BackoffMax = app.Duration(time.Second)
	early, late, recovered := ids("early-", 30), ids("late-", 30), ids("recovered-", 30)
	all := append(append(append([]string{}, early...), late...), recovered...)
	addRooms(h, all)
	h.Start()
	_, js := h.Conn()

	start := time.Now()
	publishAll(t, js, early)
	h.WaitFor(waitLong, "the early actions to be dead-lettered", func() bool {
		return countOutcome(h.ActionLog(), engine.DeadLettered) == len(early)
	})
	retriesBefore := h.Metric("roomwarden_executor_retries_total")
	publishAll(t, js, late)
	h.WaitFor(waitLong, "every late action to fail once", func() bool {
		return h.Metric("roomwarden_executor_retries_total") >= retriesBefore+float64(len(late))
	})
	outage := time.Since(start)
	serveSimOn(t, h, addr)
	publishAll(t, js, recovered)

	log := h.ActionLog()
	h.WaitFor(waitLong, "an action log line for every event", func() bool {
		log = h.ActionLog()
		return haveAll(log, all)
	})
	log = waitSettled(t, h, js)
	lines := byEvent(log)
	for _, id := range all {
		if n := len(lines[id]); n != 1 {
			t.Errorf("event %s: %d action log lines %+v, want exactly 1", id, n, lines[id])
		}
	}
	dlq, _ := daemontest.DeadLetterOutcomes(t, js, h.Config.NATS.DLQ.Stream)
	checkEarly(t, lines, early, dlq)
	checkLate(t, lines, late, dlq, okRooms(h.Sim.Calls()))
	checkSucceeded(t, log, h.Sim.Calls(), recovered)
	if dl := countOutcome(log, engine.DeadLettered); len(dlq) != dl {
		t.Errorf("dead-letter stream holds %d actions, action log %d dead_lettered lines", len(dlq), dl)
	}
	t.Logf("RELIABILITY fault2: events=%d outage=%s dead_lettered=%d succeeded=%d succeeded_after_retry=%d dlq_actions=%d sim_calls=%d",
		len(all), outage.Round(100*time.Millisecond), countOutcome(log, engine.DeadLettered), countOutcome(log, engine.Succeeded),
		retriedSuccesses(log), len(dlq), len(h.Sim.Calls()))
}

// serveSimOn serves the harness's simulator on addr until the test ends.
func serveSimOn(t *testing.T, h *daemontest.Harness, addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	srv := &http.Server{Handler: h.Sim, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
}

// checkEarly: actions started at the outage's beginning exhaust their
// attempts on refused connections and are dead-lettered.
func checkEarly(t *testing.T, lines map[string][]engine.Outcome, early []string, dlq []engine.Outcome) {
	t.Helper()
	inDLQ := eventSet(dlq)
	for _, id := range early {
		for _, o := range lines[id] {
			if o.Outcome != engine.DeadLettered || o.Attempts != 6 || o.ErrorInfo == "" {
				t.Errorf("event %s: %+v, want dead_lettered after 6 attempts with the transport error", id, o)
			}
		}
		if !inDLQ[id] {
			t.Errorf("event %s: not in the dead-letter stream", id)
		}
	}
}

// checkLate: actions that had failed at least once when the Room Engine
// came back succeeded after retrying (with a call at the simulator) or,
// if their attempts ran out first, were dead-lettered (and are in the
// dead-letter stream); at least one retried into success.
func checkLate(t *testing.T, lines map[string][]engine.Outcome, late []string, dlq []engine.Outcome, ok map[string]bool) {
	t.Helper()
	inDLQ := eventSet(dlq)
	retried := 0
	for _, id := range late {
		for _, o := range lines[id] {
			switch {
			case o.Outcome == engine.Succeeded && ok[roomOf(id)] && o.Attempts > 1:
				retried++
			case o.Outcome == engine.DeadLettered && inDLQ[id]:
			default:
				t.Errorf("event %s: %+v: want succeeded after a retry (and a call at the simulator) or dead_lettered (and in the dead-letter stream)", id, o)
			}
		}
	}
	if retried == 0 {
		t.Errorf("no action begun during the outage succeeded after retrying")
	}
}

func eventSet(outcomes []engine.Outcome) map[string]bool {
	m := map[string]bool{}
	for _, o := range outcomes {
		m[o.EventID] = true
	}
	return m
}

func countOutcome(log []engine.Outcome, kind engine.OutcomeKind) int {
	n := 0
	for _, o := range log {
		if o.Outcome == kind {
			n++
		}
	}
	return n
}

func retriedSuccesses(log []engine.Outcome) int {
	n := 0
	for _, o := range log {
		if o.Outcome == engine.Succeeded && o.Attempts > 1 {
			n++
		}
	}
	return n
}
