// Package actionlog writes the action log: one JSON line per terminal
// outcome, to a file (or stdout), so ops can tail and grep every decision
// roomwarden made. Record returns only once the line has been written to
// the operating system, so the engine acknowledges an event only after its
// outcomes are on file. A failing file is retried, reported by Healthy and
// counted in metrics; the log follows logrotate by reopening on Reopen
// (SIGUSR1) and when the path is renamed or removed.
package actionlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomwarden/roomwarden/engine"
)

var _ engine.Recorder = (*Log)(nil)

// Errors callers may branch on.
var (
	ErrClosed  = errors.New("action log is closed")
	ErrTimeout = errors.New("action log write timed out")
)

// Stdout is the path that means "write to standard output".
const Stdout = "-"

// Config configures a Log. Path is required; zero values of the rest
// take the defaults.
type Config struct {
	// Path is the file to append to, created with its directory if
	// needed, or Stdout ("-") for standard output.
	Path string
	// WriteTimeout bounds how long Record waits for its line to be
	// written (default 5s). On timeout Record returns ErrTimeout.
	WriteTimeout time.Duration
	// CheckInterval is how often the path is checked for a rename or
	// removal by logrotate (default 2s).
	CheckInterval time.Duration
	// FileMode is the permission of a newly created log (default 0640).
	FileMode os.FileMode
	// Logger receives state changes (failing, recovered, reopened).
	Logger *slog.Logger
	// Registerer registers the metrics; nil leaves them unregistered.
	Registerer prometheus.Registerer
	// Stdout is where the path "-" writes (default os.Stdout).
	Stdout io.Writer
}

func (o Config) withDefaults() (Config, error) {
	if o.Path == "" {
		return o, errors.New("action log: path is required (a file, or - for stdout)")
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 5 * time.Second
	}
	if o.CheckInterval <= 0 {
		o.CheckInterval = 2 * time.Second
	}
	if o.FileMode == 0 {
		o.FileMode = 0o640
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	return o, nil
}

// Log is the action log. It is safe for concurrent use; one goroutine
// owns the file and writes the lines of concurrent Records in one batch.
type Log struct {
	opts    Config
	log     *slog.Logger
	metrics *metrics
	w       *writer

	mu     sync.RWMutex // guards closed against sends in flight
	closed bool

	health sync.Mutex
	err    error // the last failure; nil when healthy
}

// Open opens the log at cfg.Path (creating it and its directory if
// needed), or standard output for "-", registers its metrics and starts
// its writer.
func Open(cfg Config) (*Log, error) {
	opts, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("action log: %w", err)
	}
	l := &Log{
		opts:    opts,
		log:     opts.Logger.With("component", "actionlog", "path", opts.Path),
		metrics: m,
	}
	w, err := newWriter(opts.Path, opts, l)
	if err != nil {
		return nil, fmt.Errorf("open action log: %w", err)
	}
	l.w = w
	l.metrics.healthy.Set(1)
	go w.run()
	return l, nil
}

// Record writes o as one JSON line. It returns nil only once the line has
// been written to the OS (not necessarily synced to disk); on error the
// outcome may not be on file and the event must not be acknowledged.
func (l *Log) Record(o engine.Outcome) error {
	line, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("action log: encode outcome: %w", err)
	}
	req := &request{line: append(line, '\n'), done: make(chan error, 1)}
	timer := time.NewTimer(l.opts.WriteTimeout)
	defer timer.Stop()
	if err := l.send(req, timer.C); err != nil {
		return err
	}
	select {
	case err := <-req.done:
		return err
	case <-timer.C:
		return l.timedOut()
	}
}

// send hands req to the writer unless the log is closed.
func (l *Log) send(req *request, timeout <-chan time.Time) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	select {
	case l.w.reqs <- req:
		return nil
	case <-timeout:
		return l.timedOut()
	}
}

func (l *Log) timedOut() error {
	err := fmt.Errorf("%w after %s", ErrTimeout, l.opts.WriteTimeout)
	l.setHealth(err)
	return err
}

// Reopen closes and reopens the file, for logrotate's postrotate
// (SIGUSR1). It is a no-op for stdout.
func (l *Log) Reopen() error {
	reply := make(chan error, 1)
	timer := time.NewTimer(l.opts.WriteTimeout)
	defer timer.Stop()
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return ErrClosed
	}
	select {
	case l.w.reopens <- reply:
	case <-timer.C:
		l.mu.RUnlock()
		return l.timedOut()
	}
	l.mu.RUnlock()
	select {
	case err := <-reply:
		return err
	case <-timer.C:
		return l.timedOut()
	}
}

// Healthy returns nil when the last write succeeded, else why it failed.
// Readiness checks call it.
func (l *Log) Healthy() error {
	l.health.Lock()
	defer l.health.Unlock()
	if l.err != nil {
		return fmt.Errorf("action log unhealthy: %w", l.err)
	}
	return nil
}

// setHealth records the result of a write: nil marks the log healthy.
// Transitions are logged once, not every failure.
func (l *Log) setHealth(err error) {
	l.health.Lock()
	was := l.err
	l.err = err
	l.health.Unlock()
	switch {
	case err != nil && was == nil:
		l.metrics.healthy.Set(0)
		l.log.Error("action log failing; events whose outcomes are not recorded will not be acknowledged", "err", err)
	case err == nil && was != nil:
		l.metrics.healthy.Set(1)
		l.log.Info("action log recovered")
	}
}

// Close writes the lines already queued, closes the file and makes later
// Records fail with ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.w.quit)
	select {
	case <-l.w.done:
		return l.w.closeErr
	case <-time.After(l.opts.WriteTimeout):
		return fmt.Errorf("close action log: %w", ErrTimeout)
	}
}
