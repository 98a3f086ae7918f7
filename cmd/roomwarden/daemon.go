package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"

	"github.com/roomwarden/roomwarden/cmd/roomwarden/app"
	"github.com/roomwarden/roomwarden/internal/heapfloor"
)

const runUsage = `usage: roomwarden run [--config FILE] [--log-format text|json] [--log-level LEVEL]

Runs the daemon. With nats.url empty in the config it starts an embedded
NATS server. SIGHUP reloads the rules, SIGUSR1 reopens the action log,
SIGINT or SIGTERM stop it.
`

// runDaemon is `roomwarden run`.
func runDaemon(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run", runUsage)
	configPath := fs.String("config", "", "config file (YAML); empty: built-in defaults")
	lf := addLogFlags(fs, "info")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "roomwarden run: unexpected arguments %q (the config goes in --config FILE)\n", fs.Args())
		return 2
	}
	logger, err := lf.logger(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "roomwarden run: %v\n", err)
		return 2
	}
	cfg := app.Default()
	if *configPath != "" {
		if cfg, err = app.LoadConfig(*configPath); err != nil {
			fmt.Fprintf(stderr, "roomwarden run: %v\n", err)
			return 1
		}
	}
	return serve(cfg, logger, stdout, stderr, serveOptions{})
}

// serveOptions are what the run and demo commands add to serve.
type serveOptions struct {
	// ready, if set, is called once the daemon is up, with a func that
	// stops it.
	ready func(*app.App, context.CancelFunc)
	// flags maps config keys to the command's flags that set them, so an
	// error can name what the user can change.
	flags map[string]string
}

// serve runs the daemon until SIGINT/SIGTERM. SIGHUP reloads the rules,
// SIGUSR1 reopens the action log; a second SIGINT/SIGTERM exits at once.
func serve(cfg *app.Config, logger *slog.Logger, stdout, stderr io.Writer, o serveOptions) int {
	startHeapFloor(logger)
	a, err := app.New(cfg, app.Options{Logger: logger, Stdout: stdout})
	if err != nil {
		fmt.Fprintf(stderr, "roomwarden: %v\n", err)
		if hint := listenHint(err, o.flags); hint != "" {
			fmt.Fprintln(stderr, hint)
		}
		return 1
	}
	defer a.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := handleSignals(a, cancel, logger)
	defer stop()
	if o.ready != nil {
		o.ready(a, cancel)
	}
	if err := a.Run(ctx); err != nil {
		logger.Error("daemon stopped with an error", "err", err)
		return 1
	}
	return 0
}

// handleSignals turns signals into actions until ctx ends. Each kind has
// its own channel, so a burst of SIGHUPs cannot crowd out a SIGTERM, and
// reloads run on their own goroutine: a SIGHUP is a non-blocking send on
// a one-slot channel (reloads in a burst merge into one), and a slow
// reload never delays shutdown. The returned func stops it.
func handleSignals(a *app.App, cancel context.CancelFunc, logger *slog.Logger) func() {
	term := make(chan os.Signal, 2)
	hup := make(chan os.Signal, 1)
	usr1 := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGINT, syscall.SIGTERM)
	signal.Notify(hup, syscall.SIGHUP)
	signal.Notify(usr1, syscall.SIGUSR1)
	reload := make(chan struct{}, 1)
	go func() {
		for range reload {
			a.Reload()
		}
	}()
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		defer close(reload)
		stopping := false
		for {
			select {
			case <-quit:
				return
			case s := <-term:
				if stopping {
					logger.Warn("second signal: exiting now", "signal", s.String())
					os.Exit(1)
				}
				stopping = true
				logger.Info("shutting down", "signal", s.String())
				cancel()
			case <-hup:
				select {
				case reload <- struct{}{}:
				default: // a reload is already pending; it will read the latest files
				}
			case <-usr1:
				if err := a.ReopenLog(); err != nil {
					logger.Error("reopen action log", "err", err)
				}
			}
		}
	}()
	return func() {
		signal.Stop(term)
		signal.Stop(hup)
		signal.Stop(usr1)
		close(quit)
		<-done
	}
}

// listenHint says how to move off a port another process holds: by the
// command's flag when it has one, else by the config key.
func listenHint(err error, flags map[string]string) string {
	var le *app.ListenError
	if !errors.As(err, &le) {
		return ""
	}
	if flag, ok := flags[le.Key]; ok {
		return fmt.Sprintf("hint: another process is using %s; pass %s with a free address, such as %s %s",
			le.Addr, flag, flag, nextPort(le.Addr))
	}
	hint := fmt.Sprintf("hint: another process is using %s; set %s in the config to a free address", le.Addr, le.Key)
	if le.Key == "nats.embedded.listen" {
		hint += ", or nats.url to use a running NATS server"
	}
	return hint
}

// nextPort returns host:port+1 for an example of another address.
func nextPort(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || n >= 65535 {
		return "127.0.0.1:0"
	}
	return net.JoinHostPort(host, strconv.Itoa(n+1))
}

// heapFloor is how much the heap may grow between collections at least
// (package heapfloor): the daemon's live heap is tens of MB with
// hundreds of rules, and collecting at twice that took a sixth of its
// CPU at full rate.
const heapFloor = 32 << 20

var heapFloorOnce sync.Once

// startHeapFloor starts the process's heap floor, once, unless the
// operator set GOGC.
func startHeapFloor(logger *slog.Logger) {
	heapFloorOnce.Do(func() {
		if !heapfloor.Wanted() {
			logger.Info("GOGC is set: no heap floor", "gogc", os.Getenv("GOGC"))
			return
		}
		heapfloor.Start(heapFloor)
	})
}
