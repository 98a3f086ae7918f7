package app_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/internal/daemontest"
)

// Fault cases 6 and 7 of the reliability suite (docs/RELIABILITY.md).
// Each asserts from outside: the simulator's calls, the action log's
// lines, /readyz, /metrics and the consumer's state in NATS.

// seatSevenRule is a rule the example rules do not have, so an action
// by it proves a reload took effect.
const seatSevenRule = `rules:
  - name: lock-taken-seat-7
    on: [seat.taken]
    when: event.seat.index == 7
    actions: [{lock_seat: {room_id: event.room_id, index: 7, forbid_taken: true}}]
`

func seatSeven(id, room string) []byte {
	return []byte(`{"id":"` + id + `","type":"seat.taken","room_id":"` + room + `","seat":{"index":7}}`)
}

// TestFaultActionLogUnwritable is fault case 6: the action log's disk
// fills up, or its path stops being writable. Readiness fails naming
// the action log, the write errors are counted, the event whose outcome
// could not be recorded stays unacknowledged and is redelivered, and once
// the path is writable again its outcome is written and the daemon is
// ready.
func TestFaultActionLogUnwritable(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"disk full", func(t *testing.T, path string) {
			t.Helper()
			if _, err := os.Stat("/dev/full"); err != nil {
				t.Skipf("no /dev/full to simulate a full disk: %v", err)
			}
			if err := os.Symlink("/dev/full", path); err != nil {
				t.Fatal(err)
			}
		}},
		{"path not writable", func(t *testing.T, path string) {
			t.Helper()
			// A directory where the file was: opening it for writing
			// fails for every user, root included.
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := daemontest.New(t)
			// Without consumer backoff a Nak's delay (5s) is the redelivery
			// delay; with it, JetStream waits backoff[n] - backoff[0] more.
			h.Config.NATS.Consumer.BackOff = nil
			h.AddRooms("room-before", "room-during", "room-after")
			h.Start()
			_, js := h.Conn()
			h.Publish(js, "rooms.events.member.enter", flaggedJoin("before", "room-before"))
			h.WaitActions(1, waitLong)

			if err := os.Rename(h.LogPath, h.LogPath+".before"); err != nil {
				t.Fatal(err)
			}
			tc.damage(t, h.LogPath)
			_ = h.App().ReopenLog() // as SIGUSR1 would; fails for a directory, and that is fine
			h.Publish(js, "rooms.events.member.enter", flaggedJoin("during", "room-during"))

			waitNotReady(t, h, "action log")
			h.WaitFor(waitLong, "a counted action log write error", func() bool {
				return h.Metric("roomwarden_action_log_write_errors_total") >= 1
			})
			waitRedelivered(t, h, js)
			if v := h.Metric("roomwarden_action_log_healthy"); v != 0 {
				t.Errorf("roomwarden_action_log_healthy while failing = %v, want 0", v)
			}

			if err := os.Remove(h.LogPath); err != nil { // the next write creates a regular file
				t.Fatal(err)
			}
			waitReady(t, h)
			h.Publish(js, "rooms.events.member.enter", flaggedJoin("after", "room-after"))
			got := waitEvents(t, h, "during", "after")
			for _, id := range []string{"during", "after"} {
				if o := got[id]; o.Outcome != engine.Succeeded || o.Rule != "mute-seat-2-on-flagged-join" {
					t.Errorf("event %s after recovery: outcome %+v, want the rule's action succeeded", id, o)
				}
			}
			if n := countEvent(h.ActionLog(), "during"); n != 1 {
				t.Errorf("the redelivered event has %d lines after recovery, want 1", n)
			}
			if n := roomCalls(h, "room-during"); n < 1 {
				t.Errorf("simulator saw %d calls for the redelivered event's room, want at least 1", n)
			}
		})
	}
}

