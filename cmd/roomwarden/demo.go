package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/cmd/roomwarden/app"
	"github.com/roomwarden/roomwarden/examples/roomengine-sim/sim"
)

const (
	demoAppID     = 1400000000
	demoSecretEnv = "ROOMWARDEN_DEMO_SECRET_KEY"
)

// demoFlags are `roomwarden demo`'s flags.
type demoFlags struct {
	natsListen, httpListen, rulesDir, eventsDir string
	runFor                                      time.Duration
	logs                                        logFlags
}

// runDemo is `roomwarden demo`: the real daemon on its embedded defaults
// (embedded NATS, the example rules, the action log on stdout), pointed
// at an in-process Room Engine simulator, with the sample events
// published once it is up. It keeps running for `nats pub` until Ctrl-C.
func runDemo(args []string, stdout, stderr io.Writer) int {
	f, code, ok := parseDemoFlags(args, stdout, stderr)
	if !ok {
		return code
	}
	logger, err := f.logs.logger(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "roomwarden demo: %v\n", err)
		return 2
	}
	key := rand.Text()
	simURL, stopSim, err := startSimulator(key, simLogger(logger))
	if err != nil {
		fmt.Fprintf(stderr, "roomwarden demo: %v\n", err)
		return 1
	}
	defer stopSim()
	storeDir, err := os.MkdirTemp("", "roomwarden-demo-")
	if err != nil {
		fmt.Fprintf(stderr, "roomwarden demo: %v\n", err)
		return 1
	}
	defer os.RemoveAll(storeDir)
	os.Setenv(demoSecretEnv, key)
	cfg := demoConfig(f, simURL, storeDir)
	return serve(cfg, logger, stdout, stderr, serveOptions{
		ready: func(a *app.App, stop context.CancelFunc) { go publishSamples(a, f, simURL, stop, stderr, logger) },
		flags: map[string]string{"nats.embedded.listen": "--nats-listen", "http.listen": "--http-listen"},
	})
}

const demoUsage = `usage: roomwarden demo [flags]

Runs the daemon on its embedded defaults (embedded NATS, the example
rules, the action log on stdout) against an in-process Room Engine
simulator, and publishes the sample events. It runs until Ctrl-C.
`

func parseDemoFlags(args []string, stdout, stderr io.Writer) (demoFlags, int, bool) {
	var f demoFlags
	fs := newFlags("demo", demoUsage)
	fs.StringVar(&f.natsListen, "nats-listen", "127.0.0.1:4222", "embedded NATS listen address (for nats pub)")
	fs.StringVar(&f.httpListen, "http-listen", "127.0.0.1:9464", "operations endpoint (/metrics, /rules, ...)")
	fs.StringVar(&f.rulesDir, "rules", "./examples/rules", "rules directory")
	fs.StringVar(&f.eventsDir, "events", "./examples/events", "sample events published at start")
	fs.DurationVar(&f.runFor, "for", 0, "stop after this long (0: run until Ctrl-C)")
	f.logs = addLogFlags(fs, "warn")
	code, ok := parseFlags(fs, args, stdout, stderr)
	return f, code, ok
}

func demoConfig(f demoFlags, simURL, storeDir string) *app.Config {
	cfg := app.Default()
	cfg.NATS.Embedded.Listen = f.natsListen
	cfg.NATS.Embedded.StoreDir = storeDir
	cfg.HTTP.Listen = f.httpListen
	cfg.Rules.Dir = f.rulesDir
	cfg.RoomEngine.Endpoint = simURL
	cfg.RoomEngine.SDKAppID = demoAppID
	cfg.RoomEngine.SecretKeyEnv = demoSecretEnv
	cfg.ActionLog.Path = "-"
	return cfg
}

// demoRooms are the rooms the demo's simulator has, as the real Room
// Engine would after create_room: the sample events' room, and a few
// for events of your own.
var demoRooms = []string{"room-demo", "room-1", "room-2", "room-3"}

// startSimulator serves the Room Engine simulator on a loopback port.
func startSimulator(key string, logger *slog.Logger) (string, func(), error) {
	s, err := sim.New(sim.Config{SecretKey: []byte(key), SDKAppID: demoAppID, Logger: logger})
	if err != nil {
		return "", nil, fmt.Errorf("simulator: %w", err)
	}
	for _, room := range demoRooms {
		s.AddRoom(room, sim.DefaultSeats)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("simulator: %w", err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("simulator stopped", "err", err)
		}
	}()
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// simLogger is the simulator's logger: its line per call only at debug
// level, so the demo's terminal shows the daemon's actions first.
func simLogger(logger *slog.Logger) *slog.Logger {
	if logger.Enabled(context.Background(), slog.LevelDebug) {
		return logger.With("component", "simulator")
	}
	return slog.New(slog.DiscardHandler)
}

// publishSamples publishes every sample event, then says on stderr where
// to look and what to try next. It runs beside the daemon.
func publishSamples(a *app.App, f demoFlags, simURL string, stop context.CancelFunc, stderr io.Writer, logger *slog.Logger) {
	if f.runFor > 0 {
		time.AfterFunc(f.runFor, stop)
	}
	n, err := publishDir(a.NATSURL(), f.eventsDir)
	if err != nil {
		logger.Error("publish sample events", "err", err)
		return
	}
	fmt.Fprintf(stderr, `roomwarden demo: published %d sample events from %s; the actions follow on stdout.
  console:        http://%s/
  rules, metrics: http://%s/rules  http://%s/metrics
  seat state:     %s/rooms/room-demo/seats
  try:            nats pub -s %s rooms.events.member.enter '{"type":"member.enter","room_id":"room-1","user":{"id":"u9","flagged":true}}'
  rooms:          %s (the simulator answers 100004 for any other)
  Ctrl-C stops it.
`, n, f.eventsDir, a.HTTPAddr(), a.HTTPAddr(), a.HTTPAddr(), simURL, a.NATSURL(), strings.Join(demoRooms, ", "))
}

// publishDir publishes each *.json file in dir to JetStream on the
// subject its event type implies, and waits for the stream's ack.
func publishDir(url, dir string) (int, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return 0, err
	}
	sort.Strings(files)
	nc, err := nats.Connect(url, nats.Name("roomwarden-demo"))
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return 0, err
		}
		if _, err := js.Publish(ctx, sampleSubject(data), data); err != nil {
			return 0, fmt.Errorf("publish %s: %w", file, err)
		}
	}
	return len(files), nil
}

// sampleSubject is rooms.events.<type> for canonical events and
// rooms.events.callback.<command> for Tencent callback bodies.
func sampleSubject(data []byte) string {
	var head struct {
		Type            string `json:"type"`
		CallbackCommand string `json:"CallbackCommand"`
	}
	_ = json.Unmarshal(data, &head)
	switch {
	case head.CallbackCommand != "":
		return "rooms.events.callback." + strings.ReplaceAll(head.CallbackCommand, ".", "_")
	case head.Type != "":
		return "rooms.events." + head.Type
	}
	return "rooms.events.unknown"
}
