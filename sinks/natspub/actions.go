package natspub

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomwarden/roomwarden/engine"
	"github.com/roomwarden/roomwarden/internal/promreg"
)

var _ engine.Recorder = (*Actions)(nil)

// Actions publishes each outcome as JSON to `<prefix>.<outcome>` with core
// NATS. It is best effort: Record never blocks and never fails; outcomes
// are queued and published by one goroutine, and a full queue or a failed
// publish is counted and logged, never returned. The action log file is
// the record of truth.
type Actions struct {
	nc     *nats.Conn
	prefix string
	log    *slog.Logger
	queue  chan actionMsg
	quit   chan struct{}
	done   chan struct{}
	once   sync.Once

	failing   atomic.Bool
	published prometheus.Counter
	failures  *prometheus.CounterVec
}

type actionMsg struct {
	subject string
	data    []byte
}

// ActionsConfig configures Actions. Conn is required; zero values of the
// rest take the defaults.
type ActionsConfig struct {
	Conn *nats.Conn
	// Prefix is the subject prefix; each outcome goes to
	// <Prefix>.<outcome>. Default DefaultActionsPrefix.
	Prefix string
	// QueueSize is how many outcomes are buffered while NATS is slow
	// before they are dropped (counted). Default 4096.
	QueueSize int

	Logger     *slog.Logger          // nil: discard
	Registerer prometheus.Registerer // nil: metrics not registered
}

// NewActions starts publishing outcomes. Call Close to stop.
func NewActions(cfg ActionsConfig) (*Actions, error) {
	if cfg.Conn == nil {
		return nil, errors.New("natspub: actions: a nats connection is required")
	}
	cfg.Prefix = cmp.Or(cfg.Prefix, DefaultActionsPrefix)
	cfg.QueueSize = cmp.Or(cfg.QueueSize, 4096)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Actions{
		nc:     cfg.Conn,
		prefix: cfg.Prefix,
		log:    cfg.Logger.With("component", "natspub.actions", "prefix", cfg.Prefix),
		queue:  make(chan actionMsg, max(cfg.QueueSize, 1)),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roomwarden_actions_published_total",
			Help: "Outcomes published to the actions subject.",
		}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roomwarden_actions_publish_errors_total",
			Help: "Outcomes not published to the actions subject, by reason (publish, queue_full, encode).",
		}, []string{"reason"}),
	}
	if err := promreg.Register(cfg.Registerer, a.published, a.failures); err != nil {
		return nil, fmt.Errorf("natspub: actions: %w", err)
	}
	go a.run()
	return a, nil
}

// Record queues o for publishing. It always returns nil: publishing is
// best effort and failures are counted, so a NATS outage never holds up
// acknowledgements.
func (a *Actions) Record(o engine.Outcome) error {
	data, err := json.Marshal(o)
	if err != nil {
		a.fail("encode", err)
		return nil
	}
	kind := string(o.Outcome)
	if kind == "" {
		kind = "unknown"
	}
	select {
	case a.queue <- actionMsg{subject: a.prefix + "." + kind, data: data}:
	default:
		a.fail("queue_full", nil)
	}
	return nil
}

func (a *Actions) run() {
	defer close(a.done)
	for {
		select {
		case m := <-a.queue:
			a.publish(m)
		case <-a.quit:
			a.drain()
			return
		}
	}
}

func (a *Actions) drain() {
	for {
		select {
		case m := <-a.queue:
			a.publish(m)
		default:
			return
		}
	}
}

func (a *Actions) publish(m actionMsg) {
	if err := a.nc.Publish(m.subject, m.data); err != nil {
		a.fail("publish", err)
		return
	}
	a.published.Inc()
	if a.failing.CompareAndSwap(true, false) {
		a.log.Info("publishing outcomes again")
	}
}

// fail counts a lost outcome and logs when publishing starts failing.
func (a *Actions) fail(reason string, err error) {
	a.failures.WithLabelValues(reason).Inc()
	if a.failing.CompareAndSwap(false, true) {
		a.log.Warn("cannot publish outcomes; they are in the action log file only", "reason", reason, "err", err)
	}
}

// Close publishes what is queued and stops. It does not close the
// connection.
func (a *Actions) Close() error {
	a.once.Do(func() { close(a.quit) })
	<-a.done
	return nil
}
