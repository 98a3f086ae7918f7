package app_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/internal/daemontest"
)

// TestExplainEndpointReadsLiveStateAndChangesNothing asks the running
// daemon to explain a flagged join: it would act, and asking neither
// acts nor takes the rule's cooldown, since the same event published
// next is acted on. Asked again, the daemon reads its live cooldown and
// answers suppressed.
func TestExplainEndpointReadsLiveStateAndChangesNothing(t *testing.T) {
	h := daemontest.New(t)
	h.AddRooms("room-x")
	h.Start()
	const rule = "mute-seat-2-on-flagged-join"

	if v := explainVerdict(t, h, flaggedJoin("ev-asked", "room-x"), rule); v != "act" {
		t.Fatalf("first explain: verdict %q, want act", v)
	}
	time.Sleep(200 * time.Millisecond) // time for a wrongly sent action to show
	if n := len(h.Sim.Calls()); n != 0 || len(h.ActionLog()) != 0 {
		t.Fatalf("explain made %d calls and %d action log lines, want none", n, len(h.ActionLog()))
	}

	_, js := h.Conn()
	h.Publish(js, "rooms.events.member.enter", flaggedJoin("ev-asked", "room-x"))
	got := h.WaitActions(1, waitLong)
	if got[0].Rule != rule || got[0].Outcome != engine.Succeeded {
		t.Fatalf("after explain, the event gave %+v, want %s succeeded", got[0], rule)
	}
	if v := explainVerdict(t, h, flaggedJoin("ev-asked-again", "room-x"), rule); v != "suppressed" {
		t.Errorf("explain within the live cooldown: verdict %q, want suppressed", v)
	}
	if code, body := postExplain(t, h, []byte(`{"type": "member.enter", "room_id": 7}`)); code != http.StatusBadRequest ||
		!strings.Contains(body, "room_id") {
		t.Errorf("malformed event: %d %s, want 400 naming room_id", code, body)
	}
}

// explainVerdict posts ev to /explain and returns rule's verdict.
func explainVerdict(t *testing.T, h *daemontest.Harness, ev []byte, rule string) string {
	t.Helper()
	code, body := postExplain(t, h, ev)
	if code != http.StatusOK {
		t.Fatalf("POST /explain = %d: %s", code, body)
	}
	var doc struct {
		Rules []struct{ Rule, Verdict string } `json:"rules"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("POST /explain: %v\n%s", err, body)
	}
	for _, r := range doc.Rules {
		if r.Rule == rule {
			return r.Verdict
		}
	}
	t.Fatalf("POST /explain does not explain %s:\n%s", rule, body)
	return ""
}

func postExplain(t *testing.T, h *daemontest.Harness, ev []byte) (int, string) {
	t.Helper()
	resp, err := http.Post("http://"+h.App().HTTPAddr()+"/explain", "application/json", bytes.NewReader(ev))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

const candidateRules = `rules:
  - name: candidate-lock-seat-3
    on: [member.enter]
    when: event.user.flagged
    actions:
      - lock_seat: {room_id: event.room_id, index: 3, forbid_audio: true}
`

// TestShadowDir runs the daemon with a candidate rule in rules.shadow_dir:
// its action is in the action log as shadow and counted, and only the
// live rule's call reaches the Room Engine. A broken candidate file is
// reported by /readyz and the candidate in force keeps running.
func TestShadowDir(t *testing.T) {
	h := daemontest.New(t)
	h.AddRooms("room-s")
	shadowDir := filepath.Join(h.Dir, "shadow")
	if err := os.Mkdir(shadowDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(shadowDir, "candidate.yaml"), candidateRules)
	h.Config.Rules.ShadowDir = shadowDir
	h.Start()
	_, js := h.Conn()

	h.Publish(js, "rooms.events.member.enter", flaggedJoin("ev-s1", "room-s"))
	got := h.WaitActions(2, waitLong)
	outcomes := map[string]engine.Outcome{}
	for _, o := range got {
		outcomes[o.Rule] = o
	}
	if o := outcomes["candidate-lock-seat-3"]; o.Outcome != engine.Shadow || o.Params.Index != 3 {
		t.Errorf("candidate's outcome %+v, want shadow on seat 3", o)
	}
	if o := outcomes["mute-seat-2-on-flagged-join"]; o.Outcome != engine.Succeeded {
		t.Errorf("live rule's outcome %+v, want succeeded", o)
	}
	for _, c := range h.Sim.Calls() {
		if c.Index == 3 {
			t.Errorf("the Room Engine got a call for seat 3: %+v", c)
		}
	}
	if v := h.Metric(`roomwarden_shadow_actions_total{rule="candidate-lock-seat-3"}`); v != 1 {
		t.Errorf("roomwarden_shadow_actions_total = %v, want 1", v)
	}

	writeFile(t, filepath.Join(shadowDir, "candidate.yaml"), candidateRules+"    cooldown: {key: event.room_id, for: soon}\n")
	if code, body := h.Post("/-/reload", ""); code != http.StatusOK {
		t.Logf("POST /-/reload = %d: %s", code, body)
	}
	h.WaitFor(waitLong, "/readyz reporting the broken shadow file", func() bool {
		code, body := h.Get("/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "shadow rules") && strings.Contains(body, "candidate.yaml:")
	})
	h.Publish(js, "rooms.events.member.enter", flaggedJoin("ev-s2", "room-s"))
	h.WaitFor(waitLong, "the candidate in force acting on ev-s2", func() bool {
		for _, o := range h.ActionLog() {
			if o.EventID == "ev-s2" && o.Rule == "candidate-lock-seat-3" && o.Outcome == engine.Shadow {
				return true
			}
		}
		return false
	})
}
