package app_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/cmd/roomwarden/app"
	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/examples/roomengine-sim/sim"
	"github.com/roomwarden/roomwarden/internal/daemontest"
	"github.com/roomwarden/roomwarden/internal/natstest"
)

// sigRecorder sits in front of the simulator and keeps every usersig
// the daemon sent, so outputs can be scanned for them. Calls for
// room-echo are answered with an error whose text echoes the request
// URL, usersig included, as a careless server might.
type sigRecorder struct {
	next http.Handler
	mu   sync.Mutex
	sigs map[string]bool
}

func (s *sigRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sig := r.URL.Query().Get("usersig")
	s.mu.Lock()
	s.sigs[sig] = true
	s.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	if strings.Contains(string(body), `"room-echo"`) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ActionStatus":"FAIL","ErrorCode":70003,"ErrorInfo":"illegal sig in `+
			strings.ReplaceAll(r.URL.String(), `"`, `\"`)+`","RequestId":"req-echo-1"}`)
		return
	}
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	s.next.ServeHTTP(w, r)
}

func (s *sigRecorder) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for sig := range s.sigs {
		if sig != "" {
			out = append(out, sig)
		}
	}
	return out
}

// dryRunRule acts on user.flagged events in dry run only.
const dryRunRule = `rules:
  - name: dry-run-flagged-user
    on: [user.flagged]
    when: "true"
    actions: [{lock_seat: {room_id: event.room_id, index: 1, forbid_video: true}}]
    dry_run: true
