package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/engine/decode"
	"github.com/roomwarden/roomwarden/internal/daemontest"
	"github.com/roomwarden/roomwarden/sinks/natspub"
)

// TestBadInputDeadLettered publishes bodies that can never decode through
// the running daemon: each is dead-lettered with a reason a producer can
// act on, counted, and the stream moves on to the good event after them.
func TestBadInputDeadLettered(t *testing.T) {
	h := daemontest.New(t)
	h.AddRooms("r", "room-good")
	h.Start()
	_, js := h.Conn()
	tests := []struct {
		name, body    string
		wantReason    string
		wantTruncated bool
	}{
		{"oversized", oversizedEvent(decode.MaxEventBytes + 1024), "over the 1 MiB limit", true},
		{"deeply nested", `{"id":"deep","type":"member.enter","room_id":"r","attrs":{"a":` +
			strings.Repeat("[", 500) + strings.Repeat("]", 500) + `}}`, "json nesting deeper than 64", false},
		{"invalid utf-8", "{\"id\":\"utf\",\"type\":\"member.enter\",\"room_id\":\"r\xff\xfe\"}", "invalid UTF-8 at byte 46", false},
		{"wrong type for a known field", `{"id":"two","type":"seat.taken","room_id":"r","seat":{"index":"two"}}`,
			`seat.index: want integer, got string "two"`, false},
	}
	seqs := map[uint64]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, tc := range tests {
		ack, err := js.Publish(ctx, "rooms.events.member.enter", []byte(tc.body))
		if err != nil {
			t.Fatalf("publish %s (%d bytes): %v", tc.name, len(tc.body), err)
		}
		seqs[ack.Sequence] = i
	}
	h.Publish(js, "rooms.events.member.enter", flaggedJoin("good-after-bad", "room-good"))

	if o := waitEvents(t, h, "good-after-bad")["good-after-bad"]; o.Outcome != engine.Succeeded {
		t.Errorf("good event after the bad ones: %+v, want succeeded", o)
	}
	dls := h.WaitDeadLetters(js, len(tests), waitLong)
	seen := map[int]bool{}
	for _, m := range dls {
		seq, _ := strconv.ParseUint(m.Header.Get(natspub.HeaderStreamSeq), 10, 64)
		i, ok := seqs[seq]
		if !ok {
			t.Errorf("dead letter for unknown stream seq %d: %v", seq, m.Header)
			continue
		}
		seen[i] = true
		tc := tests[i]
		if got := m.Header.Get(natspub.HeaderReason); !strings.Contains(got, tc.wantReason) {
			t.Errorf("%s: dead-letter reason %q, want it to contain %q", tc.name, got, tc.wantReason)
		}
		if got := m.Header.Get(natspub.HeaderKind); got != "event" {
			t.Errorf("%s: dead-letter kind %q, want event", tc.name, got)
		}
		if got := m.Header.Get(natspub.HeaderTruncated) == "true"; got != tc.wantTruncated {
			t.Errorf("%s: truncated header %v, want %v (body %d bytes)", tc.name, got, tc.wantTruncated, len(m.Data))
		}
		if !tc.wantTruncated && string(m.Data) != tc.body {
			t.Errorf("%s: dead letter body differs from what was published", tc.name)
		}
	}
	for i, tc := range tests {
		if !seen[i] {
			t.Errorf("%s: no dead letter", tc.name)
		}
	}
	if v := h.Metric("roomwarden_events_malformed_total"); v != float64(len(tests)) {
		t.Errorf("roomwarden_events_malformed_total = %v, want %d", v, len(tests))
	}
	if n := len(h.ActionLog()); n != 1 {
		t.Errorf("action log has %d lines, want 1 (only the good event)", n)
	}
	// Beyond the embedded server's max_payload NATS refuses the publish
	// itself: the producer gets the error, nothing is stored or lost.
	huge := oversizedEvent(4*decode.MaxEventBytes + 1)
	if _, err := js.Publish(ctx, "rooms.events.member.enter", []byte(huge)); !errors.Is(err, nats.ErrMaxPayload) {
		t.Errorf("publishing %d bytes: err = %v, want %v", len(huge), err, nats.ErrMaxPayload)
	}
}

