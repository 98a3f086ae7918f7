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
// still succeed, and no rolling second may hold more calls than
// rate_per_second. The daemon runs as its own (non-race) process so that
// the windows counted at the simulator measure the executor's pacing,
// not this test process's scheduling.
func TestFrequencyLimitStorm(t *testing.T) {
	const rate, storm, events = 50, 60, 150
	h := daemontest.New(t)
	ns := externalNATS(t, h)
	h.Config.Executor.RatePerSecond = rate
	h.Config.Executor.MaxAttempts = 10
	h.Sim.FailNext(storm, sim.Fault{Code: sim.CodeFrequencyLimit})
	d := h.StartBinary(daemonBin)
	_, js := daemontest.ConnectURL(t, ns.URL())
	initial := d.Metric("roomwarden_executor_rate_limit")

	all := ids("storm-", events)
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
	if got := h.Sim.MaxReceivedInWindow(time.Second); got > rate {
		t.Errorf("the simulator received %d calls in one rolling second, want at most %d", got, rate)
	}
	t.Logf("RELIABILITY fault3: events=%d calls=%d throttled=%d rate_limit_initial=%.1f rate_limit_lowest=%.1f max_calls_in_1s=%d dups=%d",
		events, len(calls), throttledCalls, initial, lowest, h.Sim.MaxReceivedInWindow(time.Second), len(duplicates(log)))
}

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
