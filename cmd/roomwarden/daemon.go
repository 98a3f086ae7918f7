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
func runDaemon(args []string, _, stderr io.Writer) int {
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
	return serve(cfg, logger, stderr, nil)
}

// serve runs the daemon until SIGINT/SIGTERM. SIGHUP reloads the rules,
// SIGUSR1 reopens the action log; a second SIGINT/SIGTERM exits at once.
// ready, if set, is called once the daemon is up, with a func that stops it.
func serve(cfg *app.Config, logger *slog.Logger, stderr io.Writer, ready func(*app.App, context.CancelFunc)) int {
	a, err := app.New(cfg, app.Options{Logger: logger})
	if err != nil {
		fmt.Fprintf(stderr, "roomwarden: %v\n", err)
		return 1
	}
	defer a.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(sigs)
	go handleSignals(sigs, a, cancel, logger)
	if ready != nil {
		ready(a, cancel)
	}
	if err := a.Run(ctx); err != nil {
		logger.Error("daemon stopped with an error", "err", err)
		return 1
	}
	return 0
}

func handleSignals(sigs <-chan os.Signal, a *app.App, cancel context.CancelFunc, logger *slog.Logger) {
	stopping := false
	for s := range sigs {
		switch s {
		case syscall.SIGHUP:
			a.Reload()
		case syscall.SIGUSR1:
			if err := a.ReopenLog(); err != nil {
				logger.Error("reopen action log", "err", err)
			}
		default:
			if stopping {
				logger.Warn("second signal: exiting now", "signal", s.String())
				os.Exit(1)
			}
			stopping = true
			logger.Info("shutting down", "signal", s.String())
			cancel()
		}
	}
}
