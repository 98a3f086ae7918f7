package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/engine/state/jsstate"
	"github.com/roomwarden/roomwarden/internal/daemontest"
)

// xss is text that would run if the console ever treated data as markup.
const xss = `<script>alert(1)</script>`

// consoleRuleFile acts in dry run on every user.flagged event; its
// description carries markup that must show as text.
const consoleRuleFile = `rules:
  - name: console-dry-run
    description: "Shown as text: <script>alert(1)</script> & <b>not bold</b>"
    on: [user.flagged]
    when: "true"
    actions: [{lock_seat: {room_id: event.room_id, index: 1, forbid_video: true}}]
    dry_run: true
`

// startConsole starts a daemon with consoleRuleFile beside the example
// rules, after edit (if any) has changed its config, and returns it with
// a JetStream producer.
func startConsole(t *testing.T, edit func(h *daemontest.Harness)) (*daemontest.Harness, jetstream.JetStream) {
	t.Helper()
	h := daemontest.New(t)
	writeFile(t, filepath.Join(h.RulesDir, "console.yaml"), consoleRuleFile)
	if edit != nil {
		edit(h)
	}
	h.Start()
	_, js := h.Conn()
	return h, js
}

// flagged is a user.flagged event for room.
func flagged(id, room string) []byte {
	b, _ := json.Marshal(map[string]any{"id": id, "type": "user.flagged", "room_id": room, "user": map[string]any{"id": "u-" + id}})
	return b
}

// sseEvent is one server-sent event.
type sseEvent struct{ name, data string }

// sseStream reads a live action stream in the background.
type sseStream struct {
	resp   *http.Response
	events chan sseEvent
	mu     sync.Mutex
	raw    strings.Builder // everything read, for scans
	retry  string

	seen map[string]engine.Outcome // outcomes read by waitOutcome, by event id
}

// openStream opens GET /console/actions/stream at base and fails unless
// it answers 200 with an event stream. It is closed at the end of the test.
func openStream(t *testing.T, base string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/console/actions/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("open stream: %v", err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %q, want 200 text/event-stream", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &sseStream{resp: resp, events: make(chan sseEvent, 1024)}
	go s.read()
	return s
}

func (s *sseStream) read() {
	defer close(s.events)
	sc := bufio.NewScanner(s.resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var ev sseEvent
	for sc.Scan() {
		line := sc.Text()
		s.mu.Lock()
		s.raw.WriteString(line + "\n")
		s.mu.Unlock()
		switch {
		case line == "":
			if ev.name != "" || ev.data != "" {
				s.events <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, "retry: "):
			s.mu.Lock()
			s.retry = strings.TrimPrefix(line, "retry: ")
			s.mu.Unlock()
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.data += strings.TrimPrefix(line, "data: ")
		}
	}
}

// Raw returns everything the stream has sent so far.
func (s *sseStream) Raw() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.raw.String()
}

// next returns the next event, failing after timeout.
func (s *sseStream) next(t *testing.T, timeout time.Duration) (sseEvent, bool) {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		return ev, ok
	case <-time.After(timeout):
		t.Fatalf("no server-sent event within %s", timeout)
		return sseEvent{}, false
	}
}

// waitOutcome reads events until an outcome for eventID arrives; the
// outcomes read meanwhile are kept for later calls.
func (s *sseStream) waitOutcome(t *testing.T, eventID string, timeout time.Duration) engine.Outcome {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if o, ok := s.seen[eventID]; ok {
			return o
		}
		var ev sseEvent
		var ok bool
		select {
		case ev, ok = <-s.events:
		case <-deadline:
			t.Fatalf("no outcome for %s within %s", eventID, timeout)
		}
		if !ok {
			t.Fatalf("stream ended before the outcome of %s", eventID)
		}
		if ev.name != "outcome" {
			continue
		}
		var o engine.Outcome
		if err := json.Unmarshal([]byte(ev.data), &o); err != nil {
			t.Fatalf("outcome event %q: %v", ev.data, err)
		}
		if s.seen == nil {
			s.seen = map[string]engine.Outcome{}
		}
		s.seen[o.EventID] = o
	}
}

// stateReplica opens the daemon's state store as a second replica
// would, to set up state (timed locks, overrides, tripped budgets) that
// the console must show whatever the rules can express.
func stateReplica(t *testing.T, h *daemontest.Harness) *jsstate.Store {
	t.Helper()
	_, js := h.Conn()
	st, err := jsstate.Open(t.Context(), jsstate.Config{JetStream: js, Bucket: h.Config.State.Bucket,
		UndoStream: h.Config.State.UndoStream})
	if err != nil {
		t.Fatalf("open the state store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// getConsole fetches path at base and returns the response with its body.
func getConsole(t *testing.T, base, path string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	return resp, b.String()
}
