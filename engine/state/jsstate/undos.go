package jsstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomwarden/roomwarden/engine/state"
	"github.com/roomwarden/roomwarden/internal/wait"
)

// Undo delivery.
const (
	undoWorkers   = 8                // handlers running at once
	undoAckWait   = 30 * time.Second // redelivery after a crash
	undoKeepAlive = 10 * time.Second // InProgress while a handler runs
	undoNakDelay  = 5 * time.Second  // redelivery after a failed handler
	retryMin      = 250 * time.Millisecond
	retryMax      = 5 * time.Second
)

// scheduleSubject is where the seat flag token's undo is scheduled;
// dueSubject where it is published when due.
func (s *Store) scheduleSubject(token string) string { return s.cfg.UndoSubject + ".at." + token }
func (s *Store) dueSubject(token string) string      { return s.cfg.UndoSubject + ".due." + token }

// setUndo schedules l's undo at its end, replacing the seat flag's
// schedule, or cancels it when l has no end. The schedule is a message
// on <UndoSubject>.at.<seat> that the server publishes, at the end
// rounded up to the second, to <UndoSubject>.due.<seat>. A new schedule
// on the subject replaces the old one (schedules roll up their subject).
func (s *Store) setUndo(ctx context.Context, token string, l state.Lock) error {
	if l.End.IsZero() {
		return s.cancelUndo(ctx, token)
	}
	body, err := json.Marshal(toRecord(l))
	if err != nil {
		return err
	}
	m := &nats.Msg{Subject: s.scheduleSubject(token), Data: body}
	if _, err := s.js.PublishMsg(ctx, m, jetstream.WithScheduleAt(ceilSecond(l.End)),
		jetstream.WithScheduleTarget(s.dueSubject(token))); err != nil {
		return fmt.Errorf("schedule undo: %w", err)
	}
	return nil
}

// cancelUndo drops the seat flag's schedule, if any.
func (s *Store) cancelUndo(ctx context.Context, token string) error {
	if err := s.undo.Purge(ctx, jetstream.WithPurgeSubject(s.scheduleSubject(token))); err != nil {
		return fmt.Errorf("cancel undo: %w", err)
	}
	return nil
}

// ceilSecond rounds t up to a whole second: schedules have second
// precision, and an undo must not come early.
func ceilSecond(t time.Time) time.Time {
	if tr := t.Truncate(time.Second); !tr.Equal(t) {
		return tr.Add(time.Second)
	}
	return t
}

// RunUndos delivers due undos to handle until ctx ends, then returns
// nil. It consumes <UndoSubject>.due.* with the durable consumer
// UndoDurable, which every replica shares (each undo goes to one of
// them), running up to 8 handlers at once. An undo that fell due while
// no daemon ran waits in the stream and is delivered when one starts.
//
// Before handle runs, the undo is checked against the seat flag's lock
// record: an undo whose lock was replaced by a later end is rescheduled
// at that end, one whose lock ended or was overridden is dropped. handle
// gets the lock as recorded now (the rule and event of the lock it
// ends); the message is kept alive with InProgress while it runs. When
// handle returns nil, RunUndos clears the lock (Unlocked) and acks; when
// it fails (or the store is unavailable), the undo comes again 5 seconds
// later, so handle must be idempotent (as lock_seat is).
func (s *Store) RunUndos(ctx context.Context, handle func(context.Context, state.Undo) error) error {
	if handle == nil {
		return errors.New("jsstate: run undos: handle is required")
	}
	work := make(chan jetstream.Msg)
	var wg sync.WaitGroup
	for range undoWorkers {
		wg.Go(func() {
			for m := range work {
				s.deliver(ctx, m, handle)
			}
		})
	}
	s.consumeUndos(ctx, work)
	close(work)
	wg.Wait()
	return nil
}

// consumeUndos feeds work from the durable consumer until ctx ends,
// setting the consumer up again whenever it stops or disappears.
func (s *Store) consumeUndos(ctx context.Context, work chan<- jetstream.Msg) {
	delay := retryMin
	for ctx.Err() == nil {
		err := s.consumeUndosOnce(ctx, work)
		if err == nil || ctx.Err() != nil {
			delay = retryMin
			continue
		}
		s.log.Warn("undo consumer not running; retrying", "err", err, "retry_in", delay)
		_ = wait.For(ctx, delay)
		delay = min(2*delay, retryMax)
	}
}

