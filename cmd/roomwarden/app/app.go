package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
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
	"github.com/roomwarden/roomwarden/engine/executor"
	"github.com/roomwarden/roomwarden/engine/intake"
	"github.com/roomwarden/roomwarden/engine/replicas"
	"github.com/roomwarden/roomwarden/engine/state/jsstate"
	"github.com/roomwarden/roomwarden/internal/promreg"
	"github.com/roomwarden/roomwarden/internal/wait"
	"github.com/roomwarden/roomwarden/rules"
	"github.com/roomwarden/roomwarden/sinks/actionlog"
	"github.com/roomwarden/roomwarden/sinks/live"
	"github.com/roomwarden/roomwarden/sinks/natspub"
	"github.com/roomwarden/roomwarden/sinks/roomengine"
)

// Options carry what the caller, not the config file, decides.
type Options struct {
	Logger   *slog.Logger
	Registry *prometheus.Registry // nil: a fresh one with Go and process collectors
	Stdout   io.Writer            // where action_log.path "-" writes; nil: os.Stdout
}

// App is the running daemon. New acquires every resource and fails fast
// on bad config, bad rules or unreachable dependencies; Run serves until
// its context ends and then drains; Close releases what New acquired.
type App struct {
	cfg    *Config
	log    *slog.Logger
	stdout io.Writer
	reg    *prometheus.Registry
	health *health

	embedded *Embedded
	nc       *nats.Conn
	watcher  *rules.Watcher
	shadow   *rules.Watcher // rules.shadow_dir; nil: none

	shadowMu    sync.Mutex
	shadowLast  rules.ReloadResult
	sink        *roomengine.Client
	store       *jsstate.Store
	shadowStore *jsstate.Store // the shadow rules' own state; nil: none
	undoer      *engine.Undoer
	tripped     *prometheus.GaugeVec
	exec        *executor.Executor
	replicas    *replicas.Membership // this daemon's heartbeat and rate share (replicas.go)
	intake      *intake.Intake
	alog        *actionlog.Log
	actions     *natspub.Actions
	pipeline    *engine.Pipeline

	httpLn  net.Listener
	httpSrv *http.Server
	console *console       // the console's handlers (console.go)
	live    *live.Recorder // the latest outcomes, for the console's live stream

	closeOnce sync.Once
}

// New builds the daemon from a validated config. On error it releases
// whatever it had acquired.
func New(cfg *Config, o Options) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: o.Logger, reg: o.Registry, stdout: o.Stdout}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.reg == nil {
		a.reg = prometheus.NewRegistry()
		if err := promreg.Register(a.reg, collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
			return nil, err
		}
	}
	var err error
	if a.health, err = newHealth(a.reg); err != nil {
		return nil, err
	}
	// Everything that can fail without side effects comes first: nothing
	// is written (the action log, the embedded server's store) until the
	// config, the rules, the secret key and the ports are known good.
	steps := []func() error{a.openRules, a.openRoomEngine, a.openHTTP, a.openActionLog, a.openNATS, a.openEngine}
	for _, step := range steps {
		if err := step(); err != nil {
			a.Close()
			return nil, err
		}
	}
	return a, nil
}

func (a *App) openRules() error {
	// The watcher logs each reload; health exports it.
	w, err := rules.NewWatcher(rules.WatcherConfig{Dir: a.cfg.Rules.Dir, OnReload: a.health.reloaded, Logger: a.log})
	if err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	a.watcher = w
	a.health.reloaded(rules.ReloadResult{Time: time.Now(), Hash: w.Current().Hash(), Rules: w.Current().Len(), Changed: true})
	if a.cfg.Rules.ShadowDir == "" {
		return nil
	}
	a.shadow, err = rules.NewWatcher(rules.WatcherConfig{Dir: a.cfg.Rules.ShadowDir, OnReload: a.shadowReloaded,
		Logger: a.log.With("shadow", true)})
	if err != nil {
		return fmt.Errorf("shadow rules: %w", err)
	}
	return nil
}

