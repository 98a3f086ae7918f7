package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomwarden/roomwarden/engine"
)

// Config is where the intake reads events from, whom it hands them to,
// and how it paces them. JetStream, Handler, Stream, Subjects and Durable
// are required; zero values of the rest take the defaults documented on
// each field.
type Config struct {
	JetStream jetstream.JetStream
	Handler   engine.MessageHandler
	// DeadLetters receives messages that exhausted MaxDeliver. Nil: they
	// are logged and counted only.
	DeadLetters engine.EventDeadLetterSink

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
	// Replicas is the JetStream replication of a stream the intake
	// creates (default 1; 3 on a three-node cluster).
	Replicas int
	// DoubleAck waits for the server to confirm each ack. Off by default:
	// a lost ack only causes a redelivery, which lock_seat tolerates.
	DoubleAck bool

	Logger     *slog.Logger          // nil: discard
	Registerer prometheus.Registerer // nil: metrics not registered
}

// Defaults of Config.
const (
	defaultAckWait       = 30 * time.Second
	defaultMaxAckPending = 20000
	defaultMaxDeliver    = 10
	defaultConcurrency   = 64
	defaultFetchBatch    = 500
	defaultDuplicates    = 2 * time.Minute

	pullExpiry = 10 * time.Second
	// pullHeartbeat is the idle heartbeat asked of the server. The
	// client declares a pull lost after two missed beats and pulls again;
	// the library's default (5 s) left the consumer idle for 10 s when the
	// server dropped a pull request under load (seen in the e2e benchmark).
	// A dispatch blocked for longer than two beats also re-pulls, which is
	// harmless: MaxAckPending still bounds what is outstanding.
	pullHeartbeat = 2 * time.Second
	retryMin      = 200 * time.Millisecond
	retryMax      = 10 * time.Second
	apiTimeout    = 10 * time.Second
)

// Intake pulls room events from a JetStream durable consumer and hands
// them to a MessageHandler on a bounded pool of goroutines, keeping slow
// messages alive and acknowledging each one only once it is handled.
//
// New checks the config; Setup creates the stream and consumer (Run does
// it too if needed); Run consumes until Stop; Stop drains.
type Intake struct {
	js      jetstream.JetStream
	cfg     Config
	h       engine.MessageHandler
	log     *slog.Logger
	metrics *metrics
	acks    *ackBatcher // set by Run before any handler starts

	mu       sync.Mutex
	consumer jetstream.Consumer // nil until Setup succeeds
	status   error              // why the consumer loop is not healthy
	phase    phase
	stopCtx  context.Context    // bounds the drain; set by Stop
	stopRun  context.CancelFunc // stops fetching; set by Run
	done     chan struct{}      // closed when Run returns
}

// phase is where an Intake is in its life.
type phase int

const (
	idle phase = iota
	running
	stopped
)

// New checks cfg, applies its defaults and registers the intake's
// metrics.
func New(cfg Config) (*Intake, error) {
	if cfg.JetStream == nil || cfg.Handler == nil {
		return nil, errors.New("intake: jetstream and handler are required")
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("intake: %w", err)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("intake: %w", err)
	}
	return &Intake{
		js:      cfg.JetStream,
		cfg:     cfg,
		h:       cfg.Handler,
		log:     cfg.Logger.With("component", "intake"),
		metrics: m,
		status:  errors.New("intake: not running"),
		done:    make(chan struct{}),
	}, nil
}

func (c Config) withDefaults() Config {
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
	defDur(&c.AckWait, defaultAckWait)
	def(&c.MaxAckPending, defaultMaxAckPending)
	def(&c.MaxDeliver, defaultMaxDeliver)
	def(&c.Concurrency, defaultConcurrency)
	def(&c.FetchBatch, min(defaultFetchBatch, c.Concurrency))
	defDur(&c.Duplicates, defaultDuplicates)
	def(&c.Replicas, 1)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.Stream == "" || c.Durable == "" || len(c.Subjects) == 0 {
		errs = append(errs, errors.New("stream, subjects and durable are required"))
	}
	if c.AckWait < 0 || c.Duplicates < 0 || c.MaxAge < 0 {
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

// Run consumes until Stop: it sets the stream and consumer up itself if
// Setup was not called or they disappear, and rides out NATS
// reconnects. Once Stop is called it stops fetching, waits for the
// in-flight handlers (applying their results) until Stop's context is
// done, then cancels the handlers so they return Leave, flushes the acks
// and returns. It may be called once; after Stop it returns at once.
func (in *Intake) Run() error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in.mu.Lock()
	if in.phase != idle {
		in.mu.Unlock()
		return errors.New("intake: run called after run or stop")
	}
	in.phase, in.stopRun = running, cancel
	in.mu.Unlock()
	defer close(in.done)

	hctx, hcancel := context.WithCancel(context.Background())
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
	if err := in.js.Conn().FlushTimeout(apiTimeout); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		in.log.Warn("flushing acks at shutdown", "err", err)
	}
	return nil
}

// Stop makes Run stop fetching and waits until it has returned. Events
// in flight get until ctx is done to finish; then their handlers are
// cancelled and their events given back for redelivery. It returns
// ctx's error if the drain was cut short. Stop before Run makes Run
// return at once.
func (in *Intake) Stop(ctx context.Context) error {
	in.mu.Lock()
	switch in.phase {
	case idle:
		in.phase = stopped
		in.mu.Unlock()
		return nil
	case running:
		in.phase, in.stopCtx = stopped, ctx
		in.stopRun()
	}
	in.mu.Unlock()
	<-in.done
	if ctx.Err() != nil {
		return fmt.Errorf("intake: stop: %w", ctx.Err())
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

// drain waits for the pool's handlers until Stop's context is done,
// then cancels them.
func (in *Intake) drain(p *pool, hcancel context.CancelFunc) {
	done := p.stop()
	in.mu.Lock()
	stopCtx := in.stopCtx
	in.mu.Unlock()
	select {
	case <-done:
		return
	case <-stopCtx.Done():
	}
	in.log.Warn("shutdown timeout: cancelling in-flight handlers; their events stay unacked for redelivery",
		"in_flight", p.active())
	hcancel()
	<-done
}
