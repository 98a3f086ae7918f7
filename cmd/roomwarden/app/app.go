package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/rules"
	"github.com/roomwarden/roomwarden/sinks/actionlog"
	"github.com/roomwarden/roomwarden/sinks/natspub"
	"github.com/roomwarden/roomwarden/sinks/roomengine"
)

// Options carry what the caller, not the config file, decides.
type Options struct {
	Logger   *slog.Logger
	Registry *prometheus.Registry // nil: a fresh one with Go and process collectors
}

// App is the running daemon. New acquires every resource and fails fast
// on bad config, bad rules or unreachable dependencies; Run serves until
// its context ends and then drains; Close releases what New acquired.
type App struct {
	cfg    *Config
	log    *slog.Logger
	reg    *prometheus.Registry
	health *health

	embedded *Embedded
	nc       *nats.Conn
	watcher  *rules.Watcher
	exec     *engine.Executor
	intake   *engine.Intake
	alog     *actionlog.Log
	actions  *natspub.Actions
	pipeline *engine.Pipeline

	httpLn  net.Listener
	httpSrv *http.Server

	closeOnce sync.Once
}

// New builds the daemon from a validated config. On error it releases
// whatever it had acquired.
func New(cfg *Config, o Options) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: o.Logger, reg: o.Registry}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.reg == nil {
		a.reg = prometheus.NewRegistry()
		a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	a.health = newHealth(a.reg)
	steps := []func() error{a.openRules, a.openActionLog, a.openNATS, a.openEngine, a.openHTTP}
	for _, step := range steps {
		if err := step(); err != nil {
			a.Close()
			return nil, err
		}
	}
	return a, nil
}

func (a *App) openRules() error {
	w, err := rules.NewWatcher(a.cfg.Rules.Dir, a.onReload, a.log.With("component", "rules"))
	if err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	a.watcher = w
	a.health.reloaded(rules.ReloadResult{Time: time.Now(), Hash: w.Current().Hash(), Rules: w.Current().Len(), Changed: true})
	return nil
}

// onReload logs and exports each reload's outcome.
func (a *App) onReload(r rules.ReloadResult) {
	a.health.reloaded(r)
	if r.Err != nil {
		a.log.Error("rules reload failed; keeping the previous rules", "component", "rules", "err", r.Err)
		return
	}
	if r.Changed {
		a.log.Info("rules reloaded", "component", "rules", "hash", r.Hash, "rules", r.Rules)
	}
}

func (a *App) openActionLog() error {
	l, err := actionlog.Open(a.cfg.ActionLog.Path, actionlog.Options{
		WriteTimeout: a.cfg.ActionLog.WriteTimeout.Duration(), Registerer: a.reg, Logger: a.log})
	if err != nil {
		return fmt.Errorf("action log: %w", err)
	}
	a.alog = l
	return nil
}

func (a *App) openNATS() error {
	url := a.cfg.NATS.URL
	if url == "" {
		e, err := StartEmbedded(a.cfg.NATS.Embedded.Listen, a.cfg.NATS.Embedded.StoreDir, a.log.With("component", "nats-server"))
		if err != nil {
			return fmt.Errorf("embedded nats: %w", err)
		}
		a.embedded = e
		url = e.ClientURL()
	}
	nc, err := ConnectNATS(url, a.cfg.NATSOptions(), a.log.With("component", "nats"))
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	a.nc = nc
	return nil
}

