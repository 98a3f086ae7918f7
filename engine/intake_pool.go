package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// intakePool runs handlers on a fixed set of workers. Each worker owns a
// slot holding the message it is handling, so a single ticker can keep
// every long-running message alive with InProgress.
type intakePool struct {
	slots []intakeSlot
	quit  chan struct{}
	done  chan struct{}
}

// intakeSlot is one worker's in-flight message. The lock orders
// InProgress before the final ack, never after it.
type intakeSlot struct {
	mu      sync.Mutex
	msg     jetstream.Msg
	touched time.Time // start, or the last InProgress
}

func (in *Intake) startPool(ctx context.Context, work <-chan jetstream.Msg) *intakePool {
	p := &intakePool{
		slots: make([]intakeSlot, in.cfg.Concurrency),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	var wg sync.WaitGroup
	for i := range p.slots {
		wg.Go(func() { in.worker(ctx, &p.slots[i], work, p.quit) })
	}
	keepAliveDone := make(chan struct{})
	go in.keepAlive(p, keepAliveDone)
	go func() {
		wg.Wait()
		close(keepAliveDone)
		close(p.done)
	}()
	return p
}

// stop tells idle workers to exit and returns a channel closed once every
// worker has finished its current message.
func (p *intakePool) stop() <-chan struct{} {
	close(p.quit)
	return p.done
}

func (p *intakePool) active() int {
	n := 0
	for i := range p.slots {
		s := &p.slots[i]
		s.mu.Lock()
		if s.msg != nil {
			n++
		}
		s.mu.Unlock()
	}
	return n
}

func (in *Intake) worker(ctx context.Context, s *intakeSlot, work <-chan jetstream.Msg, quit <-chan struct{}) {
	for {
		select {
		case <-quit: // checked first: buffered messages are left at shutdown
			return
		default:
		}
		select {
		case m := <-work:
			in.handle(ctx, s, m)
		case <-quit:
			return
		}
	}
}

// keepAlive sends InProgress, every quarter of AckWait, for each message
// whose handler has been running for at least that long: a message goes
// at most half its AckWait without one.
func (in *Intake) keepAlive(p *intakePool, done <-chan struct{}) {
	every := in.cfg.AckWait / 4
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			p.touchOlderThan(now.Add(-every), now, in)
		}
	}
}

func (p *intakePool) touchOlderThan(cutoff, now time.Time, in *Intake) {
	for i := range p.slots {
		s := &p.slots[i]
		s.mu.Lock()
		if s.msg != nil && !s.touched.After(cutoff) {
			if err := s.msg.InProgress(); err != nil {
				in.log.Warn("in progress", "err", err)
			}
			s.touched = now
		}
		s.mu.Unlock()
	}
}

func (in *Intake) handle(ctx context.Context, s *intakeSlot, m jetstream.Msg) {
	d, err := intakeDelivery(m)
	if err != nil {
		in.metrics.consumerErrors.Inc()
		in.log.Error("message without jetstream metadata", "subject", m.Subject(), "err", err)
		return
	}
	start := time.Now()
	s.mu.Lock()
	s.msg, s.touched = m, start
	s.mu.Unlock()
	in.metrics.inFlight.Inc()

	r := in.call(ctx, d)

	in.metrics.inFlight.Dec()
	in.metrics.duration.Observe(time.Since(start).Seconds())
	s.mu.Lock()
	s.msg = nil
	s.mu.Unlock()
	in.apply(ctx, m, d, r)
}

// call runs the handler; a panic leaves the message for redelivery (and,
// repeated, for the max-deliveries dead letter) instead of crashing.
func (in *Intake) call(ctx context.Context, d Delivery) (r Result) {
	defer func() {
		if p := recover(); p != nil {
			in.log.Error("handler panicked; leaving the event for redelivery",
				"subject", d.Subject, "stream_seq", d.StreamSeq, "panic", fmt.Sprint(p))
			r = Result{Verdict: Leave}
		}
	}()
	return in.h.HandleMessage(ctx, d)
}

func intakeDelivery(m jetstream.Msg) (Delivery, error) {
	md, err := m.Metadata()
	if err != nil {
		return Delivery{}, fmt.Errorf("intake: metadata: %w", err)
	}
	return Delivery{
		Subject:      m.Subject(),
		Data:         m.Data(),
		StreamSeq:    md.Sequence.Stream,
		NumDelivered: md.NumDelivered,
		MsgID:        m.Headers().Get(jetstream.MsgIDHeader),
		Published:    md.Timestamp,
	}, nil
}

// apply acknowledges m as r says.
func (in *Intake) apply(ctx context.Context, m jetstream.Msg, d Delivery, r Result) {
	v := r.Verdict
	if v < Ack || v > Leave {
		v = Leave
	}
	var err error
	switch v {
	case Ack:
		err = in.ack(ctx, m)
	case Nak:
		err = intakeNak(m, r.Delay)
	case Term:
		err = intakeTerm(m, r.Reason)
	case Leave:
		err = m.Nak() // prompt redelivery to whoever consumes next
	}
	in.metrics.verdicts[v].Inc()
	if err != nil {
		in.metrics.ackErrors.Inc()
		in.log.Warn("acknowledging event failed; it will be redelivered",
			"verdict", v.String(), "subject", d.Subject, "stream_seq", d.StreamSeq, "err", err)
	}
}

func (in *Intake) ack(ctx context.Context, m jetstream.Msg) error {
	if !in.cfg.DoubleAck {
		return m.Ack()
	}
	// A finished handler's ack must go out even on hard shutdown.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), intakeAPITimeout)
	defer cancel()
	return m.DoubleAck(ctx)
}

func intakeNak(m jetstream.Msg, delay time.Duration) error {
	if delay > 0 {
		return m.NakWithDelay(delay)
	}
	return m.Nak()
}

func intakeTerm(m jetstream.Msg, reason string) error {
	if reason != "" {
		return m.TermWithReason(reason)
	}
	return m.Term()
}
