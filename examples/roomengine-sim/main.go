// Command roomengine-sim serves a Room Engine REST API simulator on
// loopback for demos and end-to-end tests:
//
//	ROOMWARDEN_SECRET_KEY=... go run ./examples/roomengine-sim \
//	    -listen 127.0.0.1:9470 -sdkappid 1400000000 \
//	    [-rooms room-a,room-b -seats 16] [-admins administrator] [-lenient] \
//	    [-fail-code 100001 -fail-rate 0.05] [-latency 0] [-http502-rate 0]
//
// Point roomwarden's roomengine.endpoint at http://127.0.0.1:9470 and
// watch a room with GET /rooms/{id}/seats. See package sim for the API.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/roomwarden/roomwarden/examples/roomengine-sim/sim"
	"github.com/roomwarden/roomwarden/sinks/roomengine"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr, nil))
}

// options are the command-line flags.
type options struct {
	listen, secretEnv, secretFile, rooms, admins, logFormat string
	sdkappid                                                uint64
	lenient                                                 bool
	limit, seats                                            int
	failCode                                                int
	failRate, http502Rate                                   float64
	latency                                                 time.Duration
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("roomengine-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:9470", "address to serve on")
	fs.Uint64Var(&o.sdkappid, "sdkappid", 1400000000, "the app's SDKAppID")
	fs.StringVar(&o.secretEnv, "secret-key-env", "ROOMWARDEN_SECRET_KEY", "environment variable holding the secret key")
	fs.StringVar(&o.secretFile, "secret-key-file", "", "file holding the secret key (instead of -secret-key-env)")
	fs.BoolVar(&o.lenient, "lenient", false, "accept what the real API refuses: any field case, unknown fields, any identifier, rooms never created, any Index")
	fs.StringVar(&o.rooms, "rooms", "", "comma-separated rooms to create at start (more with POST /rooms/{id})")
	fs.IntVar(&o.seats, "seats", sim.DefaultSeats, "seats of each room in -rooms")
	fs.StringVar(&o.admins, "admins", sim.DefaultAdmin, "comma-separated App administrator identifiers allowed to call")
	fs.IntVar(&o.limit, "limit", sim.DefaultLimit, "calls accepted per rolling second (60007 beyond)")
	fs.IntVar(&o.failCode, "fail-code", sim.CodeInternal, "error code answered to a -fail-rate fraction of calls")
	fs.Float64Var(&o.failRate, "fail-rate", 0, "fraction of calls answered with -fail-code")
	fs.Float64Var(&o.http502Rate, "http502-rate", 0, "fraction of calls answered with HTTP 502")
	fs.DurationVar(&o.latency, "latency", 0, "added to every answer (above 3s the backend would time out)")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.secretFile != "" {
		o.secretEnv = ""
	}
	return o, nil
}

// run serves until ctx ends. ready, if set, gets the bound address.
func run(ctx context.Context, args []string, stderr io.Writer, ready chan<- string) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return 2
	}
	log := newLogger(stderr, o.logFormat)
	srv, err := newSim(o, log)
	if err != nil {
		log.Error("start", "err", err)
		return 1
	}
	if err := serve(ctx, o.listen, srv, log, ready); err != nil {
		log.Error("serve", "err", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, format string) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

func newSim(o options, log *slog.Logger) (*sim.Server, error) {
	key, err := roomengine.LoadSecretKey(o.secretEnv, o.secretFile)
	if err != nil {
		return nil, err
	}
	if o.seats < 0 {
		return nil, fmt.Errorf("-seats %d: want a non-negative count", o.seats)
	}
	s, err := sim.New(sim.Config{SecretKey: key, SDKAppID: o.sdkappid, Admins: splitList(o.admins),
		Lenient: o.lenient, Limit: o.limit, Logger: log})
	if err != nil {
		return nil, err
	}
	for _, r := range splitList(o.rooms) {
		s.AddRoom(r, o.seats)
	}
	if o.http502Rate > 0 {
		s.FailRate(o.http502Rate, sim.Fault{HTTPStatus: http.StatusBadGateway})
	}
	if o.failRate > 0 {
		s.FailRate(o.failRate, sim.Fault{Code: o.failCode})
	}
	s.SetLatency(o.latency)
	return s, nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func serve(ctx context.Context, addr string, h http.Handler, log *slog.Logger, ready chan<- string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	log.Info("room engine simulator listening", "addr", ln.Addr().String())
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("room engine simulator stopped")
	return nil
}
