package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/roomwarden/roomwarden/cmd/roomwarden/app"
)

// runDaemon is `roomwarden run`.
func runDaemon(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "config file (YAML); empty: built-in defaults")
	lf := addLogFlags(fs)
	if err := fs.Parse(args); err != nil {
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
	return serve(cfg, logger, stdout, stderr, nil)
}

// serve runs the daemon until SIGINT/SIGTERM. SIGHUP reloads the rules,
// SIGUSR1 reopens the action log; a second SIGINT/SIGTERM exits at once.
// ready, if set, is called once the daemon is up, with a func that stops it.
func serve(cfg *app.Config, logger *slog.Logger, stdout, stderr io.Writer, ready func(*app.App, context.CancelFunc)) int {
	a, err := app.New(cfg, app.Options{Logger: logger, Stdout: stdout})
	if err != nil {
		fmt.Fprintf(stderr, "roomwarden: %v\n", err)
		return 1
	}
	defer a.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := handleSignals(a, cancel, logger)
	defer stop()
	if ready != nil {
		ready(a, cancel)
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
