package jsstate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomwarden/roomwarden/engine/state"
)

// Config is where the store keeps its state and how it behaves.
// JetStream is required; zero values of the rest take the defaults
// documented on each field.
type Config struct {
	JetStream jetstream.JetStream

	// Bucket is the KV bucket of roomwarden's own keys (default
	// "roomwarden_state").
	Bucket string
	// UndoStream is the stream of scheduled and due undos (default
	// "ROOMWARDEN_UNDO").
	UndoStream string
	// UndoSubject prefixes the undo stream's subjects (default
	// "roomwarden.undo"): schedules on <prefix>.at.<seat>, due undos on
	// <prefix>.due.<seat>.
	UndoSubject string
	// UndoDurable names the durable consumer RunUndos shares with the
	// other replicas (default "roomwarden-undo").
	UndoDurable string
	// Replicas is the JetStream replication of every bucket and stream
	// the store creates (config key state.replicas; default 1).
	Replicas int
	// OpTimeout bounds each store call, retries included (default 2s).
	OpTimeout time.Duration
	// LockMemory is how long a seat lock is remembered past its end, or
	// past the lock when it has none (default 24h): the records stay
	// bounded, and a moderator clearing a flag locked longer ago is not
	// told apart from anyone.
	LockMemory time.Duration

	Logger     *slog.Logger          // nil: discard
	Registerer prometheus.Registerer // nil: metrics not registered
}

// Defaults of Config.
const (
	DefaultBucket      = "roomwarden_state"
	DefaultUndoStream  = "ROOMWARDEN_UNDO"
	DefaultUndoSubject = "roomwarden.undo"
	DefaultUndoDurable = "roomwarden-undo"
	DefaultOpTimeout   = 2 * time.Second
	DefaultLockMemory  = 24 * time.Hour

	// setupTimeout bounds Open's calls when its context has no deadline.
	setupTimeout = 10 * time.Second
)

var (
	validName    = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
	validSubject = regexp.MustCompile(`^[a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*$`)
)

func (c Config) withDefaults() Config {
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&c.Bucket, DefaultBucket)
	def(&c.UndoStream, DefaultUndoStream)
	def(&c.UndoSubject, DefaultUndoSubject)
	def(&c.UndoDurable, DefaultUndoDurable)
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = DefaultOpTimeout
	}
	if c.LockMemory <= 0 {
		c.LockMemory = DefaultLockMemory
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.JetStream == nil {
		errs = append(errs, errors.New("jetstream is required"))
	}
	for _, n := range []struct{ what, v string }{
		{"bucket", c.Bucket}, {"undo stream", c.UndoStream}, {"undo durable", c.UndoDurable},
	} {
		if !validName.MatchString(n.v) {
			errs = append(errs, fmt.Errorf("%s %q: use letters, digits, - and _ only", n.what, n.v))
		}
	}
	if !validSubject.MatchString(c.UndoSubject) {
		errs = append(errs, fmt.Errorf("undo subject %q: want dot-separated tokens of letters, digits, - and _", c.UndoSubject))
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("replicas %d: want 1 to 5", c.Replicas))
	}
	if c.OpTimeout < 0 {
		errs = append(errs, errors.New("op timeout must not be negative"))
	}
	return errors.Join(errs...)
}

// Store is the JetStream state.Store. Safe for concurrent use; several
// Stores (replicas, restarted daemons) on the same buckets share their
// state.
type Store struct {
	cfg     Config
	js      jetstream.JetStream
	log     *slog.Logger
	metrics *metrics

	kv      *bucket // roomwarden's own keys
	undo    jetstream.Stream
	stripes *stripes    // serialise this process's updates of one key
	windows *valueCache // last known value of window keys
	budgets *valueCache // last known value of budget keys
	lists   *labelLists // watched label buckets
	trips   tripsSeen
	ready   readiness

	life context.Context // ends at Close: the label watchers
	stop context.CancelFunc
	wg   sync.WaitGroup
}

var _ state.Store = (*Store)(nil)

// Open checks cfg, creates the bucket and the undo stream if they are
// missing (an existing one is used, after enabling what the store
// needs), and registers the store's metrics. Close releases it.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("jsstate: %w", err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, setupTimeout)
		defer cancel()
	}
	s := &Store{
		cfg:     cfg,
		js:      cfg.JetStream,
		log:     cfg.Logger.With("component", "state"),
		stripes: newStripes(),
		windows: newValueCache(cacheBytes),
		budgets: newValueCache(cacheBytes / 4),
	}
	var err error
	if s.kv, err = s.openStateBucket(ctx); err != nil {
		return nil, setupError(err)
	}
	if s.undo, err = s.openUndoStream(ctx); err != nil {
		return nil, setupError(err)
	}
	if s.metrics, err = newMetrics(cfg.Registerer); err != nil {
		return nil, fmt.Errorf("jsstate: %w", err)
	}
	s.life, s.stop = context.WithCancel(context.Background())
	s.lists = newLabelLists(s)
	return s, nil
}

// setupError wraps Open's failures, marking those that mean NATS could
// not be reached.
func setupError(err error) error {
	if unavailable(err) {
		return fmt.Errorf("jsstate: open: %w: %w", state.ErrUnavailable, err)
	}
	return fmt.Errorf("jsstate: open: %w", err)
}

// Close stops the label watchers and the batched reads. The store must not be used after.
func (s *Store) Close() error {
	if s.kv.batch != nil {
		s.kv.batch.close()
	}
	s.lists.close()
	s.stop()
	s.wg.Wait()
	return nil
}
