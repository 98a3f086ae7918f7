package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/examples/roomengine-sim/sim"
	"github.com/roomwarden/roomwarden/internal/daemontest"
)

// stateRig is the rig of the state and timed-action tests: a real
// nats-server process, the Room Engine simulator as its own process
// (strict, 200 calls per rolling second, accepting daemontest.Admin and
// daemontest.OtherAdmin), the roomwarden binary on rules the test
// writes, and a producer connection.
type stateRig struct {
	t   *testing.T
	h   *daemontest.Harness
	ns  *daemontest.NATSServer
	sim *daemontest.SimProcess
	js  jetstream.JetStream
}

// newStateRig starts the servers and writes rules as the daemon's only
// rules file. The daemon is started by start.
func newStateRig(t *testing.T, rules string) *stateRig {
	t.Helper()
	h := daemontest.New(t)
	ns := externalNATS(t, h)
	simBin, err := daemontest.BuildSimulator(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := &stateRig{t: t, h: h, ns: ns,
		sim: daemontest.StartSimProcess(t, simBin, []string{daemontest.Admin, daemontest.OtherAdmin}, sim.DefaultLimit)}
	h.Config.RoomEngine.Endpoint = r.sim.URL
	r.writeRules(rules)
	_, r.js = daemontest.ConnectURL(t, ns.URL())
	return r
}

// writeRules makes rules the only file of the rules directory.
func (r *stateRig) writeRules(rules string) {
	r.t.Helper()
	if err := os.RemoveAll(r.h.RulesDir); err != nil {
		r.t.Fatal(err)
	}
	if err := os.MkdirAll(r.h.RulesDir, 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.h.RulesDir, "rules.yaml"), []byte(rules), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

// start runs the binary calling the Room Engine as identifier.
func (r *stateRig) start(identifier string) *daemontest.Daemon {
	r.t.Helper()
	r.h.Config.RoomEngine.Identifier = identifier
	return r.h.StartBinary(daemonBin)
}

// stop ends d with sig and checks how it ended: exit code 0 after
// SIGTERM, killed after SIGKILL.
func (r *stateRig) stop(d *daemontest.Daemon, sig syscall.Signal) {
	r.t.Helper()
	d.Signal(sig)
	exit, err := d.Wait(waitLong)
	switch {
	case err != nil:
		r.t.Fatalf("after %s: %v", sig, err)
	case sig == syscall.SIGTERM && exit.Code != 0:
		r.t.Fatalf("after SIGTERM: %s, want exit code 0\n%s", exit, d.Output.String())
	case sig == syscall.SIGKILL && exit.Signal != syscall.SIGKILL:
		r.t.Fatalf("after SIGKILL: %s, want killed by SIGKILL", exit)
	}
}

// publish publishes one event with id as its Nats-Msg-Id, acknowledged
// by the stream.
func (r *stateRig) publish(subject, id string, body []byte) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if err := daemontest.PublishAcked(ctx, r.js, subject, id, body); err != nil {
		r.t.Fatal(err)
	}
}

// settle waits until the events consumer has nothing pending and
// nothing unacknowledged.
func (r *stateRig) settle() {
	r.t.Helper()
	r.h.WaitFor(waitLong, "every event acknowledged", func() bool {
		info := r.h.ConsumerInfo(r.js)
		return info.NumAckPending == 0 && info.NumPending == 0
	})
}

// waitLine waits for an action log line for event id with action kind
// and returns it.
func (r *stateRig) waitLine(id, kind string, timeout time.Duration) engine.Outcome {
	r.t.Helper()
	var got engine.Outcome
	r.h.WaitFor(timeout, fmt.Sprintf("a %s line for event %s", kind, id), func() bool {
		for _, o := range r.h.ActionLog() {
			if o.EventID == id && o.Action == kind {
				got = o
				return true
			}
		}
		return false
	})
	return got
}

// linesOf returns the action log lines for event id with action kind.
func (r *stateRig) linesOf(id, kind string) []engine.Outcome {
	var out []engine.Outcome
	for _, o := range r.h.ActionLog() {
		if o.EventID == id && o.Action == kind {
			out = append(out, o)
		}
	}
	return out
}

// seatEvent is a canonical event on a seat, with attrs.
type seatEvent struct {
	ID     string         `json:"id"`
	Type   string         `json:"type"`
	RoomID string         `json:"room_id"`
	User   seatEventUser  `json:"user"`
	Seat   seatEventIndex `json:"seat"`
	Attrs  map[string]any `json:"attrs,omitempty"`
}

type seatEventUser struct {
	ID      string `json:"id"`
	Flagged bool   `json:"flagged,omitempty"`
}

type seatEventIndex struct {
	Index int `json:"index"`
}

func (e seatEvent) body() []byte {
	b, err := json.Marshal(e)
	if err != nil {
		panic(err)
	}
	return b
}

// report is viewer reporter's report of user, on seat index of room.
func report(id, room, user string, index int, reporter string) []byte {
	return seatEvent{ID: id, Type: "user.flagged", RoomID: room, User: seatEventUser{ID: user},
		Seat: seatEventIndex{index}, Attrs: map[string]any{"reporter": reporter}}.body()
}

// flaggedOnSeat is a flagged user's join on seat index of room, with
// attrs (such as the lock's duration, "for").
func flaggedOnSeat(id, room string, index int, attrs map[string]any) []byte {
	return seatEvent{ID: id, Type: "member.enter", RoomID: room, User: seatEventUser{ID: "u-" + id, Flagged: true},
		Seat: seatEventIndex{index}, Attrs: attrs}.body()
}

// Subjects of the events these tests publish.
const (
	reportSubject   = "rooms.events.user.flagged"
	callbackSubject = "rooms.events.callback"
)

// unlockCalls returns the calls that set the audio flag of room's seat
// index back to false.
func unlockCalls(calls []sim.Call, room string, index int) []sim.Call {
	var out []sim.Call
	for _, c := range calls {
		if c.RoomID == room && c.Index == index && c.ForbidAudio == engine.False {
			out = append(out, c)
		}
	}
	return out
}

// seatCalls returns the calls for room's seat index.
func seatCalls(calls []sim.Call, room string, index int) []sim.Call {
	var out []sim.Call
	for _, c := range calls {
		if c.RoomID == room && c.Index == index {
			out = append(out, c)
		}
	}
	return out
}

// okCall reports whether the simulator answered c with success.
func okCall(c sim.Call) bool { return c.Code == 0 && c.HTTPStatus == 200 }

// lockEnd is when the timed lock of line o ends: its time (when the lock
// took effect, as recorded) plus its for.
func lockEnd(t *testing.T, o engine.Outcome) time.Time {
	t.Helper()
	d, err := time.ParseDuration(o.For)
	if err != nil {
		t.Fatalf("lock line %+v: for %q: %v", o, o.For, err)
	}
	return o.Time.Add(d)
}
