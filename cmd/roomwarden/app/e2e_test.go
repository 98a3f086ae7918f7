package app_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/cmd/roomwarden/app"
	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/examples/roomengine-sim/sim"
	"github.com/roomwarden/roomwarden/internal/daemontest"
)

const waitLong = 30 * time.Second

func flaggedJoin(id, room string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"type":"member.enter","room_id":%q,"user":{"id":"u-%s","flagged":true}}`, id, room, id)
}

// TestEndToEnd publishes canonical events, a Tencent callback, a
// malformed body and an event for a flaky room through real NATS, and
// checks what reached the Room Engine simulator, the action log and the
// metrics.
func TestEndToEnd(t *testing.T) {
	h := daemontest.New(t)
	h.AddRooms("room-a", "room-flaky", "room-b")
	h.Sim.FailRoom("room-flaky", 2, sim.Fault{Code: 100001})
	h.Start()
	_, js := h.Conn()

	h.Publish(js, "rooms.events.member.enter", flaggedJoin("e1", "room-a"))
	h.Publish(js, "rooms.events.member.enter", flaggedJoin("e2", "room-flaky"))
	h.Publish(js, "rooms.events.member.enter", []byte(`{"id":"e3","type":"member.enter","room_id":"room-a","user":{"id":"clean"}}`))
	h.Publish(js, "rooms.events.seat.taken", []byte(`{"id":"e4","type":"seat.taken","room_id":"room-b","user":{"id":"s","labels":["spam"],"score":0.97},"seat":{"index":5}}`))
	h.Publish(js, "rooms.events.callback", []byte(`{"CallbackCommand":"Room.CallbackAfterMemberEnter","RoomId":"room-c","MemberList_Account":["x","y"],"EventTime":1795640415000}`))
	h.Publish(js, "rooms.events.member.enter", []byte(`{"id":"bad","type":`))

	got := h.WaitActions(3, waitLong)
	byEvent := map[string]engine.Outcome{}
	for _, o := range got {
		byEvent[o.EventID] = o
	}
	checkOutcome(t, byEvent["e1"], "mute-seat-2-on-flagged-join", engine.Succeeded, 1)
	checkOutcome(t, byEvent["e2"], "mute-seat-2-on-flagged-join", engine.Succeeded, 3)
	checkOutcome(t, byEvent["e4"], "lock-spammer-seat", engine.Succeeded, 1)
	if len(got) != 3 {
		t.Errorf("action log has %d lines, want 3: %+v", len(got), got)
	}
	if o := byEvent["e4"]; o.Params.Index != 5 || !o.Params.ForbidAudio.Bool() || !o.Params.ForbidVideo.Bool() || o.Params.ForbidTaken.IsSet() {
		t.Errorf("e4 params = %+v, want index 5, audio+video forbidden, taken unset", o.Params)
	}
	seats, _ := h.Sim.Seats("room-a")
	if !slices.ContainsFunc(seats, func(s sim.Seat) bool { return s.Index == 2 && s.IsAudioDisabled && !s.IsTakenDisabled }) {
		t.Errorf("room-a seats at the simulator = %+v, want seat 2 audio locked and not taken-locked", seats)
	}
	if n := len(h.Sim.Calls()); n != 5 { // e1, e2 ×3, e4
		t.Errorf("simulator saw %d calls, want 5", n)
	}
	h.WaitFor(waitLong, "malformed metric", func() bool { return h.Metric("roomwarden_events_malformed_total") == 1 })
	if v := h.Metric(`roomwarden_actions_total{outcome="succeeded",rule="mute-seat-2-on-flagged-join"}`); v != 2 {
		t.Errorf("actions_total for the flagged-join rule = %v, want 2", v)
	}
	if v := h.Metric("roomwarden_events_decoded_total"); v != 6 { // 5 valid bodies, the callback holds 2
		t.Errorf("events_decoded_total = %v, want 6", v)
	}
}

func checkOutcome(t *testing.T, o engine.Outcome, rule string, want engine.OutcomeKind, attempts int) {
	t.Helper()
	if o.Rule != rule || o.Outcome != want || o.Attempts != attempts || o.Action != "lock_seat" || o.RequestID == "" {
		t.Errorf("outcome %+v: want rule %s, %s after %d attempts with a request id", o, rule, want, attempts)
	}
}

// TestRestartRedeliversUnacked stops the daemon while the Room Engine is
// failing (so events stay unacked), starts it again on the same store
// with the Room Engine healthy, and expects every event acted on.
func TestRestartRedeliversUnacked(t *testing.T) {
	h := daemontest.New(t)
	h.Config.Executor.BackoffInitial = app.Duration(500 * time.Millisecond) // keep retries pending at shutdown
	h.Config.Executor.BackoffMax = app.Duration(time.Second)
	h.Config.Executor.MaxAttempts = 50 // none may dead-letter before the stop
	h.Config.ShutdownTimeout = app.Duration(time.Second)
	// The embedded server restarts with the daemon and redelivers what was
	// pending after AckWait: keep it short.
	h.Config.NATS.Consumer.AckWait = app.Duration(2 * time.Second)
	h.Config.NATS.Consumer.BackOff = nil
	h.Sim.FailRate(1, sim.Fault{HTTPStatus: 502})
	const n = 5
	for i := range n {
		h.AddRooms(fmt.Sprintf("room-%d", i))
	}
	h.Start()
	_, js := h.Conn()
	for i := range n {
		h.Publish(js, "rooms.events.member.enter", flaggedJoin(fmt.Sprintf("r%d", i), fmt.Sprintf("room-%d", i)))
	}
	h.WaitFor(waitLong, "failing calls", func() bool { return len(h.Sim.Calls()) >= n })
	if err := h.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if got := h.ActionLog(); len(got) != 0 {
		t.Fatalf("action log after a stop with failing calls = %+v, want nothing terminal yet", got)
	}
	h.Sim.ClearFaults()
	h.Start()
	got := h.WaitActions(n, waitLong)
	seen := map[string]bool{}
	for _, o := range got {
		if o.Outcome != engine.Succeeded {
			t.Errorf("after restart %s: outcome %s, want succeeded", o.EventID, o.Outcome)
		}
		seen[o.EventID] = true
	}
	for i := range n {
		if id := fmt.Sprintf("r%d", i); !seen[id] {
			t.Errorf("event %s never acted on after the restart", id)
		}
	}
}

// TestReload changes the rules on disk and reloads through POST
// /-/reload, then breaks them and checks the old set keeps running.
func TestReload(t *testing.T) {
	h := daemontest.New(t)
	h.AddRooms("r7", "r8")
	h.Start()
	_, js := h.Conn()
	_, before := h.Get("/rules")
	rule := `rules:
  - name: lock-taken-seat-7
    on: [seat.taken]
    when: event.seat.index == 7
    actions: [{lock_seat: {room_id: event.room_id, index: 7, forbid_taken: true}}]
`
	writeFile(t, filepath.Join(h.RulesDir, "seven.yaml"), rule)
	code, body := h.Post("/-/reload", "")
	if code != 200 || !strings.Contains(body, `"changed": true`) {
		t.Fatalf("POST /-/reload = %d %s, want 200 and changed", code, body)
	}
	if _, after := h.Get("/rules"); after == before || !strings.Contains(after, "lock-taken-seat-7") {
		t.Fatalf("/rules after reload does not list the new rule:\n%s", after)
	}
	h.Publish(js, "rooms.events.seat.taken", []byte(`{"id":"s7","type":"seat.taken","room_id":"r7","seat":{"index":7}}`))
	got := h.WaitActions(1, waitLong)
	if got[0].Rule != "lock-taken-seat-7" || !got[0].Params.ForbidTaken.Bool() {
		t.Fatalf("outcome = %+v, want the reloaded rule locking seat 7", got[0])
	}

	writeFile(t, filepath.Join(h.RulesDir, "broken.yaml"), "rules:\n  - name: x\n    on: [a]\n    when: event.usr.flagged\n")
	code, body = h.Post("/-/reload", "")
	if code != 422 || !strings.Contains(body, "broken.yaml:4:") {
		t.Fatalf("POST /-/reload with a broken file = %d %s, want 422 naming broken.yaml:4", code, body)
	}
	if code, body := h.Get("/readyz"); code != 503 || !strings.Contains(body, "last reload failed") {
		t.Errorf("/readyz after a failed reload = %d %q, want 503 naming the reload", code, body)
	}
	if v := h.Metric("roomwarden_rules_last_reload_successful"); v != 0 {
		t.Errorf("last_reload_successful = %v, want 0", v)
	}
	h.Publish(js, "rooms.events.seat.taken", []byte(`{"id":"s8","type":"seat.taken","room_id":"r8","seat":{"index":7}}`))
	if got := h.WaitActions(2, waitLong); got[1].Rule != "lock-taken-seat-7" {
		t.Errorf("after a failed reload the old rules should still act: %+v", got[1])
	}
}

// TestShutdownDrains stops the daemon while an action waits on a slow
// Room Engine: Run returns nil, the action's outcome is on file, and its
// event was acknowledged before the daemon exited. An event left
// unacknowledged would come back only after ack_wait (30 s), so the test
// reads the consumer's state from the restarted daemon's store instead
// of waiting for a redelivery: one message delivered, once, and acked.
func TestShutdownDrains(t *testing.T) {
	h := daemontest.New(t)
	h.AddRooms("room-slow")
	h.Sim.SetLatency(300 * time.Millisecond)
	h.Start()
	_, js := h.Conn()
	h.Publish(js, "rooms.events.member.enter", flaggedJoin("slow", "room-slow"))
	h.WaitFor(waitLong, "the call to arrive", func() bool { return len(h.Sim.Calls()) == 1 })
	if err := h.Stop(); err != nil {
		t.Fatalf("Run returned %v, want nil on shutdown", err)
	}
	if got := h.ActionLog(); len(got) != 1 || got[0].Outcome != engine.Succeeded {
		t.Fatalf("action log after drain = %+v, want the in-flight action succeeded", got)
	}
	// The same store. The restarted executor holds its first call for a
	// second, so an event given back at shutdown would still be pending
	// here, and one whose ack was dropped stays pending for ack_wait.
	h.Start()
	_, js = h.Conn()
	info := h.ConsumerInfo(js)
	if info.Delivered.Stream != 1 || info.AckFloor.Stream != 1 || info.NumAckPending != 0 ||
		info.NumRedelivered != 0 || info.NumPending != 0 {
		t.Errorf("consumer after restart: delivered stream seq %d, ack floor %d, %d waiting for an ack, %d redelivered, %d pending; "+
			"want 1, 1, 0, 0, 0 (the event acked before exit)", info.Delivered.Stream, info.AckFloor.Stream,
			info.NumAckPending, info.NumRedelivered, info.NumPending)
	}
	if n := len(h.Sim.Calls()); n != 1 {
		t.Errorf("after restart the simulator saw %d calls, want 1", n)
	}
}

// TestRoomEngineRefusals: the Room Engine refuses a call for a room that
// does not exist (100004), for a room without seats (100211) and for a
// seat the room does not have (100002). Each is permanent: the action
// log says failed with the code after one attempt, and the simulator saw
// one call for the room, not a retry.
func TestRoomEngineRefusals(t *testing.T) {
	h := daemontest.New(t)
	h.Sim.AddRoom("room-no-seats", 0)
	h.Sim.AddRoom("room-two-seats", 2) // the rule locks seat 2: indexes 0 and 1 exist
	h.Start()
	_, js := h.Conn()
	want := map[string]int{"room-missing": 100004, "room-no-seats": 100211, "room-two-seats": 100002}
	var ids []string
	for room := range want {
		h.Publish(js, "rooms.events.member.enter", flaggedJoin("ev-"+room, room))
		ids = append(ids, "ev-"+room)
	}
	got := waitEvents(t, h, ids...)
	for room, code := range want {
		t.Run(room, func(t *testing.T) {
			o := got["ev-"+room]
			if o.Outcome != engine.Failed || o.ErrorCode != code || o.Attempts != 1 || o.RequestID == "" {
				t.Errorf("outcome %s, error_code %d, attempts %d, request_id %q; want failed, %d, 1 and the request id",
					o.Outcome, o.ErrorCode, o.Attempts, o.RequestID, code)
			}
			if n := roomCalls(h, room); n != 1 {
				t.Errorf("simulator saw %d calls for %s, want 1 (no retry)", n, room)
			}
		})
	}
	if n := len(h.ActionLog()); n != len(want) {
		t.Errorf("action log has %d lines, want %d", n, len(want))
	}
	if v := h.Metric("roomwarden_executor_retries_total"); v != 0 {
		t.Errorf("roomwarden_executor_retries_total = %v, want 0", v)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
