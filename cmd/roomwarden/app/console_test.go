package app_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/internal/daemontest"
)

// wantConsoleHeaders are on every console response, errors included.
var wantConsoleHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
		"img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "no-referrer",
}

func checkConsoleHeaders(t *testing.T, path string, hd http.Header) {
	t.Helper()
	for k, want := range wantConsoleHeaders {
		if got := hd.Get(k); got != want {
			t.Errorf("%s: %s = %q, want %q", path, k, got, want)
		}
	}
}

// TestConsoleRoutes checks each console route's status, type and
// security headers, and that the page needs nothing inline or external.
func TestConsoleRoutes(t *testing.T) {
	h, _ := startConsole(t, nil)
	base := "http://" + h.App().HTTPAddr()
	tests := []struct {
		path, wantType string
		want           int
		wantBody       string
	}{
		{"/", "text/html; charset=utf-8", 200, "<title>roomwarden console</title>"},
		{"/console/console.css", "text/css; charset=utf-8", 200, "system-ui"},
		{"/console/console.js", "text/javascript; charset=utf-8", 200, "EventSource"},
		{"/console/state", "application/json", 200, `"rules"`},
		{"/console/index.html", "text/plain; charset=utf-8", 404, ""},
		{"/console/nope.js", "text/plain; charset=utf-8", 404, ""},
		{"/console/%2e%2e%2fgo.mod", "text/plain; charset=utf-8", 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := getConsole(t, base, tc.path)
			if resp.StatusCode != tc.want {
				t.Fatalf("GET %s = %d, want %d", tc.path, resp.StatusCode, tc.want)
			}
			if tc.wantType != "" && resp.Header.Get("Content-Type") != tc.wantType {
				t.Errorf("Content-Type = %q, want %q", resp.Header.Get("Content-Type"), tc.wantType)
			}
			if !strings.Contains(body, tc.wantBody) {
				t.Errorf("body lacks %q", tc.wantBody)
			}
			checkConsoleHeaders(t, tc.path, resp.Header)
		})
	}
	t.Run("stream", func(t *testing.T) {
		s := openStream(t, base)
		checkConsoleHeaders(t, "stream", s.resp.Header)
		if ev, _ := s.next(t, 5*time.Second); ev.name != "reset" {
			t.Errorf("first event %q, want reset", ev.name)
		}
		if s.retry == "" {
			t.Error("the stream sets no retry: interval")
		}
	})
	t.Run("nothing inline or external", func(t *testing.T) {
		_, page := getConsole(t, base, "/")
		_, css := getConsole(t, base, "/console/console.css")
		_, js := getConsole(t, base, "/console/console.js")
		bad := map[string]*regexp.Regexp{
			"inline script": regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]`),
			"style element": regexp.MustCompile(`<style`),
			"style attr":    regexp.MustCompile(`\sstyle=`),
			"event handler": regexp.MustCompile(`\son[a-z]+=`),
			"external URL":  regexp.MustCompile(`(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}`),
		}
		for name, re := range bad {
			if m := re.FindString(page); m != "" {
				t.Errorf("index.html has an %s: %q", name, m)
			}
		}
		for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(page, -1) {
			if !strings.Contains(tag, ` src="/console/`) {
				t.Errorf("index.html has a script that is not one of the console's files: %s", tag)
			}
		}
		for what, text := range map[string]string{"console.css": css, "console.js": js} {
			if m := bad["external URL"].FindString(text); m != "" {
				t.Errorf("%s loads from outside: %q", what, m)
			}
			if strings.Contains(text, "innerHTML") || strings.Contains(text, "outerHTML") || strings.Contains(text, "insertAdjacentHTML") {
				t.Errorf("%s builds markup from strings", what)
			}
		}
	})
	t.Run("read-only", func(t *testing.T) {
		for _, path := range []string{"/", "/console/state", "/console/actions/stream", "/console/console.js"} {
			if got := request(t, http.MethodPost, base+path, ""); got != http.StatusMethodNotAllowed {
				t.Errorf("POST %s = %d, want 405", path, got)
			}
		}
	})
}