// shadowReloaded keeps the shadow rules' last reload for /readyz.
func (a *App) shadowReloaded(r rules.ReloadResult) {
	a.shadowMu.Lock()
	defer a.shadowMu.Unlock()
	a.shadowLast = r
}

func (a *App) openActionLog() error {
	l, err := actionlog.Open(actionlog.Config{Path: a.cfg.ActionLog.Path,
		WriteTimeout: a.cfg.ActionLog.WriteTimeout.Duration(), Stdout: a.stdout, Registerer: a.reg, Logger: a.log})
	if err != nil {
		return fmt.Errorf("action log: %w", err)
	}
	a.alog = l
	return nil
}

func (a *App) openNATS() error {
	url := a.cfg.NATS.URL
	if url == "" {
		e, err := StartEmbedded(a.cfg.NATS.Embedded, a.log.With("component", "nats-server"))
		if err != nil {
			return fmt.Errorf("embedded nats: %w", err)
		}
		a.embedded = e
		url = e.ClientURL()
	}
	o := a.cfg.NATSOptions()
	o.URL, o.Logger = url, a.log.With("component", "nats")
	nc, err := ConnectNATS(o)
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := natspub.EnsureStream(ctx, js, a.cfg.NATS.DLQ.Stream, a.cfg.NATS.DLQ.Subject, a.cfg.State.Replicas); err != nil {
		return fmt.Errorf("dead-letter stream: %w", err)
	}
	dlq, err := natspub.NewDeadLetter(natspub.DeadLetterConfig{JetStream: js, Subject: a.cfg.NATS.DLQ.Subject,
		Logger: a.log, Registerer: a.reg})
	if err != nil {
		return err
	}
	a.actions, err = natspub.NewActions(natspub.ActionsConfig{Conn: a.nc, Prefix: a.cfg.ActionLog.Subject,
		Logger: a.log, Registerer: a.reg})
	if err != nil {
		return err
	}
	ec := a.cfg.ExecutorConfig()
	ec.Sink, ec.DryRun, ec.DeadLetters, ec.Logger, ec.Registerer = a.sink, roomengine.NewDryRun(a.sink), dlq, a.log, a.reg
	if a.exec, err = executor.New(ec); err != nil {
		return err
	}
	if err := a.openReplicas(ctx, js); err != nil {
		return err
	}
	if err := a.openState(ctx, js); err != nil {
		return err
	}
	rec := fanout{a.alog, a.actions, a.live}
	pc := engine.PipelineConfig{Rules: a.watcher, Store: a.store, Executor: a.exec,
		Recorder: rec, DeadLetters: dlq, DryRun: a.cfg.DryRun, Identifier: a.cfg.RoomEngine.Identifier,
		OverrideHold: a.cfg.Overrides.Hold.Duration(), Logger: a.log, Registerer: a.reg}
	if a.shadow != nil {
		pc.Shadow, pc.ShadowStore = a.shadow, a.shadowStore
	}
	a.pipeline, err = engine.NewPipeline(pc)
	if err != nil {
		return err
	}
	if a.tripped, err = newTrippedGauge(a.reg); err != nil {
		return err
	}
	a.undoer, err = engine.NewUndoer(engine.UndoerConfig{Seats: a.store, Executor: a.exec, Recorder: rec,
		Logger: a.log, Registerer: a.reg})
	if err != nil {
		return err
	}
	ic := a.cfg.IntakeConfig()
	ic.JetStream, ic.Handler, ic.DeadLetters, ic.Logger, ic.Registerer = js, a.pipeline, dlq, a.log, a.reg
	ic.Replicas = a.cfg.State.Replicas
	if a.intake, err = intake.New(ic); err != nil {
		return err
	}
	return a.intake.Setup(ctx)
}

