package faults

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/cmd/roomwarden/app"
	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/examples/roomengine-sim/sim"
	"github.com/roomwarden/roomwarden/internal/daemontest"
)

// waitLong bounds every wait for a condition; conditions normally hold
// far sooner.
const waitLong = 60 * time.Second

// joinSubject is where flagged joins are published.
const joinSubject = "rooms.events.member.enter"

// flaggedJoin is an event the example rule mute-seat-2-on-flagged-join
// acts on. Each event gets its own room, so no cooldown suppresses it
// and no two actions are identical (the executor would merge them).
func flaggedJoin(id string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"type":"member.enter","room_id":%q,"user":{"id":"u-%s","flagged":true}}`,
		id, roomOf(id), id)
}

// cleanJoin is an event no rule acts on.
func cleanJoin(id string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"type":"member.enter","room_id":%q,"user":{"id":"u-%s"}}`, id, roomOf(id), id)
}

func roomOf(id string) string { return "room-" + id }

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%04d", prefix, i)
	}
	return out
}

// publishAll publishes a flagged join for every id, each acknowledged by
// the stream.
func publishAll(t *testing.T, js jetstream.JetStream, ids []string) {
	t.Helper()
	if err := publishEach(js, ids); err != nil {
		t.Fatal(err)
	}
}

// publishEach is publishAll for goroutines other than the test's.
func publishEach(js jetstream.JetStream, ids []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	for _, id := range ids {
		if err := daemontest.PublishAcked(ctx, js, joinSubject, id, flaggedJoin(id)); err != nil {
			return err
		}
	}
	return nil
}

// waitSettled waits until the daemon's consumer has nothing pending and
// nothing waiting for an ack, then returns the action log: an event
// whose ack was lost has been redelivered and acted on again by then,
// so the checks that follow see every line it will ever have.
func waitSettled(t *testing.T, h *daemontest.Harness, js jetstream.JetStream) []engine.Outcome {
	t.Helper()
	h.WaitFor(waitLong, "every event acknowledged", func() bool {
		info := h.ConsumerInfo(js)
		return info.NumAckPending == 0 && info.NumPending == 0
	})
	return h.ActionLog()
}

// byEvent groups action log lines by event id.
func byEvent(log []engine.Outcome) map[string][]engine.Outcome {
	m := map[string][]engine.Outcome{}
	for _, o := range log {
		m[o.EventID] = append(m[o.EventID], o)
	}
	return m
}

// haveAll reports whether every id has at least one action log line.
func haveAll(log []engine.Outcome, ids []string) bool {
	m := byEvent(log)
	for _, id := range ids {
		if len(m[id]) == 0 {
			return false
		}
	}
	return true
}

// duplicates counts the events holding more than one action log line.
func duplicates(log []engine.Outcome) []string {
	var out []string
	for id, lines := range byEvent(log) {
		if len(lines) > 1 {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// checkSucceeded fails the test unless every id has at least one action
// log line, every line of it says succeeded (not suppressed, failed or
// anything else), and its room got a successful call at the simulator.
// How many lines and calls an event may have is each test's own check.
func checkSucceeded(t *testing.T, log []engine.Outcome, calls []sim.Call, ids []string) {
	t.Helper()
	lines := byEvent(log)
	ok := okRooms(calls)
	for _, id := range ids {
		got := lines[id]
		if len(got) == 0 {
			t.Errorf("event %s: no action log line, want succeeded", id)
		}
		for _, o := range got {
			if o.Outcome != engine.Succeeded {
				t.Errorf("event %s: outcome %s (attempts %d, error %d %s), want succeeded",
					id, o.Outcome, o.Attempts, o.ErrorCode, o.ErrorInfo)
			}
		}
		if !ok[roomOf(id)] {
			t.Errorf("event %s: the simulator never answered a call for %s with success", id, roomOf(id))
		}
	}
}

// checkLockedAsLogged fails the test unless, for every id, the
// simulator answered as many calls for its room with success as the
// action log has succeeded lines for it: no lock without its outcome on
// file, no outcome without its lock.
func checkLockedAsLogged(t *testing.T, log []engine.Outcome, calls []sim.Call, ids []string) {
	t.Helper()
	lines := byEvent(log)
	locks := okCallsPerRoom(calls)
	for _, id := range ids {
		if got, want := locks[roomOf(id)], len(lines[id]); got != want {
			t.Errorf("event %s: %d successful calls for %s at the simulator, %d action log lines; want them equal",
				id, got, roomOf(id), want)
		}
	}
}

// checkNoDuplicates fails the test if any event has more than one action
// log line.
func checkNoDuplicates(t *testing.T, log []engine.Outcome) {
	t.Helper()
	lines := byEvent(log)
	for _, id := range duplicates(log) {
		t.Errorf("event %s has %d action log lines, want 1: %+v", id, len(lines[id]), lines[id])
	}
}

// okRooms is the set of rooms with a successful call.
func okRooms(calls []sim.Call) map[string]bool {
	m := map[string]bool{}
	for _, c := range calls {
		if c.Code == 0 && c.HTTPStatus == 200 {
			m[c.RoomID] = true
		}
	}
	return m
}

// callsPerRoom counts the calls that reached the simulator for each room.
func callsPerRoom(calls []sim.Call) map[string]int {
	m := map[string]int{}
	for _, c := range calls {
		m[c.RoomID]++
	}
	return m
}

// okCallsPerRoom counts the successful calls for each room.
func okCallsPerRoom(calls []sim.Call) map[string]int {
	m := map[string]int{}
	for _, c := range calls {
		if c.Code == 0 && c.HTTPStatus == 200 {
			m[c.RoomID]++
		}
	}
	return m
}

// roomsCalledTwice lists the rooms with more than one successful call.
func roomsCalledTwice(calls []sim.Call) []string {
	var out []string
	for room, n := range okCallsPerRoom(calls) {
		if n > 1 {
			out = append(out, room)
		}
	}
	slices.Sort(out)
	return out
}

// callsBy returns the calls made with identifier (one daemon's calls,
// when two run one after the other with different identifiers).
func callsBy(calls []sim.Call, identifier string) []sim.Call {
	var out []sim.Call
	for _, c := range calls {
		if c.Identifier == identifier {
			out = append(out, c)
		}
	}
	return out
}

// addRooms creates the room of each id at the simulator.
func addRooms(h *daemontest.Harness, ids []string) {
	for _, id := range ids {
		h.AddRooms(roomOf(id))
	}
}

// externalNATS points the harness's daemon at a real nats-server process
// and keeps redelivery of unacknowledged events quick.
func externalNATS(t *testing.T, h *daemontest.Harness) *daemontest.NATSServer {
	t.Helper()
	ns := daemontest.StartNATSServer(t, t.TempDir())
	h.Config.NATS.URL = ns.URL()
	h.Config.NATS.Consumer.AckWait = app.Duration(3 * time.Second)
	h.Config.NATS.Consumer.BackOff = nil
	return ns
}
