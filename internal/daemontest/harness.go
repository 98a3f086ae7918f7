package daemontest

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/cmd/roomwarden/app"
	"github.com/roomwarden/roomwarden/examples/roomengine-sim/sim"
)

// AppID and SecretKey are the simulator's credentials.
const (
	AppID     = 1400000000
	SecretKey = "daemontest-secret-key-0123456789abcdef"
	SecretEnv = "ROOMWARDEN_DAEMONTEST_SECRET_KEY"
)

// The App administrators the simulator accepts: Admin is the daemon's
// default roomengine.identifier; a test that runs two daemons one after
// the other gives the second OtherAdmin, so that every call at the
// simulator (sim.Call.Identifier) says which daemon made it.
const (
	Admin      = sim.DefaultAdmin
	OtherAdmin = "administrator-2"
)

// Harness is one daemon under test with its simulator and files.
type Harness struct {
	T        testing.TB
	Dir      string // everything the daemon writes lives here
	RulesDir string
	LogPath  string // the action log
	Sim      *sim.Server
	SimURL   string
	Config   *app.Config
	Logs     *SyncBuffer // the daemon's own log lines

	app    *app.App
	cancel context.CancelFunc
	done   chan error
}

// New prepares a daemon: the example rules, a strict simulator (it
// answers 100004 for rooms the test did not create with AddRooms), and
// a config. Change h.Config, then call Start.
func New(t testing.TB) *Harness {
	t.Helper()
	t.Setenv(SecretEnv, SecretKey)
	dir := t.TempDir()
	h := &Harness{T: t, Dir: dir, RulesDir: filepath.Join(dir, "rules"),
		LogPath: filepath.Join(dir, "actions.jsonl"), Logs: &SyncBuffer{}}
	if err := os.CopyFS(h.RulesDir, os.DirFS(examplesRules())); err != nil {
		t.Fatalf("copy example rules: %v", err)
	}
	s, err := sim.New(sim.Config{SecretKey: []byte(SecretKey), SDKAppID: AppID,
		Admins: []string{Admin, OtherAdmin}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("simulator: %v", err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	h.Sim, h.SimURL = s, srv.URL
	h.Config = h.defaultConfig()
	return h
}

// AddRooms creates rooms at the simulator, each with sim.DefaultSeats
// seats.
func (h *Harness) AddRooms(ids ...string) {
	for _, id := range ids {
		h.Sim.AddRoom(id, sim.DefaultSeats)
	}
}

func (h *Harness) defaultConfig() *app.Config {
	cfg := app.Default()
	cfg.NATS.Embedded.Listen = "127.0.0.1:0"
	cfg.NATS.Embedded.StoreDir = filepath.Join(h.Dir, "nats")
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Rules.Dir = h.RulesDir
	cfg.ActionLog.Path = h.LogPath
	cfg.RoomEngine.Endpoint = h.SimURL
	cfg.RoomEngine.SDKAppID = AppID
	cfg.RoomEngine.SecretKeyEnv = SecretEnv
	cfg.Executor.BackoffInitial = app.Duration(20 * time.Millisecond)
	cfg.Executor.BackoffMax = app.Duration(200 * time.Millisecond)
	cfg.ShutdownTimeout = app.Duration(5 * time.Second)
	return cfg
}

// examplesRules finds examples/rules from any package directory.
func examplesRules() string {
	dir, _ := os.Getwd()
	for range 6 {
		p := filepath.Join(dir, "examples", "rules")
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
		dir = filepath.Dir(dir)
	}
	return "examples/rules"
}

// Start builds the daemon with app.New and runs it until Stop or the
// end of the test.
func (h *Harness) Start() *app.App {
	h.T.Helper()
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(h.Logs), &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := app.New(h.Config, app.Options{Logger: logger})
	if err != nil {
		h.T.Fatalf("app.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.app, h.cancel, h.done = a, cancel, make(chan error, 1)
	go func() { h.done <- a.Run(ctx) }()
	h.T.Cleanup(func() { h.Stop() })
	return a
}

// App is the running daemon.
func (h *Harness) App() *app.App { return h.app }

// Stop shuts the daemon down as SIGTERM would and returns Run's error.
// Safe to call twice.
func (h *Harness) Stop() error {
	if h.app == nil {
		return nil
	}
	h.cancel()
	err := <-h.done
	h.app.Close()
	h.app = nil
	return err
}

// Restart stops the daemon and starts a new one on the same files (the
// embedded NATS store included).
func (h *Harness) Restart() *app.App {
	h.T.Helper()
	if err := h.Stop(); err != nil {
		h.T.Fatalf("stop: %v", err)
	}
	return h.Start()
}

// Conn connects a client to the daemon's NATS server.
func (h *Harness) Conn() (*nats.Conn, jetstream.JetStream) {
	h.T.Helper()
	nc, err := nats.Connect(h.app.NATSURL(), nats.Name("daemontest"))
	if err != nil {
		h.T.Fatalf("connect: %v", err)
	}
	h.T.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		h.T.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// Publish publishes one event body to JetStream and waits for its ack.
func (h *Harness) Publish(js jetstream.JetStream, subject string, body []byte) {
	h.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.Publish(ctx, subject, body); err != nil {
		h.T.Fatalf("publish %s: %v", subject, err)
	}
}
