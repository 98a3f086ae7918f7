package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// IntakeConfig is where the intake reads events from and how it paces
// them. Zero values take the defaults documented on each field.
type IntakeConfig struct {
	Stream   string   // required, e.g. ROOM_EVENTS
	Subjects []string // required, e.g. rooms.events.>
	Durable  string   // required: the durable pull consumer's name

	// AckWait is how long the server waits for an ack before redelivering
	// (default 30s). Running handlers are kept alive with InProgress, so it
	// bounds the redelivery delay after a crash, not the handler's time.
	AckWait time.Duration
	// MaxAckPending bounds the unacknowledged messages (default 20000).
	MaxAckPending int
	// MaxDeliver is the number of delivery attempts before a message is
	// dead-lettered (default 10). With BackOff it must exceed len(BackOff).
	MaxDeliver int
	// BackOff is the redelivery schedule of unacknowledged messages: the
	// i-th entry is the ack wait of the (i+1)-th delivery. JetStream
	// replaces AckWait with BackOff[0], so entries shorter than AckWait are
	// raised to AckWait: a running handler's message is then never
	// redelivered sooner than AckWait and InProgress stays infrequent.
	BackOff []time.Duration
	// Concurrency bounds the handlers running at once (default 64). A
	// handler whose actions are still running hands its message back as
	// deferred (Result.Wait) and frees its worker, so this bounds CPU work,
	// not events in flight: MaxAckPending and the executor queue do that.
	Concurrency int
	// FetchBatch is the pull batch size (default min(500, Concurrency)).
	FetchBatch int
	// Duplicates is the duplicate window of a stream the intake creates
	// (default 2m), so producers can set Nats-Msg-Id.
	Duplicates time.Duration
	// MaxAge is how long a stream the intake creates keeps events
	// (0: forever). An existing stream is used as it is.
	MaxAge time.Duration
	// ShutdownTimeout bounds how long Run waits for in-flight handlers
	// once its context is done (default 10s).
	ShutdownTimeout time.Duration
	// DoubleAck waits for the server to confirm each ack. Off by default:
	// a lost ack only causes a redelivery, which lock_seat tolerates.
	DoubleAck bool
	// DeadLetters receives messages that exhausted MaxDeliver. Nil: they
	// are logged and counted only.
	DeadLetters EventDeadLetterSink
}

// Defaults of IntakeConfig.
const (
	intakeDefaultAckWait         = 30 * time.Second
	intakeDefaultMaxAckPending   = 20000
	intakeDefaultMaxDeliver      = 10
	intakeDefaultConcurrency     = 64
	intakeDefaultFetchBatch      = 500
	intakeDefaultDuplicates      = 2 * time.Minute
	intakeDefaultShutdownTimeout = 10 * time.Second

	intakePullExpiry = 10 * time.Second
	// intakePullHeartbeat is the idle heartbeat asked of the server. The
	// client declares a pull lost after two missed beats and pulls again;
	// the library's default (5 s) left the consumer idle for 10 s when the
	// server dropped a pull request under load (seen in the e2e benchmark).
	// A dispatch blocked for longer than two beats also re-pulls, which is
	// harmless: MaxAckPending still bounds what is outstanding.
	intakePullHeartbeat = 2 * time.Second
	intakeRetryMin      = 200 * time.Millisecond
	intakeRetryMax      = 10 * time.Second
	intakeAPITimeout    = 10 * time.Second
)

// Intake pulls room events from a JetStream durable consumer and hands
// them to a MessageHandler on a bounded pool of goroutines, keeping slow
// messages alive and acknowledging each one only once it is handled.
type Intake struct {
	js      jetstream.JetStream
	cfg     IntakeConfig
	h       MessageHandler
	log     *slog.Logger
	metrics *intakeMetrics

	running atomic.Bool
	acks    *ackBatcher // set by Run before any handler starts

	mu       sync.Mutex
	consumer jetstream.Consumer // nil until Setup succeeds
	status   error              // why the consumer loop is not healthy
}

// NewIntake checks cfg, applies its defaults and registers the intake's
// metrics on reg (nil: not registered).
func NewIntake(js jetstream.JetStream, cfg IntakeConfig, h MessageHandler, logger *slog.Logger, reg prometheus.Registerer) (*Intake, error) {
	if js == nil || h == nil {
		return nil, errors.New("intake: jetstream and handler are required")
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("intake: %w", err)
	}
	m, err := newIntakeMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("intake: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Intake{
		js:      js,
		cfg:     cfg,
		h:       h,
		log:     logger.With("component", "intake"),
		metrics: m,
		status:  errors.New("intake: not running"),
	}, nil
}