// oversizedEvent is a valid canonical event of n bytes.
func oversizedEvent(n int) string {
	head := `{"id":"big","type":"member.enter","room_id":"r","attrs":{"pad":"`
	tail := `"}}`
	return head + strings.Repeat("x", n-len(head)-len(tail)) + tail
}

// abuseRules are expressions that go wrong in every way a rule can: one
// that allocates without bound (stopped by the memory budget) and one
// that fails at runtime on every event, beside one that works.
const abuseRules = `rules:
  - name: works
    on: [member.enter]
    when: event.user.flagged
    actions: [{lock_seat: {room_id: event.room_id, index: 2, forbid_audio: true}}]
  - name: allocates-without-bound
    on: [member.enter]
    when: len(map(1..1000000, {#})) > 0
    actions: [{lock_seat: {room_id: event.room_id, index: 3, forbid_audio: true}}]
  - name: fails-on-every-event
    on: [member.enter]
    when: event.attrs["x"] > 1
    actions: [{lock_seat: {room_id: event.room_id, index: 4, forbid_audio: true}}]
`

// TestBadInputExpressions runs abusive rules in the daemon: the good rule
// still acts on the same event, each failing rule's error is counted
// under its name, and an oversized expression is refused at reload with
// its position while the running rules stay.
func TestBadInputExpressions(t *testing.T) {
	h := daemontest.New(t)
	mustDo(t, os.RemoveAll(h.RulesDir))
	mustDo(t, os.Mkdir(h.RulesDir, 0o755))
	writeFile(t, filepath.Join(h.RulesDir, "abuse.yaml"), abuseRules)
	h.AddRooms("room-abused", "room-after-huge")
	h.Start()
	_, js := h.Conn()

	h.Publish(js, "rooms.events.member.enter", flaggedJoin("abused", "room-abused"))
	o := waitEvents(t, h, "abused")["abused"]
	if o.Rule != "works" || o.Outcome != engine.Succeeded {
		t.Errorf("outcome = %+v, want the working rule's action succeeded", o)
	}
	for _, rule := range []string{"allocates-without-bound", "fails-on-every-event"} {
		series := fmt.Sprintf(`roomwarden_rule_errors_total{rule=%q}`, rule)
		h.WaitFor(waitLong, series+" = 1", func() bool { return h.Metric(series) == 1 })
	}
	if v := h.Metric(`roomwarden_rule_errors_total{rule="works"}`); v != -1 && v != 0 {
		t.Errorf("the working rule has %v errors, want none", v)
	}
	for _, want := range []string{"memory budget exceeded", "invalid operation: <nil> > int"} {
		if !strings.Contains(h.Logs.String(), want) {
			t.Errorf("daemon log does not mention %q", want)
		}
	}

	big := "rules:\n  - name: huge\n    on: [member.enter]\n    when: " +
		strings.Repeat("event.user.flagged && ", 3000) + "true\n" +
		"    actions: [{lock_seat: {room_id: event.room_id, index: 5, forbid_audio: true}}]\n"
	writeFile(t, filepath.Join(h.RulesDir, "huge.yaml"), big)
	code, body := h.Post("/-/reload", "")
	if code != 422 || !regexp.MustCompile(`huge\.yaml:4:\d+: .*exceeds maximum allowed nodes`).MatchString(body) {
		t.Errorf("POST /-/reload with a huge expression = %d %s, want 422 naming huge.yaml:4:col and the node limit", code, body)
	}
	h.Publish(js, "rooms.events.member.enter", flaggedJoin("after-huge", "room-after-huge"))
	if o := waitEvents(t, h, "after-huge")["after-huge"]; o.Rule != "works" {
		t.Errorf("after the refused reload: %+v, want the running rules acting", o)
	}
	if n := len(h.ActionLog()); n != 2 {
		t.Errorf("action log has %d lines, want 2 (one per event, by the working rule)", n)
	}
}