// TestFaultRulesDirBroken is fault case 7: the rules directory is
// replaced by a file, deleted, or gains one broken file among good ones.
// The watcher notices by itself (fsnotify, then its periodic recheck);
// the last good rules keep acting, /readyz and the reload metric report
// the failure, and repairing the directory loads the new rules.
func TestFaultRulesDirBroken(t *testing.T) {
	tests := []struct {
		name     string
		damage   func(t *testing.T, dir string)
		fix      func(t *testing.T, dir, good string) // good: a copy of the last good dir
		wantText string                               // in /readyz while broken
	}{
		{
			name: "replaced by a file",
			damage: func(t *testing.T, dir string) {
				t.Helper()
				mustDo(t, os.RemoveAll(dir))
				writeFile(t, dir, "not a directory of rules\n")
			},
			fix: func(t *testing.T, dir, good string) {
				t.Helper()
				mustDo(t, os.Remove(dir))
				writeFile(t, filepath.Join(good, "seven.yaml"), seatSevenRule)
				mustDo(t, os.Rename(good, dir))
			},
			wantText: "rules: last reload failed",
		},
		{
			name: "deleted and recreated",
			damage: func(t *testing.T, dir string) {
				t.Helper()
				mustDo(t, os.RemoveAll(dir))
			},
			fix: func(t *testing.T, dir, good string) {
				t.Helper()
				writeFile(t, filepath.Join(good, "seven.yaml"), seatSevenRule)
				mustDo(t, os.Rename(good, dir))
			},
			wantText: "no such file or directory",
		},
		{
			name: "one broken file among good ones",
			damage: func(t *testing.T, dir string) {
				t.Helper()
				writeFile(t, filepath.Join(dir, "broken.yaml"), "rules:\n  - name: broken\n    on: [member.enter]\n    when: event.usr.flagged\n")
			},
			fix: func(t *testing.T, dir, _ string) {
				t.Helper()
				writeFile(t, filepath.Join(dir, "broken.yaml"), seatSevenRule)
			},
			wantText: "broken.yaml:4:",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := daemontest.New(t)
			h.AddRooms("room-old", "room-new")
			h.Start()
			_, js := h.Conn()
			good := filepath.Join(h.Dir, "rules-good")
			mustDo(t, os.CopyFS(good, os.DirFS(h.RulesDir)))

			tc.damage(t, h.RulesDir)
			body := waitNotReady(t, h, "rules: last reload failed")
			if !strings.Contains(body, tc.wantText) {
				t.Errorf("/readyz while broken = %q, want it to mention %q", body, tc.wantText)
			}
			if v := h.Metric("roomwarden_rules_last_reload_successful"); v != 0 {
				t.Errorf("roomwarden_rules_last_reload_successful while broken = %v, want 0", v)
			}
			h.Publish(js, "rooms.events.member.enter", flaggedJoin("old-rules", "room-old"))
			if o := waitEvents(t, h, "old-rules")["old-rules"]; o.Rule != "mute-seat-2-on-flagged-join" || o.Outcome != engine.Succeeded {
				t.Errorf("while the rules are broken: %+v, want the last good rules acting", o)
			}

			tc.fix(t, h.RulesDir, good)
			waitReady(t, h)
			if v := h.Metric("roomwarden_rules_last_reload_successful"); v != 1 {
				t.Errorf("roomwarden_rules_last_reload_successful after the fix = %v, want 1", v)
			}
			h.Publish(js, "rooms.events.seat.taken", seatSeven("new-rules", "room-new"))
			if o := waitEvents(t, h, "new-rules")["new-rules"]; o.Rule != "lock-taken-seat-7" || o.Outcome != engine.Succeeded {
				t.Errorf("after the fix: %+v, want the new rule acting", o)
			}
		})
	}
}

// waitNotReady waits for /readyz to answer 503 mentioning what, and
// returns its body.
func waitNotReady(t *testing.T, h *daemontest.Harness, what string) string {
	t.Helper()
	var body string
	h.WaitFor(waitLong, "/readyz 503 naming "+what, func() bool {
		code, b := h.Get("/readyz")
		body = b
		return code == 503 && strings.Contains(b, what)
	})
	return body
}

// waitReady waits for /readyz to answer 200; on timeout it shows the
// last answer and the daemon's own metrics.
func waitReady(t *testing.T, h *daemontest.Harness) {
	t.Helper()
	var last string
	deadline := time.Now().Add(waitLong)
	for {
		code, body := h.Get("/readyz")
		if code == 200 {
			return
		}
		last = body
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not ready after %s: %s\nmetrics:\n%s", waitLong, last, ownMetrics(h))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ownMetrics returns the roomwarden_ lines of /metrics.
func ownMetrics(h *daemontest.Harness) string {
	_, m := h.Get("/metrics")
	var b strings.Builder
	for l := range strings.Lines(m) {
		if strings.HasPrefix(l, "roomwarden_") {
			b.WriteString(l)
		}
	}
	return b.String()
}

// waitRedelivered waits until JetStream has redelivered a message of the
// daemon's consumer: proof that it was not acknowledged.
func waitRedelivered(t *testing.T, h *daemontest.Harness, js jetstream.JetStream) {
	t.Helper()
	h.WaitFor(waitLong, "a redelivery of the unrecorded event", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := js.Consumer(ctx, h.Config.NATS.Stream, h.Config.NATS.Durable)
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		return err == nil && info.NumRedelivered >= 1
	})
}

// waitEvents waits until the action log holds a line for every id and
// returns the last line of each.
func waitEvents(t *testing.T, h *daemontest.Harness, ids ...string) map[string]engine.Outcome {
	t.Helper()
	got := map[string]engine.Outcome{}
	h.WaitFor(waitLong, "action log lines for "+strings.Join(ids, ", "), func() bool {
		clear(got)
		for _, o := range h.ActionLog() {
			got[o.EventID] = o
		}
		for _, id := range ids {
			if _, ok := got[id]; !ok {
				return false
			}
		}
		return true
	})
	return got
}

func countEvent(log []engine.Outcome, id string) int {
	n := 0
	for _, o := range log {
		if o.EventID == id {
			n++
		}
	}
	return n
}

func roomCalls(h *daemontest.Harness, room string) int {
	n := 0
	for _, c := range h.Sim.Calls() {
		if c.RoomID == room {
			n++
		}
	}
	return n
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