func (c IntakeConfig) withDefaults() IntakeConfig {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	defDur(&c.AckWait, intakeDefaultAckWait)
	def(&c.MaxAckPending, intakeDefaultMaxAckPending)
	def(&c.MaxDeliver, intakeDefaultMaxDeliver)
	def(&c.Concurrency, intakeDefaultConcurrency)
	def(&c.FetchBatch, min(intakeDefaultFetchBatch, c.Concurrency))
	defDur(&c.Duplicates, intakeDefaultDuplicates)
	defDur(&c.ShutdownTimeout, intakeDefaultShutdownTimeout)
	return c
}

func (c IntakeConfig) validate() error {
	var errs []error
	if c.Stream == "" || c.Durable == "" || len(c.Subjects) == 0 {
		errs = append(errs, errors.New("stream, subjects and durable are required"))
	}
	if c.AckWait < 0 || c.Duplicates < 0 || c.MaxAge < 0 || c.ShutdownTimeout < 0 {
		errs = append(errs, errors.New("durations must not be negative"))
	}
	if c.Concurrency < 1 || c.FetchBatch < 1 || c.MaxAckPending < 1 {
		errs = append(errs, errors.New("concurrency, fetch batch and max ack pending must be positive"))
	}
	if c.MaxDeliver != -1 && c.MaxDeliver <= len(c.BackOff) {
		errs = append(errs, fmt.Errorf("max deliver (%d) must exceed the number of backoff steps (%d)", c.MaxDeliver, len(c.BackOff)))
	}
	for _, b := range c.BackOff {
		if b <= 0 {
			errs = append(errs, fmt.Errorf("backoff step %s must be positive", b))
		}
	}
	return errors.Join(errs...)
}

// Ready reports whether the consumer loop is running and connected.
func (in *Intake) Ready() error {
	in.mu.Lock()
	err := in.status
	in.mu.Unlock()
	if err != nil {
		return err
	}
	if st := in.js.Conn().Status(); st != nats.CONNECTED {
		return fmt.Errorf("intake: nats connection %s", st)
	}
	return nil
}

func (in *Intake) setStatus(err error) {
	in.mu.Lock()
	in.status = err
	in.mu.Unlock()
}

// Run consumes until ctx is done. Then it stops fetching, waits up to
// ShutdownTimeout for in-flight handlers (applying their results), then
// cancels the handlers' context so they return Leave, and returns. It
// sets the stream and consumer up itself if Setup was not called or they
// disappear, and rides out NATS reconnects.
func (in *Intake) Run(ctx context.Context) error {
	if !in.running.CompareAndSwap(false, true) {
		return errors.New("intake: already running")
	}
	defer in.running.Store(false)
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	dl, err := in.watchMaxDeliveries(hctx)
	if err != nil {
		return err
	}
	defer dl.stop()

	in.acks = startAckBatcher(in.sendAck)
	work := make(chan jetstream.Msg, in.cfg.FetchBatch)
	p := in.startPool(hctx, work)
	in.consumeLoop(ctx, work)
	in.setStatus(errors.New("intake: shutting down"))
	in.drain(p, hcancel)
	in.giveBackQueued(work)
	in.acks.stop() // every handler has settled: no more acks
	if err := in.js.Conn().FlushTimeout(intakeAPITimeout); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		in.log.Warn("flushing acks at shutdown", "err", err)
	}
	return nil
}

// giveBackQueued returns the messages fetched but never started.
func (in *Intake) giveBackQueued(work <-chan jetstream.Msg) {
	for {
		select {
		case m := <-work:
			in.giveBack(m)
		default:
			return
		}
	}
}

// drain waits for the pool's handlers, cancelling them after
// ShutdownTimeout.
func (in *Intake) drain(p *intakePool, hcancel context.CancelFunc) {
	done := p.stop()
	t := time.NewTimer(in.cfg.ShutdownTimeout)
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
	}
	in.log.Warn("shutdown timeout: cancelling in-flight handlers; their events stay unacked for redelivery",
		"timeout", in.cfg.ShutdownTimeout, "in_flight", p.active())
	hcancel()
	<-done
}