// openState opens the state store in JetStream, creating its bucket and
// stream if they are missing.
func (a *App) openState(ctx context.Context, js jetstream.JetStream) error {
	st, err := jsstate.Open(ctx, jsstate.Config{JetStream: js, Bucket: a.cfg.State.Bucket,
		UndoStream: a.cfg.State.UndoStream, Replicas: a.cfg.State.Replicas, Logger: a.log, Registerer: a.reg})
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	a.store = st
	if a.shadow == nil {
		return nil
	}
	// The shadow rules' cooldowns, windows and budgets: a bucket of their
	// own (they never lock a seat, so they share the undo stream unused).
	sh, err := jsstate.Open(ctx, jsstate.Config{JetStream: js, Bucket: a.cfg.State.Bucket + "_shadow",
		UndoStream: a.cfg.State.UndoStream, Replicas: a.cfg.State.Replicas, Logger: a.log})
	if err != nil {
		return fmt.Errorf("shadow state: %w", err)
	}
	a.shadowStore = sh
	return nil
}

// openRoomEngine reads the secret key and builds the Room Engine client.
func (a *App) openRoomEngine() error {
	key, warn, err := a.cfg.SecretKey()
	if err != nil {
		return err
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
		return fmt.Errorf("roomengine: %w", err)
	}
	a.sink = c
	return nil
}

// Run serves until ctx is done, then stops within shutdown_timeout: the
// intake stops fetching and waits for the events in flight, then the
// executor, whose remaining actions (if the timeout cut the wait short)
// belong to events given back for redelivery, abandons them. Close
// releases the rest.
func (a *App) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	intakeErr := make(chan error, 1)
	wg.Go(func() { intakeErr <- a.intake.Run() })
	undoCtx, stopUndos := context.WithCancel(context.Background())
	defer stopUndos()
	wg.Go(func() { a.runUndos(undoCtx) })
	wg.Go(func() { a.runTripped(undoCtx) })
	leaveReplicas := a.runReplicas()
	wg.Go(a.serveHTTP)
	wg.Go(func() { _ = a.watcher.Run(ctx) })
	if a.shadow != nil {
		wg.Go(func() { _ = a.shadow.Run(ctx) })
	}
	attrs := []any{"nats", a.nc.ConnectedUrlRedacted(), "rules", a.watcher.Current().Len(),
		"http", a.HTTPAddr(), "dry_run", a.cfg.DryRun}
	if a.shadow != nil {
		attrs = append(attrs, "shadow_rules", a.shadow.Current().Len())
	}
	a.log.Info("roomwarden running", attrs...)
	var err error
	select {
	case <-ctx.Done():
	case err = <-intakeErr:
		a.log.Error("intake stopped", "err", err)
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout.Duration())
	defer cancel()
	if serr := a.intake.Stop(stopCtx); serr != nil {
		a.log.Warn("shutdown timeout: events still in flight were given back for redelivery", "err", serr)
	}
	stopUndos() // an undo still waiting for its outcome stays due: the next daemon runs it
	_ = a.exec.Stop(stopCtx)
	leaveReplicas() // after the executor's last call
	a.shutdownHTTP()
	wg.Wait()
	a.log.Info("roomwarden stopped")
	return err
}

// runUndos runs the timed locks' undos as they fall due, until ctx ends.
func (a *App) runUndos(ctx context.Context) {
	for ctx.Err() == nil {
		err := a.store.RunUndos(ctx, a.undoer.Handle)
		if ctx.Err() != nil {
			return
		}
		a.log.Warn("undo consumer stopped; restarting", "component", "undo", "err", err)
		if wait.For(ctx, time.Second) != nil {
			return
		}
	}
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
		if a.store != nil {
			errs = append(errs, a.store.Close())
		}
		if a.shadowStore != nil {
			errs = append(errs, a.shadowStore.Close())
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

// fanout records an outcome in the action log file, then best-effort on
// NATS and in the console's live view (which never blocks or fails).
type fanout struct {
	file *actionlog.Log
	nats *natspub.Actions
	live *live.Recorder
}

func (f fanout) Record(o engine.Outcome) error {
	if err := f.file.Record(o); err != nil {
		return err
	}
	_ = f.nats.Record(o)
	_ = f.live.Record(o)
	return nil
}

// lastShadowReload returns the shadow rules' last reload (zero: none).
func (a *App) lastShadowReload() rules.ReloadResult {
	a.shadowMu.Lock()
	defer a.shadowMu.Unlock()
	return a.shadowLast
}