// TestConsoleStream checks that a new stream starts with the backlog and
// then delivers an outcome recorded after it connected.
func TestConsoleStream(t *testing.T) {
	h, js := startConsole(t, nil)
	base := "http://" + h.App().HTTPAddr()
	h.Publish(js, "rooms.events.user.flagged", flagged("ev-before", "room-1"))
	h.WaitActions(1, waitLong)

	s := openStream(t, base)
	var names []string
	for range 3 {
		ev, _ := s.next(t, 5*time.Second)
		names = append(names, ev.name)
		if ev.name != "outcome" {
			continue
		}
		var before engine.Outcome
		if err := json.Unmarshal([]byte(ev.data), &before); err != nil {
			t.Fatalf("outcome %q: %v", ev.data, err)
		}
		if before.EventID != "ev-before" || before.Rule != "console-dry-run" || before.Outcome != engine.DryRun || before.Params.RoomID != "room-1" {
			t.Errorf("backlog outcome %+v, want ev-before: console-dry-run dry_run in room-1", before)
		}
	}
	if fmt.Sprint(names) != "[reset outcome ready]" {
		t.Errorf("the stream began with %v, want [reset outcome ready]: the backlog between reset and ready", names)
	}
	h.Publish(js, "rooms.events.user.flagged", flagged("ev-after", "room-2"))
	if after := s.waitOutcome(t, "ev-after", waitLong); after.Params.RoomID != "room-2" {
		t.Errorf("live outcome %+v, want room-2", after)
	}
}

// TestConsoleStreamBacklogIsTheLast50 checks that a stream starts with
// 50 outcomes, no more, when more were recorded (which 50: sinks/live's
// tests; outcomes are recorded as they happen, so their order is not the
// events').
func TestConsoleStreamBacklogIsTheLast50(t *testing.T) {
	h, js := startConsole(t, nil)
	for i := range 55 {
		h.Publish(js, "rooms.events.user.flagged", flagged(fmt.Sprintf("ev-%02d", i), "room-1"))
	}
	h.WaitActions(55, waitLong)
	s := openStream(t, "http://"+h.App().HTTPAddr())
	got := map[string]bool{}
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatal("stream ended")
			}
			if ev.name == "outcome" {
				var o engine.Outcome
				json.Unmarshal([]byte(ev.data), &o)
				got[o.EventID] = true
			}
			continue
		case <-time.After(500 * time.Millisecond):
		}
		break
	}
	if len(got) != 50 {
		t.Errorf("the backlog held %d distinct outcomes, want 50", len(got))
	}
}