func (a *App) openEngine() error {
	js, err := jetstream.New(a.nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	sink, dry, err := a.roomEngine()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := natspub.EnsureStream(ctx, js, a.cfg.NATS.DLQ.Stream, a.cfg.NATS.DLQ.Subject); err != nil {
		return fmt.Errorf("dead-letter stream: %w", err)
	}
	dlq := natspub.NewDeadLetter(js, a.cfg.NATS.DLQ.Subject, natspub.WithLogger(a.log), natspub.WithRegisterer(a.reg))
	a.exec, err = engine.NewExecutor(a.cfg.ExecutorConfig(), sink, dry, dlq, a.log, a.reg)
	if err != nil {
		return fmt.Errorf("executor: %w", err)
	}
	a.actions = natspub.NewActions(a.nc, a.cfg.ActionLog.Subject, natspub.WithLogger(a.log), natspub.WithRegisterer(a.reg))
	rec := fanout{a.alog, a.actions}
	cd := rules.NewCooldowns(a.cfg.Cooldowns.MaxKeys)
	registerCooldownMetrics(a.reg, cd)
	a.pipeline = engine.NewPipeline(engine.PipelineConfig{DryRun: a.cfg.DryRun}, a.watcher, cd, a.exec,
		rec, dlq, a.log, a.reg)
	a.intake, err = engine.NewIntake(js, a.cfg.IntakeConfig(dlq), a.pipeline, a.log, a.reg)
	if err != nil {
		return fmt.Errorf("intake: %w", err)
	}
	if err := a.intake.Setup(ctx); err != nil {
		return fmt.Errorf("intake: %w", err)
	}
	return nil
}

// roomEngine builds the Room Engine client and its dry-run renderer.
func (a *App) roomEngine() (engine.Sink, engine.Sink, error) {
	key, warn, err := a.cfg.SecretKey()
	if err != nil {
		return nil, nil, err
	}
	if warn != "" {
		a.log.Warn(warn, "component", "config")
	}
	if len(key) == 0 && a.cfg.DryRun {
		// Global dry run sends nothing; a throwaway key lets requests
		// render (their usersig is redacted anyway).
		key = []byte(rand.Text())
	}
	rc := a.cfg.RoomEngine
	c, err := roomengine.New(roomengine.Config{Endpoint: rc.Endpoint, SDKAppID: rc.SDKAppID, Identifier: rc.Identifier,
		SecretKey: key, UserSigTTL: rc.UserSigTTL.Duration(), Timeout: rc.Timeout.Duration(),
		Logger: a.log})
	if err != nil {
		return nil, nil, fmt.Errorf("roomengine: %w", err)
	}
	return c, roomengine.NewDryRun(c), nil
}

// Run serves until ctx is done, then drains: the intake stops fetching
// and waits for in-flight events, the executor finishes or gives back
// what is left, and the action log is flushed. Close releases the rest.
func (a *App) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	execCtx, stopExec := context.WithCancel(context.WithoutCancel(ctx))
	defer stopExec()
	wg.Go(func() { _ = a.exec.Run(execCtx) })
	wg.Go(func() { a.serveHTTP() })
	wg.Go(func() { _ = a.watcher.Run(ctx) })
	a.log.Info("roomwarden running", "nats", a.nc.ConnectedUrlRedacted(), "rules", a.watcher.Current().Len(),
		"http", a.HTTPAddr(), "dry_run", a.cfg.DryRun)
	err := a.intake.Run(ctx)
	// The intake has waited (up to shutdown_timeout) for every event in
	// flight; whatever the executor still holds belongs to events given
	// back for redelivery, so abandon it rather than retry on.
	abandoned, cancel := context.WithCancel(context.Background())
	cancel()
	_ = a.exec.Drain(abandoned)
	stopExec()
	a.shutdownHTTP()
	wg.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	a.log.Info("roomwarden stopped")
	return err
}

// Reload re-reads the rules now (SIGHUP, POST /-/reload).
func (a *App) Reload() rules.ReloadResult { return a.watcher.Reload() }

// ReopenLog reopens the action log file (SIGUSR1, after logrotate).
func (a *App) ReopenLog() error { return a.alog.Reopen() }

// HTTPAddr is the address the operations endpoint listens on.
func (a *App) HTTPAddr() string {
	if a.httpLn == nil {
		return ""
	}
	return a.httpLn.Addr().String()
}

// NATSURL is the URL of the NATS server in use (the embedded one's when
// nats.url is empty), for producers and tests.
func (a *App) NATSURL() string {
	if a.embedded != nil {
		return a.embedded.ClientURL()
	}
	return a.cfg.NATS.URL
}

// Close releases everything New acquired. Safe to call more than once.
func (a *App) Close() error {
	var errs []error
	a.closeOnce.Do(func() {
		if a.httpLn != nil {
			a.httpLn.Close()
		}
		if a.actions != nil {
			errs = append(errs, a.actions.Close())
		}
		if a.nc != nil {
			if err := a.nc.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
				errs = append(errs, err)
			}
			a.waitClosed()
		}
		if a.alog != nil {
			errs = append(errs, a.alog.Close())
		}
		if a.embedded != nil {
			a.embedded.Shutdown()
		}
	})
	return errors.Join(errs...)
}

// waitClosed waits for a draining connection to close, briefly.
func (a *App) waitClosed() {
	deadline := time.Now().Add(5 * time.Second)
	for !a.nc.IsClosed() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

// fanout records an outcome in the action log file, then best-effort on NATS.
type fanout struct {
	file *actionlog.Log
	nats *natspub.Actions
}

func (f fanout) Record(o engine.Outcome) error {
	if err := f.file.Record(o); err != nil {
		return err
	}
	_ = f.nats.Record(o)
	return nil
}