func (s *Store) consumeUndosOnce(ctx context.Context, work chan<- jetstream.Msg) error {
	cctx, cancel := context.WithTimeout(ctx, max(s.cfg.OpTimeout, 5*time.Second))
	cons, err := s.undo.CreateOrUpdateConsumer(cctx, jetstream.ConsumerConfig{
		Durable:       s.cfg.UndoDurable,
		FilterSubject: s.dueSubject(">"),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       undoAckWait,
		MaxAckPending: 4 * undoWorkers,
		MaxDeliver:    -1,
	})
	cancel()
	if err != nil {
		return fmt.Errorf("undo consumer %s on stream %s: %w", s.cfg.UndoDurable, s.cfg.UndoStream, err)
	}
	trouble := make(chan error, 1)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case work <- m:
		case <-ctx.Done():
			_ = m.Nak()
		}
	}, jetstream.PullMaxMessages(undoWorkers), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		select {
		case trouble <- err:
		default:
		}
	}))
	if err != nil {
		return fmt.Errorf("consume undos: %w", err)
	}
	defer cc.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-cc.Closed():
			return errors.New("undo consumer subscription closed")
		case err := <-trouble:
			if gone(ctx, cons) {
				return fmt.Errorf("undo consumer %s: %w", s.cfg.UndoDurable, err)
			}
		}
	}
}

// gone reports whether cons or its stream no longer exists (a reconnect
// in progress is left to the client).
func gone(ctx context.Context, cons jetstream.Consumer) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := cons.Info(ctx)
	return errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound)
}

// deliver hands one due undo to handle if its lock is still due, and
// acks, naks or terminates the message.
func (s *Store) deliver(ctx context.Context, m jetstream.Msg, handle func(context.Context, state.Undo) error) {
	var r lockRecord
	if err := json.Unmarshal(m.Data(), &r); err != nil {
		s.log.Error("dropping a malformed undo", "subject", m.Subject(), "err", err)
		s.metrics.undos.WithLabelValues("failed").Inc()
		_ = m.Term()
		return
	}
	u := r.lock()
	due, ok, err := s.dueLock(ctx, u)
	if err == nil && !ok {
		s.log.Debug("dropping a stale undo", "room_id", u.RoomID, "index", u.Index, "flag", u.Flag, "end", u.End)
		s.metrics.undos.WithLabelValues("stale").Inc()
		_ = m.Ack()
		return
	}
	if err == nil {
		stop := keepAlive(m)
		err = handle(ctx, state.Undo{Lock: due})
		stop()
		if err == nil {
			err = s.Unlocked(ctx, due.SeatFlag, due.End)
		}
	}
	if err != nil {
		s.log.Warn("undo failed; it comes again", "room_id", u.RoomID, "index", u.Index, "flag", u.Flag,
			"end", u.End, "err", err)
		s.metrics.undos.WithLabelValues("failed").Inc()
		if ctx.Err() != nil {
			_ = m.Nak() // shutting down: another replica may take it now
		} else {
			_ = m.NakWithDelay(undoNakDelay)
		}
		return
	}
	s.metrics.undos.WithLabelValues("done").Inc()
	_ = m.Ack()
}

// dueLock returns the lock to undo for the due undo u: the seat flag's
// lock as recorded now, if it has an end no later than u's. A lock with
// a later end (u's schedule raced with the later one's) gets its
// schedule again; a lock without end, or none, makes u stale (ok false).
func (s *Store) dueLock(ctx context.Context, u state.Lock) (l state.Lock, ok bool, err error) {
	ctx, end := s.begin(ctx, "undo")
	defer func() { err = end(err) }()
	token := seatToken(u.SeatFlag)
	l, held, err := s.held(ctx, token)
	switch {
	case err != nil || !held || l.End.IsZero():
		return state.Lock{}, false, err
	case l.End.After(u.End):
		return state.Lock{}, false, s.setUndo(ctx, token, l)
	}
	return l, true, nil
}

// keepAlive tells the server every undoKeepAlive that m is being worked
// on, until stop is called.
func keepAlive(m jetstream.Msg) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(undoKeepAlive)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = m.InProgress()
			case <-done:
				return
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}