// badAnswers are Room Engine answers a broken proxy or a new API version
// could give, keyed by the room the call is for. A complete answer that
// makes no sense fails at once (it will not improve); a connection cut
// mid-answer is a transport error, retried until max_attempts.
var badAnswers = map[string]struct {
	body         string
	cutAt        int    // >0: announce the whole body, send this many bytes, hang up
	requestID    string // the RequestId the answer carries, if any
	wantOutcome  engine.OutcomeKind
	wantAttempts int
}{
	"room-html":      {body: "<html><body>502 Bad Gateway</body></html>", wantOutcome: engine.Failed, wantAttempts: 1},
	"room-empty":     {body: "", wantOutcome: engine.Failed, wantAttempts: 1},
	"room-truncated": {body: `{"ActionStatus":"OK","ErrorCode":0,"RequestId":"req-tr`, wantOutcome: engine.Failed, wantAttempts: 1},
	"room-unknown": {body: `{"ActionStatus":"FAIL","ErrorCode":987654,"ErrorInfo":"a code nobody knows","RequestId":"req-unknown-0001"}`,
		requestID: "req-unknown-0001", wantOutcome: engine.Failed, wantAttempts: 1},
	"room-status": {body: `{"ActionStatus":"MAYBE","ErrorCode":0,"RequestId":"req-status-0001"}`,
		requestID: "req-status-0001", wantOutcome: engine.Failed, wantAttempts: 1},
	"room-cut": {body: `{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","RequestId":"req-cut-0001"}`, cutAt: 20,
		wantOutcome: engine.DeadLettered, wantAttempts: maxAttempts},
}

// maxAttempts is executor.max_attempts in TestBadInputRoomEngineAnswers.
const maxAttempts = 3

// badAnswerServer answers lock_seat by the body's RoomId from badAnswers
// and counts the calls per room.
func badAnswerServer(t *testing.T) (*httptest.Server, func(room string) int) {
	t.Helper()
	var mu sync.Mutex
	calls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ RoomId string }
		raw, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(raw, &req)
		mu.Lock()
		calls[req.RoomId]++
		mu.Unlock()
		a := badAnswers[req.RoomId]
		if a.cutAt > 0 {
			w.Header().Set("Content-Length", strconv.Itoa(len(a.body)))
			_, _ = io.WriteString(w, a.body[:a.cutAt])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler) // hang up mid-body
		}
		_, _ = io.WriteString(w, a.body)
	}))
	t.Cleanup(srv.Close)
	return srv, func(room string) int {
		mu.Lock()
		defer mu.Unlock()
		return calls[room]
	}
}

// TestBadInputRoomEngineAnswers points the daemon at a Room Engine that
// answers nonsense: every call is classified (see badAnswers), none
// panics, and the RequestId is kept in the action log and the daemon's
// log when the answer had one.
func TestBadInputRoomEngineAnswers(t *testing.T) {
	h := daemontest.New(t)
	srv, calls := badAnswerServer(t)
	h.Config.RoomEngine.Endpoint = srv.URL
	h.Config.Executor.MaxAttempts = maxAttempts
	h.Start()
	_, js := h.Conn()
	for room := range badAnswers {
		h.Publish(js, "rooms.events.member.enter", flaggedJoin("ev-"+room, room))
	}
	ids := make([]string, 0, len(badAnswers))
	for room := range badAnswers {
		ids = append(ids, "ev-"+room)
	}
	got := waitEvents(t, h, ids...)
	logs := h.Logs.String()
	for room, a := range badAnswers {
		t.Run(room, func(t *testing.T) {
			o := got["ev-"+room]
			if o.Outcome != a.wantOutcome || o.Attempts != a.wantAttempts || o.ErrorInfo == "" {
				t.Errorf("outcome %+v: want %s after %d attempts with an error_info", o, a.wantOutcome, a.wantAttempts)
			}
			if n := calls(room); n != a.wantAttempts {
				t.Errorf("the endpoint saw %d calls, want %d", n, a.wantAttempts)
			}
			if o.RequestID != a.requestID {
				t.Errorf("request_id = %q, want %q", o.RequestID, a.requestID)
			}
			if a.requestID != "" && !strings.Contains(logs, a.requestID) {
				t.Errorf("the daemon's log does not mention request %s", a.requestID)
			}
		})
	}
	if code, _ := h.Get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d after bad answers, want 200", code)
	}
}
