package jsstate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/engine/state"
)

// errContention reports that a key kept changing under a
// compare-and-swap until the retries ran out. It is returned wrapped in
// state.ErrUnavailable: the store gave no answer, and the caller should
// try again later (redeliver the event) rather than act.
var errContention = errors.New("too many concurrent updates")

// unreachable are the errors that mean NATS or JetStream did not answer.
var unreachable = []error{
	context.DeadlineExceeded, context.Canceled,
	nats.ErrTimeout, nats.ErrNoResponders, nats.ErrConnectionClosed, nats.ErrConnectionDraining,
	nats.ErrConnectionReconnecting, nats.ErrDisconnected, nats.ErrReconnectBufExceeded, nats.ErrStaleConnection,
	nats.ErrDrainTimeout,
	jetstream.ErrNoStreamResponse, jetstream.ErrNoHeartbeat, jetstream.ErrConnectionClosed,
	jetstream.ErrServerShutdown, jetstream.ErrJetStreamNotEnabled, jetstream.ErrJetStreamNotEnabledForAccount,
}

// unavailable reports whether err means the store could not be reached
// (as opposed to refusing a request): no connection, no answer in time,
// JetStream down or without a leader.
func unavailable(err error) bool {
	for _, u := range unreachable {
		if errors.Is(err, u) {
			return true
		}
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.Code == 503
}

// Results of a store call, the result label of roomwarden_state_ops_total.
const (
	resultOK          = "ok"
	resultConflict    = "conflict"
	resultUnavailable = "unavailable"
	resultError       = "error"
)

// classify wraps err, the failure of store call op, and names its
// result.
func classify(op string, err error) (error, string) {
	switch {
	case err == nil:
		return nil, resultOK
	case errors.Is(err, errContention):
		return fmt.Errorf("jsstate %s: %w: %w", op, state.ErrUnavailable, err), resultConflict
	case unavailable(err):
		return fmt.Errorf("jsstate %s: %w: %w", op, state.ErrUnavailable, err), resultUnavailable
	}
	return fmt.Errorf("jsstate %s: %w", op, err), resultError
}

// begin starts store call op: ctx is bounded by OpTimeout, and end,
// called with the call's error, releases ctx and returns finish's
// error.
func (s *Store) begin(ctx context.Context, op string) (context.Context, func(error) error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
	return ctx, func(err error) error {
		cancel()
		return s.finish(op, start, err)
	}
}

// finish ends store call op, started at start: it wraps and counts its
// error, and returns it.
func (s *Store) finish(op string, start time.Time, err error) error {
	err, result := classify(op, err)
	s.metrics.observe(op, result, time.Since(start))
	s.ready.record(result, err)
	return err
}

// readiness remembers whether the store was reachable lately.
type readiness struct {
	mu        sync.Mutex
	err       error     // the last call's unavailability; nil after a success
	lastProbe time.Time // when Ready last asked the server itself
	probing   bool
}

func (r *readiness) record(result string, err error) {
	if result != resultOK && result != resultUnavailable {
		return
	}
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
}

// probeEvery bounds how often Ready asks the server itself.
const probeEvery = time.Second

// Ready reports why the store is unavailable lately, or nil: the NATS
// connection is down, or the last call could not reach JetStream and a
// probe (at most one a second, bounded by OpTimeout) still cannot.
func (s *Store) Ready() error {
	if st := s.js.Conn().Status(); st != nats.CONNECTED {
		return fmt.Errorf("jsstate: %w: nats connection %s", state.ErrUnavailable, st)
	}
	r := &s.ready
	r.mu.Lock()
	err := r.err
	probe := err != nil && !r.probing && time.Since(r.lastProbe) >= probeEvery
	if probe {
		r.probing, r.lastProbe = true, time.Now()
	}
	r.mu.Unlock()
	if !probe {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.OpTimeout)
	defer cancel()
	_, perr := s.kv.stream.Info(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.probing = false
	if perr == nil && r.err == err {
		r.err = nil
	}
	return r.err
}
