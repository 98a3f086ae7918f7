package faults

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/internal/daemontest"
)

// TestNATSRestartMidStream (fault 1) restarts the nats-server process
// while a producer publishes. The daemon must reconnect by itself and act
// on every event published before, during (the producer retries until
// the stream acknowledges) and after the restart.
func TestNATSRestartMidStream(t *testing.T) {
	h := daemontest.New(t)
	ns := externalNATS(t, h)
	h.Start()
	_, js := daemontest.ConnectURL(t, ns.URL())

	before, during, after := ids("before-", 50), ids("during-", 100), ids("after-", 50)
	publishAll(t, js, before)

	var wg sync.WaitGroup
	var pubErr error
	started := make(chan struct{})
	wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		for i, id := range during {
			if i == 10 {
				close(started)
			}
			if err := daemontest.PublishAcked(ctx, js, joinSubject, id, flaggedJoin(id)); err != nil {
				pubErr = err
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	<-started
	ns.Restart()
	wg.Wait()
	if pubErr != nil {
		t.Fatal(pubErr)
	}
	publishAll(t, js, after)

	all := append(append(append([]string{}, before...), during...), after...)
	var log = h.ActionLog()
	h.WaitFor(waitLong, "an action log line for every event", func() bool {
		log = h.ActionLog()
		return haveAll(log, all)
	})
	checkSucceeded(t, log, h.Sim.Calls(), all)
	if !strings.Contains(h.Logs.String(), "nats reconnected") {
		t.Errorf("daemon log has no \"nats reconnected\" line:\n%s", h.Logs.String())
	}
	h.WaitFor(waitLong, "/readyz 200 after the restart", func() bool {
		code, _ := h.Get("/readyz")
		return code == 200
	})
	dups := duplicates(log)
	lines := byEvent(log)
	for _, id := range dups {
		t.Logf("event %s acted on again after a lost ack: %+v", id, lines[id])
	}
	t.Logf("RELIABILITY fault1: events=%d action_lines=%d duplicate_events=%d sim_calls=%d rooms_locked_twice=%d",
		len(all), len(log), len(dups), len(h.Sim.Calls()), roomsCalledTwice(h.Sim.Calls()))
}