`

// TestSecurityNoSecretInOutputs runs a scenario touching every output
// (success, retries, a permanent failure, an error echoing the request
// URL, a dead letter, a dry run, a malformed event) and scans each output
// for the secret key and for any usersig made with it.
func TestSecurityNoSecretInOutputs(t *testing.T) {
	h := daemontest.New(t)
	rec := &sigRecorder{next: h.Sim, sigs: map[string]bool{}}
	front := httptest.NewServer(rec)
	t.Cleanup(front.Close)
	h.Config.RoomEngine.Endpoint = front.URL
	h.Config.Executor.MaxAttempts = 3
	writeFile(t, filepath.Join(h.RulesDir, "dryrun.yaml"), dryRunRule)
	h.AddRooms("room-ok", "room-retry", "room-dead") // room-fail does not exist: 100004
	h.Sim.FailRoom("room-retry", 2, sim.Fault{Code: 100001})
	h.Sim.FailRoom("room-dead", 100, sim.Fault{HTTPStatus: 502})
	h.Start()
	nc, js := h.Conn()
	actions := h.Subscribe(nc, h.Config.ActionLog.Subject+".>")

	for _, room := range []string{"room-ok", "room-retry", "room-fail", "room-dead", "room-echo"} {
		h.Publish(js, "rooms.events.member.enter", flaggedJoin("ev-"+room, room))
	}
	h.Publish(js, "rooms.events.user.flagged", []byte(`{"id":"ev-dry","type":"user.flagged","room_id":"room-dry"}`))
	h.Publish(js, "rooms.events.member.enter", []byte(`{"id":"bad","type":`))

	got := waitEvents(t, h, "ev-room-ok", "ev-room-retry", "ev-room-fail", "ev-room-dead", "ev-room-echo", "ev-dry")
	want := map[string]engine.OutcomeKind{"ev-room-ok": engine.Succeeded, "ev-room-retry": engine.Succeeded,
		"ev-room-fail": engine.Failed, "ev-room-dead": engine.DeadLettered, "ev-room-echo": engine.Failed, "ev-dry": engine.DryRun}
	for id, kind := range want {
		if got[id].Outcome != kind {
			t.Errorf("%s: outcome %s, want %s (the scenario must cover it)", id, got[id].Outcome, kind)
		}
	}
	dls := h.WaitDeadLetters(js, 2, waitLong)
	h.WaitFor(waitLong, "6 action messages on NATS", func() bool { return len(actions.Msgs()) >= 6 })

	outputs := collectOutputs(t, h, dls, actions.Msgs())
	sigs := rec.seen()
	if len(sigs) == 0 {
		t.Fatal("no usersig reached the Room Engine: the scan would prove nothing")
	}
	scanForSecrets(t, outputs, append(sigs, daemontest.SecretKey))
	if !strings.Contains(outputs["action log"], "usersig=REDACTED") {
		t.Error("the action log shows no redacted usersig: the dry run and the echoed error should")
	}
}

// collectOutputs gathers everything the daemon emitted, by name.
func collectOutputs(t *testing.T, h *daemontest.Harness, dls []*jetstream.RawStreamMsg, actions []*nats.Msg) map[string]string {
	t.Helper()
	alog, err := os.ReadFile(h.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	_, rulesBody := h.Get("/rules")
	_, metrics := h.Get("/metrics")
	_, ready := h.Get("/readyz")
	var dl, act strings.Builder
	for _, m := range dls {
		dl.WriteString(m.Subject + " " + headerText(m.Header) + " " + string(m.Data) + "\n")
	}
	for _, m := range actions {
		act.WriteString(m.Subject + " " + headerText(m.Header) + " " + string(m.Data) + "\n")
	}
	return map[string]string{"daemon log": h.Logs.String(), "action log": string(alog), "/rules": rulesBody,
		"/metrics": metrics, "/readyz": ready, "dead letters": dl.String(), "action messages": act.String()}
}

func headerText(hd nats.Header) string {
	var b strings.Builder
	for k, vs := range hd {
		b.WriteString(k + ": " + strings.Join(vs, ",") + "; ")
	}
	return b.String()
}

// usersigParam matches a usersig query parameter and its value.
var usersigParam = regexp.MustCompile(`usersig(?:=|%3[Dd])([A-Za-z0-9*_\-%]*)`)

// scanForSecrets fails for every output holding one of secrets or a
// usersig parameter that is not REDACTED.
func scanForSecrets(t *testing.T, outputs map[string]string, secrets []string) {
	t.Helper()
	for name, text := range outputs {
		if text == "" {
			t.Errorf("%s is empty: the scan would prove nothing", name)
		}
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s contains a secret (%.12s...)", name, s)
			}
		}
		for _, m := range usersigParam.FindAllStringSubmatch(text, -1) {
			if m[1] != "REDACTED" {
				t.Errorf("%s contains an unredacted usersig: %.40s", name, m[0])
			}
		}
	}
}

// TestSecurityAdminHTTP checks that the operations endpoint binds to
// loopback by default, that binding elsewhere needs a token, and that
// POST /-/reload then requires it.
func TestSecurityAdminHTTP(t *testing.T) {
	t.Run("loopback by default", func(t *testing.T) {
		host, _, err := net.SplitHostPort(app.Default().HTTP.Listen)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			t.Errorf("default http.listen host %q is not a loopback address", host)
		}
		h := daemontest.New(t)
		h.Config.HTTP.Listen = "127.0.0.1:0"
		a := h.Start()
		if host, _, _ := net.SplitHostPort(a.HTTPAddr()); host != "127.0.0.1" {
			t.Errorf("HTTPAddr = %s, want 127.0.0.1", a.HTTPAddr())
		}
		if got := request(t, http.MethodGet, "http://"+a.HTTPAddr()+"/debug/pprof/heap", ""); got != 404 {
			t.Errorf("GET /debug/pprof/heap with http.pprof off = %d, want 404", got)
		}
	})
	t.Run("beyond loopback without a token is refused", func(t *testing.T) {
		h := daemontest.New(t)
		h.Config.HTTP.Listen = "0.0.0.0:0"
		a, err := app.New(h.Config, app.Options{})
		if err == nil {
			a.Close()
			t.Fatal("app.New accepted http.listen 0.0.0.0:0 without http.token_env")
		}
		if !strings.Contains(err.Error(), "http.token_env") {
			t.Errorf("error %q does not name http.token_env", err)
		}
	})
	t.Run("beyond loopback reload needs the token", func(t *testing.T) {
		const token = "admin-token-5f2b9c"
		t.Setenv("ROOMWARDEN_TEST_ADMIN_TOKEN", token)
		h := daemontest.New(t)
		h.Config.HTTP.Listen = "0.0.0.0:0"
		h.Config.HTTP.TokenEnv = "ROOMWARDEN_TEST_ADMIN_TOKEN"
		h.Config.HTTP.Pprof = true
		a := h.Start()
		_, port, _ := net.SplitHostPort(a.HTTPAddr())
		base := "http://127.0.0.1:" + port
		tests := []struct {
			name, auth string
			want       int
		}{
			{"no token", "", 401},
			{"wrong token", "Bearer not-the-token", 401},
			{"right token, wrong scheme", "Basic " + token, 401},
			{"right token", "Bearer " + token, 200},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				if got := request(t, http.MethodPost, base+"/-/reload", tc.auth); got != tc.want {
					t.Errorf("POST /-/reload = %d, want %d", got, tc.want)
				}
				if got := request(t, http.MethodGet, base+"/debug/pprof/heap", tc.auth); got != tc.want {
					t.Errorf("GET /debug/pprof/heap = %d, want %d", got, tc.want)
				}
			})
		}
		if strings.Contains(h.Logs.String(), token) {
			t.Error("the daemon's log contains the admin token")
		}
	})
}

// request sends method to url, with an Authorization header if auth is
// set, and returns the status code.
func request(t *testing.T, method, url, auth string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestSecurityNATSAuth runs the daemon against a NATS server that needs
// TLS (certificates made in the test, trusted through nats.tls.ca_file)
// or a user and password, and expects an event acted on. A server the
// daemon cannot authenticate to fails New at once.
func TestSecurityNATSAuth(t *testing.T) {
	const user, password, passwordEnv = "roomwarden", "nats-pw-8e1d", "ROOMWARDEN_TEST_NATS_PASSWORD"
	certs := natstest.NewCerts(t)
	tests := []struct {
		name       string
		server     []natstest.Option
		configure  func(*app.Config)
		client     []nats.Option
		wantRefuse bool
	}{
		{"tls with a ca file", []natstest.Option{natstest.WithTLS(certs.Server)},
			func(c *app.Config) { c.NATS.TLS.CAFile = certs.CAFile },
			[]nats.Option{nats.RootCAs(certs.CAFile)}, false},
		{"user and password", []natstest.Option{natstest.WithUser(user, password)},
			func(c *app.Config) { c.NATS.User, c.NATS.PasswordEnv = user, passwordEnv },
			[]nats.Option{nats.UserInfo(user, password)}, false},
		{"tls and password", []natstest.Option{natstest.WithTLS(certs.Server), natstest.WithUser(user, password)},
			func(c *app.Config) {
				c.NATS.TLS.CAFile = certs.CAFile
				c.NATS.User, c.NATS.PasswordEnv = user, passwordEnv
			},
			[]nats.Option{nats.RootCAs(certs.CAFile), nats.UserInfo(user, password)}, false},
		{"tls without the ca is refused", []natstest.Option{natstest.WithTLS(certs.Server)},
			func(*app.Config) {}, nil, true},
		{"wrong password is refused", []natstest.Option{natstest.WithUser(user, "other")},
			func(c *app.Config) { c.NATS.User, c.NATS.PasswordEnv = user, passwordEnv }, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(passwordEnv, password)
			h := daemontest.New(t)
			s := natstest.RunServer(t, tc.server...)
			h.Config.NATS.URL = s.ClientURL()
			tc.configure(h.Config)
			if tc.wantRefuse {
				checkRefused(t, h.Config)
				return
			}
			h.AddRooms("room-secure")
			h.Start()
			js := natstest.JetStream(t, natstest.Connect(t, s, tc.client...))
			h.Publish(js, "rooms.events.member.enter", flaggedJoin("secure", "room-secure"))
			if o := waitEvents(t, h, "secure")["secure"]; o.Outcome != engine.Succeeded {
				t.Errorf("outcome %+v, want succeeded", o)
			}
			if strings.Contains(h.Logs.String(), password) {
				t.Error("the daemon's log contains the NATS password")
			}
		})
	}
}

// checkRefused expects app.New to fail, and to fail promptly.
func checkRefused(t *testing.T, cfg *app.Config) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		a, err := app.New(cfg, app.Options{})
		if err == nil {
			a.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("app.New connected to a server it should not be able to authenticate to")
		}
	case <-time.After(waitLong):
		t.Fatalf("app.New still trying after %s, want a prompt error", waitLong)
	}
}

// TestSecuritySecretKeyFileMode checks the start-up warning for a secret
// key file that group or others can read.
func TestSecuritySecretKeyFileMode(t *testing.T) {
	tests := []struct {
		mode     os.FileMode
		wantWarn bool
	}{
		{0o644, true},
		{0o640, true},
		{0o600, false},
	}
	for _, tc := range tests {
		t.Run(tc.mode.String(), func(t *testing.T) {
			h := daemontest.New(t)
			path := filepath.Join(h.Dir, "secret.key")
			writeFile(t, path, daemontest.SecretKey+"\n")
			mustDo(t, os.Chmod(path, tc.mode))
			h.Config.RoomEngine.SecretKeyEnv = ""
			h.Config.RoomEngine.SecretKeyFile = path
			h.AddRooms("room-keyed")
			h.Start()
			_, js := h.Conn()
			h.Publish(js, "rooms.events.member.enter", flaggedJoin("keyed", "room-keyed"))
			if o := waitEvents(t, h, "keyed")["keyed"]; o.Outcome != engine.Succeeded {
				t.Errorf("outcome %+v, want succeeded with the key from the file", o)
			}
			logs := h.Logs.String()
			warned := strings.Contains(logs, "level=WARN") && strings.Contains(logs, "readable by group or others")
			if warned != tc.wantWarn {
				t.Errorf("warned about the key file's mode = %v, want %v", warned, tc.wantWarn)
			}
			if strings.Contains(logs, daemontest.SecretKey) {
				t.Error("the daemon's log contains the secret key")
			}
		})
	}
}
