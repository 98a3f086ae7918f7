package faults

import (
	"sync"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/examples/roomengine-sim/sim"
	"github.com/roomwarden/roomwarden/internal/daemontest"
)

// TestFrequencyLimitStorm (fault 3) answers a burst of calls with 60007
// (frequency limit). The executor must slow down, every action must
// still succeed, once, and no rolling window may hold more calls than
// rate_per_second (see checkedWindow). The daemon runs as its own
// (non-race) process so that its pacing is not this test process's
// scheduling.
func TestFrequencyLimitStorm(t *testing.T) {
	const rate, storm, events = 50, 60, 150
	h := daemontest.New(t)
	ns := externalNATS(t, h)
	h.Config.Executor.RatePerSecond = rate
	h.Config.Executor.MaxAttempts = 10
	h.Sim.FailNext(storm, sim.Fault{Code: sim.CodeFrequencyLimit})
	all := ids("storm-", events)
	addRooms(h, all)
	d := h.StartBinary(daemonBin)
	_, js := daemontest.ConnectURL(t, ns.URL())
	initial := d.Metric("roomwarden_executor_rate_limit")

	var wg sync.WaitGroup
	var pubErr error
	wg.Go(func() { pubErr = publishEach(js, all) })
	lowest := initial
	log := h.ActionLog()
	h.WaitFor(waitLong, "an action log line for every event", func() bool {
		lowest = min(lowest, d.Metric("roomwarden_executor_rate_limit"))
		log = h.ActionLog()
		return haveAll(log, all)
	})
	wg.Wait()
	if pubErr != nil {
		t.Fatal(pubErr)
	}
	log = waitSettled(t, h, js)

	calls := h.Sim.Calls()
	checkSucceeded(t, log, calls, all)
	throttledCalls := throttled(calls)
	if throttledCalls != storm {
		t.Errorf("simulator answered %d calls with 60007, want %d", throttledCalls, storm)
	}
	if got := d.Metric("roomwarden_executor_throttled_total"); got != float64(throttledCalls) {
		t.Errorf("roomwarden_executor_throttled_total = %v, want %d", got, throttledCalls)
	}
	if lowest >= initial {
		t.Errorf("roomwarden_executor_rate_limit never dropped below its initial %v during the storm", initial)
	}
	if got := h.Sim.MaxReceivedInWindow(checkedWindow); got > rate {
		t.Errorf("the simulator received %d calls within %s, want at most %d", got, checkedWindow, rate)
	}
	checkNoDuplicates(t, log)
	checkLockedAsLogged(t, log, calls, all)
	t.Logf("RELIABILITY fault3: events=%d calls=%d throttled=%d rate_limit_initial=%.1f rate_limit_lowest=%.1f max_calls_in_1s=%d max_calls_in_%s=%d dups=%d",
		events, len(calls), throttledCalls, initial, lowest, h.Sim.MaxReceivedInWindow(time.Second),
		checkedWindow, h.Sim.MaxReceivedInWindow(checkedWindow), len(duplicates(log)))
}

// checkedWindow is the rolling window the fault tests count calls in.
// The simulator stamps a call when its handler runs in this test
// process, which under -race on a loaded machine can trail the call's
// arrival by tens of milliseconds and bunch calls that arrived spread
// out. The daemon's limiter keeps every 1.02 s window of call starts at
// or under the limit; counting windows of 1.02 s less schedSlack
// tolerates up to schedSlack of such delay and still fails on a burst
// or on a limiter running fast.
const (
	schedSlack    = 100 * time.Millisecond
	checkedWindow = time.Second + 20*time.Millisecond - schedSlack
)

// throttled counts the calls the simulator answered with 60007.
func throttled(calls []sim.Call) int {
	n := 0
	for _, c := range calls {
		if c.Throttled() {
			n++
		}
	}
	return n
}