// TestConsoleStreamLimit checks that live streams are capped at a
// quarter of http.max_connections with a clear 503, and that a slot
// frees when a stream closes.
func TestConsoleStreamLimit(t *testing.T) {
	h, _ := startConsole(t, func(h *daemontest.Harness) { h.Config.HTTP.MaxConnections = 8 })
	base := "http://" + h.App().HTTPAddr()
	first := openStream(t, base)
	openStream(t, base)
	resp, body := getConsole(t, base, "/console/actions/stream")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "too many live consoles: at most 2") {
		t.Fatalf("third stream: %d %q, want 503 naming the limit of 2", resp.StatusCode, body)
	}
	checkConsoleHeaders(t, "503", resp.Header)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("the 503 has no Retry-After")
	}
	if code, _ := h.Get("/metrics"); code != 200 {
		t.Errorf("/metrics with the streams open = %d, want 200", code)
	}
	if _, body := h.Get("/console/state"); !strings.Contains(body, `"streams": 2,`) || !strings.Contains(body, `"max_streams": 2`) {
		t.Errorf("the state does not count the 2 open streams of 2:\n%s", body)
	}
	first.resp.Body.Close()
	h.WaitFor(5*time.Second, "a stream slot to free", func() bool {
		resp, err := http.Get(base + "/console/actions/stream")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// TestConsoleStreamEndsOnShutdown checks that an open stream does not
// hold the daemon's shutdown.
func TestConsoleStreamEndsOnShutdown(t *testing.T) {
	h, _ := startConsole(t, nil)
	s := openStream(t, "http://"+h.App().HTTPAddr())
	s.next(t, 5*time.Second)
	start := time.Now()
	if err := h.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	for {
		select {
		case _, ok := <-s.events:
			if !ok {
				if d := time.Since(start); d > 10*time.Second {
					t.Errorf("the stream ended %s after shutdown began", d)
				}
				return
			}
		case <-time.After(15 * time.Second):
			t.Fatal("the stream is still open 15 s after the daemon stopped")
		}
	}
}

// TestConsoleState checks the state JSON: rules with the registry's
// counts, the last reload, pending undos, overrides and tripped rules
// (set up through the state store, as another replica would).
func TestConsoleState(t *testing.T) {
	h, js := startConsole(t, func(h *daemontest.Harness) {
		writeFile(t, filepath.Join(h.RulesDir, "budget.yaml"), budgetRule)
		h.AddRooms("room-7")
	})
	h.Publish(js, "rooms.events.user.flagged", flagged("ev-1", "room-1"))
	h.Publish(js, "rooms.events.user.flagged", flagged("ev-2", "room-1"))
	for _, id := range []string{"ev-3", "ev-4"} { // the second trips lock-on-flagged-message
		h.Publish(js, "rooms.events.message.flagged", []byte(`{"id":"`+id+`","type":"message.flagged","room_id":"room-7","user":{"id":"u-9"}}`))
	}
	h.WaitActions(4, waitLong)

	ctx := t.Context()
	replica := stateReplica(t, h)
	now := time.Now()
	video := state.SeatFlag{RoomID: "room-undo", Index: 3, Flag: "video"}
	audio := state.SeatFlag{RoomID: "room-held", Index: 4, Flag: "audio"}
	for _, l := range []state.Lock{{SeatFlag: video, Rule: "timed-rule", EventID: "ev-timed", At: now, End: now.Add(10 * time.Minute)},
		{SeatFlag: audio, Rule: "timed-rule", EventID: "ev-held", At: now, End: now.Add(10 * time.Minute)}} {
		if _, err := replica.Locked(ctx, l); err != nil {
			t.Fatalf("Locked: %v", err)
		}
	}
	if ok, err := replica.Override(ctx, audio, now, 30*time.Minute); err != nil || !ok {
		t.Fatalf("Override = %v, %v", ok, err)
	}
	for range 2 { // a version of a rule that is not in force: not listed
		if _, err := replica.Spend(ctx, "lock-on-flagged-message@an-old-version", 1, time.Minute, now); err != nil {
			t.Fatalf("Spend: %v", err)
		}
	}

	var st struct {
		TokenRequired bool `json:"token_required"`
		Rules         []struct {
			Name, Description, File string
			Line                    int
			On                      []string
			Enabled                 bool
			DryRun                  bool `json:"dry_run"`
			Evaluations, Matches    int64
			Errors, Shadow          int64
			Actions                 map[string]int64
		}
		Events int64 `json:"events_received"`
		Reload struct {
			Trigger, Hash string
			OK            bool
			Rules         int
			Errors        []string
		}
		PendingUndos []struct {
			RoomID string `json:"room_id"`
			Index  int
			Flag   string
			Rule   string
			End    time.Time
		} `json:"pending_undos"`
		Overrides []struct {
			RoomID string `json:"room_id"`
			Flag   string
			Until  time.Time
		}
		Tripped []struct{ Rule, Key string }
		Live    struct {
			MaxStreams int `json:"max_streams"`
		}
		StateError string `json:"state_error"`
	}
	resp, body := getConsole(t, "http://"+h.App().HTTPAddr(), "/console/state")
	checkConsoleHeaders(t, "/console/state", resp.Header)
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("state JSON: %v\n%s", err, body)
	}
	if st.StateError != "" {
		t.Errorf("state_error %q", st.StateError)
	}
	found := false
	for _, r := range st.Rules {
		if r.Name != "console-dry-run" {
			continue
		}
		found = true
		if r.Evaluations != 2 || r.Matches != 2 || r.Actions["dry_run"] != 2 || r.Errors != 0 || !r.DryRun || !r.Enabled ||
			r.Line != 2 || !strings.HasSuffix(r.File, "console.yaml") || fmt.Sprint(r.On) != "[user.flagged]" {
			t.Errorf("console-dry-run = %+v, want 2 evaluations, 2 matches, 2 dry_run actions at console.yaml:2", r)
		}
	}
	if !found || len(st.Rules) < 2 {
		t.Errorf("rules %+v: want console-dry-run among the example rules", st.Rules)
	}
	if st.Events != 4 {
		t.Errorf("events_received = %d, want 4", st.Events)
	}
	if !st.Reload.OK || st.Reload.Trigger != "start" || st.Reload.Rules != len(st.Rules) || st.Reload.Hash == "" || len(st.Reload.Errors) != 0 {
		t.Errorf("reload %+v, want the successful start with %d rules", st.Reload, len(st.Rules))
	}
	if len(st.PendingUndos) != 1 || st.PendingUndos[0].RoomID != "room-undo" || st.PendingUndos[0].Flag != "video" ||
		st.PendingUndos[0].Rule != "timed-rule" || st.PendingUndos[0].End.IsZero() {
		t.Errorf("pending undos %+v, want room-undo's video (the overridden one dropped)", st.PendingUndos)
	}
	if len(st.Overrides) != 1 || st.Overrides[0].RoomID != "room-held" || st.Overrides[0].Flag != "audio" {
		t.Errorf("overrides %+v, want room-held's audio", st.Overrides)
	}
	if len(st.Tripped) != 1 || st.Tripped[0].Rule != "lock-on-flagged-message" ||
		!strings.HasPrefix(st.Tripped[0].Key, "lock-on-flagged-message@") || strings.HasSuffix(st.Tripped[0].Key, "@an-old-version") {
		t.Errorf("tripped %+v, want lock-on-flagged-message as in force, once", st.Tripped)
	}
	if st.TokenRequired || st.Live.MaxStreams != 32 {
		t.Errorf("token_required %v, max_streams %d; want false and 32", st.TokenRequired, st.Live.MaxStreams)
	}
}

// TestConsoleReloadErrors checks that a failed reload shows its errors
// one per line, file:line:col first.
func TestConsoleReloadErrors(t *testing.T) {
	h, _ := startConsole(t, nil)
	writeFile(t, h.RulesDir+"/broken.yaml", "rules:\n  - name: broken\n    on: [member.enter]\n    when: event.usr.flagged\n    actions: []\n")
	if code, _ := h.Post("/-/reload", ""); code != http.StatusUnprocessableEntity {
		t.Fatalf("reload of a broken file = %d, want 422", code)
	}
	var st struct {
		Reload struct {
			OK      bool
			Trigger string
			Errors  []string
		}
	}
	_, body := getConsole(t, "http://"+h.App().HTTPAddr(), "/console/state")
	json.Unmarshal([]byte(body), &st)
	if st.Reload.OK || st.Reload.Trigger != "manual" || len(st.Reload.Errors) == 0 {
		t.Fatalf("reload %+v, want the failed manual reload with its errors", st.Reload)
	}
	pos := regexp.MustCompile(`broken\.yaml:\d+:\d+: `)
	for _, e := range st.Reload.Errors {
		if strings.Contains(e, "\n") || !pos.MatchString(e) {
			t.Errorf("error line %q, want one file:line:col: message", e)
		}
	}
}

// TestConsoleEscapes checks that markup in a rule description and in an
// event reaches the console only JSON-escaped, and decodes back to the
// same text (the page shows it with textContent).
func TestConsoleEscapes(t *testing.T) {
	h, js := startConsole(t, nil)
	base := "http://" + h.App().HTTPAddr()
	s := openStream(t, base)
	ev, _ := json.Marshal(map[string]any{"id": "ev-xss", "type": "user.flagged", "room_id": xss,
		"user": map[string]any{"id": "u-xss"}})
	h.Publish(js, "rooms.events.user.flagged", ev)
	o := s.waitOutcome(t, "ev-xss", waitLong)
	if o.Params.RoomID != xss {
		t.Errorf("room_id decoded from the stream = %q, want %q", o.Params.RoomID, xss)
	}
	_, stateBody := getConsole(t, base, "/console/state")
	for what, text := range map[string]string{"stream": s.Raw(), "state": stateBody} {
		if strings.Contains(text, "<script") || strings.Contains(text, "<b>") {
			t.Errorf("%s carries raw markup", what)
		}
		if !strings.Contains(text, `\u003cscript\u003ealert(1)\u003c/script\u003e`) {
			t.Errorf("%s lacks the escaped script text", what)
		}
	}
	var st struct {
		Rules []struct{ Name, Description string }
	}
	json.Unmarshal([]byte(stateBody), &st)
	for _, r := range st.Rules {
		if r.Name == "console-dry-run" && r.Description != "Shown as text: "+xss+" & <b>not bold</b>" {
			t.Errorf("description decoded as %q", r.Description)
		}
	}
}

// TestConsoleNoSecrets sets a secret key and an HTTP token, produces
// actions (a real call, a failure and a dry run carrying its request),
// and scans every console response and the stream for either, and for
// any usersig that is not redacted.
func TestConsoleNoSecrets(t *testing.T) {
	const token = "console-admin-token-8c1f0e"
	t.Setenv("ROOMWARDEN_TEST_CONSOLE_TOKEN", token)
	h, js := startConsole(t, func(h *daemontest.Harness) {
		h.Config.HTTP.Listen = "0.0.0.0:0"
		h.Config.HTTP.TokenEnv = "ROOMWARDEN_TEST_CONSOLE_TOKEN"
		h.AddRooms("room-ok")
	})
	_, port, _ := net.SplitHostPort(h.App().HTTPAddr())
	base := "http://127.0.0.1:" + port
	s := openStream(t, base)
	h.Publish(js, "rooms.events.user.flagged", flagged("ev-dry", "room-ok"))
	h.Publish(js, "rooms.events.member.enter", flaggedJoin("ev-ok", "room-ok"))
	h.Publish(js, "rooms.events.member.enter", flaggedJoin("ev-fail", "room-missing"))
	for _, id := range []string{"ev-dry", "ev-ok", "ev-fail"} {
		s.waitOutcome(t, id, waitLong)
	}
	outputs := map[string]string{"stream": s.Raw()}
	for _, p := range []string{"/", "/console/console.js", "/console/console.css", "/console/state"} {
		resp, body := getConsole(t, base, p)
		var hd strings.Builder
		resp.Header.Write(&hd)
		outputs[p] = hd.String() + body
	}
	if !strings.Contains(outputs["stream"], "usersig=REDACTED") {
		t.Error("the stream carries no dry-run request: the scan would prove less")
	}
	usersig := regexp.MustCompile(`usersig(?:=|%3[Dd])([A-Za-z0-9*_\-%]*)`)
	for name, text := range outputs {
		for _, secret := range []string{token, daemontest.SecretKey} {
			if strings.Contains(text, secret) {
				t.Errorf("%s contains a secret (%.8s…)", name, secret)
			}
		}
		for _, m := range usersig.FindAllStringSubmatch(text, -1) {
			if m[1] != "REDACTED" {
				t.Errorf("%s contains a usersig: %.40s", name, m[0])
			}
		}
	}
}

// TestConsoleTokenRules checks, off loopback with a token: the page, the
// state and the stream are readable without it; the calls that change
// state are refused without it and accepted with it.
func TestConsoleTokenRules(t *testing.T) {
	const token = "console-admin-token-3d9a71"
	t.Setenv("ROOMWARDEN_TEST_CONSOLE_TOKEN", token)
	h, _ := startConsole(t, func(h *daemontest.Harness) {
		h.Config.HTTP.Listen = "0.0.0.0:0"
		h.Config.HTTP.TokenEnv = "ROOMWARDEN_TEST_CONSOLE_TOKEN"
	})
	_, port, _ := net.SplitHostPort(h.App().HTTPAddr())
	base := "http://127.0.0.1:" + port
	for _, p := range []string{"/", "/console/console.js", "/console/console.css", "/console/state"} {
		if got := request(t, http.MethodGet, base+p, ""); got != 200 {
			t.Errorf("GET %s without a token = %d, want 200", p, got)
		}
	}
	openStream(t, base)
	_, body := getConsole(t, base, "/console/state")
	if !strings.Contains(body, `"token_required": true`) {
		t.Error("the state does not tell the page that a token is required")
	}
	if got := request(t, http.MethodPost, base+"/-/reload", ""); got != 401 {
		t.Errorf("POST /-/reload without a token = %d, want 401", got)
	}
	if got := request(t, http.MethodPost, base+"/-/reload", "Bearer "+token); got != 200 {
		t.Errorf("POST /-/reload with the token = %d, want 200", got)
	}
	if got := request(t, http.MethodPost, base+"/rules/console-dry-run/reset", ""); got != 401 {
		t.Errorf("POST /rules/console-dry-run/reset without a token = %d, want 401", got)
	}
}
